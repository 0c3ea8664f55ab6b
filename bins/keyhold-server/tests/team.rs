//! Team access over loopback HTTP on a running server: a member signs in, gets an HttpOnly
//! session cookie and a CSRF token, and creates a 30-day key in their own name — directly and
//! through Azi; the session's writes need the CSRF token; a member disabled by another
//! process is refused on the next request; signing out ends the session; and no password or
//! session token reaches the server's log.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

mod common;

use common::{Reply, Server, assert_envelope, library, request, start};
use keyhold::api::{AddMember, Secret};

const PASSWORD: &str = "canary-Passphrase-4d2b77e1";

fn add(s: &Server, email: &str, role: &str) {
    let req = AddMember {
        email: email.into(),
        role: role.into(),
        display_name: None,
        password: Some(Secret::new(PASSWORD)),
    };
    library(s)
        .add_member(&keyhold::Caller::operator(), "default", &req)
        .expect("add member");
}

/// Signs in over HTTP: the cookie header to send back and the CSRF token.
fn sign_in(s: &Server, email: &str, password: &str) -> Result<(String, String), Reply> {
    let body = serde_json::json!({ "email": email, "password": password }).to_string();
    let r = request(s, "POST", "/v1/sessions", None, Some(&body), &[]);
    if r.status != 201 {
        return Err(r);
    }
    let set = r.header("set-cookie").expect("a session cookie").to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(part), "{set}");
    }
    let cookie = set.split(';').next().unwrap().to_owned();
    Ok((cookie, r.body["csrf"].as_str().expect("csrf").to_owned()))
}

fn call(
    s: &Server,
    method: &str,
    path: &str,
    (cookie, csrf): (&str, Option<&str>),
    body: Option<&str>,
) -> Reply {
    let mut headers = vec![("Cookie", cookie)];
    if let Some(c) = csrf {
        headers.push(("X-CSRF-Token", c));
    }
    request(s, method, path, None, body, &headers)
}

#[test]
fn a_member_signs_in_and_creates_a_30_day_key_in_their_own_name() {
    let s = start();
    add(&s, "dev@team.com", "developer");
    add(&s, "owner@team.com", "owner");
    let (cookie, csrf) = sign_in(&s, "dev@team.com", PASSWORD).expect("signed in");
    let me = call(&s, "GET", "/v1/whoami", (&cookie, None), None);
    assert_eq!(
        (me.status, me.body["sub"].as_str(), me.body["role"].as_str()),
        (200, Some("dev@team.com"), Some("developer"))
    );
    // A write without the CSRF token is refused, whatever the cookie.
    let body = r#"{"name":"mobile","expires":"30d"}"#;
    assert_envelope(
        &call(&s, "POST", "/v1/keys", (&cookie, None), Some(body)),
        403,
        "csrf_failed",
    );
    let minted = call(&s, "POST", "/v1/keys", (&cookie, Some(&csrf)), Some(body));
    assert_eq!(minted.status, 201, "{:?}", minted.body);
    let key = &minted.body["key"];
    assert_eq!(key["sub"], "dev@team.com");
    assert_eq!(
        key["expires_at"].as_i64().unwrap() - key["created_at"].as_i64().unwrap(),
        30 * 86_400
    );
    assert_eq!(
        key["scopes"],
        serde_json::json!(["execute:queries", "read:queries"])
    );
    // A developer adds nobody.
    let add = r#"{"email":"x@team.com","role":"viewer"}"#;
    assert_envelope(
        &call(&s, "POST", "/v1/members", (&cookie, Some(&csrf)), Some(add)),
        403,
        "insufficient_role",
    );

    // Through Azi, the product page's sentence mints a 30-day key, and the owner's revoke-all
    // asks first, then every key is refused on its next request.
    let (owner, owner_csrf) = sign_in(&s, "owner@team.com", PASSWORD).expect("owner");
    let ask = |sentence: &str, confirmation: Option<&str>| {
        let mut b = serde_json::json!({ "sentence": sentence });
        if let Some(c) = confirmation {
            b["confirmation"] = c.into();
        }
        call(
            &s,
            "POST",
            "/v1/assistant",
            (&owner, Some(&owner_csrf)),
            Some(&b.to_string()),
        )
    };
    let made = ask(
        "Create an API key for the mobile app with 30-day expiry.",
        None,
    );
    assert_eq!(
        (made.status, made.body["status"].as_str()),
        (200, Some("done")),
        "{:?}",
        made.body
    );
    let k = &made.body["result"]["minted"]["key"];
    assert_eq!(
        (k["sub"].as_str(), k["name"].as_str()),
        (Some("owner@team.com"), Some("mobile-app"))
    );
    assert_eq!(
        k["expires_at"].as_i64().unwrap() - k["created_at"].as_i64().unwrap(),
        30 * 86_400
    );
    let azi_token = made.body["result"]["minted"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = ask("Revoke all API keys for this workspace", None);
    assert_eq!(first.body["status"], "confirm");
    assert_eq!(
        request(&s, "GET", "/v1/whoami", Some(&azi_token), None, &[]).status,
        200,
        "not yet"
    );
    let token = first.body["confirmation"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = ask("Revoke all API keys for this workspace", Some(&token));
    assert_eq!(done.body["status"], "done", "{:?}", done.body);
    assert_envelope(
        &request(&s, "GET", "/v1/whoami", Some(&azi_token), None, &[]),
        401,
        "key_revoked_all",
    );
    assert_envelope(
        &request(&s, "GET", "/v1/whoami", Some(&s.admin), None, &[]),
        401,
        "key_revoked_all",
    );
    let kh = library(&s);
    let rows = kh
        .audit_entries(
            &keyhold::Caller::operator(),
            &keyhold::api::AuditQuery::default(),
        )
        .unwrap();
    let all = rows
        .iter()
        .find(|r| r.action == "keys.revoked_all")
        .unwrap();
    assert_eq!(
        (all.surface.as_str(), all.actor.as_str()),
        ("assistant", "owner@team.com")
    );
}

#[test]
fn sessions_end_when_the_member_is_disabled_or_signs_out_and_failures_say_nothing() {
    let s = start();
    add(&s, "ann@team.com", "admin");
    let (cookie, csrf) = sign_in(&s, "ann@team.com", PASSWORD).unwrap();
    assert_eq!(
        call(&s, "GET", "/v1/members", (&cookie, None), None).status,
        200
    );
    // Disabled by the operator, in another process: the next request is refused.
    let op = keyhold::Caller::operator();
    library(&s)
        .update_member(&op, "default", "ann@team.com", (None, Some("disabled")))
        .unwrap();
    assert_envelope(
        &call(&s, "GET", "/v1/members", (&cookie, None), None),
        401,
        "session_invalid",
    );
    library(&s)
        .update_member(&op, "default", "ann@team.com", (None, Some("active")))
        .unwrap();
    // Signing out clears the cookie and ends the session in the store.
    let (cookie, csrf2) = sign_in(&s, "ann@team.com", PASSWORD).unwrap();
    assert_ne!(csrf, csrf2);
    let out = call(
        &s,
        "DELETE",
        "/v1/sessions/current",
        (&cookie, Some(&csrf2)),
        None,
    );
    assert_eq!(out.status, 200, "{:?}", out.body);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_envelope(
        &call(&s, "GET", "/v1/members", (&cookie, None), None),
        401,
        "session_invalid",
    );
    // A wrong password and an unknown email get the same answer.
    let wrong = sign_in(&s, "ann@team.com", "not-her-password-at-all").unwrap_err();
    let unknown = sign_in(&s, "nobody@team.com", PASSWORD).unwrap_err();
    assert_envelope(&wrong, 401, "sign_in_failed");
    assert_envelope(&unknown, 401, "sign_in_failed");
    assert_eq!(
        wrong.body["error"]["message"],
        unknown.body["error"]["message"]
    );
    // Nothing secret in the log: no password, no session, no CSRF token.
    let log = std::fs::read_to_string(&s.log).unwrap();
    let session = cookie.split_once('=').unwrap().1;
    for secret in [PASSWORD, "not-her-password-at-all", session, &csrf2] {
        assert!(!log.contains(secret), "a secret in the server's log");
    }
}

#[test]
fn a_factor_is_enrolled_over_http_and_no_cross_site_form_can_sign_anyone_in() {
    let s = start();
    add(&s, "ann@team.com", "owner");
    // A form post (text/plain) is not a sign-in, whatever it carries.
    let body = serde_json::json!({ "email": "ann@team.com", "password": PASSWORD }).to_string();
    let form = request(
        &s,
        "POST",
        "/v1/sessions",
        None,
        Some(&body),
        &[("Content-Type", "text/plain")],
    );
    assert_eq!(form.status, 400, "{:?}", form.body);
    let wrong =
        serde_json::json!({ "email": "ann@team.com", "password": "not-her-password" }).to_string();
    assert_envelope(
        &request(&s, "POST", "/v1/totp", None, Some(&wrong), &[]),
        401,
        "sign_in_failed",
    );
    let r = request(&s, "POST", "/v1/totp", None, Some(&body), &[]);
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let secret = r.body["secret"]
        .as_str()
        .expect("the secret, once")
        .to_owned();
    assert!(r.body["otpauth_uri"].as_str().unwrap().contains(&secret));
    let log = std::fs::read_to_string(&s.log).unwrap();
    assert!(!log.contains(&secret) && !log.contains(PASSWORD));
}

/// Behind a proxy the server was told to trust, the client address it forwards is the
/// request's source — for the throttle (guessing from one client does not lock out another)
/// and the audit log; anyone else's X-Forwarded-For is ignored.
#[test]
fn a_trusted_proxy_names_the_client_and_nobody_else_can() {
    let failures = |s: &Server, client: &str, n: usize| -> Vec<String> {
        (0..n)
            .map(|i| {
                let body = serde_json::json!({ "email": format!("guess{i}@team.com"), "password": "wrong-wrong-wrong-1" });
                let r = request(s, "POST", "/v1/sessions", None, Some(&body.to_string()), &[("X-Forwarded-For", client)]);
                r.body["error"]["code"].as_str().unwrap_or_default().to_owned()
            })
            .collect()
    };
    let proxied = common::start_with(&["--trusted-proxy", "127.0.0.1"]);
    let a = failures(&proxied, "198.51.100.1, 203.0.113.7", 23);
    assert_eq!(
        a.last().map(String::as_str),
        Some("sign_in_throttled"),
        "{a:?}"
    );
    let b = failures(&proxied, "203.0.113.8", 1);
    assert_eq!(
        b,
        ["sign_in_failed"],
        "another client is not slowed by the first"
    );
    let rows = library(&proxied)
        .audit_entries(
            &keyhold::Caller::operator(),
            &keyhold::api::AuditQuery::default(),
        )
        .unwrap();
    let failed = rows
        .iter()
        .rev()
        .find(|r| r.action == "session.sign_in_failed")
        .unwrap();
    assert_eq!(failed.source.as_deref(), Some("203.0.113.8"));
    // Without the setting, the header is the client's word and is ignored.
    let direct = start();
    failures(&direct, "203.0.113.9", 1);
    let rows = library(&direct)
        .audit_entries(
            &keyhold::Caller::operator(),
            &keyhold::api::AuditQuery::default(),
        )
        .unwrap();
    let failed = rows
        .iter()
        .rev()
        .find(|r| r.action == "session.sign_in_failed")
        .unwrap();
    assert!(
        failed
            .source
            .as_deref()
            .unwrap_or_default()
            .starts_with("127.0.0.1:"),
        "{:?}",
        failed.source
    );
}
