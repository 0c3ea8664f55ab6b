//! What a request brings: its body (bounded in size and time) as JSON. (The one query a
//! route reads, the audit log's, is API v1's `AuditQuery`.)

use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, StatusCode};
use serde::de::DeserializeOwned;

use super::App;
use super::reply::{Failure, http};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// The request's body, read within the read timeout and [`MAX_BODY`].
pub async fn body(app: &App, req: Request<Incoming>) -> Result<Bytes, Failure> {
    let limited = Limited::new(req.into_body(), MAX_BODY);
    match tokio::time::timeout(app.read_timeout, limited.collect()).await {
        Err(_) => Err(http(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time",
        )),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(http(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the request body exceeds {MAX_BODY} bytes"),
            ))
        }
        Ok(Err(_)) => Err(http(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request body could not be read",
        )),
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}

/// A JSON body, or the `invalid_json` refusal.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(bytes).map_err(|e| {
        http(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("invalid request body: {}", json_error(&e)),
        )
    })
}

/// What was wrong with a body, in words that never repeat a value from it: a value may be a
/// token sent in the wrong field. serde_json's own message quotes values (with escapes an
/// attacker controls), so it is not passed on; only its category, the field name when serde
/// names one that looks like a field name, what was expected, and the position.
fn json_error(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .filter(|name| {
                !name.is_empty()
                    && name.len() <= 32
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            })
    };
    let what = if let Some(f) = named("unknown field `") {
        format!("unknown field `{f}`")
    } else if let Some(f) = named("missing field `") {
        format!("missing field `{f}`")
    } else if let Some(f) = named("duplicate field `") {
        format!("duplicate field `{f}`")
    } else {
        match e.classify() {
            serde_json::error::Category::Syntax => "not valid JSON".to_owned(),
            serde_json::error::Category::Eof => "truncated JSON".to_owned(),
            serde_json::error::Category::Io => "unreadable".to_owned(),
            serde_json::error::Category::Data => {
                // serde's text after the last ", expected " is its own: a type or our fields.
                let expected = message
                    .rsplit_once(", expected ")
                    .map(|(_, rest)| rest.split(" at line ").next().unwrap_or_default())
                    .filter(|x| {
                        x.len() <= 120
                            && x.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b" _`,".contains(&b))
                    });
                match expected {
                    Some(x) => format!("a value of the wrong type or form (expected {x})"),
                    None => "a value of the wrong type or form".to_owned(),
                }
            }
        }
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        token: String,
        scopes: Option<Vec<String>>,
    }

    fn message(body: &str) -> String {
        super::json_error(&serde_json::from_str::<Body>(body).expect_err("refused"))
    }

    #[test]
    fn json_errors_name_fields_but_never_repeat_values() {
        let secret = "eyJhbGciOiJFZERTQSJ9.e30.c2VjcmV0";
        assert!(message(r#"{"token":"t","colour":1}"#).starts_with("unknown field `colour`"));
        assert!(message(r#"{"scopes":[]}"#).starts_with("missing field `token`"));
        for body in [
            format!(r#"{{"token":"t","scopes":"{secret}"}}"#),
            format!(r#"{{"token":"t","scopes":"x\"{secret}\""}}"#),
            format!(r#"{{"token":"t","{secret}":1}}"#),
            format!(r#"{{"token":"t","a`{secret}`":1}}"#),
            format!(r#"{{"token":{secret}}}"#),
            format!(r#"{{"token":"t", , "{secret}"}}"#),
        ] {
            let m = message(&body);
            assert!(
                !m.contains("c2VjcmV0") && !m.contains("eyJ"),
                "{body} -> {m}"
            );
            assert!(m.contains(" at line 1 column "), "{m}");
        }
        assert!(
            message(r#"{"token":"t","scopes":"x"}"#).contains("expected a sequence"),
            "says what was expected"
        );
    }
}
