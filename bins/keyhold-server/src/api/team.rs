//! Team access over HTTP: sign-in (`POST /v1/sessions`, which sets the session cookie) and
//! sign-out, enrolment, members and the workspace's policy. A session acts as its member
//! through the same handlers as a key (see `auth::key_caller`).

use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, StatusCode};
use keyhold::access::{Role, SessionPolicy};
use keyhold::api::{AddMember, Op, Policy, Redeem, Route, SignIn, UpdateMember};
use keyhold::{Error, Origin};

use super::auth::{Record, any_caller, session_token};
use super::input::{body, parse};
use super::reply::{Answer, Failure, blocking, http};
use super::router::PathParams;
use super::{App, Seen};

/// The routes of team access.
pub async fn route<'a>(
    app: &'a App,
    origin: Origin,
    req: Request<Incoming>,
    (route, params): (&'static Route, PathParams),
    seen: &mut Seen<'a>,
) -> Result<Answer, Failure> {
    let kh = app.kh.clone();
    match route.op {
        Op::SignIn => sign_in(app, origin, req).await,
        Op::SignOut => {
            let token = cookie_session(app, &req)?;
            // Signing out changes something: the session and its CSRF token are checked first
            // (a request that also carries a bearer key is not a session's).
            let checked = super::auth::session(app, &req, &origin, seen).await?;
            checked.ok_or_else(session_invalid)?;
            blocking(move || kh.sign_out(&token, &origin)).await?;
            Ok(Answer::Cookie(
                StatusCode::OK,
                keyhold::Zeroizing::new(br#"{"status":"signed_out"}"#.to_vec()),
                cookie("", 0, app.tls),
            ))
        }
        Op::CurrentSession => {
            let token = cookie_session(app, &req)?;
            let current = blocking(move || kh.current_session(&token)).await?;
            // EXPOSE: the session's CSRF token, to the page that holds its cookie.
            Ok(Answer::secret(StatusCode::OK, &current))
        }
        Op::EnrolTotp => {
            json_only(app, &req)?;
            let b: keyhold::api::TotpEnrol = parse(&body(app, req).await?)?;
            match blocking(move || kh.enrol_totp(&origin, &b)).await? {
                // EXPOSE: the new secret, once, for the person's authenticator.
                Some(secret) => Ok(Answer::secret(StatusCode::CREATED, &secret)),
                None => Ok(Answer::ok(serde_json::json!({ "status": "enrolled" }))),
            }
        }
        Op::Redeem => {
            json_only(app, &req)?;
            let b: Redeem = parse(&body(app, req).await?)?;
            blocking(move || kh.redeem_enrolment(&origin, b.code.expose(), b.password.expose()))
                .await?;
            Ok(Answer::ok(serde_json::json!({ "status": "enrolled" })))
        }
        _ => members(app, origin, req, (route, params), seen).await,
    }
}

/// The refusal of a request that has no session.
fn session_invalid() -> Failure {
    Failure::from(Error::Access(keyhold::access::AccessError::SessionInvalid))
}

/// The request's session token, copied into memory that is wiped, or `session_invalid`.
fn cookie_session(
    app: &App,
    req: &Request<Incoming>,
) -> Result<keyhold::Zeroizing<String>, Failure> {
    session_token(app, req)
        .map(|t| keyhold::Zeroizing::new(t.to_owned()))
        .ok_or_else(session_invalid)
}

/// The member routes, as a member's session or a key.
async fn members<'a>(
    app: &'a App,
    origin: Origin,
    req: Request<Incoming>,
    (route, params): (&'static Route, PathParams),
    seen: &mut Seen<'a>,
) -> Result<Answer, Failure> {
    let (ws, caller) = any_caller(app, &req, origin, seen, Record::First).await?;
    let kh = app.kh.clone();
    let email = params.email;
    match route.op {
        Op::ListMembers => {
            let list = blocking(move || kh.members(&caller, &ws)).await?;
            Ok(Answer::of(&keyhold::api::MemberList { members: list }))
        }
        Op::AddMember => {
            let b: AddMember = parse(&body(app, req).await?)?;
            let added = blocking(move || kh.add_member(&caller, &ws, &b)).await?;
            // EXPOSE: an enrolment code is in this answer only.
            Ok(Answer::secret(StatusCode::CREATED, &added))
        }
        Op::UpdateMember => {
            let b: UpdateMember = parse(&body(app, req).await?)?;
            let role = b
                .role
                .as_deref()
                .map(Role::named)
                .transpose()
                .map_err(Error::Access)?;
            let m = blocking(move || {
                kh.update_member(&caller, &ws, &email, (role, b.state.as_deref()))
            })
            .await?;
            Ok(Answer::of(&m))
        }
        Op::RemoveMember => {
            let revoke = req
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|p| p == "revoke_keys=true"));
            let m = blocking(move || kh.remove_member(&caller, &ws, &email, revoke)).await?;
            Ok(Answer::of(&m))
        }
        Op::SetPolicy => {
            let b: Policy = parse(&body(app, req).await?)?;
            Ok(Answer::of(
                &blocking(move || kh.set_policy(&caller, &ws, &b)).await?,
            ))
        }
        _ => Err(http(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "not a team route",
        )),
    }
}

/// `POST /v1/sessions`: signs in, sets the session cookie, answers with the CSRF token.
async fn sign_in(app: &App, origin: Origin, req: Request<Incoming>) -> Result<Answer, Failure> {
    json_only(app, &req)?;
    let b: SignIn = parse(&body(app, req).await?)?;
    let kh = app.kh.clone();
    let policy = app.sessions;
    let (token, session) = blocking(move || kh.sign_in(&origin, &b, policy)).await?;
    let cookie = cookie(&token.0, policy.absolute, app.tls);
    // EXPOSE: the session token goes in the cookie, the CSRF token in this body, once.
    let body = serde_json::to_vec(&session).map_err(|_| {
        http(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the session",
        )
    })?;
    Ok(Answer::Cookie(
        StatusCode::CREATED,
        keyhold::Zeroizing::new(body),
        cookie,
    ))
}

/// Refuses a body that is not declared JSON: a cross-site form (which can send only
/// `text/plain`, form or multipart bodies without asking) can then never sign anyone in;
/// and a request a browser says comes from another origin (`csrf_failed`).
fn json_only(app: &App, req: &Request<Incoming>) -> Result<(), Failure> {
    if super::auth::cross_origin(app, req) {
        return Err(Failure::from(Error::Access(
            keyhold::access::AccessError::CsrfFailed,
        )));
    }
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match declared.map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }) {
        Some(t) if t == "application/json" => Ok(()),
        _ => Err(http(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "send the body as application/json",
        )),
    }
}

/// The session cookie: `HttpOnly; SameSite=Strict; Path=/`, and under TLS `Secure` with the
/// `__Host-` name. An empty value with no lifetime clears it.
fn cookie(token: &str, max_age: i64, tls: bool) -> HeaderValue {
    let name = keyhold::api::session_cookie(tls);
    let secure = if tls { "; Secure" } else { "" };
    let text =
        format!("{name}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("keyhold_session=; Max-Age=0"))
}

/// The session lifetimes the server gives, from its flags.
pub fn lifetimes(idle_minutes: u32, max_hours: u32) -> Option<SessionPolicy> {
    SessionPolicy::new(i64::from(idle_minutes) * 60, i64::from(max_hours) * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_tls_the_cookie_is_secure_and_host_only_by_name() {
        let tls = cookie("khs_x", 60, true);
        let tls = tls.to_str().unwrap_or_default();
        assert!(tls.starts_with("__Host-keyhold_session=khs_x;"), "{tls}");
        assert!(tls.contains("; Secure") && tls.contains("Path=/") && !tls.contains("Domain"));
        let plain = cookie("khs_x", 60, false);
        let plain = plain.to_str().unwrap_or_default();
        assert!(plain.starts_with("keyhold_session=khs_x;") && !plain.contains("Secure"));
    }
}
