//! API v1 over hyper: every request enters at [`handle`], is routed by [`Router`] on the route
//! table of [`keyhold::api`], answered by the handlers of its resource, and leaves with one
//! log line and its metrics.

mod admin;
mod assistant;
mod auth;
mod connections;
mod input;
mod keys;
mod reply;
mod router;
mod team;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use keyhold::api::{KeyList, Op};
use keyhold::{Caller, Keyhold, Origin, Principal, Surface};

use crate::framing::Verdict;
use crate::metrics::Metrics;
use auth::{Record, as_key};
use reply::{Answer, Failure, Reply, http};
pub use router::Router;
pub use team::lifetimes;

/// The server's shared state.
pub struct App {
    /// The store.
    pub kh: Arc<Keyhold>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Time a client gets to send its headers, and then its body.
    pub read_timeout: Duration,
    /// API v1's routes.
    pub router: Router,
    /// The lifetimes of the sessions it opens.
    pub sessions: keyhold::access::SessionPolicy,
    /// Whether it serves TLS (session cookies are then `Secure`).
    pub tls: bool,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The origins browsers may reach the server at.
    pub origins: crate::portal::Origins,
}

/// What a request turned out to be, for its log line and the metrics.
#[derive(Default)]
struct Seen<'a> {
    route: Option<&'static str>,
    key_id: Option<String>,
    /// The caller's use record, if it is still on its way to disk.
    used: Option<keyhold::Deferred<'a, Principal>>,
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
    let rid = reply::request_id(&req);
    let method = req.method().clone();
    let origin = Origin {
        surface: Surface::Http,
        source: Some(source(&app, peer, &req)),
        request_id: rid.clone(),
    };
    let mut seen = Seen::default();
    let mut answer = match framing {
        // A host name this server does not answer for: DNS rebinding, or a wrong address.
        _ if !app.origins.serves(req.headers().get(hyper::header::HOST)) => {
            seen.route = app.router.template(req.uri().path());
            Err(http(
                StatusCode::MISDIRECTED_REQUEST,
                "misdirected_request",
                "this server does not answer for that host name (see --public-origin)",
            ))
        }
        // Ambiguous framing (RFC 9112 section 6.3): refused before anything reads the body.
        Verdict::Refuse(why) => {
            seen.route = app.router.template(req.uri().path());
            Err(http(StatusCode::BAD_REQUEST, "bad_request", why))
        }
        Verdict::Sound | Verdict::Close => match crate::portal::file(req.method(), req.uri()) {
            Some(file) => {
                seen.route = Some(file.path);
                Ok(Answer::Asset(file))
            }
            None => route(&app, origin, req, &mut seen).await,
        },
    };
    // Nothing is answered before the caller's use record is durable.
    if let Some(used) = seen.used.take()
        && let Err(e) = used.await
        && answer.is_ok()
    {
        answer = Err(Failure::from(e));
    }
    let mut reply = match answer {
        Ok(a) => reply::answer_reply(a),
        Err(f) => reply::failure_reply(&f, &rid),
    };
    reply::common_headers(&mut reply, &rid, framing != Verdict::Sound, app.tls);
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

/// Where a request came from: the peer's address — or, when the peer is a proxy the server
/// was told to trust (`--trusted-proxy`), the client address that proxy appended last to
/// `X-Forwarded-For`. Anyone else's `X-Forwarded-For` is ignored: it is whatever the client
/// wrote.
fn source(app: &App, peer: SocketAddr, req: &Request<Incoming>) -> String {
    if !app.trusted_proxies.contains(&peer.ip()) {
        return peer.to_string();
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|v| !v.is_empty())
        .and_then(|v| v.parse::<std::net::IpAddr>().ok());
    forwarded.map_or_else(|| peer.to_string(), |ip| ip.to_string())
}

/// Resolves the route, then runs its operation.
async fn route<'a>(
    app: &'a App,
    origin: Origin,
    req: Request<Incoming>,
    seen: &mut Seen<'a>,
) -> Result<Answer, Failure> {
    let (route, params) = app.router.resolve(req.method(), req.uri().path())?;
    seen.route = Some(route.template);
    let id = params.id.clone();
    let kh = app.kh.clone();
    match route.op {
        Op::Health => Ok(Answer::ok(serde_json::json!({ "status": "ok" }))),
        Op::OpenApi => Ok(Answer::ok(keyhold::api::openapi(
            keyhold::DEFAULT_WORKSPACE,
        ))),
        Op::Jwks => Ok(Answer::of(&reply::blocking(move || kh.jwks()).await?)),
        Op::Metrics => admin::metrics(app, &req, &origin, seen).await,
        Op::WhoAmI => match auth::session(app, &req, &origin, seen).await? {
            // A session answers with its member: email, workspace and role.
            Some(c) => Ok(Answer::of(&c.membership().map(|m| {
                serde_json::json!({ "sub": m.email, "workspace": m.workspace, "role": m.role.as_str() })
            }))),
            None => {
                let me = auth::authenticate(app, &req, &origin, None, seen, Record::BeforeReply);
                Ok(Answer::of(&me.await?))
            }
        },
        Op::VerifyToken => keys::introspect(app, origin, req, seen).await,
        Op::MintKey => keys::mint(app, origin, req, seen).await,
        Op::ListAudit => admin::audit(app, origin, &req, seen).await,
        Op::ListKeys => {
            let list = |kh: &Keyhold, c: &Caller, ws: &str| {
                Ok(KeyList {
                    keys: kh.keys(c, ws)?,
                })
            };
            as_key(app, &req, origin, (route, Record::BeforeReply), seen, list).await
        }
        Op::GetKey => {
            let get = move |kh: &Keyhold, c: &Caller, ws: &str| kh.key(c, ws, &id);
            as_key(app, &req, origin, (route, Record::BeforeReply), seen, get).await
        }
        Op::RevokeKey => {
            let revoke = move |kh: &Keyhold, c: &Caller, ws: &str| kh.revoke_key(c, ws, &id);
            as_key(app, &req, origin, (route, Record::First), seen, revoke).await
        }
        Op::RevokeAllKeys => {
            let all = |kh: &Keyhold, c: &Caller, ws: &str| kh.revoke_all_keys(c, ws);
            as_key(app, &req, origin, (route, Record::First), seen, all).await
        }
        Op::RotateSigningKey => {
            let rotate = |kh: &Keyhold, c: &Caller, _: &str| kh.rotate_signing_key(c);
            as_key(app, &req, origin, (route, Record::First), seen, rotate).await
        }
        Op::VerifyAudit => admin::verify_audit(app, &req, &origin, seen).await,
        Op::ListConnections
        | Op::CreateConnection
        | Op::GetConnection
        | Op::DeleteConnection
        | Op::UpdateCredential
        | Op::TestCredential
        | Op::SaveCredential
        | Op::RegenerateCredential
        | Op::RotateConnection
        | Op::ActiveCredential => connections::route(app, origin, req, (route, params), seen).await,
        Op::Ask => assistant::ask(app, origin, req, seen).await,
        Op::SignIn
        | Op::SignOut
        | Op::CurrentSession
        | Op::Redeem
        | Op::ListMembers
        | Op::AddMember
        | Op::UpdateMember
        | Op::RemoveMember
        | Op::SetPolicy
        | Op::EnrolTotp => team::route(app, origin, req, (route, params), seen).await,
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
        let document = keyhold::api::openapi(keyhold::DEFAULT_WORKSPACE);
        let served = serde_json::to_string_pretty(&document).expect("json") + "\n";
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
