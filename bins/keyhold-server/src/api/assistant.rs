//! `POST /v1/assistant`: Azi over HTTP. Any valid key may ask; what she does, she does with
//! that key's scopes, in its workspace, and a destructive request only on the second ask,
//! with the confirmation the first reply carried.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use keyhold::Origin;
use keyhold::api::AskBody;

use super::auth::{Record, any_caller};
use super::input::{body, parse};
use super::reply::{Answer, Failure, blocking};
use super::{App, Seen};

/// `POST /v1/assistant`.
pub async fn ask<'a>(
    app: &'a App,
    origin: Origin,
    req: Request<Incoming>,
    seen: &mut Seen<'a>,
) -> Result<Answer, Failure> {
    let (ws, caller) = any_caller(app, &req, origin, seen, Record::First).await?;
    let b: AskBody = parse(&body(app, req).await?)?;
    let kh = app.kh.clone();
    let reply =
        blocking(move || kh.ask(&caller, &ws, &b.sentence, b.confirmation.as_deref())).await?;
    // EXPOSE: a key Azi created is shown in this reply only (Cache-Control: no-store).
    Ok(Answer::secret(StatusCode::OK, &reply.view(|t| t.expose())))
}
