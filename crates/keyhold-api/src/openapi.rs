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
    if route.template.contains("{id}") {
        op["parameters"] = json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    }
    op
}
