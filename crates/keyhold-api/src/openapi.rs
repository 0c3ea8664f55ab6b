//! The OpenAPI 3.1 document of API v1, made from [`ROUTES`].

use serde_json::{Value, json};

use crate::routes::{ROUTES, Route};

/// The OpenAPI 3.1 document of exactly [`ROUTES`]. `home_workspace` is the workspace whose
/// `admin` keys are the store's administrators (named by the store-wide routes).
pub fn openapi(home_workspace: &str) -> Value {
    let mut paths = serde_json::Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.template.to_owned())
            .or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = operation(route, home_workspace);
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "keyhold API", "version": "1" },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "schemas": { "ErrorEnvelope": {
                "type": "object", "required": ["error"],
                "properties": { "error": {
                    "type": "object", "required": ["code", "message", "request_id", "doc_url"],
                    "properties": {
                        "code": { "type": "string" }, "message": { "type": "string" },
                        "request_id": { "type": "string" }, "doc_url": { "type": "string" }
                    }
                } }
            } }
        }
    })
}

fn operation(route: &Route, home_workspace: &str) -> Value {
    let envelope = json!({ "$ref": "#/components/schemas/ErrorEnvelope" });
    let mut op = json!({
        "summary": route.summary,
        "responses": {
            "200": { "description": "Success" },
            "default": { "description": "Error envelope", "content": { "application/json": { "schema": envelope } } }
        }
    });
    if let Some(scope) = route.scope {
        op["security"] = json!([{ "bearer": [] }]);
        op["x-keyhold-scope"] = json!(scope);
    }
    if route.home_only {
        op["x-keyhold-workspace"] = json!(home_workspace);
    }
    if route.secret {
        // The answer carries a credential: no cache may keep it.
        op["x-keyhold-secret"] = json!(true);
        op["responses"]["200"] = json!({
            "description": "Success; the body carries a secret",
            "headers": { "Cache-Control": {
                "description": "The answer carries a secret: no cache may store it.",
                "schema": { "type": "string", "const": "no-store" }
            } }
        });
    }
    let params: Vec<Value> = route.params().map(parameter).collect();
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    op
}

/// The OpenAPI parameter object of the path parameter `name`.
fn parameter(name: &str) -> Value {
    let schema = match name {
        "slot" => json!({ "type": "string", "enum": ["primary", "secondary"] }),
        _ => json!({ "type": "string" }),
    };
    json!({ "name": name, "in": "path", "required": true, "schema": schema })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_secrets_are_documented() {
        let doc = openapi("default");
        let test = &doc["paths"]["/v1/connections/{name}/slots/{slot}/test"]["post"];
        let names: Vec<&str> = test["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, ["name", "slot"]);
        assert_eq!(test["parameters"][1]["schema"]["enum"][1], "secondary");
        assert_eq!(test["x-keyhold-scope"], "connections:write");
        assert!(test.get("x-keyhold-secret").is_none());
        let credential = &doc["paths"]["/v1/connections/{name}/credential"]["get"];
        assert_eq!(credential["x-keyhold-secret"], true);
        assert_eq!(
            credential["responses"]["200"]["headers"]["Cache-Control"]["schema"]["const"],
            "no-store"
        );
        let key = &doc["paths"]["/v1/keys/{id}"]["get"]["parameters"];
        assert_eq!(
            key,
            &json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }])
        );
        assert!(doc["paths"]["/v1/connections/{name}"]["delete"].is_object());
        assert!(doc["paths"]["/v1/connections/{name}/slots/{slot}/credential"]["put"].is_object());
    }
}
