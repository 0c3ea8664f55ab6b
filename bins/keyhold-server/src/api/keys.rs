//! `/v1/keys` and `/v1/tokens/verify`: the workspace's API keys, and token introspection.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use keyhold::api::{MintBody, Minted, Refusal, Verdict, VerifyBody};
use keyhold::{MintRequest, Origin, Principal, Scope, Zeroizing};

use super::auth::{Record, bearer, count, key_caller};
use super::input::{body, parse};
use super::reply::{Answer, Failure, blocking, http};
use super::{App, Seen};

/// `POST /v1/keys`.
pub async fn mint<'a>(
    app: &'a App,
    origin: Origin,
    req: Request<Incoming>,
    seen: &mut Seen<'a>,
) -> Result<Answer, Failure> {
    let (ws, caller) = key_caller(app, &req, origin, Scope::KeysWrite, seen, Record::First).await?;
    let b: MintBody = parse(&body(app, req).await?)?;
    let mint = MintRequest::from_body(ws, b)?;
    let kh = app.kh.clone();
    let minted = blocking(move || kh.mint_key(&caller, &mint)).await?;
    // EXPOSE: the one response that carries the token (Cache-Control: no-store).
    let body = Minted {
        key: minted.key,
        token: minted.token.expose(),
    };
    Ok(Answer::secret(StatusCode::CREATED, &body))
}

/// `POST /v1/tokens/verify`: the caller's key and the token are checked in one facade call
/// that records one row (the token's use, naming the caller's key) and waits for one commit.
pub async fn introspect<'a>(
    app: &'a App,
    origin: Origin,
    req: Request<Incoming>,
    seen: &mut Seen<'a>,
) -> Result<Answer, Failure> {
    let caller = Zeroizing::new(bearer(app, &req)?.to_owned());
    let bytes = body(app, req).await?;
    let parsed = parse::<VerifyBody<String>>(&bytes).and_then(|b| {
        let scope = b
            .scope
            .as_deref()
            .map(keyhold::scope_from_wire)
            .transpose()?;
        Ok((Zeroizing::new(b.token), scope))
    });
    let (token, scope) = match parsed {
        Ok(p) => p,
        Err(bad) => return Err(refuse_body(app, &caller, &origin, bad).await),
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
    let answer = match verdict.await {
        Ok(p) => {
            app.metrics.verification("ok");
            Verdict {
                claims: Some(p),
                error: None,
                valid: true,
            }
        }
        // A refusal is a verdict: the token is refused, for this documented reason.
        Err(e) if e.is_refusal() => {
            app.metrics.verification(e.code());
            let error = Refusal {
                code: e.code().to_owned(),
                message: e.to_string(),
            };
            Verdict {
                claims: None,
                error: Some(error),
                valid: false,
            }
        }
        // Not a verdict: the store failed (e.g. the use record could not be written).
        Err(e) => return Err(Failure::from(e)),
    };
    Ok(Answer::of(&answer))
}

/// A verify body that could not be read: the caller is authenticated (and recorded) before it
/// learns its body is bad.
async fn refuse_body(app: &App, caller: &str, origin: &Origin, bad: Failure) -> Failure {
    let checked = app
        .kh
        .verify_token_deferred(caller, Some(Scope::KeysRead), origin);
    let me = checked.await.map_err(Failure::from);
    count(app, &me);
    match me {
        Err(refused) => refused,
        Ok(_) => bad,
    }
}
