//! The `keyhold` binary, run as a user would: exit statuses, one-line errors, JSON output,
//! key rotation through stdin and files, a KEK rotation killed with SIGKILL, canary scans.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use keyhold::{KeySource, Keyhold, MasterKey, SecretBytes};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_keyhold"));
        c.args(args)
            .env("KEYHOLD_DATA_DIR", self.data())
            .env_remove("KEYHOLD_MASTER_KEY")
            .env_remove("KEYHOLD_MASTER_KEY_FILE")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run keyhold")
    }

    fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
        child.wait_with_output().expect("wait")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "keyhold {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }

    fn library(&self) -> Keyhold {
        Keyhold::open(self.data(), KeySource::default_file(self.data())).expect("open as library")
    }
}

fn stderr_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "errors are one line: {err:?}"
    );
    assert!(err.starts_with("keyhold: error: "), "{err:?}");
    err
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("valid JSON")
}

#[test]
fn init_status_and_workspaces() {
    let cli = Cli::new();
    let out = cli.ok(&["init"]);
    assert!(out.contains("Initialised a keyhold store"), "{out}");
    assert!(out.contains("workspace:  default (ws_"), "{out}");
    let status = cli.ok(&["status"]);
    assert!(status.contains("schema version:  8"), "{status}");
    assert!(
        status.contains("KEKs:            1 (active: 1)"),
        "{status}"
    );
    let s = json(&cli.ok(&["status", "--json"]));
    assert_eq!(s["kek_count"], 1);
    assert_eq!(s["schema_version"], 8);
    assert_eq!(s["workspaces"], 1);
    let ws = json(&cli.ok(&["--json", "workspace", "create", "mobile-app"]));
    assert_eq!(ws["name"], "mobile-app");
    let list = json(&cli.ok(&["workspace", "list", "--json"]));
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|w| w["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["default", "mobile-app"]);
    let human = cli.ok(&["workspace", "list"]);
    assert!(
        human.lines().count() == 3 && human.contains("mobile-app"),
        "{human}"
    );
}

#[test]
fn errors_are_one_line_with_documented_exit_statuses() {
    let cli = Cli::new();
    let out = cli.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "not initialised");
    assert!(stderr_line(&out).contains("keyhold init"));

    cli.ok(&["init"]);
    let out = cli.run(&["init"]);
    assert_eq!(out.status.code(), Some(4), "second init");
    stderr_line(&out);

    let out = cli.run(&["workspace", "create", "Not Valid"]);
    assert_eq!(out.status.code(), Some(2));
    stderr_line(&out);
    let out = cli.run(&["workspace", "create", "default"]);
    assert_eq!(out.status.code(), Some(4), "duplicate workspace");

    for usage in [
        &["frobnicate"][..],
        &["rekey"],
        &["rekey", "--master", "--kek"],
        &["workspace"],
    ] {
        let out = cli.run(usage);
        assert_eq!(out.status.code(), Some(2), "{usage:?}");
        if usage != ["workspace"] {
            stderr_line(&out);
        }
    }

    let wrong = MasterKey::generate().expect("rng");
    let out = cli
        .cmd(&["status"])
        .env("KEYHOLD_MASTER_KEY", wrong.to_base64url().as_str())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr_line(&out).contains("wrong master key"));

    let out = cli
        .cmd(&["status", "--json"])
        .env("KEYHOLD_MASTER_KEY", "garbage")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(5));
    let err = json(String::from_utf8_lossy(&out.stderr).trim());
    assert_eq!(err["error"]["code"], "master_key_invalid");

    std::fs::write(
        cli.data().join("keyhold.db"),
        b"garbage garbage garbage garbage garbage garbage garbage",
    )
    .expect("write");
    let out = cli.run(&["status"]);
    assert_eq!(out.status.code(), Some(6), "damaged store");
    assert!(stderr_line(&out).contains("keyhold.db"));
}

#[test]
fn master_key_rotation_from_stdin_and_from_a_file() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    cli.library()
        .put_record(
            &keyhold::Caller::operator(),
            "default",
            "secret",
            "x",
            &SecretBytes::copy_from(b"kept"),
        )
        .expect("put");
    let new_key = MasterKey::generate().expect("rng");
    let out = cli.run_with_stdin(
        &["rekey", "--master"],
        format!("{}\n", new_key.to_base64url().as_str()).as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 key-encryption key(s) re-wrapped"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(cli.data().join("master.key"))
            .expect("key file")
            .trim(),
        new_key.to_base64url().as_str()
    );
    assert_eq!(
        cli.library()
            .record(&keyhold::Caller::operator(), "default", "secret", "x")
            .expect("get")
            .expose(),
        b"kept"
    );

    // From a key file, which must itself be private.
    let third = MasterKey::generate().expect("rng");
    let file = cli.dir.path().join("third.key");
    keyhold::MasterKeyFile::new(&file)
        .create(&third)
        .expect("write key");
    cli.ok(&[
        "rekey",
        "--master",
        "--new-key-file",
        file.to_str().expect("utf8"),
    ]);
    assert_eq!(
        cli.library()
            .record(&keyhold::Caller::operator(), "default", "secret", "x")
            .expect("get")
            .expose(),
        b"kept"
    );
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let out = cli.run(&[
        "rekey",
        "--master",
        "--new-key-file",
        file.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr_line(&out).contains("chmod 600"));

    let out = cli.run_with_stdin(&["rekey", "--master"], b"");
    assert_eq!(out.status.code(), Some(2), "empty stdin");
    stderr_line(&out);
}

#[test]
fn kek_rotation_killed_at_random_moments_resumes() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let kh = cli.library();
    let n = 1500;
    for i in 0..n {
        kh.put_record(
            &keyhold::Caller::operator(),
            "default",
            "secret",
            &format!("r{i:04}"),
            &SecretBytes::copy_from(format!("value-{i}").as_bytes()),
        )
        .expect("put");
    }
    drop(kh);
    // Kill each run once the store shows it has re-wrapped a given share of the records, so
    // the kills land inside the run however fast or loaded the machine is.
    let mut caught_halfway = 0;
    for (round, share) in [10, 25, 50, 75].into_iter().enumerate() {
        let mut child = cli
            .cmd(&["rekey", "--kek", "--batch", "10"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        wait_for_rewrap(
            &cli.data().join("keyhold.db"),
            n * (100 - share) / 100,
            &mut child,
        );
        child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
        let _ = child.wait();
        let kh = cli.library();
        for i in (0..n).step_by(37) {
            assert_eq!(
                kh.record(
                    &keyhold::Caller::operator(),
                    "default",
                    "secret",
                    &format!("r{i:04}")
                )
                .expect("readable after kill")
                .expose(),
                format!("value-{i}").as_bytes(),
                "round {round}"
            );
        }
        let status = kh.status().expect("status");
        assert!(
            status.kek_count <= 2,
            "an interrupted rotation never stacks KEKs: {status:?}"
        );
        if status.records_pending_rewrap > 0 && status.records_pending_rewrap < n {
            caught_halfway += 1;
        }
        drop(kh);
        let out = cli.ok(&["rekey", "--kek", "--json"]);
        let r = json(&out);
        assert_eq!(r["complete"], true, "{out}");
        let kh = cli.library();
        let status = kh.status().expect("status");
        assert_eq!(
            (status.kek_count, status.records_pending_rewrap),
            (1, 0),
            "round {round}"
        );
        for i in 0..n {
            assert_eq!(
                kh.record(
                    &keyhold::Caller::operator(),
                    "default",
                    "secret",
                    &format!("r{i:04}")
                )
                .expect("get")
                .expose(),
                format!("value-{i}").as_bytes()
            );
        }
    }
    // 150 fsync'd batches take far longer than the later kill delays: at least one kill must
    // have landed between batches, or this test proved nothing.
    assert!(caught_halfway >= 1, "no kill landed mid-rotation");
}

#[test]
fn canary_never_appears_in_cli_output() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let canary = format!(
        "canary-{}",
        MasterKey::generate().expect("rng").to_base64url().as_str()
    );
    cli.library()
        .put_record(
            &keyhold::Caller::operator(),
            "default",
            "secret",
            "canary",
            &SecretBytes::copy_from(canary.as_bytes()),
        )
        .expect("put");
    let mut all = Vec::new();
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["workspace", "list"],
        &["workspace", "list", "--json"],
        &["rekey", "--kek"],
        &["rekey", "--kek", "--json"],
        &["workspace", "create", "bad name"],
        &["--help"],
    ] {
        let out = cli.run(args);
        all.extend_from_slice(&out.stdout);
        all.extend_from_slice(&out.stderr);
    }
    assert!(!all.is_empty());
    let hay = String::from_utf8_lossy(&all);
    assert!(!hay.contains(&canary), "canary in CLI output");
    assert!(!hay.contains(&canary[7..]), "canary tail in CLI output");
    // The master key itself is never printed either.
    let key = std::fs::read_to_string(cli.data().join("master.key")).expect("key");
    assert!(!hay.contains(key.trim()), "master key in CLI output");
    assert!(Path::new(&cli.data()).exists());
}

fn create_key(cli: &Cli, name: &str, extra: &[&str]) -> (String, Output) {
    let mut args = vec!["keys", "create", "--name", name];
    args.extend_from_slice(extra);
    let out = cli.run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout.clone())
        .expect("utf8")
        .trim()
        .to_owned();
    (token, out)
}

#[test]
fn keys_create_shows_the_token_once_and_list_never() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let (token, out) = create_key(
        &cli,
        "mobile-app",
        &[
            "--expires",
            "30d",
            "--scope",
            "read:queries",
            "--scope",
            "execute:queries",
        ],
    );
    assert_eq!(token.split('.').count(), 3, "stdout is exactly the token");
    let notice = String::from_utf8_lossy(&out.stderr);
    assert!(notice.contains("shown once"), "{notice}");
    assert!(
        !notice.contains(&token),
        "the notice does not repeat the token"
    );
    let json_out = cli.ok(&[
        "keys",
        "create",
        "--name",
        "ci",
        "--expires",
        "1h",
        "--json",
    ]);
    let created = json(&json_out);
    assert_eq!(created["key"]["name"], "ci");
    assert_eq!(created["key"]["scopes"], serde_json::json!(["admin"]));
    let ci_token = created["token"].as_str().expect("token").to_owned();
    let mut everything = String::new();
    for args in [
        &["keys", "list"][..],
        &["keys", "list", "--json"],
        &["keys", "show", "mobile-app"],
        &["keys", "show", "ci", "--json"],
        &["jwks"],
        &["status", "--json"],
    ] {
        let out = cli.run(args);
        assert!(out.status.success(), "{args:?}");
        everything.push_str(&String::from_utf8_lossy(&out.stdout));
        everything.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    for t in [&token, &ci_token] {
        let sig = t.rsplit('.').next().expect("sig");
        assert!(
            !everything.contains(sig),
            "a token signature was printed again"
        );
    }
    assert!(everything.contains("mobile-app") && everything.contains("\"fingerprint\""));
    for bad in [
        &["keys", "create", "--name", "x", "--expires", "2d"][..],
        &[
            "keys",
            "create",
            "--name",
            "x",
            "--expires",
            "1h",
            "--scope",
            "delete:everything",
        ],
    ] {
        let out = cli.run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let line = stderr_line(&out);
        assert!(
            line.contains("15m") || line.contains("unknown scope"),
            "{line}"
        );
    }
}

#[test]
fn keys_verify_reads_the_token_from_stdin_and_reports_the_envelope() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let (token, _) = create_key(
        &cli,
        "svc",
        &[
            "--expires",
            "1h",
            "--scope",
            "read:queries",
            "--sub",
            "svc@team.example",
        ],
    );
    let out = cli.run_with_stdin(
        &["keys", "verify", "--json"],
        format!("{token}\n").as_bytes(),
    );
    assert!(out.status.success());
    let claims = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(claims["sub"], "svc@team.example");
    let out = cli.run_with_stdin(
        &["keys", "verify", "--scope", "read:queries"],
        token.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli.run_with_stdin(
        &["keys", "verify", "--scope", "keys:write", "--json"],
        token.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(9), "403-class refusal");
    let env = json(String::from_utf8_lossy(&out.stderr).trim());
    assert_eq!(env["error"]["code"], "insufficient_scope");
    for field in ["message", "request_id", "doc_url"] {
        assert!(env["error"][field].is_string(), "envelope has {field}");
    }
    // Change one character well inside the signature (the last one carries padding bits).
    let mut tampered = token.clone().into_bytes();
    let i = tampered.len() - 10;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let out = cli.run_with_stdin(&["keys", "verify"], tampered.as_bytes());
    assert_eq!(out.status.code(), Some(8));
    assert!(stderr_line(&out).contains("signature"));
    let out = cli.run_with_stdin(&["keys", "verify"], b"");
    assert_eq!(out.status.code(), Some(2), "no token given");
}

#[test]
fn a_revocation_by_one_process_is_seen_by_the_next_verification_in_another() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let (one, _) = create_key(&cli, "one", &["--expires", "8h", "--scope", "read:queries"]);
    let (two, _) = create_key(&cli, "two", &["--expires", "8h", "--scope", "read:queries"]);
    // This test process holds the store open and verifies, like a server would ...
    let verifier = cli.library();
    verifier.verify_token(&one, None).expect("valid");
    verifier.verify_token(&two, None).expect("valid");
    // ... while the CLI, another process, revokes.
    cli.ok(&["keys", "revoke", "one"]);
    assert_eq!(
        verifier
            .verify_token(&one, None)
            .expect_err("revoked")
            .code(),
        "key_revoked"
    );
    verifier.verify_token(&two, None).expect("still valid");
    cli.ok(&["keys", "revoke-all", "--yes"]);
    assert_eq!(
        verifier
            .verify_token(&two, None)
            .expect_err("revoked")
            .code(),
        "key_revoked_all"
    );
    // And the other way round: the library revokes, the CLI process verifies.
    let (three, _) = create_key(
        &cli,
        "three",
        &["--expires", "8h", "--scope", "read:queries"],
    );
    cli.run_with_stdin(&["keys", "verify"], three.as_bytes())
        .status
        .success()
        .then_some(())
        .expect("verifies");
    verifier
        .revoke_key(&keyhold::Caller::operator(), "default", "three")
        .expect("revoke");
    let out = cli.run_with_stdin(&["keys", "verify", "--json"], three.as_bytes());
    assert_eq!(out.status.code(), Some(8));
    assert_eq!(
        json(String::from_utf8_lossy(&out.stderr).trim())["error"]["code"],
        "key_revoked"
    );
}

#[test]
fn signing_key_rotation_through_the_cli() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let (old, _) = create_key(&cli, "old", &["--expires", "1h"]);
    let before = json(&cli.ok(&["jwks"]));
    assert_eq!(before["keys"].as_array().expect("keys").len(), 1);
    let r = json(&cli.ok(&["signing-key", "rotate", "--json"]));
    let after = json(&cli.ok(&["jwks"]));
    let kids: Vec<&str> = after["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid"))
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&r["kid"].as_str().expect("kid")));
    let out = cli.run_with_stdin(&["keys", "verify"], old.as_bytes());
    assert!(
        out.status.success(),
        "a token of the retiring key still verifies"
    );
}

#[test]
fn audit_list_export_verify_and_checkpoint() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let (token, _) = create_key(&cli, "svc", &["--expires", "1h", "--scope", "read:queries"]);
    cli.run_with_stdin(&["keys", "verify"], token.as_bytes())
        .status
        .success()
        .then_some(())
        .expect("verifies");
    cli.ok(&["keys", "revoke", "svc"]);
    let list = json(&cli.ok(&["audit", "list", "--json"]));
    let actions: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "workspace.created",
            "key.created",
            "key.used",
            "key.revoked"
        ]
    );
    assert!(
        list.as_array()
            .expect("array")
            .iter()
            .all(|e| e["surface"] == "cli")
    );
    let used = json(&cli.ok(&["audit", "list", "--json", "--action", "key.used"]));
    assert_eq!(used.as_array().expect("array").len(), 1);
    let export = cli.ok(&["audit", "export", "--jsonl"]);
    assert_eq!(export.lines().count(), 4);
    for line in export.lines() {
        json(line);
    }
    assert!(
        !export.contains(token.rsplit('.').next().expect("sig")),
        "no token in the export"
    );
    let ok = cli.ok(&["audit", "verify"]);
    assert!(ok.starts_with("ok, 4 rows, head "), "{ok}");
    let cp = cli.dir.path().join("cp.json");
    cli.ok(&["audit", "checkpoint", "--out", cp.to_str().expect("utf8")]);
    let ok = cli.ok(&[
        "audit",
        "verify",
        "--checkpoint",
        cp.to_str().expect("utf8"),
    ]);
    assert!(ok.contains("checkpoint at seq 4 matches"), "{ok}");
    // Deleting the newest rows is caught against the checkpoint, with exit status 6.
    assert!(delete_newest_audit_rows(&cli.data().join("keyhold.db")));
    let out = cli.run(&[
        "audit",
        "verify",
        "--checkpoint",
        cp.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(6));
    assert!(stderr_line(&out).contains("audit record"));
}

/// Polls the store (read-only) every 5 ms until a KEK rotation is under way with at most
/// `left` records still under the old KEK, or `child` has exited; fails after 20 s.
fn wait_for_rewrap(db: &Path, left: u64, child: &mut Child) {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("sqlite");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (retiring, pending) = conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM keks WHERE state = 'retiring'), \
                        (SELECT COUNT(*) FROM records \
                         WHERE kek_id <> (SELECT id FROM keks WHERE state = 'active'))",
                [],
                |r| Ok((r.get::<_, u64>(0)?, r.get::<_, u64>(1)?)),
            )
            .expect("the rotation's progress");
        if retiring > 0 && pending <= left {
            return;
        }
        if child.try_wait().expect("try_wait").is_some() {
            return; // finished between two looks: this round proves less, the count says so
        }
        assert!(
            Instant::now() < deadline,
            "no rotation reached {left} records left in 20 s: {retiring} retiring KEKs, {pending} records pending"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Plays the attacker with write access to the database file: deletes the newest rows.
fn delete_newest_audit_rows(db: &Path) -> bool {
    rusqlite::Connection::open(db)
        .and_then(|c| c.execute("DELETE FROM audit_log WHERE seq >= 4", []))
        .is_ok_and(|n| n >= 1)
}

/// Fails if `hay` holds `canary` or any run of 8 of its bytes.
fn assert_no_piece_of(hay: &str, canary: &str, what: &str) {
    for piece in canary.as_bytes().windows(8) {
        let piece = std::str::from_utf8(piece).expect("ascii canary");
        assert!(
            !hay.contains(piece),
            "{what}: {piece:?} of the canary echoed in {hay:?}"
        );
    }
}

#[test]
fn a_token_pasted_into_argv_is_never_echoed() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    // A real token of this store, a JWT-shaped string and a random base64url string.
    let (minted, _) = create_key(&cli, "real", &["--expires", "1h"]);
    assert!(
        minted.starts_with("eyJ") && minted.contains('.'),
        "{minted}"
    );
    let jwt_shaped = "eyJhbGciOiJFZERTQSIsImtpZCI6IjJLdmV2Y0ZkcTZOcmEifQ.eyJzdWIiOiJjaSJ9.hoL-SQbgPRAmqm5FVlz7jvrKEdHQ";
    // A random base64url string that does not start with `-` (which the command line reads as
    // flags, a different case: `(&[&flag], 2)` below covers it).
    let random = std::iter::repeat_with(|| {
        MasterKey::generate().expect("rng").to_base64url()[..40].to_owned()
    })
    .find(|r| !r.starts_with('-'))
    .expect("a random string");
    for canary in [minted.as_str(), jwt_shaped, random.as_str()] {
        let flag = format!("--{canary}");
        let scope_eq = format!("--scope={canary}");
        let cases: [(&[&str], i32); 13] = [
            (&["keys", "verify", canary], 2),
            (&["keys", "verify", "--scope", canary], 2),
            (
                &[
                    "keys",
                    "create",
                    "--name",
                    "n",
                    "--expires",
                    "7d",
                    "--scope",
                    canary,
                ],
                2,
            ),
            (
                &[
                    "keys",
                    "create",
                    "--name",
                    "n",
                    "--expires",
                    "7d",
                    &scope_eq,
                ],
                2,
            ),
            (&["keys", "create", "--name", "n", "--expires", canary], 2),
            (&[canary], 2),
            (&["keys", canary], 2),
            (&[&flag], 2),
            (&["keys", "list", &flag], 2),
            (&["rekey", "--master", canary], 2),
            (&["audit", "list", "--since", canary], 2),
            (&["keys", "revoke", canary], 3),
            (&["keys", "show", canary], 3),
        ];
        for (args, status) in cases {
            let out = cli.run_with_stdin(args, b"");
            let shown = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.status.code(), Some(status), "{args:?}: {shown}");
            assert_no_piece_of(&shown, canary, &format!("{args:?}"));
            let line = stderr_line(&out);
            assert!(
                line.contains("(not shown: not a valid name or id)"),
                "{args:?}: says what it left out: {line}"
            );
        }
        // The JSON error envelope hides it too.
        let out = cli.run(&["--json", "keys", "revoke", canary]);
        assert_eq!(out.status.code(), Some(3));
        let shown = String::from_utf8_lossy(&out.stderr);
        assert_eq!(json(shown.trim())["error"]["code"], "not_found");
        assert_no_piece_of(&shown, canary, "keys revoke --json");
    }
    // Where a token was most likely meant, the message says where it goes instead.
    let out = cli.run(&["keys", "verify", jwt_shaped]);
    assert!(
        stderr_line(&out).contains("reads the token from standard input"),
        "{out:?}"
    );
    // The token still works: nothing above was taken for it.
    let out = cli.run_with_stdin(&["keys", "verify"], minted.as_bytes());
    assert!(out.status.success());
}

#[test]
fn an_argument_that_could_not_be_a_secret_is_still_quoted() {
    let cli = Cli::new();
    for (args, quoted) in [
        (
            &["keys", "create", "--name", "n", "--expires", "45d"][..],
            "invalid value '45d' for '--expires <PRESET>'",
        ),
        (
            &["keys", "verify", "--scope", "read:bogus"],
            "invalid value 'read:bogus' for '--scope <SCOPE>'",
        ),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (
            &["keys", "verify", "--bogus-flag"],
            "unexpected argument '--bogus-flag'",
        ),
        (&["keys", "verify", "stray"], "unexpected argument 'stray'"),
    ] {
        let out = cli.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let line = stderr_line(&out);
        assert!(line.contains(quoted), "{args:?}: {line}");
        assert!(!line.contains("not shown"), "{args:?}: {line}");
    }
    // The explanation of a bad preset stays: it is the fix.
    let out = cli.run(&["keys", "create", "--name", "n", "--expires", "45d"]);
    assert!(stderr_line(&out).contains("15m, 1h, 8h"));
}

#[test]
fn help_does_not_show_the_server_address_from_the_environment() {
    // A URL with credentials is refused when used, but help is printed before any use.
    let cli = Cli::new();
    for args in [&["--help"][..], &["keys", "create", "--help"]] {
        let out = cli
            .cmd(args)
            .env(
                "KEYHOLD_ADDR",
                "https://ci:Pa55w0rdCanary@keyhold.internal:8200",
            )
            .output()
            .expect("run");
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(shown.contains("KEYHOLD_ADDR"), "{args:?}: {shown}");
        assert!(!shown.contains("Pa55w0rdCanary"), "{args:?}: {shown}");
    }
}

/// Runs the real binary under a shifted clock (libfaketime), as a host whose clock is ahead or
/// was stepped back would.
fn run_at(cli: &Cli, shift: &str, args: &[&str]) -> Output {
    let mut c = Command::new("faketime");
    c.arg("-f")
        .arg(shift)
        .arg(env!("CARGO_BIN_EXE_keyhold"))
        .args(args)
        .env("KEYHOLD_DATA_DIR", cli.data())
        .env_remove("KEYHOLD_MASTER_KEY")
        .env_remove("KEYHOLD_MASTER_KEY_FILE")
        .stdin(Stdio::null());
    // A missing faketime is a failure of the run, never a skip.
    c.output()
        .expect("faketime (Debian package faketime) is needed by this test")
}

#[test]
fn revoke_all_ignores_a_minting_clock_ahead_and_a_revoking_clock_behind() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let scope = ["--expires", "1h", "--scope", "read:queries"];
    let (normal, _) = create_key(&cli, "normal", &scope);
    // A minting host 25 s ahead (within the verification leeway, so its token is valid).
    let ahead = run_at(
        &cli,
        "+25s",
        &[&["keys", "create", "--name", "ahead"][..], &scope].concat(),
    );
    assert!(
        ahead.status.success(),
        "{}",
        String::from_utf8_lossy(&ahead.stderr)
    );
    let ahead = String::from_utf8(ahead.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    for t in [&normal, &ahead] {
        let out = cli.run_with_stdin(&["keys", "verify"], t.as_bytes());
        assert!(out.status.success(), "valid before the revoke-all");
    }
    // The revoke-all runs on a host whose clock was stepped back a day.
    let out = run_at(&cli, "-1d", &["--json", "keys", "revoke-all", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["keys_revoked"], 2, "{report}");
    for t in [&normal, &ahead] {
        let out = cli.run_with_stdin(&["keys", "verify", "--json"], t.as_bytes());
        assert!(!out.status.success(), "every key that existed is refused");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("key_revoked_all")
                || String::from_utf8_lossy(&out.stderr).contains("key_revoked_all"),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A key minted after it works, whatever the clocks say.
    let (after, _) = create_key(&cli, "after", &scope);
    let out = cli.run_with_stdin(&["keys", "verify"], after.as_bytes());
    assert!(out.status.success(), "minted after the revoke-all: works");
    let listed = json(&cli.ok(&["--json", "keys", "list"]));
    let states: Vec<(String, String)> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|k| {
            (
                k["name"].as_str().expect("name").to_owned(),
                k["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect();
    assert!(
        states.contains(&("ahead".into(), "revoked".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&("after".into(), "active".into())),
        "{states:?}"
    );
    cli.ok(&["audit", "verify"]);
}

/// Puts the previous release's store (see below) in `cli`'s data dir; returns the fixture dir.
fn schema4_store(cli: &Cli) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema4");
    std::fs::create_dir_all(cli.data()).expect("data dir");
    for f in ["keyhold.db", "master.key"] {
        std::fs::copy(fixture.join(f), cli.data().join(f)).expect("copy");
        std::fs::set_permissions(
            cli.data().join(f),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .expect("chmod");
    }
    fixture
}

/// A store written by the previous release (schema 4: rows not yet authenticated), with keys
/// active, revoked, revoked by a revoke-all, in a second workspace and signed by a rotated
/// signing key. Its tokens are 30-day tokens minted at the time on the first line of
/// `tokens.txt`, so the CLI runs at that time (libfaketime).
#[test]
fn a_store_of_the_previous_release_is_upgraded_with_every_standing_kept() {
    let cli = Cli::new();
    let fixture = schema4_store(&cli);
    let lines = std::fs::read_to_string(fixture.join("tokens.txt")).expect("tokens");
    let mut lines = lines.lines();
    let minted_at: i64 = lines.next().expect("time").parse().expect("seconds");
    let tokens: Vec<&str> = lines.collect();
    // libfaketime's absolute form: "@YYYY-MM-DD HH:MM:SS" (UTC here).
    let when = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(minted_at + 120).expect("positive"));
    let at = format!(
        "@{}",
        humantime::format_rfc3339_seconds(when)
            .to_string()
            .trim_end_matches('Z')
            .replace('T', " ")
    );
    let at = at.as_str();
    let verify = |t: &str| {
        let mut c = Command::new("faketime");
        c.args([
            "-f",
            at,
            env!("CARGO_BIN_EXE_keyhold"),
            "keys",
            "verify",
            "--json",
        ])
        .env("TZ", "UTC")
        .env("KEYHOLD_DATA_DIR", cli.data())
        .env_remove("KEYHOLD_MASTER_KEY")
        .env_remove("KEYHOLD_MASTER_KEY_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().expect("faketime (Debian package faketime)");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(t.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        if out.status.success() {
            "valid".to_owned()
        } else {
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            [
                "key_revoked_all",
                "key_revoked",
                "integrity_error",
                "token_expired",
            ]
            .into_iter()
            .find(|c| text.contains(c))
            .unwrap_or("other")
            .to_owned()
        }
    };
    // The store's first signing key was retired by a rotation before the upgrade, and the old
    // audit chain does not name it: the upgrade waits for the operator's word on it.
    let status = run_at(&cli, at, &["status"]);
    assert_eq!(status.status.code(), Some(6), "integrity_error");
    let err = stderr_line(&status);
    assert!(
        err.contains("keyhold upgrade --accept-signing-key"),
        "{err}"
    );
    let kid = err
        .split("signing key ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .expect("the message names the key")
        .to_owned();
    assert!(err.contains(&format!("--drop-signing-key {kid}")), "{err}");
    // Nothing was written: the store is still the previous release's.
    let v: i64 = rusqlite::Connection::open(cli.data().join("keyhold.db"))
        .expect("sqlite")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(v, 4);
    let upgrade = run_at(&cli, at, &["upgrade", "--accept-signing-key", &kid]);
    assert!(
        String::from_utf8_lossy(&upgrade.stdout).contains("schema version:  8"),
        "{}{}",
        String::from_utf8_lossy(&upgrade.stdout),
        String::from_utf8_lossy(&upgrade.stderr)
    );
    let verdicts: Vec<String> = tokens.iter().map(|t| verify(t)).collect();
    assert_eq!(
        verdicts,
        ["key_revoked_all", "key_revoked", "valid", "valid", "valid"],
        "a (revoked by revoke-all), b (revoked), c (after it), d (team-b), e (rotated key)"
    );
    let audit = run_at(&cli, at, &["audit", "verify"]);
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stderr)
    );
    // From now on its rows are authenticated.
    let conn = rusqlite::Connection::open(cli.data().join("keyhold.db")).expect("sqlite");
    conn.execute(
        "UPDATE api_keys SET revoked_at_ms = NULL, revoked_by = NULL WHERE name = 'b'",
        [],
    )
    .expect("edit");
    drop(conn);
    assert_eq!(verify(tokens[1]), "integrity_error");
}

/// An attacker who can write the file takes an upgraded store back to schema 4, cuts the audit
/// chain back to before the upgrade, and swaps the first signing key's row for one of their
/// own: the next open does not authenticate it on its own. It waits for the operator's word,
/// naming the key — which is not the one the operator accepted the first time.
#[test]
fn a_forged_retiring_key_is_not_blessed_by_a_repeated_upgrade() {
    let cli = Cli::new();
    schema4_store(&cli);
    let db = cli.data().join("keyhold.db");
    let sql = || rusqlite::Connection::open(&db).expect("sqlite");
    let before: i64 = sql()
        .query_row("SELECT MAX(seq) FROM audit_log", [], |r| r.get(0))
        .expect("head");
    let first = Keyhold::open(cli.data(), KeySource::default_file(cli.data()))
        .expect_err("needs a word")
        .to_string();
    let k0 = first
        .split("signing key ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .expect("named")
        .to_owned();
    let upgrade = |accept: &str| {
        Keyhold::open_upgrading(
            cli.data(),
            KeySource::default_file(cli.data()),
            &keyhold::Upgrade {
                accept_signing_keys: vec![accept.to_owned()],
                drop_signing_keys: Vec::new(),
            },
        )
    };
    drop(upgrade(&k0).expect("upgraded"));
    let evil = keyhold_token::SigningKey::generate().expect("key");
    sql()
        .execute_batch(&format!(
            "DROP INDEX api_keys_by_seq;
             DROP TRIGGER api_keys_standing_update;
             DROP TRIGGER workspaces_standing_update;
             DROP TRIGGER signing_keys_standing_change;
             DROP TRIGGER signing_keys_standing_delete;
             ALTER TABLE signing_keys DROP COLUMN mac;
             ALTER TABLE api_keys DROP COLUMN mint_seq;
             ALTER TABLE api_keys DROP COLUMN mac;
             ALTER TABLE workspaces DROP COLUMN revoked_all_seq;
             ALTER TABLE workspaces DROP COLUMN mac;
             DELETE FROM meta WHERE key IN ('master_witness', 'identity_mac', 'mint_counter');
             DELETE FROM records WHERE kind = 'row-key';
             DELETE FROM audit_log WHERE seq > {before};
             DELETE FROM signing_keys WHERE kid = '{k0}';
             CREATE TRIGGER api_keys_standing_update
                 AFTER UPDATE OF jti, workspace, created_at_ms, expires_at, revoked_at_ms ON api_keys
                 BEGIN UPDATE standing SET version = version + 1 WHERE id = 0; END;
             CREATE TRIGGER workspaces_standing_update
                 AFTER UPDATE OF id, revoked_all_at_ms ON workspaces
                 BEGIN UPDATE standing SET version = version + 1 WHERE id = 0; END;
             PRAGMA user_version = 4;"
        ))
        .expect("take the store apart");
    sql()
        .execute(
            "INSERT INTO signing_keys (kid, public_key, state, created_at, retired_at)
             VALUES (?1, ?2, 'retiring', 1, 2)",
            rusqlite::params![evil.kid(), evil.verifying_key().as_bytes().to_vec()],
        )
        .expect("forged key");
    let e = upgrade(&k0).expect_err("not on the earlier word");
    assert_eq!(e.code(), "integrity_error", "{e}");
    assert!(
        e.to_string()
            .contains(&format!("signing key {}", evil.kid())),
        "{e}"
    );
    assert!(e.to_string().contains("needs your word"), "{e}");
}
