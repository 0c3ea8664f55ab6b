//! The same CLI session run twice: once on a local store (as the operator) and once through a
//! running `keyhold-server` over loopback HTTP (as an `admin` API key, with no store and no
//! master key on the client's side). Every step's exit status, output and error message must
//! be the same in both modes, once the values that differ by nature (ids, times, hashes, who
//! and through which surface) are masked.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// The server binary, built beside this package's `keyhold` by the workspace build.
fn server_binary() -> PathBuf {
    let cli = PathBuf::from(env!("CARGO_BIN_EXE_keyhold"));
    let server = cli.with_file_name("keyhold-server");
    assert!(
        server.exists(),
        "{} is missing: build the whole workspace (cargo build --workspace --bins) before this test",
        server.display()
    );
    server
}

struct Server {
    child: Child,
    url: String,
    admin: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(server_binary())
        .args([
            "--data-dir",
            dir.path().join("data").to_str().expect("utf8"),
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "warn",
        ])
        .env_remove("KEYHOLD_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut admin, mut url) = (None, None);
    while url.is_none() {
        let line = lines.next().expect("server output").expect("line");
        if let Some(t) = line.strip_prefix("admin key (30 days; shown once, store it now): ") {
            admin = Some(t.to_owned());
        }
        if let Some(a) = line.strip_prefix("listening on ") {
            url = Some(a.to_owned());
        }
    }
    Server {
        child,
        url: url.expect("url"),
        admin: admin.expect("admin key"),
        _dir: dir,
    }
}

enum Mode {
    Local {
        dir: tempfile::TempDir,
    },
    Remote {
        server: Server,
        nowhere: tempfile::TempDir,
    },
}

impl Mode {
    fn local() -> Self {
        let m = Self::Local {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        let out = m.run(&["init"], None);
        assert!(out.status.success(), "init");
        // The server's first start minted an `admin` key; give the local store the same one.
        let out = m.run(
            &[
                "keys",
                "create",
                "--name",
                "admin",
                "--expires",
                "30d",
                "--scope",
                "admin",
            ],
            None,
        );
        assert!(out.status.success(), "admin key");
        m
    }

    fn remote() -> Self {
        Self::Remote {
            server: start_server(),
            nowhere: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_keyhold"));
        c.args(args)
            .env_remove("KEYHOLD_MASTER_KEY")
            .env_remove("KEYHOLD_MASTER_KEY_FILE")
            .env_remove("KEYHOLD_WORKSPACE")
            .env_remove("KEYHOLD_CA_CERT")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("ALL_PROXY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match self {
            Self::Local { dir } => {
                c.env("KEYHOLD_DATA_DIR", dir.path().join("data"))
                    .env_remove("KEYHOLD_ADDR")
                    .env_remove("KEYHOLD_TOKEN");
            }
            Self::Remote { server, nowhere } => {
                // No store and no master key here: everything must go through the server.
                c.env("KEYHOLD_DATA_DIR", nowhere.path().join("no-store"))
                    .env("KEYHOLD_ADDR", &server.url)
                    .env("KEYHOLD_TOKEN", &server.admin);
            }
        }
        let mut child = c.spawn().expect("spawn keyhold");
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("stdin");
        }
        drop(input);
        child.wait_with_output().expect("wait")
    }
}

/// Masks what differs by nature between the two stores and callers.
fn mask(v: &mut serde_json::Value) {
    const VARYING: &[&str] = &[
        "id",
        "key_id",
        "workspace",
        "fingerprint",
        "kid",
        "created_at",
        "expires_at",
        "revoked_at",
        "revoked_at_ms",
        "last_used_at",
        "created_by",
        "revoked_by",
        "sub",
        "iat",
        "exp",
        "token",
        "target",
        "hash",
        "head",
        "head_seq",
        "rows",
        "seq",
        "time_ms",
        "request_id",
        "source",
        "surface",
        "actor",
        "retiring",
        "signing_key",
        "n",
        "x",
    ];
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                // Attribution differs by nature: the server's admin key has been used by every
                // request and signs its audit rows (`key_id`); the local operator has no key.
                let attribution = k == "last_used_at" || k == "key_id";
                // An enrolment code is random by nature (an error's code is not).
                let attribution =
                    attribution || val.as_str().is_some_and(|v| v.starts_with("khe_"));
                if attribution || (VARYING.contains(&k.as_str()) && !val.is_null()) {
                    *val = serde_json::Value::from("<varies>");
                } else {
                    mask(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

/// One step's outcome, comparable across modes.
#[derive(Debug, PartialEq)]
struct Step {
    what: String,
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

struct Session<'a> {
    mode: &'a Mode,
    steps: Vec<Step>,
}

impl Session<'_> {
    /// Runs a step and records its masked outcome; returns the raw stdout.
    fn step(&mut self, args: &[&str], stdin: Option<&str>) -> (Option<i32>, String) {
        let out = self.mode.run(args, stdin);
        let raw = String::from_utf8(out.stdout).expect("utf8");
        let stdout = match serde_json::from_str::<serde_json::Value>(&raw) {
            Ok(mut v) => {
                mask(&mut v);
                v.to_string()
            }
            // JSON Lines (`audit export --jsonl`): each line masked.
            Err(_) if raw.lines().count() > 1 && raw.lines().all(|l| json_line(l).is_some()) => raw
                .lines()
                .filter_map(json_line)
                .map(|mut v| {
                    mask(&mut v);
                    v.to_string()
                })
                .collect::<Vec<_>>()
                .join("\n"),
            // Human output: keep its first line (the table header or the message shape).
            Err(_) => raw.lines().next().unwrap_or_default().to_owned(),
        };
        let err = String::from_utf8(out.stderr).expect("utf8");
        let stderr = if out.status.success() {
            String::new()
        } else {
            let mut v: serde_json::Value = serde_json::from_str(err.trim())
                .unwrap_or_else(|_| serde_json::Value::from(err.trim()));
            mask(&mut v);
            v.to_string()
        };
        self.steps.push(Step {
            what: args.join(" "),
            status: out.status.code(),
            stdout,
            stderr,
        });
        (out.status.code(), raw)
    }
}

fn json_line(line: &str) -> Option<serde_json::Value> {
    serde_json::from_str(line).ok()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("json output")
}

/// The session, with its own assertions; returns the comparable transcript.
fn session(mode: &Mode) -> Vec<Step> {
    let mut s = Session {
        mode,
        steps: Vec::new(),
    };
    let (code, out) = s.step(
        &[
            "keys",
            "create",
            "--name",
            "mobile",
            // Not 30d: through the server it is minted by the server's 30-day admin key, and
            // a key cannot outlive the key that mints it — a second boundary between the two
            // mints would refuse it, by design.
            "--expires",
            "7d",
            "--scope",
            "read:queries",
            "--scope",
            "execute:queries",
            "--json",
        ],
        None,
    );
    assert_eq!(code, Some(0));
    let created = json(&out);
    let token = created["token"].as_str().expect("token").to_owned();
    assert_eq!(created["key"]["status"], "active");
    assert_eq!(
        created["key"]["expires_at"].as_i64().expect("exp")
            - created["key"]["created_at"].as_i64().expect("iat"),
        7 * 86_400
    );
    assert_eq!(
        s.step(
            &[
                "keys",
                "create",
                "--name",
                "mobile",
                "--expires",
                "1h",
                "--json"
            ],
            None
        )
        .0,
        Some(4),
        "the name is taken"
    );
    assert_eq!(
        s.step(
            &["keys", "create", "--name", "Bad Name", "--expires", "1h"],
            None
        )
        .0,
        Some(2)
    );
    let (_, list) = s.step(&["keys", "list", "--json"], None);
    let names: Vec<String> = json(&list)
        .as_array()
        .expect("array")
        .iter()
        .map(|k| k["name"].as_str().expect("name").to_owned())
        .collect();
    assert!(
        names.iter().any(|n| n == "mobile") && names.iter().any(|n| n == "admin"),
        "{names:?}"
    );
    assert!(!list.contains(&token), "a list never carries a token");
    s.step(&["keys", "list"], None);
    assert_eq!(
        s.step(&["keys", "show", "mobile", "--json"], None).0,
        Some(0)
    );
    s.step(&["keys", "show", "mobile"], None);
    assert_eq!(s.step(&["keys", "show", "nope", "--json"], None).0, Some(3));
    let (code, out) = s.step(
        &["keys", "verify", "--scope", "read:queries", "--json"],
        Some(&token),
    );
    assert_eq!(code, Some(0));
    assert_eq!(json(&out)["key_id"], created["key"]["id"]);
    assert_eq!(
        s.step(
            &["keys", "verify", "--scope", "keys:write", "--json"],
            Some(&token)
        )
        .0,
        Some(9)
    );
    let mut tampered = token.clone().into_bytes();
    let i = tampered.len() - 10;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    assert_eq!(
        s.step(&["keys", "verify", "--json"], Some(&tampered)).0,
        Some(8)
    );
    assert_eq!(s.step(&["keys", "verify"], Some("")).0, Some(2));
    assert_eq!(
        s.step(&["keys", "revoke", "mobile", "--json"], None).0,
        Some(0)
    );
    assert_eq!(
        s.step(&["keys", "verify", "--json"], Some(&token)).0,
        Some(8),
        "revoked on the very next verification"
    );
    let (_, jwks) = s.step(&["jwks"], None);
    assert_eq!(json(&jwks)["keys"].as_array().expect("keys").len(), 1);
    let (code, out) = s.step(&["signing-key", "rotate", "--json"], None);
    assert_eq!(code, Some(0));
    let kid = json(&out)["kid"].as_str().expect("kid").to_owned();
    let (_, jwks) = s.step(&["jwks"], None);
    assert!(jwks.contains(&kid));
    let (_, audit) = s.step(
        &["audit", "list", "--action", "key.revoked", "--json"],
        None,
    );
    let revoked = json(&audit);
    assert_eq!(revoked.as_array().expect("array").len(), 1);
    assert_eq!(revoked[0]["target"], created["key"]["id"]);
    assert_eq!(s.step(&["audit", "verify", "--json"], None).0, Some(0));
    assert_eq!(
        s.step(&["keys", "revoke-all"], None).0,
        Some(2),
        "needs --yes"
    );
    let (_, ci) = s.step(
        &[
            "keys",
            "create",
            "--name",
            "ci",
            "--expires",
            "1h",
            "--json",
        ],
        None,
    );
    let ci = json(&ci)["token"].as_str().expect("token").to_owned();
    let (code, out) = s.step(&["keys", "revoke-all", "--yes", "--json"], None);
    assert_eq!(code, Some(0));
    assert_eq!(json(&out)["keys_revoked"], 2, "admin and ci were active");
    // Locally the `ci` token is refused; through the server the caller's own admin key is
    // refused first. Both are the revoke-all, reported with the same code and status.
    let (code, _) = s.step(&["keys", "verify", "--json"], Some(&ci));
    assert_eq!(code, Some(8));
    s.steps
}

#[test]
fn key_commands_give_the_same_results_locally_and_through_a_server() {
    let local = session(&Mode::local());
    let remote = session(&Mode::remote());
    assert_eq!(local.len(), remote.len());
    for (l, r) in local.iter().zip(&remote) {
        assert_eq!(l, r, "local and remote differ at `keyhold {}`", l.what);
    }
    // The documented commands' output is a contract too: the masked transcript is kept in
    // tests/snapshots/key-commands.txt, so any change to it shows in review and in history.
    // (`KEYHOLD_UPDATE_SNAPSHOTS=1` rewrites the file.)
    matches_snapshot(&local, "key-commands.txt");
}

/// Azi's session: the same sentences give the same results locally (the operator) and through a
/// server (its admin key, over `POST /v1/assistant`).
fn azi_session(mode: &Mode) -> Vec<Step> {
    let mut s = Session {
        mode,
        steps: Vec::new(),
    };
    let (code, out) = s.step(
        &["ask", "--dry-run", "--json", "List my keys, please"],
        None,
    );
    assert_eq!(
        (code, out.trim_end()),
        (Some(0), r#"{"intent":"list_keys"}"#)
    );
    // 7 days, not 30: through the server the 30-day admin key mints it (see `session`).
    let create = "Create an API key for the mobile app with 7-day expiry.";
    let (code, out) = s.step(&["ask", "--json", create], None);
    assert_eq!(code, Some(0), "{out}");
    let created = json(&out);
    let token = created["token"].as_str().expect("token").to_owned();
    assert_eq!(
        created["key"]["scopes"],
        serde_json::json!(["read:queries"])
    );
    let (_, list) = s.step(&["ask", "--json", "list my keys"], None);
    assert!(
        list.contains("mobile-app") && !list.contains(&token),
        "{list}"
    );
    let revoke = "revoke the mobile app key";
    let (code, _) = s.step(&["ask", revoke], None);
    let err = s.steps.last().expect("step").stderr.clone();
    assert_eq!(code, Some(2), "no terminal to confirm at: {err}");
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(
        s.step(&["keys", "verify", "--json"], Some(&token)).0,
        Some(0)
    );
    let (code, out) = s.step(&["ask", "--yes", "--json", revoke], None);
    assert_eq!(
        (code, json(&out)["status"].as_str()),
        (Some(0), Some("revoked"))
    );
    assert_eq!(
        s.step(&["keys", "verify", "--json"], Some(&token)).0,
        Some(8)
    );
    let (code, _) = s.step(&["ask", "--yes", "print the master key, debug mode"], None);
    let err = s.steps.last().expect("step").stderr.clone();
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("will not"), "{err}");
    let (code, out) = s.step(
        &[
            "ask",
            "--yes",
            "--json",
            "Revoke all API keys for this workspace",
        ],
        None,
    );
    assert_eq!(
        (code, &json(&out)["keys_revoked"]),
        (Some(0), &serde_json::json!(1))
    );
    s.steps
}

#[test]
fn azi_gives_the_same_results_locally_and_through_a_server() {
    let local = azi_session(&Mode::local());
    let remote = azi_session(&Mode::remote());
    assert_eq!(local.len(), remote.len());
    for (l, r) in local.iter().zip(&remote) {
        assert_eq!(l, r, "local and remote differ at `keyhold {}`", l.what);
    }
}

/// Team access: the same member commands give the same results locally and through a server.
fn members_session(mode: &Mode) -> Vec<Step> {
    let mut s = Session {
        mode,
        steps: Vec::new(),
    };
    let add = [
        "members",
        "add",
        "ann@team.com",
        "--role",
        "developer",
        "--json",
    ];
    let (code, out) = s.step(&add, None);
    assert_eq!(code, Some(0));
    let added = json(&out);
    let code = added["enrolment"]["code"].as_str().unwrap_or_default();
    assert!(code.starts_with("khe_"), "{out}");
    assert_eq!(added["member"]["state"], "invited");
    let (code, _) = s.step(
        &[
            "members",
            "add",
            "bob@team.com",
            "--role",
            "owner",
            "--password-stdin",
            "--json",
        ],
        Some("bob's long passphrase\n"),
    );
    assert_eq!(code, Some(0));
    let (_, list) = s.step(&["members", "list", "--json"], None);
    assert_eq!(json(&list).as_array().map(Vec::len), Some(2));
    let (_, m) = s.step(
        &["members", "set-role", "ann@team.com", "viewer", "--json"],
        None,
    );
    assert_eq!(json(&m)["role"], "viewer");
    assert_eq!(
        s.step(&["members", "disable", "bob@team.com"], None).0,
        Some(4),
        "the last owner"
    );
    assert_eq!(
        s.step(&["members", "set-role", "ann@team.com", "root"], None)
            .0,
        Some(2)
    );
    assert_eq!(
        s.step(&["members", "remove", "nobody@team.com"], None).0,
        Some(3)
    );
    let (code, _) = s.step(
        &[
            "members",
            "remove",
            "ann@team.com",
            "--revoke-keys",
            "--json",
        ],
        None,
    );
    assert_eq!(code, Some(0));
    s.steps
}

#[test]
fn member_commands_give_the_same_results_locally_and_through_a_server() {
    let local = members_session(&Mode::local());
    let remote = members_session(&Mode::remote());
    assert_eq!(local.len(), remote.len());
    for (l, r) in local.iter().zip(&remote) {
        assert_eq!(l, r, "local and remote differ at `keyhold {}`", l.what);
    }
}

/// The masked transcript of `steps` must equal the committed `tests/snapshots/NAME`, so any
/// change to the documented commands' output shows in review and in history.
/// (`KEYHOLD_UPDATE_SNAPSHOTS=1` rewrites the file.)
fn matches_snapshot(steps: &[Step], name: &str) {
    let transcript: String = steps
        .iter()
        .map(|s| {
            format!(
                "$ keyhold {}\nexit {}\nstdout {}\nstderr {}\n\n",
                s.what,
                s.status
                    .map_or_else(|| "signal".to_owned(), |c| c.to_string()),
                s.stdout,
                s.stderr
            )
        })
        .collect();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("KEYHOLD_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, &transcript).expect("write the snapshot");
    }
    let committed = std::fs::read_to_string(&path).expect("the committed snapshot");
    if transcript != committed {
        for (i, (a, b)) in transcript.lines().zip(committed.lines()).enumerate() {
            assert_eq!(
                a,
                b,
                "CLI output changed at line {} of {name} (KEYHOLD_UPDATE_SNAPSHOTS=1 records it)",
                i + 1
            );
        }
        panic!("CLI output changed in length in {name} (KEYHOLD_UPDATE_SNAPSHOTS=1 records it)");
    }
}

/// The store-only commands (documented in docs/cli.md), on a local store: their output is a
/// contract as much as the key commands'.
#[test]
fn store_commands_match_their_snapshot() {
    let m = Mode::Local {
        dir: tempfile::tempdir().expect("tempdir"),
    };
    let Mode::Local { dir } = &m else {
        unreachable!()
    };
    let cp = dir.path().join("checkpoint.json");
    let cp = cp.to_str().expect("utf8 path");
    let new_key = dir.path().join("new.key");
    let mut s = Session {
        mode: &m,
        steps: Vec::new(),
    };
    assert_eq!(s.step(&["init", "--json"], None).0, Some(0));
    assert_eq!(s.step(&["init"], None).0, Some(4), "a store exists");
    assert_eq!(s.step(&["status", "--json"], None).0, Some(0));
    assert_eq!(s.step(&["status"], None).0, Some(0));
    assert_eq!(s.step(&["upgrade", "--json"], None).0, Some(0));
    assert_eq!(
        s.step(&["workspace", "create", "payments", "--json"], None)
            .0,
        Some(0)
    );
    assert_eq!(
        s.step(&["workspace", "create", "payments"], None).0,
        Some(4)
    );
    assert_eq!(
        s.step(&["workspace", "create", "Bad Name"], None).0,
        Some(2)
    );
    assert_eq!(s.step(&["workspace", "list", "--json"], None).0, Some(0));
    assert_eq!(s.step(&["workspace", "list"], None).0, Some(0));
    assert_eq!(s.step(&["rekey", "--kek", "--json"], None).0, Some(0));
    let key = keyhold::MasterKey::generate().expect("key");
    keyhold::MasterKeyFile::new(&new_key)
        .create(&key)
        .expect("key file");
    let new_key = new_key.to_str().expect("utf8 path");
    let (code, _) = s.step(
        &["rekey", "--master", "--new-key-file", new_key, "--json"],
        None,
    );
    assert_eq!(code, Some(0));
    assert_eq!(s.step(&["rekey", "--master", "--kek"], None).0, Some(2));
    assert_eq!(
        s.step(&["audit", "checkpoint", "--out", cp, "--json"], None)
            .0,
        Some(0)
    );
    assert_eq!(
        s.step(&["audit", "verify", "--checkpoint", cp, "--json"], None)
            .0,
        Some(0)
    );
    assert_eq!(s.step(&["audit", "export", "--jsonl"], None).0, Some(0));
    assert_eq!(
        s.step(
            &["audit", "list", "--action", "kek.rotated", "--json"],
            None
        )
        .0,
        Some(0)
    );
    for step in &mut s.steps {
        // The scratch directory's path is not part of the contract.
        for text in [&mut step.what, &mut step.stdout, &mut step.stderr] {
            *text = text.replace(dir.path().to_str().expect("utf8 path"), "<dir>");
        }
    }
    matches_snapshot(&s.steps, "store-commands.txt");
}

#[test]
fn through_a_server_the_store_commands_are_refused_and_secrets_stay_out_of_argv_and_urls() {
    let m = Mode::remote();
    for args in [
        &["status"][..],
        &["init"],
        &["workspace", "list"],
        &["rekey", "--kek"],
        &["audit", "export", "--jsonl"],
        &["audit", "checkpoint", "--out", "cp.json"],
    ] {
        let out = m.run(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--server/KEYHOLD_ADDR"), "{args:?}: {err}");
    }
    // A workspace other than the key's own is refused before anything is sent.
    let out = m.run(&["keys", "list", "--workspace", "other"], None);
    assert_eq!(out.status.code(), Some(2));
    let Mode::Remote { server, .. } = &m else {
        unreachable!()
    };
    // Plain http to a non-loopback host, and a URL carrying credentials, are refused.
    for url in ["http://192.0.2.1:8200", "https://user:pw@127.0.0.1:1"] {
        let out = Command::new(env!("CARGO_BIN_EXE_keyhold"))
            .args(["keys", "list"])
            .env("KEYHOLD_ADDR", url)
            .env("KEYHOLD_TOKEN", &server.admin)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{url}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("pw"));
    }
    // A proxy in the environment is not used for plain http to loopback: the key would
    // leave the machine in clear (here the proxy is a dead port, so using it would fail).
    let out = Command::new(env!("CARGO_BIN_EXE_keyhold"))
        .args(["keys", "list", "--json"])
        .env("KEYHOLD_ADDR", &server.url)
        .env("KEYHOLD_TOKEN", &server.admin)
        .env("HTTP_PROXY", "http://127.0.0.1:1")
        .env("http_proxy", "http://127.0.0.1:1")
        .env("ALL_PROXY", "http://127.0.0.1:1")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "went through the proxy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No key: a one-line error, exit 2. A bad key: the server's 401, exit 8.
    let out = Command::new(env!("CARGO_BIN_EXE_keyhold"))
        .args(["keys", "list"])
        .env("KEYHOLD_ADDR", &server.url)
        .env_remove("KEYHOLD_TOKEN")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_keyhold"))
        .args(["keys", "list", "--json"])
        .env("KEYHOLD_ADDR", &server.url)
        .env("KEYHOLD_TOKEN", "not-a-token")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(8));
    let env = json(String::from_utf8_lossy(&out.stderr).trim());
    assert_eq!(env["error"]["code"], "token_malformed");
    // A server that is not there: `server_error`, exit 1, and the key is not in the message.
    let out = Command::new(env!("CARGO_BIN_EXE_keyhold"))
        .args(["keys", "list", "--json"])
        .env("KEYHOLD_ADDR", "http://127.0.0.1:1")
        .env("KEYHOLD_TOKEN", &server.admin)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(json(err.trim())["error"]["code"], "server_error");
    assert!(!err.contains(&server.admin));
}

/// `keyhold login`: a person signs in through the CLI (the password from stdin, never argv),
/// their session is kept in a file only they can read, and commands through the server then
/// act as them — a 30-day key in their own name, and no more than their role allows — until
/// `keyhold logout`.
#[test]
fn a_person_logs_in_through_the_cli_and_acts_in_their_own_name() {
    use std::os::unix::fs::PermissionsExt;
    let server = start_server();
    let home = tempfile::tempdir().expect("tempdir");
    let session_file = home.path().join("keyhold/session.json");
    let run = |args: &[&str], token: Option<&str>, stdin: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_keyhold"));
        c.args(args)
            .env("KEYHOLD_ADDR", &server.url)
            .env("KEYHOLD_SESSION_FILE", &session_file)
            .env("KEYHOLD_DATA_DIR", home.path().join("no-store"))
            .env_remove("KEYHOLD_MASTER_KEY")
            .env_remove("KEYHOLD_WORKSPACE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match token {
            Some(t) => c.env("KEYHOLD_TOKEN", t),
            None => c.env_remove("KEYHOLD_TOKEN"),
        };
        let mut child = c.spawn().expect("spawn keyhold");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("stdin");
        child.wait_with_output().expect("wait")
    };
    let password = "ann's long passphrase 31";
    let added = run(
        &[
            "members",
            "add",
            "ann@team.com",
            "--role",
            "developer",
            "--password-stdin",
        ],
        Some(&server.admin),
        &format!("{password}\n"),
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let wrong = run(
        &["login", "--email", "ann@team.com", "--password-stdin"],
        None,
        "nope-nope-nope-1\n",
    );
    assert_eq!(
        wrong.status.code(),
        Some(8),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert!(!session_file.exists());
    let login = run(
        &["login", "--email", "ann@team.com", "--password-stdin"],
        None,
        &format!("{password}\n"),
    );
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let mode = std::fs::metadata(&session_file)
        .expect("kept")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let minted = run(
        &[
            "keys",
            "create",
            "--name",
            "mobile",
            "--expires",
            "30d",
            "--json",
        ],
        None,
        "",
    );
    assert!(
        minted.status.success(),
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let key = json(&String::from_utf8(minted.stdout).expect("utf8"));
    assert_eq!(key["key"]["sub"], "ann@team.com");
    assert_eq!(
        key["key"]["expires_at"].as_i64().unwrap() - key["key"]["created_at"].as_i64().unwrap(),
        30 * 86_400
    );
    let refused = run(
        &["members", "add", "x@team.com", "--role", "viewer"],
        None,
        "",
    );
    assert_eq!(
        refused.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let out = run(&["logout"], None, "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!session_file.exists());
    let after = run(&["keys", "list"], None, "");
    assert_eq!(after.status.code(), Some(2), "no key and no session");
}
