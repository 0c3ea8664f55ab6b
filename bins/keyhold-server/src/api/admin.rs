//! The store's own routes: metrics, the audit log, and the signing key.

use hyper::Request;
use hyper::StatusCode;
use hyper::body::Incoming;
use keyhold::api::{AuditQuery, Records};
use keyhold::{Origin, Scope};

use super::auth::{Record, key_caller, store_admin};
use super::reply::{Answer, Failure, blocking, http};
use super::{App, Seen};

/// `GET /metrics`: every workspace's traffic, for the store's administrators only. The use
/// record is durable first, so the queue depth reported is everyone else's.
pub async fn metrics<'a>(
    app: &'a App,
    req: &Request<Incoming>,
    origin: &Origin,
    seen: &mut Seen<'a>,
) -> Result<Answer, Failure> {
    store_admin(app, req, origin, seen, Record::First).await?;
    Ok(Answer::Text(app.metrics.render(app.kh.audit_queue_depth())))
}

/// `GET /v1/audit`: the records of the key's own workspace, filtered by the query.
pub async fn audit<'a>(
    app: &'a App,
    origin: Origin,
    req: &Request<Incoming>,
    seen: &mut Seen<'a>,
) -> Result<Answer, Failure> {
    let (_, caller) = key_caller(
        app,
        req,
        origin,
        Scope::AuditRead,
        seen,
        Record::BeforeReply,
    )
    .await?;
    let query = AuditQuery::from_query(req.uri().query().unwrap_or_default())
        .map_err(|e| http(StatusCode::BAD_REQUEST, "invalid_input", e.to_string()))?;
    let kh = app.kh.clone();
    let records = blocking(move || kh.audit_entries(&caller, &query)).await?;
    Ok(Answer::of(&Records { records }))
}

/// `POST /v1/audit/verify`: the whole store's chain (row count, head), for the store's
/// administrators only.
pub async fn verify_audit<'a>(
    app: &'a App,
    req: &Request<Incoming>,
    origin: &Origin,
    seen: &mut Seen<'a>,
) -> Result<Answer, Failure> {
    store_admin(app, req, origin, seen, Record::BeforeReply).await?;
    let kh = app.kh.clone();
    Ok(Answer::of(&blocking(move || kh.verify_audit(None)).await?))
}
