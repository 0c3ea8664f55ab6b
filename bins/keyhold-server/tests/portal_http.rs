//! The portal as HTTP sees it, without a browser: its files are served from the binary under
//! a strict policy, a reloaded page gets its session's CSRF token back with nothing but the
//! cookie, and a state-changing request without the token — or from another origin, whatever
//! it carries — is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

mod common;

use common::{Reply, Server, assert_envelope, library, request, start};

const PASSWORD: &str = "canary-Hygiene-Passphrase-33a9";

/// An owner who signed in: the cookie header to send back and the CSRF token.
fn signed_in(s: &Server) -> (String, String) {
    signed_in_as(s, "ann@team.com")
}

/// `email`, an owner, signed in.
fn signed_in_as(s: &Server, email: &str) -> (String, String) {
    let req = keyhold::api::AddMember {
        email: email.into(),
        role: "owner".into(),
        display_name: None,
        password: Some(keyhold::api::Secret::new(PASSWORD)),
    };
    library(s)
        .add_member(&keyhold::Caller::operator(), "default", &req)
        .expect("owner");
    let body = serde_json::json!({ "email": email, "password": PASSWORD }).to_string();
    let r = request(s, "POST", "/v1/sessions", None, Some(&body), &[]);
    assert_eq!(r.status, 201, "{:?}", r.body);
    let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap();
    (
        cookie.to_owned(),
        r.body["csrf"].as_str().unwrap().to_owned(),
    )
}

/// `GET /v1/sessions/current` with `cookie`.
fn current(s: &Server, cookie: &str) -> Reply {
    request(
        s,
        "GET",
        "/v1/sessions/current",
        None,
        None,
        &[("Cookie", cookie)],
    )
}

fn mint_as(s: &Server, cookie: &str, extra: &[(&str, &str)], name: &str) -> Reply {
    let body = format!(r#"{{"name":"{name}","expires":"1h"}}"#);
    let mut headers = vec![("Cookie", cookie)];
    headers.extend_from_slice(extra);
    request(s, "POST", "/v1/keys", None, Some(&body), &headers)
}

#[test]
fn the_portal_is_served_from_the_binary_under_a_strict_policy() {
    let s = start();
    let page = request(&s, "GET", "/", None, None, &[]);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.raw.split_once("\r\n\r\n").unwrap().1.to_owned();
    assert!(html.contains("/portal/app.js") && html.contains("/portal/portal.css"));
    for (name, value) in [
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
    ] {
        assert_eq!(page.header(name), Some(value), "{name}");
    }
    let csp = page.header("content-security-policy").expect("a policy");
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let script = request(&s, "GET", "/portal/app.js", None, None, &[]);
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let css = request(&s, "GET", "/portal/portal.css", None, None, &[]);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    // Only the portal's own files: nothing else of the disk, and no write to them.
    assert_envelope(
        &request(&s, "GET", "/portal/../Cargo.toml", None, None, &[]),
        404,
        "not_found",
    );
    assert_envelope(
        &request(&s, "GET", "/portal/nope.js", None, None, &[]),
        404,
        "not_found",
    );
    assert_eq!(request(&s, "POST", "/", None, Some("{}"), &[]).status, 404);
    // An API answer carries the same policy.
    let health = request(&s, "GET", "/healthz", None, None, &[]);
    assert_eq!(health.header("content-security-policy"), Some(csp));
}

#[test]
fn a_reloaded_page_gets_its_csrf_token_back_with_its_cookie_only() {
    let s = start();
    let (cookie, csrf) = signed_in(&s);
    let again = current(&s, &cookie);
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["csrf"], csrf.as_str(), "the same token");
    assert_eq!(again.body["email"], "ann@team.com");
    assert_eq!(again.body["role"], "owner");
    assert_eq!(again.body["workspaces"][0]["role"], "owner");
    assert_eq!(again.header("cache-control"), Some("no-store"));
    assert_eq!(
        mint_as(&s, &cookie, &[("X-CSRF-Token", &csrf)], "reloaded").status,
        201
    );
    // No cookie, or a cookie that is not a session: nothing.
    let none = request(&s, "GET", "/v1/sessions/current", None, None, &[]);
    assert_envelope(&none, 401, "session_invalid");
    let forged = request(
        &s,
        "GET",
        "/v1/sessions/current",
        None,
        None,
        &[("Cookie", "keyhold_session=khs_forged")],
    );
    assert_envelope(&forged, 401, "session_invalid");
    let log = std::fs::read_to_string(&s.log).unwrap();
    assert!(
        !log.contains(&csrf) && !log.contains(PASSWORD),
        "a secret in the log"
    );
}

#[test]
fn a_write_without_the_token_or_from_another_origin_is_refused() {
    let s = start();
    let (cookie, csrf) = signed_in(&s);
    let token = ("X-CSRF-Token", csrf.as_str());
    let sibling = format!("http://{}.evil.example", s.addr);
    let refused = [
        vec![],
        vec![("X-CSRF-Token", "khx_not-the-token")],
        vec![token, ("Origin", "http://evil.example")],
        vec![token, ("Origin", "null")],
        vec![token, ("Origin", sibling.as_str())],
        vec![token, ("Sec-Fetch-Site", "cross-site")],
        vec![token, ("Sec-Fetch-Site", "same-site")],
    ];
    for (i, headers) in refused.iter().enumerate() {
        assert_envelope(
            &mint_as(&s, &cookie, headers, &format!("refused-{i}")),
            403,
            "csrf_failed",
        );
    }
    let keys = request(&s, "GET", "/v1/keys", Some(&s.admin), None, &[]);
    let names: Vec<&str> = keys.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["name"].as_str())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with("refused")),
        "nothing was minted: {names:?}"
    );
    // The same request from the server's own origin, as the portal sends it, is accepted.
    let own = format!("http://{}", s.addr);
    let same = [
        token,
        ("Origin", own.as_str()),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    assert_eq!(mint_as(&s, &cookie, &same, "same-origin").status, 201);
    // Reads need no token; sign-in from another origin is refused before any password check.
    let read = request(&s, "GET", "/v1/keys", None, None, &[("Cookie", &cookie)]);
    assert_eq!(read.status, 200);
    let body = serde_json::json!({ "email": "ann@team.com", "password": PASSWORD }).to_string();
    let elsewhere = request(
        &s,
        "POST",
        "/v1/sessions",
        None,
        Some(&body),
        &[("Origin", "http://evil.example")],
    );
    assert_envelope(&elsewhere, 403, "csrf_failed");
    assert!(elsewhere.header("set-cookie").is_none());
    // Signing out is a write like any other.
    let out = request(
        &s,
        "DELETE",
        "/v1/sessions/current",
        None,
        None,
        &[
            ("Cookie", &cookie),
            ("Origin", "http://evil.example"),
            token,
        ],
    );
    assert_envelope(&out, 403, "csrf_failed");
    let still = current(&s, &cookie);
    assert_eq!(
        still.status, 200,
        "the session survived the cross-origin sign-out"
    );
}

#[test]
fn only_this_servers_host_names_and_one_session_cookie_count() {
    let s = start();
    let (cookie, csrf) = signed_in(&s);
    // DNS rebinding: a page at evil.example whose name now points here reaches nothing.
    for host in ["evil.example", "evil.example:80", "127.0.0.1.evil.example"] {
        let r = request(&s, "GET", "/", None, None, &[("Host", host)]);
        assert_envelope(&r, 421, "misdirected_request");
    }
    let port = s.addr.port();
    for host in [
        format!("localhost:{port}"),
        format!("keyhold.localhost:{port}"),
        "[::1]".to_owned(),
    ] {
        assert_eq!(
            request(&s, "GET", "/healthz", None, None, &[("Host", &host)]).status,
            200,
            "{host}"
        );
    }
    // Another scheme is another origin.
    let https = format!("https://{}", s.addr);
    let r = mint_as(
        &s,
        &cookie,
        &[("X-CSRF-Token", &csrf), ("Origin", &https)],
        "https",
    );
    assert_envelope(&r, 403, "csrf_failed");
    // A same-site page may not even read with the session (nor keep it alive).
    let read = request(
        &s,
        "GET",
        "/v1/keys",
        None,
        None,
        &[("Cookie", &cookie), ("Sec-Fetch-Site", "same-site")],
    );
    assert_envelope(&read, 403, "csrf_failed");
    // A second session cookie planted beside the person's: neither counts.
    let (planted, _) = signed_in_as(&s, "eve@team.com");
    let both = format!("{planted}; {cookie}");
    let r = request(
        &s,
        "GET",
        "/v1/sessions/current",
        None,
        None,
        &[("Cookie", &both)],
    );
    assert_envelope(&r, 401, "session_invalid");
    assert_eq!(
        current(&s, &cookie).status,
        200,
        "alone, the person's cookie still works"
    );
    let page = request(&s, "GET", "/", None, None, &[]);
    assert_eq!(
        page.header("cross-origin-resource-policy"),
        Some("same-origin")
    );
    assert!(
        page.header("strict-transport-security").is_none(),
        "not over plain HTTP"
    );
}

#[test]
fn a_public_origin_is_the_only_one_answered() {
    let s = common::start_with(&["--public-origin", "https://Keyhold.Example.com"]);
    let ok = request(
        &s,
        "GET",
        "/healthz",
        None,
        None,
        &[("Host", "keyhold.example.com")],
    );
    assert_eq!(ok.status, 200);
    let loopback = request(&s, "GET", "/healthz", None, None, &[]);
    assert_envelope(&loopback, 421, "misdirected_request");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_keyhold-server"))
        .args(["--public-origin", "keyhold.example.com/path"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not an origin"));
}
