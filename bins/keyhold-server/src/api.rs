//! Routes, authentication, the error envelope, request logging and metrics of API v1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CACHE_CONTROL, CONNECTION, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use keyhold::{
    AuditFilter, Caller, Error, Keyhold, MintRequest, Origin, Principal, Scope, ScopeSet, Surface,
    TokenError,
};
use serde::Deserialize;

use crate::framing::Verdict;
use crate::metrics::Metrics;

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

type Reply = Response<Full<Bytes>>;

/// The server's shared state.
pub struct App {
    /// The store.
    pub kh: Arc<Keyhold>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Time a client gets to send its headers, and then its body.
    pub read_timeout: Duration,
}

/// A served route.
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Path template (`{id}` is a key id or name).
    pub template: &'static str,
    /// Scope the bearer key needs (`any`: any valid key); `None`: no authentication.
    pub scope: Option<&'static str>,
    /// Store-wide: besides the scope, the key must belong to the home workspace
    /// ([`keyhold::DEFAULT_WORKSPACE`]).
    pub home_only: bool,
    /// One line for the OpenAPI document.
    pub summary: &'static str,
}

const fn route_of(
    method: &'static str,
    template: &'static str,
    scope: Option<&'static str>,
    summary: &'static str,
) -> Route {
    Route {
        method,
        template,
        scope,
        home_only: false,
        summary,
    }
}

/// A route for the store's administrators only: the operator's stand-ins, `admin` keys of the
/// home workspace.
const fn store_admin_route(
    method: &'static str,
    template: &'static str,
    summary: &'static str,
) -> Route {
    Route {
        method,
        template,
        scope: Some("admin"),
        home_only: true,
        summary,
    }
}

/// Every route. The router resolves paths to these templates and refuses any other method;
/// `/v1/openapi.json` documents exactly this table, and a test checks both directions.
pub const ROUTES: &[Route] = &[
    route_of("GET", "/healthz", None, "Liveness."),
    route_of(
        "GET",
        "/.well-known/jwks.json",
        None,
        "Public keys that verify this store's tokens (RFC 7517).",
    ),
    route_of("GET", "/v1/openapi.json", None, "This document."),
    store_admin_route(
        "GET",
        "/metrics",
        "Prometheus metrics of the whole server (an admin key of the home workspace only).",
    ),
    route_of(
        "GET",
        "/v1/whoami",
        Some("any"),
        "The caller's identity, workspace and scopes.",
    ),
    route_of(
        "POST",
        "/v1/tokens/verify",
        Some("keys:read"),
        "Introspect a token: valid and its claims, or why not.",
    ),
    route_of(
        "GET",
        "/v1/keys",
        Some("keys:read"),
        "The workspace's API keys (never a token).",
    ),
    route_of(
        "POST",
        "/v1/keys",
        Some("keys:write"),
        "Mint an API key; the token is in this response only.",
    ),
    route_of(
        "POST",
        "/v1/keys/revoke-all",
        Some("keys:revoke"),
        "Revoke every key of the workspace at once.",
    ),
    route_of(
        "GET",
        "/v1/keys/{id}",
        Some("keys:read"),
        "One key, by id or name.",
    ),
    route_of(
        "POST",
        "/v1/keys/{id}/revoke",
        Some("keys:revoke"),
        "Revoke one key.",
    ),
    store_admin_route(
        "POST",
        "/v1/signing-keys/rotate",
        "Rotate the signing key (an admin key of the home workspace only).",
    ),
    route_of(
        "GET",
        "/v1/audit",
        Some("audit:read"),
        "Audit records of the key's own workspace (query: action, key, actor, since_ms, limit).",
    ),
    store_admin_route(
        "POST",
        "/v1/audit/verify",
        "Recompute the audit hash chain of the whole store (an admin key of the home workspace only).",
    ),
];

/// The template `path` matches, if any.
pub fn template_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    Some(match segments.as_slice() {
        ["healthz"] => "/healthz",
        [".well-known", "jwks.json"] => "/.well-known/jwks.json",
        ["v1", "openapi.json"] => "/v1/openapi.json",
        ["metrics"] => "/metrics",
        ["v1", "whoami"] => "/v1/whoami",
        ["v1", "tokens", "verify"] => "/v1/tokens/verify",
        ["v1", "keys"] => "/v1/keys",
        ["v1", "keys", "revoke-all"] => "/v1/keys/revoke-all",
        ["v1", "keys", _] => "/v1/keys/{id}",
        ["v1", "keys", _, "revoke"] => "/v1/keys/{id}/revoke",
        ["v1", "signing-keys", "rotate"] => "/v1/signing-keys/rotate",
        ["v1", "audit"] => "/v1/audit",
        ["v1", "audit", "verify"] => "/v1/audit/verify",
        _ => return None,
    })
}

/// The OpenAPI 3.1 document of exactly [`ROUTES`].
pub fn openapi() -> serde_json::Value {
    let envelope = serde_json::json!({ "$ref": "#/components/schemas/ErrorEnvelope" });
    let mut paths = serde_json::Map::new();
    for Route {
        method,
        template,
        scope,
        home_only,
        summary,
    } in ROUTES
    {
        let entry = paths
            .entry((*template).to_owned())
            .or_insert_with(|| serde_json::json!({}));
        let mut op = serde_json::json!({
            "summary": summary,
            "responses": {
                "200": { "description": "Success" },
                "default": { "description": "Error envelope", "content": { "application/json": { "schema": envelope } } }
            }
        });
        if let Some(scope) = scope {
            op["security"] = serde_json::json!([{ "bearer": [] }]);
            op["x-keyhold-scope"] = serde_json::json!(scope);
        }
        if *home_only {
            op["x-keyhold-workspace"] = serde_json::json!(keyhold::DEFAULT_WORKSPACE);
        }
        if template.contains("{id}") {
            op["parameters"] = serde_json::json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
        }
        entry[method.to_ascii_lowercase()] = op;
    }
    serde_json::json!({
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

/// A successful answer.
enum Answer {
    Json(StatusCode, serde_json::Value),
    Text(String),
}

/// What a request turned out to be, for its log line and the metrics.
#[derive(Default)]
struct Seen<'a> {
    route: Option<&'static str>,
    key_id: Option<String>,
    /// The caller's use record, if it is still on its way to disk.
    used: Option<keyhold::Deferred<'a, Principal>>,
}

fn json_reply(status: StatusCode, body: &serde_json::Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// What every response carries, set here and nowhere else: no cache keeps any answer (a
/// mint response holds a token; others hold store data), and the request id.
fn common_headers(r: &mut Reply, request_id: &str, close: bool) {
    let h = r.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // `request_id` is the client's only if it is short and plain, else one of ours.
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-request-id", v);
    }
    if close {
        h.insert(CONNECTION, HeaderValue::from_static("close"));
    }
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
    let mut r = json_reply(status, &body);
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

/// Entry point for every request: route, answer, then one log line and the metrics.
/// `framing` is the verdict on how the request was framed on the wire.
pub async fn handle(
    app: Arc<App>,
    peer: SocketAddr,
    framing: Verdict,
    req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let started = Instant::now();
    let rid = request_id(&req);
    let method = req.method().clone();
    let origin = Origin {
        surface: Surface::Http,
        source: Some(peer.to_string()),
        request_id: rid.clone(),
    };
    let mut seen = Seen::default();
    let mut answer = match framing {
        // Ambiguous framing (RFC 9112 section 6.3): refused before anything reads the body.
        Verdict::Refuse(why) => {
            seen.route = template_of(req.uri().path());
            Err(http(StatusCode::BAD_REQUEST, "bad_request", why))
        }
        Verdict::Sound | Verdict::Close => route(&app, origin, req, &mut seen).await,
    };
    // Nothing is answered before the caller's use record is durable.
    if let Some(used) = seen.used.take()
        && let Err(e) = used.await
        && answer.is_ok()
    {
        answer = Err(Failure::from(e));
    }
    let mut reply = match answer {
        Ok(Answer::Json(status, body)) => json_reply(status, &body),
        Ok(Answer::Text(text)) => {
            let mut r = Response::new(Full::new(Bytes::from(text)));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        Err(f) => failure_reply(&f, &rid),
    };
    common_headers(&mut reply, &rid, framing != Verdict::Sound);
    let took = started.elapsed();
    let route = seen.route.unwrap_or("unknown");
    app.metrics.request(route, reply.status().as_u16(), took);
    // One line per request; never a header, a body, a token or a credential.
    tracing::info!(
        request_id = %rid,
        method = %method,
        route,
        status = reply.status().as_u16(),
        latency_ms = took.as_secs_f64() * 1000.0,
        key_id = seen.key_id.as_deref().unwrap_or("-"),
        "request"
    );
    Ok(reply)
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

async fn body(app: &App, req: Request<Incoming>) -> Result<Bytes, Failure> {
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

fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Failure> {
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

/// When a request's own use record must be durable.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Record {
    /// Before the operation: for routes that change something.
    First,
    /// Before the reply: for reads and introspection, so the record shares its commit with
    /// whatever else the request records.
    BeforeReply,
}

/// The bearer token of the request, or the `missing_token` refusal.
fn bearer<'r>(app: &App, req: &'r Request<Incoming>) -> Result<&'r str, Failure> {
    let header = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            app.metrics.verification("missing_token");
            http(
                StatusCode::UNAUTHORIZED,
                "missing_token",
                "send an API key as `Authorization: Bearer <key>`",
            )
        })
}

/// `POST /v1/tokens/verify`: the caller's key and the token are checked in one facade call
/// that records one row (the token's use, naming the caller's key) and waits for one commit.
async fn introspect<'a>(
    app: &'a App,
    origin: Origin,
    req: Request<Incoming>,
    seen: &mut Seen<'a>,
) -> Result<Answer, Failure> {
    let caller = keyhold::Zeroizing::new(bearer(app, &req)?.to_owned());
    let bytes = body(app, req).await?;
    let parsed = parse::<VerifyBody>(&bytes).and_then(|b| {
        let scope = b
            .scope
            .map(|s| s.parse::<Scope>())
            .transpose()
            .map_err(token_error)?;
        Ok((keyhold::Zeroizing::new(b.token), scope))
    });
    let (token, scope) = match parsed {
        Ok(p) => p,
        Err(bad) => {
            // The caller is authenticated (and recorded) before it learns its body is bad.
            let checked = app
                .kh
                .verify_token_deferred(&caller, Some(Scope::KeysRead), &origin);
            let me = checked.await.map_err(Failure::from);
            count(app, &me);
            me?;
            return Err(bad);
        }
    };
    let (me, verdict) = match app.kh.introspect_deferred(&caller, &token, scope, &origin) {
        keyhold::Introspection::Verdict { caller, verdict } => (caller, verdict),
        keyhold::Introspection::Refused(refused) => {
            // Always a refusal; its record is awaited like any other.
            let e = match refused.await {
                Err(e) => Failure::from(e),
                Ok(_) => http(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "an introspection refusal without a reason",
                ),
            };
            let refused: Result<Principal, Failure> = Err(e);
            count(app, &refused);
            return refused.map(|_| Answer::Text(String::new()));
        }
    };
    app.metrics.verification("ok");
    seen.key_id = Some(me.key_id);
    match verdict.await {
        Ok(p) => {
            app.metrics.verification("ok");
            Ok(Answer::Json(
                StatusCode::OK,
                serde_json::json!({ "valid": true, "claims": p }),
            ))
        }
        // A verdict: the token is refused, for this documented reason.
        Err(e) if e.http_status() < 500 => {
            app.metrics.verification(e.code());
            Ok(Answer::Json(
                StatusCode::OK,
                serde_json::json!({ "valid": false, "error": { "code": e.code(), "message": e.to_string() } }),
            ))
        }
        // Not a verdict: the store failed (e.g. the use record could not be written).
        Err(e) => Err(Failure::from(e)),
    }
}

fn count(app: &App, result: &Result<Principal, Failure>) {
    match result {
        Ok(_) => app.metrics.verification("ok"),
        Err(Failure::Keyhold(e)) => app.metrics.verification(e.code()),
        Err(Failure::Http { code, .. }) => app.metrics.verification(code),
    }
}

/// [`authenticate`] with `admin`, then the key must be one of the store's administrators
/// (its workspace is the home workspace), for store-wide data and operations.
async fn store_admin<'a>(
    app: &'a App,
    req: &Request<Incoming>,
    origin: &Origin,
    seen: &mut Seen<'a>,
    record: Record,
) -> Result<(), Failure> {
    let p = authenticate(app, req, origin, Some(Scope::Admin), seen, record).await?;
    let caller = Caller::key(p).with_origin(origin.clone());
    let kh = app.kh.clone();
    blocking(move || kh.require_store_admin(&caller)).await
}

/// [`authenticate`], then the key as the caller of a facade call, with its workspace.
async fn key_caller<'a>(
    app: &'a App,
    req: &Request<Incoming>,
    origin: Origin,
    scope: Scope,
    seen: &mut Seen<'a>,
    record: Record,
) -> Result<(String, Caller), Failure> {
    let p = authenticate(app, req, &origin, Some(scope), seen, record).await?;
    Ok((p.workspace.clone(), Caller::key(p).with_origin(origin)))
}

/// Authenticates the bearer key and checks `scope`; the verification is recorded.
async fn authenticate<'a>(
    app: &'a App,
    req: &Request<Incoming>,
    origin: &Origin,
    scope: Option<Scope>,
    seen: &mut Seen<'a>,
    record: Record,
) -> Result<Principal, Failure> {
    let token = bearer(app, req)?;
    // Checked here, not on the blocking pool: a cached token costs microseconds, an uncached
    // one a signature check and one indexed read. The use record's commit is awaited now, or
    // parked in `seen` and awaited before the reply.
    let checked = app.kh.verify_token_deferred(token, scope, origin);
    let result = match (record, checked.outcome()) {
        (Record::BeforeReply, Ok(p)) => {
            let p = p.clone();
            seen.used = Some(checked);
            Ok(p)
        }
        _ => checked.await.map_err(Failure::from),
    };
    count(app, &result);
    if let Ok(p) = &result {
        seen.key_id = Some(p.key_id.clone());
    }
    result
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

fn token_error(e: TokenError) -> Failure {
    Failure::Keyhold(Error::Token(e))
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// The value of `name` in the query string, percent-decoded (`+` is a space).
fn query(req: &Request<Incoming>, name: &str) -> Result<Option<String>, Failure> {
    let Some((_, raw)) = req
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
    else {
        return Ok(None);
    };
    let bad = || {
        http(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("query parameter {name} is not valid percent-encoded UTF-8"),
        )
    };
    let mut bytes = Vec::with_capacity(raw.len());
    let mut it = raw.bytes();
    while let Some(b) = it.next() {
        match b {
            b'%' => {
                let hex = [it.next().ok_or_else(bad)?, it.next().ok_or_else(bad)?];
                let hex = std::str::from_utf8(&hex).map_err(|_| bad())?;
                bytes.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            }
            b'+' => bytes.push(b' '),
            b => bytes.push(b),
        }
    }
    String::from_utf8(bytes).map(Some).map_err(|_| bad())
}

/// A numeric query parameter.
fn query_number<T: std::str::FromStr>(
    req: &Request<Incoming>,
    name: &str,
) -> Result<Option<T>, Failure> {
    query(req, name)?
        .map(|v| {
            v.parse::<T>().map_err(|_| {
                http(
                    StatusCode::BAD_REQUEST,
                    "invalid_input",
                    format!("query parameter {name} must be a number"),
                )
            })
        })
        .transpose()
}

async fn route<'a>(
    app: &'a App,
    origin: Origin,
    req: Request<Incoming>,
    seen: &mut Seen<'a>,
) -> Result<Answer, Failure> {
    let path = req.uri().path().to_owned();
    let Some(template) = template_of(&path) else {
        return Err(http(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route (see /v1/openapi.json)",
        ));
    };
    seen.route = Some(template);
    let method = req.method().clone();
    if !ROUTES
        .iter()
        .any(|r| r.template == template && r.method == method.as_str())
    {
        let allowed: Vec<&str> = ROUTES
            .iter()
            .filter(|r| r.template == template)
            .map(|r| r.method)
            .collect();
        return Err(http(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("use {}", allowed.join(", ")),
        ));
    }
    let id = path
        .trim_end_matches('/')
        .split('/')
        .nth(3)
        .unwrap_or_default()
        .to_owned();
    let kh = app.kh.clone();
    let ok = |v: serde_json::Value| Ok(Answer::Json(StatusCode::OK, v));
    match (template, method) {
        ("/healthz", _) => ok(serde_json::json!({ "status": "ok" })),
        ("/v1/openapi.json", _) => ok(openapi()),
        ("/.well-known/jwks.json", _) => ok(to_json(&blocking(move || kh.jwks()).await?)),
        ("/metrics", _) => {
            // Every workspace's traffic: for the store's administrators only. The use record
            // is durable first, so the queue depth reported is everyone else's.
            store_admin(app, &req, &origin, seen, Record::First).await?;
            Ok(Answer::Text(app.metrics.render(app.kh.audit_queue_depth())))
        }
        ("/v1/whoami", _) => ok(to_json(
            &authenticate(app, &req, &origin, None, seen, Record::BeforeReply).await?,
        )),
        ("/v1/tokens/verify", _) => introspect(app, origin, req, seen).await,
        ("/v1/keys", Method::GET) => {
            let (ws, caller) = key_caller(
                app,
                &req,
                origin,
                Scope::KeysRead,
                seen,
                Record::BeforeReply,
            )
            .await?;
            ok(serde_json::json!({ "keys": blocking(move || kh.keys(&caller, &ws)).await? }))
        }
        ("/v1/keys", _) => {
            let (ws, caller) =
                key_caller(app, &req, origin, Scope::KeysWrite, seen, Record::First).await?;
            let b: MintBody = parse(&body(app, req).await?)?;
            let expires = b.expires.parse().map_err(token_error)?;
            let scopes = b
                .scopes
                .map(|list| {
                    list.iter()
                        .map(|s| s.parse::<Scope>())
                        .collect::<Result<ScopeSet, TokenError>>()
                })
                .transpose()
                .map_err(token_error)?;
            let mint = MintRequest {
                workspace: ws,
                name: b.name,
                expires,
                scopes,
                sub: b.sub,
            };
            let minted = blocking(move || kh.mint_key(&caller, &mint)).await?;
            // EXPOSE: the one response that carries the token (Cache-Control: no-store).
            Ok(Answer::Json(
                StatusCode::CREATED,
                serde_json::json!({ "token": minted.token.expose(), "key": minted.key }),
            ))
        }
        ("/v1/keys/revoke-all", _) => {
            let (ws, caller) =
                key_caller(app, &req, origin, Scope::KeysRevoke, seen, Record::First).await?;
            ok(to_json(
                &blocking(move || kh.revoke_all_keys(&caller, &ws)).await?,
            ))
        }
        ("/v1/keys/{id}", _) => {
            let (ws, caller) = key_caller(
                app,
                &req,
                origin,
                Scope::KeysRead,
                seen,
                Record::BeforeReply,
            )
            .await?;
            ok(to_json(&blocking(move || kh.key(&caller, &ws, &id)).await?))
        }
        ("/v1/keys/{id}/revoke", _) => {
            let (ws, caller) =
                key_caller(app, &req, origin, Scope::KeysRevoke, seen, Record::First).await?;
            ok(to_json(
                &blocking(move || kh.revoke_key(&caller, &ws, &id)).await?,
            ))
        }
        ("/v1/audit", _) => {
            let (_, caller) = key_caller(
                app,
                &req,
                origin,
                Scope::AuditRead,
                seen,
                Record::BeforeReply,
            )
            .await?;
            let filter = AuditFilter {
                since_ms: query_number(&req, "since_ms")?,
                action: query(&req, "action")?,
                key_id: query(&req, "key")?,
                actor: query(&req, "actor")?,
                limit: Some(query_number(&req, "limit")?.unwrap_or(100)),
                workspace: None,
            };
            ok(
                serde_json::json!({ "records": blocking(move || kh.audit_entries(&caller, &filter)).await? }),
            )
        }
        ("/v1/signing-keys/rotate", _) => {
            let (_, caller) =
                key_caller(app, &req, origin, Scope::Admin, seen, Record::First).await?;
            ok(to_json(
                &blocking(move || kh.rotate_signing_key(&caller)).await?,
            ))
        }
        ("/v1/audit/verify", _) => {
            // The whole store's chain (row count, head): for the store's administrators only.
            store_admin(app, &req, &origin, seen, Record::BeforeReply).await?;
            ok(to_json(&blocking(move || kh.verify_audit(None)).await?))
        }
        _ => Err(http(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route (see /v1/openapi.json)",
        )),
    }
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

#[cfg(test)]
mod openapi_snapshot {
    /// The OpenAPI document is API v1's contract: it is kept in `docs/openapi.json`, and any
    /// change to it must change that file too, so that it shows in review and in history.
    /// (`KEYHOLD_UPDATE_SNAPSHOTS=1` rewrites the file.)
    #[test]
    #[allow(clippy::expect_used)]
    fn the_served_document_is_the_committed_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        let served = serde_json::to_string_pretty(&super::openapi()).expect("json") + "\n";
        if std::env::var_os("KEYHOLD_UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &served).expect("write the snapshot");
        }
        let committed = std::fs::read_to_string(&path).expect("docs/openapi.json");
        assert!(
            served == committed,
            "the OpenAPI document changed: review the difference, then run the test with \
             KEYHOLD_UPDATE_SNAPSHOTS=1 to record it"
        );
    }
}
