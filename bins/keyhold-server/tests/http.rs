//! keyhold-server over real loopback HTTP: routes, scopes, the error envelope, limits, and a
//! revocation by the CLI (another process) seen on the very next request.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::*;

#[test]
fn routes_scopes_and_the_error_envelope() {
    let s = start();
    assert_eq!(request(&s, "GET", "/healthz", None, None, &[]).status, 200);
    assert_envelope(
        &request(&s, "GET", "/nope", None, None, &[]),
        404,
        "not_found",
    );
    assert_envelope(
        &request(&s, "DELETE", "/healthz", None, None, &[]),
        405,
        "method_not_allowed",
    );
    let r = request(
        &s,
        "GET",
        "/v1/whoami",
        None,
        None,
        &[("X-Request-Id", "req-from-client-1")],
    );
    assert_envelope(&r, 401, "missing_token");
    assert_eq!(r.header("x-request-id"), Some("req-from-client-1"));
    assert!(
        r.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer"))
    );
    let r = request(&s, "GET", "/v1/whoami", Some("not.a.token"), None, &[]);
    assert_envelope(&r, 401, "token_malformed");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|v| v.contains("invalid_token"))
    );
    let me = request(&s, "GET", "/v1/whoami", Some(&s.admin), None, &[]);
    assert_eq!(me.status, 200);
    assert!(
        me.body["scopes"]
            .as_array()
            .expect("scopes")
            .contains(&serde_json::json!("admin"))
    );
    assert_eq!(
        request(&s, "GET", "/.well-known/jwks.json", None, None, &[]).body["keys"]
            .as_array()
            .expect("keys")
            .len(),
        1
    );

    // Minting: the token once, never cached; then a narrower key is refused what it lacks.
    let r = mint(
        &s,
        &s.admin,
        r#"{"name":"reader","expires":"1h","scopes":["keys:read"]}"#,
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let reader = r.body["token"].as_str().expect("token").to_owned();
    let r = mint(
        &s,
        &reader,
        r#"{"name":"x","expires":"15m","scopes":["keys:read"]}"#,
    );
    assert_envelope(&r, 403, "insufficient_scope");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|v| v.contains("insufficient_scope"))
    );
    let list = request(&s, "GET", "/v1/keys", Some(&reader), None, &[]);
    assert_eq!(list.status, 200);
    assert!(
        !list
            .body
            .to_string()
            .contains(reader.rsplit('.').next().expect("sig")),
        "no token in a listing"
    );
    assert_envelope(
        &request(
            &s,
            "POST",
            "/v1/keys/reader/revoke",
            Some(&reader),
            None,
            &[],
        ),
        403,
        "insufficient_scope",
    );

    // Bad bodies.
    assert_envelope(&mint(&s, &s.admin, "{not json"), 400, "invalid_json");
    let r = mint(
        &s,
        &s.admin,
        r#"{"name":"y","expires":"1h","colour":"red"}"#,
    );
    assert_envelope(&r, 400, "invalid_json");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("colour"),
        "names the field"
    );
    assert_envelope(
        &mint(&s, &s.admin, r#"{"name":"y","expires":"2d"}"#),
        400,
        "invalid_expiry",
    );
    let big = format!(
        r#"{{"name":"y","expires":"1h","sub":"{}"}}"#,
        "a".repeat(70 * 1024)
    );
    assert_envelope(&mint(&s, &s.admin, &big), 413, "body_too_large");
}

#[test]
fn introspection_and_revocation_by_another_process() {
    let s = start();
    let svc = mint_token(
        &s,
        r#"{"name":"svc","expires":"8h","scopes":["read:queries","keys:read"]}"#,
    );
    let body = serde_json::json!({ "token": svc }).to_string();
    let v = request(
        &s,
        "POST",
        "/v1/tokens/verify",
        Some(&s.admin),
        Some(&body),
        &[],
    );
    assert_eq!(
        (v.status, v.body["valid"].as_bool()),
        (200, Some(true)),
        "{:?}",
        v.body
    );
    assert_eq!(
        request(&s, "GET", "/v1/whoami", Some(&svc), None, &[]).status,
        200
    );
    // Another process, the `keyhold` CLI, revokes on the same data dir ...
    let data = s.dir.path().join("data");
    let cli = |args: &[&str]| {
        let out = Command::new(cli_binary())
            .args(args)
            .env("KEYHOLD_DATA_DIR", &data)
            .env_remove("KEYHOLD_MASTER_KEY")
            .env_remove("KEYHOLD_ADDR")
            .output()
            .expect("run keyhold");
        assert!(
            out.status.success(),
            "keyhold {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    cli(&["keys", "revoke", "svc"]);
    // ... and the running server refuses the key on the very next request.
    assert_envelope(
        &request(&s, "GET", "/v1/whoami", Some(&svc), None, &[]),
        401,
        "key_revoked",
    );
    let v = request(
        &s,
        "POST",
        "/v1/tokens/verify",
        Some(&s.admin),
        Some(&body),
        &[],
    );
    assert_eq!(
        (v.body["valid"].as_bool(), v.body["error"]["code"].as_str()),
        (Some(false), Some("key_revoked"))
    );
    // Revoke-all by the CLI: the admin key too, at once.
    cli(&["keys", "revoke-all", "--yes"]);
    let kh = keyhold::Keyhold::open(&data, keyhold::KeySource::default_file(&data)).expect("open");
    assert_envelope(
        &request(&s, "GET", "/v1/whoami", Some(&s.admin), None, &[]),
        401,
        "key_revoked_all",
    );
    // Every request was recorded with the http surface and the peer address.
    let used = kh
        .audit_entries(
            &keyhold::Caller::operator(),
            &keyhold::api::AuditQuery {
                action: Some("key.used".into()),
                ..Default::default()
            },
        )
        .expect("audit");
    assert!(!used.is_empty());
    assert!(used.iter().all(|e| {
        e.surface == "http"
            && e.source
                .as_deref()
                .is_some_and(|s| s.starts_with("127.0.0.1:"))
    }));
}

#[test]
fn openapi_documents_exactly_the_served_routes() {
    let s = start();
    let doc = request(&s, "GET", "/v1/openapi.json", None, None, &[]);
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let paths = doc.body["paths"].as_object().expect("paths");
    let mut documented = 0;
    for (template, ops) in paths {
        for method in ops.as_object().expect("ops").keys() {
            documented += 1;
            let path = template
                .replace("{id}", "some-key")
                .replace("{name}", "some-connection")
                .replace("{slot}", "primary");
            let r = request(&s, &method.to_uppercase(), &path, None, Some("{}"), &[]);
            assert!(
                r.status != 404 && r.status != 405,
                "{method} {template} is documented but not served ({})",
                r.status
            );
        }
    }
    assert_eq!(documented, 35);
    // Nothing undocumented is served: other methods on documented paths are 405, other paths 404.
    for (method, path) in [
        ("DELETE", "/v1/keys"),
        ("PUT", "/v1/whoami"),
        ("GET", "/v1/keys/revoke-all"),
        ("POST", "/healthz"),
    ] {
        assert_envelope(
            &request(&s, method, path, None, None, &[]),
            405,
            "method_not_allowed",
        );
    }
    for path in ["/v1", "/v1/keys/a/b/c", "/v2/keys", "/admin", "/v1/tokens"] {
        assert_envelope(&request(&s, "GET", path, None, None, &[]), 404, "not_found");
    }
}

#[test]
fn metrics_and_logs_carry_no_token() {
    let s = start();
    let auditor = mint_token(
        &s,
        r#"{"name":"auditor","expires":"1h","scopes":["audit:read","keys:read"]}"#,
    );
    let body = serde_json::json!({ "token": auditor }).to_string();
    request(
        &s,
        "POST",
        "/v1/tokens/verify",
        Some(&s.admin),
        Some(&body),
        &[],
    );
    request(
        &s,
        "GET",
        "/v1/whoami",
        Some("garbage.token.here"),
        None,
        &[],
    );
    let audit = request(
        &s,
        "GET",
        "/v1/audit?action=key.created",
        Some(&auditor),
        None,
        &[],
    );
    assert_eq!(audit.status, 200, "{:?}", audit.body);
    assert_eq!(
        audit.body["records"].as_array().expect("records").len(),
        2,
        "admin key and auditor"
    );
    let verified = request(&s, "POST", "/v1/audit/verify", Some(&s.admin), None, &[]);
    assert!(
        verified.body["rows"].as_u64().is_some_and(|n| n > 3),
        "{:?}",
        verified.body
    );
    assert_envelope(
        &request(&s, "GET", "/metrics", None, None, &[]),
        401,
        "missing_token",
    );
    let mut stream = TcpStream::connect(s.addr).expect("connect");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        s.admin
    )
    .expect("send");
    let mut metrics = String::new();
    stream.read_to_string(&mut metrics).expect("read");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics.contains("keyhold_http_requests_total{route=\"/v1/keys\",status=\"201\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keyhold_token_verifications_total{outcome=\"token_malformed\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("keyhold_audit_queue_depth 0"));
    assert!(metrics.contains("keyhold_http_request_duration_seconds_bucket"));
    // Every token, including the one in the create response, stays out of the logs at TRACE.
    // Wait for the line of each of the seven requests above, so every one of them is checked.
    let mut log = String::new();
    assert!(
        eventually(|| {
            log = std::fs::read_to_string(&s.log).expect("log");
            log.lines().filter(|l| l.contains("\"request\"")).count() >= 7
        }),
        "one line per request:\n{log}"
    );
    for t in [&s.admin, &auditor] {
        let sig = t.rsplit('.').next().expect("sig");
        assert!(
            !log.contains(sig) && !metrics.contains(sig),
            "a token reached the logs or metrics"
        );
    }
    assert!(
        !log.contains("Bearer"),
        "no Authorization header in the logs"
    );
}

#[test]
fn slow_or_half_sent_requests_time_out_without_holding_the_server() {
    let s = start_with(&["--read-timeout", "1"]);
    // Headers that never finish: the connection is answered 408 or closed, not kept.
    let mut stuck = TcpStream::connect(s.addr).expect("connect");
    stuck
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stuck
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .expect("send");
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = stuck.read_to_end(&mut buf);
    let answered = String::from_utf8_lossy(&buf);
    assert!(
        buf.is_empty() || answered.starts_with("HTTP/1.1 408"),
        "{answered}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "dropped after the read timeout"
    );
    // A body that never finishes: 408 with the envelope.
    let mut half = TcpStream::connect(s.addr).expect("connect");
    half.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        half,
        "POST /v1/keys HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Length: 100\r\n\r\n{{\"name\":",
        s.admin
    )
    .expect("send");
    let mut reply = String::new();
    let _ = half.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("request_timeout"), "{reply}");
    // Meanwhile and afterwards the server answers everyone else.
    assert_eq!(request(&s, "GET", "/healthz", None, None, &[]).status, 200);
}

#[test]
fn tls_with_rustls_and_no_plain_http_beside_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("cert");
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write key");
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let data = dir.path().join("data").to_str().expect("utf8").to_owned();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a = vec!["--data-dir".to_owned(), data.clone()];
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    };
    let tls = [
        "--tls-cert",
        cert_path.to_str().expect("utf8"),
        "--tls-key",
        key_path.to_str().expect("utf8"),
    ];
    // A world-readable key is refused, saying why.
    let out = Command::new(env!("CARGO_BIN_EXE_keyhold-server"))
        .args(args(&tls))
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
    // A non-loopback address without TLS is refused before anything is bound.
    let out = Command::new(env!("CARGO_BIN_EXE_keyhold-server"))
        .args(args(&["--listen", "192.0.2.1:8200"]))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without TLS"));

    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyhold-server"))
        .args(args(&tls))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr: SocketAddr = loop {
        let line = lines.next().expect("output").expect("line");
        if let Some(a) = line.strip_prefix("listening on https://") {
            break a.parse().expect("addr");
        }
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).expect("root");
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).expect("client");
    let mut tls_stream = rustls::StreamOwned::new(conn, TcpStream::connect(addr).expect("connect"));
    tls_stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut reply = String::new();
    let _ = tls_stream.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(addr).expect("connect");
    plain
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut buf = Vec::new();
    let _ = plain.read_to_end(&mut buf);
    assert!(
        !String::from_utf8_lossy(&buf).contains("200"),
        "no plaintext service on the TLS port"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn sigterm_lets_in_flight_requests_finish_then_exits() {
    // A read timeout longer than the test: only the shutdown closes a connection here.
    let mut s = start_with(&["--read-timeout", "60"]);
    // A kept-alive connection left idle after one answer: the graceful shutdown closes idle
    // connections at once, so its end of file says the server has begun shutting down.
    let mut idle = TcpStream::connect(s.addr).expect("connect");
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("send");
    let answer = read_response(&mut idle);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = r#"{"name":"late","expires":"1h","scopes":["read:queries"]}"#;
    let mut inflight = TcpStream::connect(s.addr).expect("connect");
    inflight
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    // Headers and half the body, then the signal, then the rest.
    write!(
        inflight,
        "POST /v1/keys HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        s.admin,
        body.len(),
        &body[..10]
    )
    .expect("send");
    // In flight: the server has accepted the connection and read all of it sent so far.
    let peer = inflight.local_addr().expect("local address");
    assert!(
        eventually(|| has_read_everything(s.child.id(), s.addr, peer)),
        "the server never took up the request's headers"
    );
    let pid = s.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let mut rest = Vec::new();
    let closed = idle.read_to_end(&mut rest);
    assert!(
        matches!(closed, Ok(0)),
        "the idle connection is closed on SIGTERM: {closed:?} {}",
        String::from_utf8_lossy(&rest)
    );
    inflight
        .write_all(&body.as_bytes()[10..])
        .expect("rest of the body");
    let mut reply = String::new();
    let _ = inflight.read_to_string(&mut reply);
    assert!(
        reply.starts_with("HTTP/1.1 201"),
        "the in-flight request finished: {reply}"
    );
    let mut exited = None;
    assert!(
        eventually(|| {
            exited = s.child.try_wait().expect("try_wait");
            exited.is_some()
        }),
        "the server did not exit after its last request"
    );
    let status = exited.expect("exit status");
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    // Its audit row was durable before the answer.
    let data = s.dir.path().join("data");
    let kh = keyhold::Keyhold::open(&data, keyhold::KeySource::default_file(&data)).expect("open");
    let created = kh
        .audit_entries(
            &keyhold::Caller::operator(),
            &keyhold::api::AuditQuery {
                action: Some("key.created".into()),
                ..Default::default()
            },
        )
        .expect("audit");
    assert_eq!(created.len(), 2, "the admin key and the in-flight one");
    kh.verify_audit(None).expect("chain intact");
}

#[test]
fn a_body_that_cannot_be_read_is_a_bad_request() {
    let s = start();
    let mut stream = TcpStream::connect(s.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        stream,
        "POST /v1/keys HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ-not-a-chunk-size\r\n",
        s.admin
    )
    .expect("send");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    let body: serde_json::Value =
        serde_json::from_str(reply.split_once("\r\n\r\n").expect("body").1).expect("json");
    assert_eq!(body["error"]["code"], "bad_request");
}

#[test]
fn every_route_works_with_its_scope_and_refuses_a_key_without_it() {
    let s = start();
    let doc = request(&s, "GET", "/v1/openapi.json", None, None, &[]);
    // Revoke-all would end the test's own keys: it goes last.
    let mut routes: Vec<(String, String, String, bool)> = Vec::new();
    for (template, ops) in doc.body["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("ops") {
            if let Some(scope) = op["x-keyhold-scope"].as_str() {
                // Store-wide routes name the one workspace whose keys may use them.
                let home_only = match op.get("x-keyhold-workspace") {
                    None => false,
                    Some(ws) => {
                        assert_eq!(ws, "default", "{method} {template}");
                        true
                    }
                };
                routes.push((
                    method.to_uppercase(),
                    template.clone(),
                    scope.to_owned(),
                    home_only,
                ));
            }
        }
    }
    // Connection routes need a real target: tests/connections.rs covers each with its scope.
    let connections = routes.len();
    routes.retain(|(_, t, _, _)| !t.starts_with("/v1/connections"));
    assert_eq!(connections - routes.len(), 10, "{routes:?}");
    routes.sort_by_key(|(_, t, _, _)| t.ends_with("revoke-all"));
    assert_eq!(routes.len(), 17, "{routes:?}");
    let mut home_only: Vec<_> = routes
        .iter()
        .filter(|r| r.3)
        .map(|(m, t, scope, _)| format!("{m} {t} {scope}"))
        .collect();
    home_only.sort();
    assert_eq!(
        home_only,
        [
            "GET /metrics admin",
            "POST /v1/audit/verify admin",
            "POST /v1/signing-keys/rotate admin",
        ],
    );
    let outsider = mint_token(
        &s,
        r#"{"name":"outsider","expires":"1h","scopes":["read:queries"]}"#,
    );
    mint_token(
        &s,
        r#"{"name":"victim","expires":"1h","scopes":["read:queries"]}"#,
    );
    // An admin key of another workspace: enough for any route but the store-wide ones.
    let elsewhere = other_workspace_key(&s, "admin");
    // Members to change and to remove.
    for email in ["patched@team.com", "removed@team.com"] {
        let req = keyhold::api::AddMember {
            email: email.into(),
            role: "viewer".into(),
            display_name: None,
            password: None,
        };
        library(&s)
            .add_member(&keyhold::Caller::operator(), "default", &req)
            .expect("member");
    }
    for (i, (method, template, scope, home_only)) in routes.iter().enumerate() {
        let path = template
            .replace("{id}/revoke", "victim/revoke")
            .replace("{id}", "outsider")
            .replace(
                "{email}",
                if method == "PATCH" {
                    "patched%40team.com"
                } else {
                    "removed@team.com"
                },
            );
        let body = match (method.as_str(), template.as_str()) {
            ("POST", "/v1/keys") => Some(format!(r#"{{"name":"minted-{i}","expires":"15m"}}"#)),
            ("POST", "/v1/tokens/verify") => {
                Some(serde_json::json!({ "token": outsider }).to_string())
            }
            ("POST", "/v1/assistant") => Some(r#"{"sentence":"list my keys"}"#.to_owned()),
            ("POST", "/v1/members") => {
                Some(format!(r#"{{"email":"m{i}@team.com","role":"viewer"}}"#))
            }
            ("PATCH", _) => Some(r#"{"role":"developer"}"#.to_owned()),
            ("PUT", "/v1/policy") => {
                Some(r#"{"developer_scopes":["read:queries"],"require_totp":false}"#.to_owned())
            }
            _ => None,
        };
        if scope != "any" {
            let refused = request(&s, method, &path, Some(&outsider), body.as_deref(), &[]);
            assert_envelope(&refused, 403, "insufficient_scope");
        }
        if *home_only {
            let refused = request(&s, method, &path, Some(&elsewhere), body.as_deref(), &[]);
            assert_envelope(&refused, 401, "workspace_mismatch");
        }
        let holder = if scope == "admin" || scope == "any" {
            // The first admin key belongs to the home workspace.
            s.admin.clone()
        } else {
            mint_token(
                &s,
                &format!(r#"{{"name":"holder-{i}","expires":"1h","scopes":["{scope}"]}}"#),
            )
        };
        let r = request(&s, method, &path, Some(&holder), body.as_deref(), &[]);
        assert!(
            (200..300).contains(&r.status),
            "{method} {template} with {scope}: {} {:?}",
            r.status,
            r.body
        );
    }
    // The signing key did rotate through HTTP: both keys are published.
    let jwks = request(&s, "GET", "/.well-known/jwks.json", None, None, &[]);
    assert_eq!(jwks.body["keys"].as_array().expect("keys").len(), 2);
}

#[test]
fn a_canary_credential_and_every_token_stay_out_of_responses_and_trace_logs() {
    const CANARY: &str = "kh-canary-7Rq2-credential-Vb91xZ";
    let mut s = start();
    let data = s.dir.path().join("data");
    // The credential is planted through the library while the server runs on the same store.
    keyhold::Keyhold::open(&data, keyhold::KeySource::default_file(&data))
        .expect("open")
        .put_record(
            &keyhold::Caller::operator(),
            "default",
            "connection",
            "orders-db",
            &keyhold::SecretBytes::copy_from(CANARY.as_bytes()),
        )
        .expect("plant the canary");
    let reader = mint_token(
        &s,
        r#"{"name":"reader","expires":"1h","scopes":["keys:read"]}"#,
    );
    let outsider = mint_token(
        &s,
        r#"{"name":"outsider","expires":"1h","scopes":["read:queries"]}"#,
    );
    let revoked = mint_token(&s, r#"{"name":"gone","expires":"1h"}"#);
    let mut replies = vec![request(
        &s,
        "POST",
        "/v1/keys/gone/revoke",
        Some(&s.admin),
        None,
        &[],
    )];
    let mut tampered = s.admin.clone().into_bytes();
    let i = tampered.len() - 10;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let tokens = [
        s.admin.clone(),
        reader.clone(),
        outsider.clone(),
        revoked.clone(),
        tampered.clone(),
    ];
    let credentials: Vec<Option<&str>> = vec![
        None,
        Some("garbage"),
        Some(&tampered),
        Some(&revoked),
        Some(&outsider),
        Some(&reader),
        Some(&s.admin),
    ];
    let t = &s.admin;
    let bodies = [
        None,
        Some("{not json".to_owned()),
        Some(format!(
            r#"{{"name":"{t}","expires":"{t}","scopes":"{t}","sub":["{t}"]}}"#
        )),
        Some(format!(r#"{{"{t}":1}}"#)),
        Some(format!(r#"{{"token":"{t}","scope":"{t}"}}"#)),
        Some(serde_json::json!({ "token": revoked }).to_string()),
        Some(r#"{"name":"minted","expires":"15m"}"#.to_owned()),
    ];
    // Every served route and method, plus paths and queries that carry a token, and methods
    // nobody serves; revoke-all last, since it ends the test's keys.
    let doc = request(&s, "GET", "/v1/openapi.json", None, None, &[]);
    let mut targets: Vec<(String, String)> = Vec::new();
    for (template, ops) in doc.body["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("ops").keys() {
            targets.push((method.to_uppercase(), template.replace("{id}", "reader")));
        }
    }
    for path in [
        format!("/v1/keys/{t}"),
        format!("/v1/keys/{t}/revoke"),
        format!("/v1/{t}"),
        format!("/v1/audit?action={t}&key={t}&actor={t}&since_ms={t}"),
        format!("/v1/audit?limit={t}"),
    ] {
        targets.push(("GET".into(), path.clone()));
        targets.push(("POST".into(), path));
    }
    targets.push(("DELETE".into(), "/v1/keys".into()));
    targets.sort_by_key(|(_, p)| p.ends_with("revoke-all"));
    // Too large (before the loop's revoke-all ends the admin key).
    let big = format!(r#"{{"token":"{}"}}"#, t.repeat(200));
    replies.push(request(
        &s,
        "POST",
        "/v1/tokens/verify",
        Some(&s.admin),
        Some(&big),
        &[],
    ));
    let mut created = Vec::new();
    for (method, path) in &targets {
        for credential in &credentials {
            for body in &bodies {
                let r = request(
                    &s,
                    method,
                    path,
                    *credential,
                    body.as_deref(),
                    &[("X-Request-Id", t)],
                );
                if r.status == 201 {
                    created.push(r);
                } else {
                    replies.push(r);
                }
            }
        }
    }
    assert!(replies.len() > 500, "{} requests", replies.len());
    assert!(
        replies.iter().any(|r| r.status == 200) && replies.iter().any(|r| r.status == 413),
        "success and failure paths were both taken: {:?}",
        replies
            .iter()
            .map(|r| r.status)
            .collect::<std::collections::BTreeSet<_>>()
    );
    // A create response carries its own new token and nothing else secret.
    assert!(!created.is_empty());
    let pid = s.child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    s.child.wait().expect("exit");
    let log = std::fs::read_to_string(&s.log).expect("log");
    assert!(
        log.lines().count() > 500,
        "one line per request at least: {} lines",
        log.lines().count()
    );
    let audit = keyhold::Keyhold::open(&data, keyhold::KeySource::default_file(&data))
        .expect("open")
        .audit_entries(
            &keyhold::Caller::operator(),
            &keyhold::api::AuditQuery::default(),
        )
        .expect("audit");
    let audit = serde_json::to_string(&audit).expect("json");
    let mut places: Vec<(&str, &str)> = vec![("the log", &log), ("the audit log", &audit)];
    places.extend(replies.iter().map(|r| ("a response", r.raw.as_str())));
    places.extend(
        created
            .iter()
            .map(|r| ("a create response", r.raw.as_str())),
    );
    for (place, text) in places {
        assert!(
            !text.contains(CANARY),
            "the canary credential is in {place}"
        );
        for token in &tokens {
            for part in token.split('.').skip(1) {
                assert!(!text.contains(part), "a token is in {place}: {text:.300}");
            }
        }
    }
}

#[test]
fn store_wide_data_is_for_the_stores_administrators_only() {
    let s = start();
    let home_auditor = mint_token(
        &s,
        r#"{"name":"auditor","expires":"1h","scopes":["audit:read","keys:read"]}"#,
    );
    let other_auditor = other_workspace_key(&s, "audit:read");
    let other_admin = other_workspace_key(&s, "admin");
    // Every workspace's traffic and the whole chain: not for an auditor of any workspace, nor
    // for an admin of a workspace other than the home one.
    for (method, path) in [("GET", "/metrics"), ("POST", "/v1/audit/verify")] {
        for (key, status, code) in [
            (&home_auditor, 403, "insufficient_scope"),
            (&other_auditor, 403, "insufficient_scope"),
            (&other_admin, 401, "workspace_mismatch"),
        ] {
            let r = request(&s, method, path, Some(key), None, &[]);
            assert_envelope(&r, status, code);
            assert!(
                !r.raw.contains("keyhold_http_requests_total") && !r.raw.contains("\"head\""),
                "{method} {path}: {}",
                r.raw
            );
        }
        let r = request(&s, method, path, Some(&s.admin), None, &[]);
        assert_eq!(r.status, 200, "{method} {path}: {}", r.raw);
    }
    assert_envelope(
        &request(
            &s,
            "POST",
            "/v1/signing-keys/rotate",
            Some(&other_admin),
            None,
            &[],
        ),
        401,
        "workspace_mismatch",
    );

    // The audit listing shows a key its own workspace's rows, whatever it asks for.
    let kh = library(&s);
    let other = kh.workspace("other").expect("other").id;
    let home = kh.workspace("default").expect("default").id;
    let admin_id = request(&s, "GET", "/v1/whoami", Some(&s.admin), None, &[]).body["key_id"]
        .as_str()
        .expect("key id")
        .to_owned();
    for (key, ws) in [(&other_auditor, &other), (&home_auditor, &home)] {
        let all = request(&s, "GET", "/v1/audit?limit=1000", Some(key), None, &[]);
        assert_eq!(all.status, 200, "{:?}", all.body);
        let records = all.body["records"].as_array().expect("records");
        assert!(!records.is_empty());
        assert!(
            records.iter().all(|r| r["workspace"] == ws.as_str()),
            "only {ws}: {records:?}"
        );
    }
    for query in [
        format!("/v1/audit?key={admin_id}"),
        format!("/v1/audit?workspace={home}&action=key.created"),
        "/v1/audit?action=key.created&limit=1000".to_owned(),
    ] {
        let r = request(&s, "GET", &query, Some(&other_auditor), None, &[]);
        assert_eq!(r.status, 200, "{:?}", r.body);
        let records = r.body["records"].as_array().expect("records");
        assert!(
            records
                .iter()
                .all(|r| r["workspace"] == other.as_str() && r["key_id"] != admin_id.as_str()),
            "{query}: {records:?}"
        );
    }
    // Both workspaces do have rows: the home one's key.created rows exist and are hidden.
    let created = request(
        &s,
        "GET",
        "/v1/audit?action=key.created&limit=1000",
        Some(&home_auditor),
        None,
        &[],
    );
    assert_eq!(
        created.body["records"].as_array().expect("records").len(),
        2,
        "the admin key and the auditor"
    );
}

#[test]
fn every_response_carries_no_store_and_a_request_id() {
    let s = start();
    let cases: [(&str, &str, Option<&str>, u16); 9] = [
        ("GET", "/metrics", Some(&s.admin), 200),
        ("GET", "/metrics", None, 401),
        ("GET", "/healthz", None, 200),
        ("GET", "/.well-known/jwks.json", None, 200),
        ("GET", "/v1/openapi.json", None, 200),
        ("GET", "/v1/whoami", Some(&s.admin), 200),
        ("GET", "/v1/whoami", Some("not.a.token"), 401),
        ("GET", "/nope", None, 404),
        ("DELETE", "/metrics", None, 405),
    ];
    for (i, (method, path, token, status)) in cases.into_iter().enumerate() {
        // The client's own id is echoed; without one, the server makes one up.
        let mine = format!("req-client-{i}");
        for extra in [vec![("X-Request-Id", mine.as_str())], vec![]] {
            let r = request(&s, method, path, token, None, &extra);
            assert_eq!(r.status, status, "{method} {path}: {}", r.raw);
            assert_eq!(
                r.header("cache-control"),
                Some("no-store"),
                "{method} {path}"
            );
            let rid = r.header("x-request-id").expect("x-request-id");
            match extra.first() {
                Some((_, id)) => assert_eq!(rid, *id, "{method} {path}"),
                None => assert!(rid.starts_with("req_"), "{method} {path}: {rid}"),
            }
        }
    }
}

/// Writes `raw` on a new connection and reads until the server closes it.
fn exchange(s: &Server, raw: &str) -> String {
    let mut stream = TcpStream::connect(s.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream.write_all(raw.as_bytes()).expect("send");
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .expect("read until the server closes");
    String::from_utf8(reply).expect("utf8")
}

/// The responses in a connection's output, in order: (status, head, body).
fn responses(mut raw: &str) -> Vec<(u16, String, String)> {
    let mut out = Vec::new();
    while !raw.is_empty() {
        let (head, rest) = raw.split_once("\r\n\r\n").expect("a response head");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("status");
        let len = head
            .lines()
            .filter_map(|l| l.split_once(": "))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().expect("length"));
        out.push((status, head.to_ascii_lowercase(), rest[..len].to_owned()));
        raw = &rest[len..];
    }
    out
}

#[test]
fn ambiguous_request_framing_is_refused_and_the_connection_closed() {
    let s = start();
    let auth = format!("Authorization: Bearer {}\r\n", s.admin);
    let mint_body = |name: &str| format!(r#"{{"name":"{name}","expires":"15m"}}"#);
    let chunked = |body: &str| format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
    let smuggled = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let refused = |raw: &str, what: &str| {
        let all = responses(raw);
        assert_eq!(
            all.len(),
            1,
            "{what}: one answer, then the connection ends: {raw}"
        );
        let (status, head, body) = &all[0];
        assert_eq!(*status, 400, "{what}: {raw}");
        assert!(head.contains("\r\nconnection: close"), "{what}: {head}");
        let body: serde_json::Value = serde_json::from_str(body).expect("envelope");
        assert_eq!(body["error"]["code"], "bad_request", "{what}");
        let rid = body["error"]["request_id"].as_str().expect("request id");
        assert!(head.contains(&format!("x-request-id: {}", rid.to_ascii_lowercase())));
        assert!(head.contains("cache-control: no-store"), "{what}: {head}");
    };

    // Both fields, in either order, with a request smuggled after the chunked body: one 400.
    for (i, fields) in [
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
        "transfer-encoding: chunked\r\ncontent-length: 200\r\n",
    ]
    .into_iter()
    .enumerate()
    {
        let raw = exchange(
            &s,
            &format!(
                "POST /v1/keys HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\n{fields}\r\n{}{smuggled}",
                chunked(&mint_body(&format!("smuggled-{i}")))
            ),
        );
        refused(&raw, fields);
    }
    // Nothing was minted by them.
    let keys = request(&s, "GET", "/v1/keys", Some(&s.admin), None, &[]);
    assert!(!keys.raw.contains("smuggled-"), "{}", keys.raw);

    // The same after a well-framed request on a kept-alive connection.
    let first = mint_body("kept-alive");
    let raw = exchange(
        &s,
        &format!(
            "POST /v1/keys HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Length: {}\r\n\r\n{first}\
             POST /v1/keys HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n{}{smuggled}",
            first.len(),
            chunked(&mint_body("smuggled-late"))
        ),
    );
    let all = responses(&raw);
    assert_eq!(
        all.iter().map(|r| r.0).collect::<Vec<_>>(),
        [201, 400],
        "{raw}"
    );
    assert!(!all[0].1.contains("connection: close"), "{}", all[0].1);
    refused(
        &raw[raw.find("HTTP/1.1 400").expect("the 400")..],
        "after a kept-alive request",
    );

    // Repeated Content-Length fields: refused when they agree, by hyper when they do not.
    let body = mint_body("twice");
    let raw = exchange(
        &s,
        &format!(
            "POST /v1/keys HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Length: {n}\r\nContent-Length: {n}\r\n\r\n{body}{smuggled}",
            n = body.len()
        ),
    );
    refused(&raw, "two equal Content-Length fields");
    for lengths in [
        format!("Content-Length: {}\r\nContent-Length: 4\r\n", body.len()),
        format!("Content-Length: {n}, {n}\r\n", n = body.len()),
    ] {
        let raw = exchange(
            &s,
            &format!(
                "POST /v1/keys HTTP/1.1\r\nHost: localhost\r\n{auth}{lengths}\r\n{body}{smuggled}"
            ),
        );
        assert!(raw.starts_with("HTTP/1.1 400"), "{lengths}: {raw}");
        assert_eq!(raw.matches("HTTP/1.1 ").count(), 1, "{lengths}: {raw}");
    }
    let keys = request(&s, "GET", "/v1/keys", Some(&s.admin), None, &[]);
    assert!(!keys.raw.contains("\"twice\""), "{}", keys.raw);

    // An honest chunked request is served; its connection is closed after the answer.
    let raw = exchange(
        &s,
        &format!(
            "POST /v1/keys HTTP/1.1\r\nHost: localhost\r\n{auth}Transfer-Encoding: chunked\r\n\r\n{}{smuggled}",
            chunked(&mint_body("chunked"))
        ),
    );
    let all = responses(&raw);
    assert_eq!(all.len(), 1, "{raw}");
    assert_eq!(all[0].0, 201, "{raw}");
    assert!(all[0].1.contains("connection: close"), "{raw}");
    // Keep-alive still works for well-framed requests.
    let raw = exchange(
        &s,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        responses(&raw).iter().map(|r| r.0).collect::<Vec<_>>(),
        [200, 200]
    );
}

/// The `iss` claim of a token (read, not verified).
fn issuer_of(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    claims["iss"].as_str().expect("iss").to_owned()
}

/// The attacker who can write the database but has no master key, against the running server:
/// a signing key of their own, an un-revoked key, and (without database access) another
/// workspace's token sent to introspection.
#[test]
fn database_attacks_and_foreign_introspection_are_refused_by_the_running_server() {
    let s = start();
    let db = s.dir.path().join("data").join("keyhold.db");
    let sql = || rusqlite::Connection::open(&db).expect("sqlite");
    let k = mint_token(
        &s,
        r#"{"name":"k","expires":"1h","scopes":["read:queries"]}"#,
    );
    assert_eq!(
        request(&s, "GET", "/v1/whoami", Some(&k), None, &[]).status,
        200
    );

    // 1. A signing key row of the attacker's, and an admin token it signs.
    let evil = keyhold_token::SigningKey::generate().expect("key");
    sql()
        .execute(
            "INSERT INTO signing_keys (kid, public_key, state, created_at, retired_at, mac)
             SELECT ?1, ?2, 'retiring', created_at, NULL, mac FROM signing_keys LIMIT 1",
            rusqlite::params![evil.kid(), evil.verifying_key().as_bytes().to_vec()],
        )
        .expect("insert");
    let whoami = request(&s, "GET", "/v1/whoami", Some(&s.admin), None, &[]).body;
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let claims = keyhold_token::Claims::new(
        &issuer_of(&s.admin),
        "attacker",
        whoami["workspace"].as_str().expect("workspace"),
        [keyhold_token::Scope::Admin].into_iter().collect(),
        iat,
        keyhold_token::ExpiryPreset::ThirtyDays,
        whoami["key_id"].as_str().expect("key id"),
    )
    .expect("claims");
    let forged = keyhold_token::mint(&evil, &claims).expect("sign");
    for (method, path) in [("GET", "/v1/whoami"), ("GET", "/v1/keys")] {
        let r = request(&s, method, path, Some(&forged), None, &[]);
        assert_ne!(r.status, 200, "{path}: {:?}", r.body);
        assert!(
            [
                "integrity_error",
                "token_unknown_kid",
                "token_issuer_mismatch"
            ]
            .contains(&r.body["error"]["code"].as_str().unwrap_or("")),
            "{path}: {:?}",
            r.body
        );
    }
    let r = request(&s, "GET", "/.well-known/jwks.json", None, None, &[]);
    // The JWKS never publishes it: refused whole, naming the row.
    assert_envelope(&r, 500, "integrity_error");
    assert!(r.body.get("keys").is_none());
    sql()
        .execute("DELETE FROM signing_keys WHERE kid = ?1", [evil.kid()])
        .expect("remove it again");

    // 2. Revoked, then un-revoked by an edit: refused on the very next request.
    let id = request(&s, "GET", "/v1/whoami", Some(&k), None, &[]).body["key_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = request(
        &s,
        "POST",
        &format!("/v1/keys/{id}/revoke"),
        Some(&s.admin),
        None,
        &[],
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    sql()
        .execute(
            "UPDATE api_keys SET revoked_at_ms = NULL, revoked_by = NULL WHERE jti = ?1",
            [&id],
        )
        .expect("un-revoke");
    let r = request(&s, "GET", "/v1/whoami", Some(&k), None, &[]);
    assert_envelope(&r, 500, "integrity_error");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("api key {id}"))),
        "{:?}",
        r.body
    );

    // 3. Workspace B's keys:read service asks about workspace A's admin token.
    let b = other_workspace_key(&s, "keys:read");
    let body = serde_json::json!({ "token": s.admin }).to_string();
    let v = request(&s, "POST", "/v1/tokens/verify", Some(&b), Some(&body), &[]);
    assert_eq!(v.status, 200, "{:?}", v.body);
    assert_eq!(v.body["valid"], false, "{:?}", v.body);
    assert_eq!(v.body["error"]["code"], "workspace_mismatch");
    assert!(v.body.get("claims").is_none(), "{:?}", v.body);
    assert!(!v.raw.contains("admin\"") && !v.raw.contains(whoami["key_id"].as_str().expect("id")));
}
