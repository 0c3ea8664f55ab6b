//! Answers and failures, and how each becomes an HTTP response: the error envelope, the bearer
//! challenge, and the headers every response carries.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CACHE_CONTROL, CONNECTION, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Request, Response, StatusCode};
use keyhold::Error;
use keyhold::api::ErrorEnvelope;

/// A response.
pub type Reply = Response<Full<Bytes>>;

/// A failure to report: the facade's error, or an HTTP-level one.
pub enum Failure {
    Keyhold(Error),
    Http {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self::Keyhold(e)
    }
}

impl Failure {
    /// The failure's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Keyhold(e) => e.code(),
            Self::Http { code, .. } => code,
        }
    }
}

/// An HTTP-level failure.
pub fn http(status: StatusCode, code: &'static str, message: impl Into<String>) -> Failure {
    Failure::Http {
        status,
        code,
        message: message.into(),
    }
}

/// A successful answer.
pub enum Answer {
    Json(StatusCode, serde_json::Value),
    Text(String),
    /// A body that carries a secret, already serialised into memory that is wiped when the
    /// response is dropped.
    Secret(StatusCode, keyhold::Zeroizing<Vec<u8>>),
    /// [`Answer::Secret`] that also sets (or clears) the session cookie.
    Cookie(StatusCode, keyhold::Zeroizing<Vec<u8>>, HeaderValue),
    /// A file of the portal.
    Asset(&'static crate::portal::Asset),
}

impl Answer {
    /// `200 OK` with `body`.
    pub fn ok(body: serde_json::Value) -> Self {
        Self::Json(StatusCode::OK, body)
    }

    /// `200 OK` with `body` as JSON.
    pub fn of<T: serde::Serialize>(body: &T) -> Self {
        Self::with(StatusCode::OK, body)
    }

    /// `status` with `body`, which carries a secret, as JSON: serialised once into a buffer of
    /// exactly its size (so no reallocation leaves a copy behind) that is wiped when hyper is
    /// done with it. (What TLS copies into its own buffers is beyond reach here.)
    pub fn secret<T: serde::Serialize>(status: StatusCode, body: &T) -> Self {
        struct Count(usize);
        impl std::io::Write for Count {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0 += b.len();
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut size = Count(0);
        let mut out = keyhold::Zeroizing::new(Vec::new());
        if serde_json::to_writer(&mut size, body).is_ok() {
            out.reserve_exact(size.0);
            if serde_json::to_writer(&mut *out, body).is_err() {
                out.clear();
            }
        }
        Self::Secret(status, out)
    }

    /// `status` with `body` as JSON.
    pub fn with<T: serde::Serialize>(status: StatusCode, body: &T) -> Self {
        Self::Json(
            status,
            serde_json::to_value(body).unwrap_or(serde_json::Value::Null),
        )
    }
}

/// Runs a blocking facade call on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> keyhold::Result<T> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| {
            http(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the request's worker failed",
            )
        })?
        .map_err(Failure::from)
}

fn json_reply(status: StatusCode, body: &serde_json::Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn secret_reply(status: StatusCode, body: keyhold::Zeroizing<Vec<u8>>) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from_owner(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// The response of a successful answer.
pub fn answer_reply(answer: Answer) -> Reply {
    match answer {
        Answer::Json(status, body) => json_reply(status, &body),
        Answer::Secret(status, body) => secret_reply(status, body),
        Answer::Cookie(status, body, cookie) => {
            let mut r = secret_reply(status, body);
            r.headers_mut().insert(hyper::header::SET_COOKIE, cookie);
            r
        }
        Answer::Asset(file) => {
            let mut r = Response::new(Full::new(Bytes::from_static(file.body)));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(file.content_type));
            r
        }
        Answer::Text(text) => {
            let mut r = Response::new(Full::new(Bytes::from(text)));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
    }
}

/// What every response carries, set here and nowhere else: no cache keeps any answer (a
/// mint response holds a token; others hold store data), the portal's security headers
/// (on API answers too: a browser that opens one directly is held to the same policy), and
/// the request id.
pub fn common_headers(r: &mut Reply, request_id: &str, close: bool, tls: bool) {
    let h = r.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in crate::portal::SECURITY_HEADERS {
        h.insert(name, HeaderValue::from_static(value));
    }
    if tls {
        // A browser that reached the server over TLS never tries plain HTTP for a year.
        h.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    // `request_id` is the client's only if it is short and plain, else one of ours.
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-request-id", v);
    }
    if close {
        h.insert(CONNECTION, HeaderValue::from_static("close"));
    }
}

/// The error envelope of a failure, with the bearer challenge RFC 6750 asks for.
pub fn failure_reply(f: &Failure, request_id: &str) -> Reply {
    let (status, message) = match f {
        Failure::Keyhold(e) => (
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            e.to_string(),
        ),
        Failure::Http {
            status, message, ..
        } => (*status, message.clone()),
    };
    let code = f.code();
    let envelope = ErrorEnvelope::new(code, &message, request_id);
    let mut r = json_reply(
        status,
        &serde_json::to_value(&envelope).unwrap_or(serde_json::Value::Null),
    );
    // RFC 6750: tell the client what was wrong with its bearer token.
    let challenge = match (status, code) {
        (StatusCode::UNAUTHORIZED, "missing_token") => Some("Bearer realm=\"keyhold\"".to_owned()),
        (StatusCode::UNAUTHORIZED, _) => Some(format!(
            "Bearer realm=\"keyhold\", error=\"invalid_token\", error_description=\"{code}\""
        )),
        (StatusCode::FORBIDDEN, "insufficient_scope") => {
            Some("Bearer realm=\"keyhold\", error=\"insufficient_scope\"".to_owned())
        }
        _ => None,
    };
    if let Some(c) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(WWW_AUTHENTICATE, c);
    }
    r
}

/// The request id: the client's `X-Request-Id` if it is short and plain, else a new one.
pub fn request_id(req: &Request<Incoming>) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(keyhold::new_request_id, str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_secret_body_is_the_json_in_a_buffer_of_exactly_its_size() {
        let body = serde_json::json!({ "password": "s3cret", "user": "app_a" });
        let Answer::Secret(status, bytes) = Answer::secret(StatusCode::CREATED, &body) else {
            panic!("a secret answer");
        };
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(
            bytes.as_slice(),
            serde_json::to_vec(&body).unwrap().as_slice()
        );
        assert_eq!(
            bytes.capacity(),
            bytes.len(),
            "no spare capacity: no reallocation"
        );
        let reply = answer_reply(Answer::secret(StatusCode::OK, &body));
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(reply.headers()[CONTENT_TYPE], "application/json");
    }
}
