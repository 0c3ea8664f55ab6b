//! Connections through keyhold-server on a real PostgreSQL: each route with exactly its scope
//! (and refused without it), and consumers that fetch the active credential over HTTP and log
//! in with it — none failing — while twenty rotations run through the API.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

mod common;
#[path = "common/pg.rs"]
mod pg;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use pg::create_body;

fn key_with(s: &Server, scope: &str, name: &str) -> String {
    mint_token(
        s,
        &format!(r#"{{"name":"{name}","expires":"1h","scopes":["{scope}"]}}"#),
    )
}

/// Stages `a`'s password in the primary slot of `orders`, tests and saves it, as `admin`.
fn save_primary(s: &Server, admin: &str, a: &pg::Role) {
    let base = "/v1/connections/orders";
    let primary = serde_json::json!({ "password": a.password }).to_string();
    for (method, path, body) in [
        (
            "PUT",
            format!("{base}/slots/primary/credential"),
            Some(primary.as_str()),
        ),
        ("POST", format!("{base}/slots/primary/test"), None),
        ("POST", format!("{base}/slots/primary/save"), Some("{}")),
    ] {
        let r = request(s, method, &path, Some(admin), body, &[]);
        assert_eq!(r.status, 200, "{method} {path}: {:?}", r.body);
    }
}

#[test]
fn every_connection_route_works_with_its_scope_and_refuses_a_key_without_it() {
    // The throwaway database listens on loopback: this server lets keys point there.
    let s = start_with(&["--allow-local-targets"]);
    let (a, b) = (pg::Role::new(), pg::Role::new());
    let outsider = key_with(&s, "read:queries", "outsider");
    let primary = serde_json::json!({ "password": a.password }).to_string();
    let create = create_body(&a, &b, 600);
    let base = "/v1/connections/orders";
    // Each step in an order that lets it succeed: method, path, scope, body, status.
    let steps: [(&str, String, &str, Option<&str>, u16); 10] = [
        (
            "POST",
            "/v1/connections".into(),
            "connections:write",
            Some(&create),
            201,
        ),
        (
            "GET",
            "/v1/connections".into(),
            "connections:read",
            None,
            200,
        ),
        ("GET", base.into(), "connections:read", None, 200),
        (
            "PUT",
            format!("{base}/slots/primary/credential"),
            "connections:write",
            Some(&primary),
            200,
        ),
        (
            "POST",
            format!("{base}/slots/primary/test"),
            "connections:write",
            None,
            200,
        ),
        (
            "POST",
            format!("{base}/slots/primary/save"),
            "connections:write",
            Some("{}"),
            200,
        ),
        (
            "GET",
            format!("{base}/credential"),
            "connections:use",
            None,
            200,
        ),
        (
            "POST",
            format!("{base}/slots/secondary/regenerate"),
            "connections:rotate",
            Some("{}"),
            200,
        ),
        (
            "POST",
            format!("{base}/rotate"),
            "connections:rotate",
            Some("{}"),
            200,
        ),
        ("DELETE", base.into(), "connections:write", None, 200),
    ];
    for (i, (method, path, scope, body, status)) in steps.iter().enumerate() {
        let refused = request(&s, method, path, Some(&outsider), *body, &[]);
        assert_envelope(&refused, 403, "insufficient_scope");
        let holder = key_with(&s, scope, &format!("holder-{i}"));
        let r = request(&s, method, path, Some(&holder), *body, &[]);
        assert_eq!(r.status, *status, "{method} {path}: {:?}", r.body);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        match i {
            1 => assert_eq!(r.body["connections"][0]["name"], "orders"),
            4 => assert_eq!(r.body["passed"], true, "{:?}", r.body),
            5 => assert_eq!(r.body["active"], "primary"),
            6 => {
                assert_eq!(r.body["password"], a.password.as_str());
                assert_eq!(r.body["user"], a.name.as_str());
            }
            7 => {
                assert_eq!(r.body["passed"], true, "{:?}", r.body);
                assert_eq!(
                    r.body["connection"]["slots"]["secondary"]["state"],
                    "tested"
                );
            }
            8 => assert_eq!(r.body["connection"]["active"], "secondary"),
            _ => {}
        }
        // Nothing but the credential route ever answers with a credential.
        if i != 6 {
            assert!(!r.raw.contains(&a.password), "{method} {path}: {}", r.raw);
        }
    }
    let admin = s.admin.clone();
    let gone = request(&s, "GET", base, Some(&admin), None, &[]);
    assert_envelope(&gone, 404, "connection_not_found");
    let bad = request(
        &s,
        "POST",
        &format!("{base}/slots/third/test"),
        Some(&admin),
        None,
        &[],
    );
    assert_envelope(&bad, 400, "invalid_slot");
    let log = std::fs::read_to_string(&s.log).expect("log");
    assert!(
        !log.contains(&a.password),
        "the server log holds a credential"
    );
    // The regenerated password set at the target is the secondary's now.
    assert!(!pg::logs_in(&b.name, &b.password));
}

#[test]
fn consumers_never_fail_while_twenty_rotations_run_through_the_server() {
    let s = start_with(&["--allow-local-targets"]);
    let (a, b) = (pg::Role::new(), pg::Role::new());
    let admin = s.admin.clone();
    let body = create_body(&a, &b, 1);
    let made = request(
        &s,
        "POST",
        "/v1/connections",
        Some(&admin),
        Some(&body),
        &[],
    );
    assert_eq!(made.status, 201, "{:?}", made.body);
    let base = "/v1/connections/orders";
    save_primary(&s, &admin, &a);
    let user = key_with(&s, "connections:use", "consumer");
    let rotator = key_with(&s, "connections:rotate", "rotator");
    let stop = AtomicBool::new(false);
    let (ok, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let mut generated = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let r = request(
                        &s,
                        "GET",
                        &format!("{base}/credential"),
                        Some(&user),
                        None,
                        &[],
                    );
                    let login = (r.status == 200)
                        .then(|| (r.body["user"].as_str(), r.body["password"].as_str()));
                    match login {
                        Some((Some(u), Some(p))) if pg::logs_in(u, p) => {
                            ok.fetch_add(1, Ordering::Relaxed)
                        }
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(240);
        let mut rotations = 0;
        while rotations < 20 && Instant::now() < deadline {
            let r = request(
                &s,
                "POST",
                &format!("{base}/rotate"),
                Some(&rotator),
                Some("{}"),
                &[],
            );
            match r.status {
                200 => {
                    assert_eq!(r.body["passed"], true, "{:?}", r.body);
                    rotations += 1;
                    let c = request(
                        &s,
                        "GET",
                        &format!("{base}/credential"),
                        Some(&user),
                        None,
                        &[],
                    );
                    generated.push(c.body["password"].as_str().expect("password").to_owned());
                }
                // The standby is within its grace: consumers may hold it. Wait it out.
                409 if r.body["error"]["code"] == "rotation_grace_period" => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                _ => panic!("rotation {rotations}: {} {:?}", r.status, r.body),
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert_eq!(rotations, 20, "twenty rotations within the deadline");
    });
    let (ok, failed) = (ok.into_inner(), failed.into_inner());
    eprintln!(
        "through the server: {ok} logins with the handed-out credential, {failed} failed, 20 rotations"
    );
    assert_eq!(failed, 0, "a consumer failed while rotations ran");
    assert!(ok >= 20, "the consumers ran: {ok}");
    // Every read was recorded, as the consumer's key, through HTTP.
    let reads = request(
        &s,
        "GET",
        "/v1/audit?action=credential.read&limit=5",
        Some(&admin),
        None,
        &[],
    );
    assert_eq!(reads.status, 200, "{:?}", reads.body);
    let first = &reads.body["records"][0];
    assert_eq!(first["surface"], "http", "{first:?}");
    assert_eq!(first["target"], "orders", "{first:?}");
    assert!(
        first["key_id"].is_string() && first["source"].is_string(),
        "{first:?}"
    );
    let log = std::fs::read_to_string(&s.log).expect("log");
    for p in generated.iter().chain([&a.password]) {
        assert!(
            !log.contains(p.as_str()),
            "the server log holds a credential"
        );
    }
}

#[test]
fn a_key_may_not_point_a_connection_at_the_server_s_own_machine() {
    let s = start();
    let (a, b) = (pg::Role::new(), pg::Role::new());
    let writer = key_with(&s, "connections:write", "writer");
    let r = request(
        &s,
        "POST",
        "/v1/connections",
        Some(&writer),
        Some(&create_body(&a, &b, 600)),
        &[],
    );
    assert_envelope(&r, 400, "invalid_connection");
    let message = r.body["error"]["message"].as_str().expect("message");
    assert!(message.contains("--allow-local-targets"), "{message}");
    // Nor through a name for it, nor to an HTTP service on the link (cloud metadata).
    for body in [
        r#"{"name":"m","kind":"http","url":"http://169.254.169.254/latest/meta-data"}"#,
        r#"{"name":"l","kind":"postgres","host":"localhost","database":"app","primary_user":"a","secondary_user":"b"}"#,
    ] {
        let r = request(
            &s,
            "POST",
            "/v1/connections",
            Some(&writer),
            Some(body),
            &[],
        );
        assert_envelope(&r, 400, "invalid_connection");
    }
    // A socket path is no target at all, whoever asks.
    let socket = r#"{"name":"s","kind":"postgres","host":"/var/run/postgresql","database":"app","primary_user":"a","secondary_user":"b"}"#;
    let r = request(
        &s,
        "POST",
        "/v1/connections",
        Some(&s.admin.clone()),
        Some(socket),
        &[],
    );
    assert_envelope(&r, 400, "invalid_connection");
    // The operator, who holds the master key, may.
    let kh = library(&s);
    let req: keyhold::api::CreateConnection =
        serde_json::from_str(&create_body(&a, &b, 600)).expect("request");
    kh.create_connection(&keyhold::Caller::operator(), "default", &req)
        .expect("the operator points it at this machine");
}

#[test]
fn the_server_rotates_a_due_connection_by_itself() {
    let s = start_with(&["--allow-local-targets", "--rotation-check", "1"]);
    let (a, b) = (pg::Role::new(), pg::Role::new());
    let admin = s.admin.clone();
    let mut body: serde_json::Value = serde_json::from_str(&create_body(&a, &b, 0)).expect("json");
    body["rotate_every_secs"] = 2.into();
    let made = request(
        &s,
        "POST",
        "/v1/connections",
        Some(&admin),
        Some(&body.to_string()),
        &[],
    );
    assert_eq!(made.status, 201, "{:?}", made.body);
    let base = "/v1/connections/orders";
    save_primary(&s, &admin, &a);
    let shown = request(&s, "GET", base, Some(&admin), None, &[]);
    assert!(shown.body["next_rotation_due"].is_i64(), "{:?}", shown.body);
    // Within a few checks, the server has rotated it (as itself) to the secondary.
    assert!(eventually(|| {
        let c = request(&s, "GET", base, Some(&admin), None, &[]);
        c.body["active"] == "secondary"
    }));
    let c = request(
        &s,
        "GET",
        &format!("{base}/credential"),
        Some(&admin),
        None,
        &[],
    );
    let (user, password) = (
        c.body["user"].as_str().unwrap(),
        c.body["password"].as_str().unwrap(),
    );
    assert_eq!(user, b.name);
    assert!(pg::logs_in(user, password));
    let saved = request(
        &s,
        "GET",
        "/v1/audit?action=connection.saved",
        Some(&admin),
        None,
        &[],
    );
    let records = saved.body["records"].as_array().expect("records");
    assert!(
        records.iter().any(|r| r["actor"] == "keyhold-server"),
        "{records:?}"
    );
}
