//! `keyhold store migrate`: a store that served from SQLite moves to PostgreSQL, and a node
//! on the new store serves every key, credential and audit row it had.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

mod common;
#[path = "common/nodes.rs"]
mod nodes;
#[path = "common/pg.rs"]
mod pg;

use std::process::{Command, Output};

use common::{assert_envelope, request, start_with};
use nodes::Cluster;

/// `keyhold --json store migrate --from FROM --to TO` with `key_file`, password from the
/// environment.
fn migrate(from: &str, to: &str, key_file: &std::path::Path) -> Output {
    Command::new(common::cli_binary())
        .args(["--json", "store", "migrate", "--from", from, "--to", to])
        .arg("--master-key-file")
        .arg(key_file)
        .env_remove("KEYHOLD_MASTER_KEY")
        .env_remove("KEYHOLD_ADDR")
        .env_remove("KEYHOLD_STORE")
        .env("KEYHOLD_STORE_PASSWORD_FILE", pg::password_file())
        .output()
        .expect("run keyhold")
}

#[test]
fn a_store_moved_to_postgresql_keeps_every_key_credential_and_audit_row() {
    // A store that served from SQLite: keys (one revoked), a connection with a saved
    // credential, the audit rows of all of it.
    let s = start_with(&["--allow-local-targets"]);
    let (a, b) = (pg::Role::new(), pg::Role::new());
    let made = request(
        &s,
        "POST",
        "/v1/connections",
        Some(&s.admin),
        Some(&pg::create_body(&a, &b, 600)),
        &[],
    );
    assert_eq!(made.status, 201, "{:?}", made.body);
    let base = "/v1/connections/orders";
    let primary = serde_json::json!({ "password": a.password }).to_string();
    for (method, step, body) in [
        ("PUT", "credential", Some(primary.as_str())),
        ("POST", "test", None),
        ("POST", "save", Some("{}")),
    ] {
        let path = format!("{base}/slots/primary/{step}");
        let r = request(&s, method, &path, Some(&s.admin), body, &[]);
        assert_eq!(r.status, 200, "{step}: {:?}", r.body);
    }
    let kept = common::mint_token(
        &s,
        r#"{"name":"kept","expires":"1h","scopes":["keys:read"]}"#,
    );
    let gone = common::mint(
        &s,
        &s.admin,
        r#"{"name":"gone","expires":"1h","scopes":["keys:read"]}"#,
    );
    let (gone_token, gone_id) = (
        gone.body["token"].as_str().unwrap().to_owned(),
        gone.body["key"]["id"].as_str().unwrap().to_owned(),
    );
    let r = request(
        &s,
        "POST",
        &format!("/v1/keys/{gone_id}/revoke"),
        Some(&s.admin),
        None,
        &[],
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let before = request(
        &s,
        "POST",
        "/v1/audit/verify",
        Some(&s.admin),
        Some("{}"),
        &[],
    );
    let rows_before = before.body["rows"].as_u64().expect("rows");
    let data = s.dir.path().join("data");
    let key_file = data.join("master.key");
    let admin = s.admin.clone();
    // The servers on the old store stop first.
    let mut s = s;
    s.child.kill().expect("stop the server");
    s.child.wait().expect("reaped");

    let cluster = Cluster {
        url: pg::database(),
        key_file: key_file.clone(),
        dir: tempfile::tempdir().expect("tempdir"),
    };
    let from = format!("sqlite:{}", data.display());
    let out = migrate(&from, &cluster.url, &key_file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let copied = |t: &str| {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[0] == t)
            .and_then(|r| r[1].as_u64())
    };
    assert_eq!(copied("connections"), Some(1), "{report}");
    // Every row the old chain held, and one more: the move itself.
    let audit_rows = copied("audit_log").expect("audit rows");
    assert!(audit_rows >= rows_before, "{report}");
    assert_eq!(
        report["audit"]["rows"].as_u64(),
        Some(audit_rows + 1),
        "{report}"
    );
    assert!(copied("records").is_some_and(|n| n >= 2), "{report}");

    // A second move into the same database is refused and changes nothing there.
    let again = migrate(&from, &cluster.url, &key_file);
    assert_eq!(again.status.code(), Some(4), "{again:?}");
    let err: serde_json::Value = serde_json::from_slice(&again.stdout)
        .or_else(|_| serde_json::from_slice(&again.stderr))
        .expect("a JSON error");
    assert_eq!(err["error"]["code"], "already_initialized", "{err}");

    // A node on the moved store: the keys stand as they stood, the credential still logs
    // in, and the chain verifies, with the move as its last row.
    let (nodes, printed) = cluster.start(&["a"], &["--allow-local-targets"]);
    assert!(printed.is_none(), "the moved store is not created again");
    let node = &nodes[0];
    assert_eq!(node.request("GET", "/v1/whoami", &kept, None).status, 200);
    assert_envelope(
        &node.request("GET", "/v1/whoami", &gone_token, None),
        401,
        "key_revoked",
    );
    let c = node.request("GET", &format!("{base}/credential"), &admin, None);
    assert_eq!(c.body["user"], a.name.as_str(), "{:?}", c.body);
    assert!(pg::logs_in(&a.name, c.body["password"].as_str().unwrap()));
    let v = node.request("POST", "/v1/audit/verify", &admin, Some("{}"));
    assert_eq!(v.status, 200, "{:?}", v.body);
    // The move is a store-wide row (no workspace's key lists it): the operator's CLI does.
    let listed = cluster.cli(&["audit", "list", "--action", "store.migrated"]);
    let moved = &listed[0];
    assert_eq!(moved["surface"], "cli", "{moved}");
    assert!(
        moved["details"]["to"]
            .as_str()
            .is_some_and(|t| t.starts_with("postgres://")),
        "{moved}"
    );

    // And back: a copy of the shared store, taken while a node serves it, is a whole store
    // on its own (one read snapshot), its chain verifying with both moves in it.
    let back = tempfile::tempdir().expect("tempdir");
    let back_dir = back.path().join("data");
    let out = migrate(
        &cluster.url,
        &format!("sqlite:{}", back_dir.display()),
        &key_file,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        report["audit"]["rows"]
            .as_u64()
            .is_some_and(|n| n >= audit_rows + 2),
        "{report}"
    );
    let local = |args: &[&str]| {
        let out = Command::new(common::cli_binary())
            .arg("--data-dir")
            .arg(&back_dir)
            .arg("--master-key-file")
            .arg(&key_file)
            .arg("--json")
            .args(args)
            .env_remove("KEYHOLD_MASTER_KEY")
            .env_remove("KEYHOLD_ADDR")
            .env_remove("KEYHOLD_STORE")
            .output()
            .expect("run keyhold");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
    };
    let verified = local(&["audit", "verify"]);
    assert!(
        verified["rows"]
            .as_u64()
            .is_some_and(|n| n >= audit_rows + 2),
        "{verified}"
    );
    assert_eq!(local(&["keys", "show", "gone"])["status"], "revoked");
    assert_eq!(local(&["keys", "show", "kept"])["status"], "active");
    let moves = local(&["audit", "list", "--action", "store.migrated"]);
    assert_eq!(moves.as_array().map(Vec::len), Some(2), "{moves}");
}

#[test]
fn a_database_without_a_store_is_no_source_and_is_left_as_it_was() {
    // An empty database named as the source, as a mistyped URL would: refused, and keyhold
    // creates nothing there, nor in the target.
    let cluster = Cluster::new();
    let to = cluster.dir.path().join("moved");
    let out = migrate(
        &cluster.url,
        &format!("sqlite:{}", to.display()),
        &cluster.key_file,
    );
    assert!(!out.status.success(), "{out:?}");
    let err: serde_json::Value = serde_json::from_slice(&out.stdout)
        .or_else(|_| serde_json::from_slice(&out.stderr))
        .expect("a JSON error");
    assert_eq!(err["error"]["code"], "not_initialized", "{err}");
    assert_eq!(pg::tables_in(&cluster.url), 0, "keyhold created tables");
    assert!(!to.exists(), "the target was touched");
    // The same database becomes a store when a node first starts on it.
    let (_nodes, printed) = cluster.start(&["a"], &[]);
    assert!(printed.is_some(), "the first start creates the store");
    assert!(pg::tables_in(&cluster.url) > 0);
}
