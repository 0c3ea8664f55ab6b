//! Who is asking: the bearer key, checked (with its scope) and recorded.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use keyhold::api::Route;
use keyhold::{Caller, Keyhold, Origin, Principal, Scope};

use super::reply::{Answer, Failure, blocking, http};
use super::{App, Seen};

/// When a request's own use record must be durable.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Before the operation: for routes that change something.
    First,
    /// Before the reply: for reads and introspection, so the record shares its commit with
    /// whatever else the request records.
    BeforeReply,
}

/// The bearer token of the request, or the `missing_token` refusal.
pub fn bearer<'r>(app: &App, req: &'r Request<Incoming>) -> Result<&'r str, Failure> {
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

/// Counts a key verification by its outcome.
pub fn count(app: &App, result: &Result<Principal, Failure>) {
    match result {
        Ok(_) => app.metrics.verification("ok"),
        Err(f) => app.metrics.verification(f.code()),
    }
}

/// [`authenticate`] with `admin`, then the key must be one of the store's administrators
/// (its workspace is the home workspace), for store-wide data and operations.
pub async fn store_admin<'a>(
    app: &'a App,
    req: &Request<Incoming>,
    origin: &Origin,
    seen: &mut Seen<'a>,
    record: Record,
) -> Result<(), Failure> {
    let caller = match session(app, req, origin, seen).await? {
        Some(member) => member,
        None => {
            let p = authenticate(app, req, origin, Some(Scope::Admin), seen, record).await?;
            Caller::key(p).with_origin(origin.clone())
        }
    };
    let kh = app.kh.clone();
    blocking(move || kh.require_store_admin(&caller)).await
}

/// [`authenticate`], then the key as the caller of a facade call, with its workspace — or,
/// for a request with no bearer key and a session cookie, the session's member (checked now;
/// with its CSRF token when the request changes something), whose role the facade checks.
pub async fn key_caller<'a>(
    app: &'a App,
    req: &Request<Incoming>,
    origin: Origin,
    scope: Scope,
    seen: &mut Seen<'a>,
    record: Record,
) -> Result<(String, Caller), Failure> {
    caller(app, req, origin, Some(scope), (seen, record)).await
}

/// The caller of a route any valid key or session may call: the facade checks what the
/// operation needs (a key's scopes, a member's role).
pub async fn any_caller<'a>(
    app: &'a App,
    req: &Request<Incoming>,
    origin: Origin,
    seen: &mut Seen<'a>,
    record: Record,
) -> Result<(String, Caller), Failure> {
    caller(app, req, origin, None, (seen, record)).await
}

/// The session's member, or the bearer key authenticated for `scope`, with its workspace.
async fn caller<'a>(
    app: &'a App,
    req: &Request<Incoming>,
    origin: Origin,
    scope: Option<Scope>,
    (seen, record): (&mut Seen<'a>, Record),
) -> Result<(String, Caller), Failure> {
    if let Some(member) = session(app, req, &origin, seen).await? {
        let ws = member.membership().map(|m| m.workspace.clone());
        return Ok((ws.unwrap_or_default(), member));
    }
    let p = authenticate(app, req, &origin, scope, seen, record).await?;
    Ok((p.workspace.clone(), Caller::key(p).with_origin(origin)))
}

/// The session cookie's value, if the request has one: the cookie named for this server's
/// scheme (see [`keyhold::api::session_cookie`]). A request that carries two of them — one
/// planted by a sibling site beside the person's own — has none that counts: its value is
/// then empty, which no session has.
pub fn session_token<'r>(app: &App, req: &'r Request<Incoming>) -> Option<&'r str> {
    let name = keyhold::api::session_cookie(app.tls);
    let mut found = req
        .headers()
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, value)| value);
    let first = found.next()?;
    Some(if found.next().is_some() { "" } else { first })
}

/// Whether a browser says the request comes from a page of another origin: its
/// `Sec-Fetch-Site` is neither `same-origin` nor `none` (typed or bookmarked), or its `Origin`
/// is not this server's — one of `--public-origin`, or else this server's scheme with the
/// host the request names (`null` is never this server's). A client that sends neither (not a
/// browser) is judged by its tokens alone. Beside the `SameSite=Strict` cookie and the CSRF
/// token, this refuses a cross-origin request even from a sibling site that shares the
/// cookie's site.
pub fn cross_origin(app: &App, req: &Request<Incoming>) -> bool {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|site| site != "same-origin" && site != "none") {
        return true;
    }
    let Some(origin) = header("origin") else {
        return false;
    };
    if !app.origins.public.is_empty() {
        return !app
            .origins
            .public
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin));
    }
    let scheme = if app.tls { "https://" } else { "http://" };
    let host = header("host").unwrap_or_default();
    let own = origin.strip_prefix(scheme);
    !own.is_some_and(|a| !host.is_empty() && a.eq_ignore_ascii_case(host))
}

/// The member a request's session stands for, if it has a session cookie and no bearer key:
/// the session is checked now (in the store: every process sees a sign-out or a disabled
/// member), with the `X-CSRF-Token` header when the method changes something, and refused
/// (`csrf_failed`) when the browser says the request comes from another origin.
pub async fn session<'a>(
    app: &'a App,
    req: &Request<Incoming>,
    origin: &Origin,
    seen: &mut Seen<'a>,
) -> Result<Option<Caller>, Failure> {
    let Some(token) = session_token(app, req)
        .filter(|_| !req.headers().contains_key(hyper::header::AUTHORIZATION))
    else {
        return Ok(None);
    };
    let writes = !matches!(*req.method(), hyper::Method::GET | hyper::Method::HEAD);
    // Reads too: another site may not so much as keep a session alive.
    if cross_origin(app, req) {
        return Err(Failure::from(keyhold::Error::Access(
            keyhold::access::AccessError::CsrfFailed,
        )));
    }
    let csrf = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(|v| keyhold::Zeroizing::new(v.to_owned()));
    let token = keyhold::Zeroizing::new(token.to_owned());
    let origin = Origin {
        surface: keyhold::Surface::Portal,
        ..origin.clone()
    };
    let kh = app.kh.clone();
    let caller = blocking(move || {
        let csrf = writes.then(|| csrf.as_deref().map(String::as_str));
        kh.session_caller(&token, csrf, &origin)
    })
    .await?;
    seen.key_id = Some("session".to_owned());
    Ok(Some(caller))
}

/// A request made with an API key, authenticated for the scope the route table gives `route`
/// (and recorded as `record` says), answered with what `op` returns as that key's caller in
/// its own workspace. `op` runs on the blocking pool.
pub async fn as_key<'a, T, F>(
    app: &'a App,
    req: &Request<Incoming>,
    origin: Origin,
    (route, record): (&Route, Record),
    seen: &mut Seen<'a>,
    op: F,
) -> Result<Answer, Failure>
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(&Keyhold, &Caller, &str) -> keyhold::Result<T> + Send + 'static,
{
    let scope = route_scope(route)?;
    let (ws, caller) = key_caller(app, req, origin, scope, seen, record).await?;
    let kh = app.kh.clone();
    Ok(Answer::of(&blocking(move || op(&kh, &caller, &ws)).await?))
}

/// The key scope the route table gives `route`.
pub fn route_scope(route: &Route) -> Result<Scope, Failure> {
    route
        .scope
        .and_then(|s| s.parse::<Scope>().ok())
        .ok_or_else(|| {
            http(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the route names no key scope",
            )
        })
}

/// Authenticates the bearer key and checks `scope`; the verification is recorded.
pub async fn authenticate<'a>(
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
