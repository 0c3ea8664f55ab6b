//! Routes, authentication and the error envelope of API v1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use keyhold::{
    Caller, Error, Keyhold, MintRequest, Origin, Principal, Scope, ScopeSet, Surface, TokenError,
};
use serde::Deserialize;

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// Time a client gets to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

type Reply = Response<Full<Bytes>>;

/// A failure to report: the facade's error, or an HTTP-level one.
enum Failure {
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

fn http(status: StatusCode, code: &'static str, message: impl Into<String>) -> Failure {
    Failure::Http {
        status,
        code,
        message: message.into(),
    }
}

fn json_reply(status: StatusCode, request_id: &str, body: &serde_json::Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    h.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    if let Ok(v) = hyper::header::HeaderValue::from_str(request_id) {
        h.insert("x-request-id", v);
    }
    r
}

fn failure_reply(f: &Failure, request_id: &str) -> Reply {
    let (status, code, message) = match f {
        Failure::Keyhold(e) => (
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            e.code(),
            e.to_string(),
        ),
        Failure::Http {
            status,
            code,
            message,
        } => (*status, *code, message.clone()),
    };
    let body = serde_json::json!({
        "error": {
            "code": code,
            "message": message.replace(['\n', '\r'], " "),
            "request_id": request_id,
            "doc_url": format!("docs/auth-and-tokens.md#{code}"),
        }
    });
    let mut r = json_reply(status, request_id, &body);
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
    if let Some(c) = challenge.and_then(|c| hyper::header::HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(hyper::header::WWW_AUTHENTICATE, c);
    }
    r
}

/// The request id: the client's `X-Request-Id` if it is short and printable, else a new one.
fn request_id(req: &Request<Incoming>) -> String {
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

/// Entry point for every request.
pub async fn handle(
    kh: Arc<Keyhold>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let rid = request_id(&req);
    let origin = Origin {
        surface: Surface::Http,
        source: Some(peer.to_string()),
        request_id: rid.clone(),
    };
    Ok(match route(kh, origin, req).await {
        Ok((status, body)) => json_reply(status, &rid, &body),
        Err(f) => failure_reply(&f, &rid),
    })
}

/// Runs a blocking facade call on the blocking pool.
async fn blocking<T: Send + 'static>(
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

async fn body(req: Request<Incoming>) -> Result<Bytes, Failure> {
    let limited = Limited::new(req.into_body(), MAX_BODY);
    match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
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

fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(bytes).map_err(|e| {
        // serde_json names the field and position; it never echoes values of unknown fields
        // beyond their name.
        http(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("invalid request body: {e}"),
        )
    })
}

/// Authenticates the bearer key and checks `scope`; the verification is recorded.
async fn authenticate(
    kh: &Arc<Keyhold>,
    req: &Request<Incoming>,
    origin: &Origin,
    scope: Option<Scope>,
) -> Result<Principal, Failure> {
    let header = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(token) = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Err(http(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "send an API key as `Authorization: Bearer <key>`",
        ));
    };
    let (kh, token, origin) = (
        kh.clone(),
        keyhold::Zeroizing::new(token.to_owned()),
        origin.clone(),
    );
    blocking(move || kh.verify_token_from(&token, scope, &origin)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintBody {
    name: String,
    expires: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    sub: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    token: String,
    #[serde(default)]
    scope: Option<String>,
}

fn method_not_allowed(allowed: &str) -> Failure {
    http(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("use {allowed}"),
    )
}

async fn route(
    kh: Arc<Keyhold>,
    origin: Origin,
    req: Request<Incoming>,
) -> Result<(StatusCode, serde_json::Value), Failure> {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let method = req.method().clone();
    match (segments.as_slice(), &method) {
        (["healthz"], &Method::GET) => Ok((StatusCode::OK, serde_json::json!({ "status": "ok" }))),
        (["healthz"], _) => Err(method_not_allowed("GET")),
        ([".well-known", "jwks.json"], &Method::GET) => {
            let k = kh.clone();
            let jwks = blocking(move || k.jwks()).await?;
            Ok((
                StatusCode::OK,
                serde_json::to_value(jwks).unwrap_or_default(),
            ))
        }
        (["v1", "whoami"], &Method::GET) => {
            let p = authenticate(&kh, &req, &origin, None).await?;
            Ok((StatusCode::OK, serde_json::to_value(p).unwrap_or_default()))
        }
        (["v1", "tokens", "verify"], &Method::POST) => {
            authenticate(&kh, &req, &origin, Some(Scope::KeysRead)).await?;
            let b: VerifyBody = parse(&body(req).await?)?;
            let scope = match b.scope {
                Some(s) => Some(
                    s.parse::<Scope>()
                        .map_err(|e| Failure::Keyhold(Error::Token(e)))?,
                ),
                None => None,
            };
            let token = keyhold::Zeroizing::new(b.token);
            let k = kh.clone();
            match tokio::task::spawn_blocking(move || k.verify_token_from(&token, scope, &origin))
                .await
            {
                Ok(Ok(p)) => Ok((
                    StatusCode::OK,
                    serde_json::json!({ "valid": true, "claims": p }),
                )),
                Ok(Err(e)) => Ok((
                    StatusCode::OK,
                    serde_json::json!({ "valid": false, "error": { "code": e.code(), "message": e.to_string() } }),
                )),
                Err(_) => Err(http(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the request's worker failed",
                )),
            }
        }
        (["v1", "keys"], &Method::GET) => {
            let p = authenticate(&kh, &req, &origin, Some(Scope::KeysRead)).await?;
            let (k, ws, caller) = (
                kh.clone(),
                p.workspace.clone(),
                Caller::key(p).with_origin(origin),
            );
            let keys = blocking(move || k.keys(&caller, &ws)).await?;
            Ok((StatusCode::OK, serde_json::json!({ "keys": keys })))
        }
        (["v1", "keys"], &Method::POST) => {
            let p = authenticate(&kh, &req, &origin, Some(Scope::KeysWrite)).await?;
            let b: MintBody = parse(&body(req).await?)?;
            let expires = b
                .expires
                .parse()
                .map_err(|e| Failure::Keyhold(Error::Token(e)))?;
            let scopes = match b.scopes {
                None => None,
                Some(list) => Some(
                    list.iter()
                        .map(|s| s.parse::<Scope>())
                        .collect::<Result<ScopeSet, TokenError>>()
                        .map_err(|e| Failure::Keyhold(Error::Token(e)))?,
                ),
            };
            let mint = MintRequest {
                workspace: p.workspace.clone(),
                name: b.name,
                expires,
                scopes,
                sub: b.sub,
            };
            let (k, caller) = (kh.clone(), Caller::key(p).with_origin(origin));
            let minted = blocking(move || k.mint_key(&caller, &mint)).await?;
            // EXPOSE: the one response that carries the token (Cache-Control: no-store).
            Ok((
                StatusCode::CREATED,
                serde_json::json!({ "token": minted.token.expose(), "key": minted.key }),
            ))
        }
        (["v1", "keys"], _) => Err(method_not_allowed("GET, POST")),
        (["v1", "keys", "revoke-all"], &Method::POST) => {
            let p = authenticate(&kh, &req, &origin, Some(Scope::KeysRevoke)).await?;
            let (k, ws, caller) = (
                kh.clone(),
                p.workspace.clone(),
                Caller::key(p).with_origin(origin),
            );
            let r = blocking(move || k.revoke_all_keys(&caller, &ws)).await?;
            Ok((StatusCode::OK, serde_json::to_value(r).unwrap_or_default()))
        }
        (["v1", "keys", id], &Method::GET) => {
            let p = authenticate(&kh, &req, &origin, Some(Scope::KeysRead)).await?;
            let (k, ws, id, caller) = (
                kh.clone(),
                p.workspace.clone(),
                (*id).to_owned(),
                Caller::key(p).with_origin(origin),
            );
            let key = blocking(move || k.key(&caller, &ws, &id)).await?;
            Ok((
                StatusCode::OK,
                serde_json::to_value(key).unwrap_or_default(),
            ))
        }
        (["v1", "keys", id, "revoke"], &Method::POST) => {
            let p = authenticate(&kh, &req, &origin, Some(Scope::KeysRevoke)).await?;
            let (k, ws, id, caller) = (
                kh.clone(),
                p.workspace.clone(),
                (*id).to_owned(),
                Caller::key(p).with_origin(origin),
            );
            let key = blocking(move || k.revoke_key(&caller, &ws, &id)).await?;
            Ok((
                StatusCode::OK,
                serde_json::to_value(key).unwrap_or_default(),
            ))
        }
        (["v1", "keys", "revoke-all"] | ["v1", "keys", _, "revoke"], _) => {
            Err(method_not_allowed("POST"))
        }
        (["v1", "keys", _], _) => Err(method_not_allowed("GET")),
        _ => Err(http(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route {path}"),
        )),
    }
}
