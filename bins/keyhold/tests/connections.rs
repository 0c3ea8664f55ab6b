//! `keyhold connections …` and `keyhold run` as a user runs them: real processes on a real
//! store, against the throwaway PostgreSQL of the test command (`KEYHOLD_TEST_PG_*`), locally
//! and through a running `keyhold-server`. Rotations killed at each durable boundary
//! (`KEYHOLD_FAULT_POINT`, debug builds) must resume; concurrent rotations must leave one
//! active slot; no credential may show up where it must not.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

#[path = "../../../crates/keyhold-connect/tests/common/mod.rs"]
mod pg;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use keyhold::{Caller, KeySource, Keyhold, SecretBytes};
use pg::Role;

/// A store of its own, and everything its commands printed (for the canary scans).
struct Cli {
    dir: tempfile::TempDir,
    transcript: Mutex<Vec<u8>>,
}

impl Cli {
    /// `keyhold init` on a fresh data directory.
    fn new() -> Self {
        let cli = Self {
            dir: tempfile::tempdir().expect("tempdir"),
            transcript: Mutex::new(Vec::new()),
        };
        cli.ok(&["init"], None);
        cli
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `keyhold ARGS` on this store, as the operator (no server, no token, no key in env).
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_keyhold"));
        c.args(args)
            .env("KEYHOLD_DATA_DIR", self.data())
            .env_remove("KEYHOLD_ADDR")
            .env_remove("KEYHOLD_TOKEN")
            .env_remove("KEYHOLD_MASTER_KEY")
            .env_remove("KEYHOLD_MASTER_KEY_FILE")
            .env_remove("KEYHOLD_WORKSPACE")
            .env_remove("KEYHOLD_FAULT_POINT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs `c` to its end, `input` on its stdin (or nothing), and records what it printed.
    fn finish(&self, mut c: Command, input: Option<&[u8]>) -> Output {
        if input.is_some() {
            c.stdin(Stdio::piped());
        }
        let mut child = c.spawn().expect("spawn keyhold");
        if let Some(bytes) = input {
            child.stdin.take().expect("stdin").write_all(bytes).unwrap();
        }
        let out = child.wait_with_output().expect("wait");
        self.record(&out);
        out
    }

    fn record(&self, out: &Output) {
        let mut t = self.transcript.lock().unwrap();
        t.extend_from_slice(&out.stdout);
        t.extend_from_slice(&out.stderr);
    }

    fn run(&self, args: &[&str], input: Option<&[u8]>) -> Output {
        self.finish(self.cmd(args), input)
    }

    fn ok(&self, args: &[&str], input: Option<&[u8]>) -> String {
        let out = self.run(args, input);
        assert!(
            out.status.success(),
            "keyhold {args:?} failed ({:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }

    fn library(&self) -> Keyhold {
        Keyhold::open(self.data(), KeySource::default_file(self.data())).expect("open")
    }

    /// `show NAME --json`.
    fn show(&self, name: &str) -> serde_json::Value {
        json(&self.ok(&["connections", "show", name, "--json"], None))
    }

    /// The active credential as the library reads it: (user, password).
    fn active(&self, name: &str) -> (String, String) {
        let c = self
            .library()
            .active_credential(&Caller::operator(), "default", name)
            .expect("an active credential");
        (c.user.expect("a login"), c.password.expose().to_owned())
    }

    fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.transcript.lock().unwrap()).into_owned()
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

/// The code of a `--json` error envelope on stderr; the status must not be success.
fn code(out: &Output) -> String {
    assert!(!out.status.success(), "expected a refusal: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    json(err.trim_end())["error"]["code"]
        .as_str()
        .expect("a code")
        .to_owned()
}

/// Whether `user` logs in with `password` and runs `SELECT 1`.
fn logs_in(user: &str, password: &str) -> bool {
    let (host, port, _, _) = pg::admin();
    postgres::Config::new()
        .host(&host)
        .port(port)
        .dbname("postgres")
        .user(user)
        .password(password)
        .connect_timeout(Duration::from_secs(5))
        .connect(postgres::NoTls)
        .and_then(|mut c| c.simple_query("SELECT 1"))
        .is_ok()
}

/// Two roles with known passwords.
struct Roles {
    a: Role,
    b: Role,
    pa: SecretBytes,
    pb: SecretBytes,
}

fn roles() -> Roles {
    let (pa, pb) = (pg::canary(), pg::canary());
    Roles {
        a: Role::create(&pg::unique(), &pa, ""),
        b: Role::create(&pg::unique(), &pb, ""),
        pa,
        pb,
    }
}

/// `connections create NAME` for the two roles; with the superuser as admin login if `admin`.
fn create(cli: &Cli, name: &str, r: &Roles, grace: &str, admin: bool) {
    let (host, port, user, password) = pg::admin();
    let port = port.to_string();
    let mut args = vec![
        "connections",
        "create",
        name,
        "--kind",
        "postgres",
        "--host",
        &host,
        "--port",
        &port,
        "--database",
        "postgres",
        "--primary-user",
        &r.a.name,
        "--secondary-user",
        &r.b.name,
        "--grace",
        grace,
    ];
    let input = format!("{}\n", pg::text(&password));
    if admin {
        args.extend(["--admin-user", &user, "--admin-password-stdin"]);
        cli.ok(&args, Some(input.as_bytes()));
    } else {
        cli.ok(&args, None);
    }
}

fn stage(cli: &Cli, name: &str, slot: &str, password: &str) {
    let input = format!("{password}\n");
    cli.ok(
        &[
            "connections",
            "update-credentials",
            name,
            "--slot",
            slot,
            "--password-stdin",
        ],
        Some(input.as_bytes()),
    );
}

/// A connection whose primary (role a) is saved and whose secondary (role b) is staged with
/// its real password.
fn ready(cli: &Cli, name: &str, r: &Roles, grace: &str, admin: bool) {
    create(cli, name, r, grace, admin);
    stage(cli, name, "primary", &pg::text(&r.pa));
    cli.ok(&["connections", "test", name, "--slot", "primary"], None);
    cli.ok(&["connections", "save", name, "--slot", "primary"], None);
    stage(cli, name, "secondary", &pg::text(&r.pb));
}

/// What `keyhold run --connection NAME` gives its command, as the command saw it:
/// `PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD KEYHOLD_TOKEN KEYHOLD_MASTER_KEY`, the last
/// two `<unset>` when absent. `c` is the `keyhold` command without its arguments.
fn child_env(cli: &Cli, mut c: Command, name: &str) -> Vec<String> {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let file = out_dir.path().join("env");
    c.args(["run", "--connection", name, "--", "sh", "-c"])
        .arg(
            r#"printf '%s\n' "$PGHOST" "$PGPORT" "$PGDATABASE" "$PGUSER" "$PGPASSWORD" \
                "${KEYHOLD_TOKEN-<unset>}" "${KEYHOLD_MASTER_KEY-<unset>}" > "$OUT""#,
        )
        .env("OUT", &file);
    let out = cli.finish(c, None);
    assert!(
        out.status.success(),
        "run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "keyhold printed on stdout: {out:?}");
    let text = std::fs::read_to_string(&file).expect("the command wrote its environment");
    text.lines().map(str::to_owned).collect()
}

/// The (user, password) `run` hands its command, checked to be the test server's address.
fn run_credential(cli: &Cli, name: &str) -> (String, String) {
    let env = child_env(cli, cli.cmd(&[]), name);
    let (host, port, _, _) = pg::admin();
    assert_eq!(env[0], host);
    assert_eq!(env[1], port.to_string());
    assert_eq!(env[2], "postgres");
    (env[3].clone(), env[4].clone())
}

#[test]
fn the_connections_commands_stage_test_save_show_list_and_delete() {
    let cli = Cli::new();
    let r = roles();
    create(&cli, "orders", &r, "1s", false);
    stage(&cli, "orders", "primary", &pg::text(&r.pa));
    let tested = json(&cli.ok(
        &[
            "connections",
            "test",
            "orders",
            "--slot",
            "primary",
            "--json",
        ],
        None,
    ));
    let primary = &tested["connection"]["slots"]["primary"];
    assert_eq!(primary["state"], "tested", "{tested}");
    assert!(primary["tested_at"].is_i64(), "{tested}");
    cli.ok(
        &["connections", "save", "orders", "--slot", "primary"],
        None,
    );

    let shown = cli.show("orders");
    assert_eq!(shown["name"], "orders");
    assert_eq!(shown["kind"], "postgres");
    assert_eq!(shown["active"], "primary");
    let allowed = [
        "user",
        "state",
        "version",
        "tested_at",
        "failure",
        "standby_until",
        "updated_at",
    ];
    for (slot, user, state) in [
        ("primary", &r.a.name, "active"),
        ("secondary", &r.b.name, "empty"),
    ] {
        let s = shown["slots"][slot].as_object().expect("a slot object");
        for key in ["user", "state", "version", "tested_at"] {
            assert!(s.contains_key(key), "{slot}.{key} missing: {shown}");
        }
        for key in s.keys() {
            assert!(allowed.contains(&key.as_str()), "{slot}.{key}: {shown}");
        }
        assert_eq!(s["user"], user.as_str());
        assert_eq!(s["state"], state);
    }
    assert_eq!(shown["slots"]["primary"]["version"], 1);
    let listed = json(&cli.ok(&["connections", "list", "--json"], None));
    assert_eq!(listed.as_array().expect("a list").len(), 1, "{listed}");
    assert_eq!(listed[0]["name"], "orders");
    assert!(cli.ok(&["connections", "list"], None).contains("orders"));

    // A wrong password in the secondary: its test fails, it cannot be saved, and the
    // primary keeps serving.
    let wrong = pg::canary();
    stage(&cli, "orders", "secondary", &pg::text(&wrong));
    let t = cli.run(
        &[
            "connections",
            "test",
            "orders",
            "--slot",
            "secondary",
            "--json",
        ],
        None,
    );
    assert_eq!(code(&t), "credential_rejected");
    assert_eq!(t.status.code(), Some(1));
    let t = cli.run(
        &["connections", "test", "orders", "--slot", "secondary"],
        None,
    );
    let err = String::from_utf8_lossy(&t.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
    assert!(err.starts_with("keyhold: error: "), "{err:?}");
    let s = cli.run(
        &[
            "connections",
            "save",
            "orders",
            "--slot",
            "secondary",
            "--json",
        ],
        None,
    );
    assert_eq!(code(&s), "rotation_not_tested");
    assert_eq!(s.status.code(), Some(4));
    assert_eq!(
        run_credential(&cli, "orders"),
        (r.a.name.clone(), pg::text(&r.pa))
    );

    // No --password-stdin and no terminal: refused, nothing staged.
    let out = cli.run(
        &[
            "connections",
            "update-credentials",
            "orders",
            "--slot",
            "secondary",
            "--json",
        ],
        Some(b"ignored\n"),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    code(&out);

    let out = cli.run(&["connections", "delete", "orders", "--json"], None);
    assert_eq!(code(&out), "invalid_input");
    assert_eq!(out.status.code(), Some(2));
    cli.show("orders");
    cli.ok(&["connections", "delete", "orders", "--yes"], None);
    let out = cli.run(&["connections", "show", "orders", "--json"], None);
    assert_eq!(code(&out), "connection_not_found");
    assert!(!cli.transcript().contains(&pg::text(&wrong)));
    assert!(!cli.transcript().contains(&pg::text(&r.pa)));
}

#[test]
fn run_hands_the_command_the_active_credential_only_and_returns_its_status() {
    let cli = Cli::new();
    let r = roles();
    ready(&cli, "orders", &r, "10m", false);
    let out = cli.run(
        &["run", "--connection", "orders", "--", "sh", "-c", "exit 7"],
        None,
    );
    assert_eq!(out.status.code(), Some(7));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");

    // Keyhold's own secrets in keyhold's environment do not reach the command.
    let key = std::fs::read_to_string(cli.data().join("master.key")).expect("key file");
    let mut c = cli.cmd(&[]);
    c.env("KEYHOLD_MASTER_KEY", key.trim())
        .env("KEYHOLD_TOKEN", "kh_not_a_real_token");
    let env = child_env(&cli, c, "orders");
    assert_eq!(env[5], "<unset>", "KEYHOLD_TOKEN reached the command");
    assert_eq!(env[6], "<unset>", "KEYHOLD_MASTER_KEY reached the command");
    assert_eq!(env[3], r.a.name);
    assert!(logs_in(&env[3], &env[4]));
    assert!(!cli.transcript().contains(&env[4]));
}

/// A `keyhold-server` on a fresh data directory, with the admin key its first start minted.
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
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_keyhold")).with_file_name("keyhold-server");
    assert!(
        bin.exists(),
        "build keyhold-server first: {}",
        bin.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(bin)
        .args(["--data-dir", dir.path().join("data").to_str().unwrap()])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "warn",
            "--allow-local-targets",
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

#[test]
fn run_through_a_server_needs_connections_use_and_no_master_key() {
    let server = start_server();
    // `cli` has no store: its data directory is never created.
    let cli = Cli {
        dir: tempfile::tempdir().expect("tempdir"),
        transcript: Mutex::new(Vec::new()),
    };
    let through = |args: &[&str], token: &str, input: Option<&[u8]>| {
        let mut c = cli.cmd(args);
        c.env("KEYHOLD_ADDR", &server.url)
            .env("KEYHOLD_TOKEN", token);
        cli.finish(c, input)
    };
    let r = roles();
    let (host, port, _, _) = pg::admin();
    let port = port.to_string();
    let create = [
        "connections",
        "create",
        "orders",
        "--kind",
        "postgres",
        "--host",
        &host,
        "--port",
        &port,
        "--database",
        "postgres",
        "--primary-user",
        &r.a.name,
        "--secondary-user",
        &r.b.name,
    ];
    let pa = format!("{}\n", pg::text(&r.pa));
    for (args, input) in [
        (&create[..], None),
        (
            &[
                "connections",
                "update-credentials",
                "orders",
                "--slot",
                "primary",
                "--password-stdin",
            ][..],
            Some(pa.as_bytes()),
        ),
        (
            &["connections", "test", "orders", "--slot", "primary"][..],
            None,
        ),
        (
            &["connections", "save", "orders", "--slot", "primary"][..],
            None,
        ),
    ] {
        let out = through(args, &server.admin, input);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    let mint = |name: &str, scope: &str| {
        let args = [
            "keys",
            "create",
            "--name",
            name,
            "--expires",
            "1h",
            "--scope",
            scope,
        ];
        let out = through(&args, &server.admin, None);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let user = mint("app", "connections:use");
    let reader = mint("viewer", "connections:read");

    // KEYHOLD_ADDR and the token, no master key: the command gets the primary.
    let mut c = cli.cmd(&[]);
    c.env("KEYHOLD_ADDR", &server.url)
        .env("KEYHOLD_TOKEN", &user);
    let env = child_env(&cli, c, "orders");
    assert_eq!(
        (env[3].as_str(), env[4].as_str()),
        (r.a.name.as_str(), &*pg::text(&r.pa))
    );
    assert_eq!(env[5], "<unset>", "KEYHOLD_TOKEN reached the command");
    assert!(logs_in(&env[3], &env[4]));
    // --server instead of KEYHOLD_ADDR.
    let mut c = cli.cmd(&["--server", &server.url]);
    c.env("KEYHOLD_TOKEN", &user);
    assert_eq!(child_env(&cli, c, "orders")[3], r.a.name);

    let out = through(
        &["run", "--connection", "orders", "--json", "--", "true"],
        &reader,
        None,
    );
    assert_eq!(code(&out), "insufficient_scope");
    assert!(out.stdout.is_empty());
    assert!(
        !cli.data().exists(),
        "a client through a server made a store"
    );
    assert!(!cli.transcript().contains(&pg::text(&r.pa)));
}

#[test]
fn rotate_by_the_cli_keeps_the_previous_credential_for_its_grace() {
    let cli = Cli::new();
    let r = roles();
    // No admin login: the secondary sets its next password with its own staged one.
    ready(&cli, "orders", &r, "10m", false);
    cli.ok(&["connections", "rotate", "orders"], None);
    let (user, new) = run_credential(&cli, "orders");
    assert_eq!(user, r.b.name);
    assert_ne!(new, pg::text(&r.pb));
    assert!(logs_in(&user, &new));
    assert!(
        !logs_in(&r.b.name, &pg::text(&r.pb)),
        "the old one was replaced"
    );
    assert!(
        logs_in(&r.a.name, &pg::text(&r.pa)),
        "the standby still logs in"
    );
    let shown = cli.show("orders");
    assert_eq!(shown["slots"]["primary"]["state"], "standby");
    assert!(
        shown["slots"]["primary"]["standby_until"].is_i64(),
        "{shown}"
    );

    let out = cli.run(&["connections", "rotate", "orders", "--json"], None);
    assert_eq!(code(&out), "rotation_grace_period");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(run_credential(&cli, "orders").1, new);
    cli.ok(&["connections", "rotate", "orders", "--force"], None);
    let (user2, newer) = run_credential(&cli, "orders");
    assert_eq!(user2, r.a.name);
    assert!(logs_in(&user2, &newer));
    assert!(logs_in(&user, &new), "the forced-out standby still logs in");
    assert!(!logs_in(&r.a.name, &pg::text(&r.pa)));
    cli.ok(&["audit", "verify"], None);
}

/// Every crash point of a rotation, in order.
const POINTS: [&str; 6] = [
    "regenerate_begun",
    "lease_taken",
    "target_set",
    "regeneration_confirmed",
    "tested",
    "saved",
];

/// After a rotation settled: one active slot, it logs in, the standby logs in with what it
/// had (role a's password), nothing half-done, and the audit chain holds.
fn assert_settled(cli: &Cli, r: &Roles, standby_password: Option<&str>) {
    let shown = cli.show("orders");
    let states: Vec<&str> = ["primary", "secondary"]
        .iter()
        .map(|s| shown["slots"][s]["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == "active").count(),
        1,
        "{shown}"
    );
    for s in &states {
        assert!(
            !["regenerating", "staged", "tested"].contains(s),
            "left half-done: {shown}"
        );
    }
    let (user, password) = run_credential(cli, "orders");
    assert_eq!((user.clone(), password.clone()), cli.active("orders"));
    assert!(logs_in(&user, &password), "the active credential: {shown}");
    if let Some(p) = standby_password {
        let standby = if user == r.a.name {
            &r.b.name
        } else {
            &r.a.name
        };
        assert!(logs_in(standby, p), "the standby's credential: {shown}");
    }
    cli.ok(&["audit", "verify"], None);
}

/// A rotation killed at `point`, then resumed: it must finish and leave store and target in
/// agreement — at once, even when the dead process held the connection's lease.
fn crash_and_resume(point: &str) {
    crash_and_resume_with(point, true);
}

/// [`crash_and_resume`], with an admin login if `admin`, else with the slot's own login
/// setting its next password.
fn crash_and_resume_with(point: &str, admin: bool) {
    let cli = Cli::new();
    let r = roles();
    ready(&cli, "orders", &r, "0s", admin);
    let mut c = cli.cmd(&["connections", "rotate", "orders", "--json"]);
    c.env("KEYHOLD_FAULT_POINT", point);
    let out = cli.finish(c, None);
    assert_eq!(out.status.code(), None, "{point}: did not abort: {out:?}");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(6),
        "{point}: SIGABRT"
    );
    // The dead process's lease is left behind where it died holding it.
    let lease: Option<String> = rusqlite::Connection::open(cli.data().join("keyhold.db"))
        .expect("open the store")
        .query_row("SELECT lease_owner FROM connections", [], |r| r.get(0))
        .expect("the connection's row");
    let holds = ["lease_taken", "target_set"].contains(&point);
    assert_eq!(lease.is_some(), holds, "{point}: lease {lease:?}");
    // The resume takes the dead holder's lease over at once and finishes.
    let out = cli.run(&["connections", "rotate", "orders", "--json"], None);
    assert!(
        out.status.success(),
        "{point}: the resume failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The point after the save crashed a finished rotation; the resume rotated again.
    let standby = if point == "saved" {
        None
    } else {
        Some(pg::text(&r.pa))
    };
    assert_settled(&cli, &r, standby.as_deref());
}

#[test]
fn a_rotation_killed_after_regenerate_begun_resumes() {
    crash_and_resume(POINTS[0]);
}

#[test]
fn a_rotation_killed_after_lease_taken_resumes() {
    crash_and_resume(POINTS[1]);
}

#[test]
fn a_rotation_killed_after_target_set_resumes() {
    crash_and_resume(POINTS[2]);
}

#[test]
fn a_rotation_killed_after_regeneration_confirmed_resumes() {
    crash_and_resume(POINTS[3]);
}

#[test]
fn a_rotation_killed_after_tested_resumes() {
    crash_and_resume(POINTS[4]);
}

#[test]
fn a_rotation_killed_after_saved_resumes() {
    crash_and_resume(POINTS[5]);
}

#[test]
fn a_rotation_without_an_admin_login_killed_after_target_set_resumes() {
    // The slot's login now has the new password, which the resume must use to go on.
    crash_and_resume_with("target_set", false);
}

#[test]
fn concurrent_rotations_leave_one_active_slot() {
    let cli = Cli::new();
    let r = roles();
    ready(&cli, "orders", &r, "0s", true);
    let allowed = [
        "rotation_in_progress",
        "rotation_version_mismatch",
        "rotation_grace_period",
    ];
    for round in 0..10 {
        let spawn = || {
            cli.cmd(&["connections", "rotate", "orders", "--json"])
                .spawn()
                .expect("spawn")
        };
        let (one, two) = (spawn(), spawn());
        for child in [one, two] {
            let out = child.wait_with_output().expect("wait");
            cli.record(&out);
            if !out.status.success() {
                let c = code(&out);
                assert!(allowed.contains(&c.as_str()), "round {round}: {out:?}");
            }
        }
        let shown = cli.show("orders");
        let active = ["primary", "secondary"]
            .iter()
            .filter(|s| shown["slots"][s]["state"] == "active")
            .count();
        assert_eq!(active, 1, "round {round}: {shown}");
        let half = ["primary", "secondary"].iter().any(|s| {
            ["regenerating", "staged", "tested"]
                .contains(&shown["slots"][s]["state"].as_str().unwrap())
        });
        assert!(
            !half,
            "round {round}: a rotation was left half-done: {shown}"
        );
        let (user, password) = cli.active("orders");
        assert!(logs_in(&user, &password), "round {round}");
    }
    assert_settled(&cli, &r, None);
}

/// Fails if `hay` holds any of `secrets`.
fn assert_absent(hay: &[u8], secrets: &[String], what: &str) {
    for s in secrets {
        let found = hay.windows(s.len()).any(|w| w == s.as_bytes());
        assert!(!found, "a credential ({}…) is in {what}", &s[..6]);
    }
}

/// Every `/proc/*/cmdline` readable now, one per line.
fn command_lines() -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) {
            all.extend_from_slice(&bytes);
            all.push(b'\n');
        }
    }
    all
}

#[test]
fn no_credential_is_printed_stored_in_clear_logged_or_put_in_argv() {
    let cli = Cli::new();
    let r = roles();
    let wrong = pg::text(&pg::canary());
    ready(&cli, "orders", &r, "0s", true);
    // A canary that fails its test, then rotations with generated passwords.
    stage(&cli, "orders", "secondary", &wrong);
    let t = cli.run(
        &["connections", "test", "orders", "--slot", "secondary"],
        None,
    );
    assert!(!t.status.success());
    let mut secrets = vec![wrong, pg::text(&r.pa), pg::text(&r.pb)];
    for _ in 0..3 {
        cli.ok(&["connections", "rotate", "orders"], None);
        cli.ok(&["connections", "show", "orders"], None);
        cli.ok(&["connections", "list", "--json"], None);
        secrets.push(cli.active("orders").1);
    }

    // While `run -- sleep 1` runs, no process's argv holds a credential.
    let mut child = cli
        .cmd(&["run", "--connection", "orders", "--", "sleep", "1"])
        .spawn()
        .expect("spawn");
    let (mut scans, mut saw_sleep) = (0, false);
    while child.try_wait().expect("wait").is_none() {
        let lines = command_lines();
        saw_sleep |= lines.split(|b| *b == b'\n').any(|l| l == b"sleep\x001\x00");
        assert_absent(&lines, &secrets, "/proc/*/cmdline");
        scans += 1;
    }
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{out:?}");
    cli.record(&out);
    assert!(saw_sleep, "the scans never saw the command ({scans} scans)");

    cli.ok(&["audit", "export", "--jsonl"], None);
    cli.ok(&["audit", "verify"], None);
    assert_absent(
        cli.transcript().as_bytes(),
        &secrets,
        "the commands' output",
    );
    for file in ["keyhold.db", "keyhold.db-wal", "keyhold.db-shm"] {
        if let Ok(bytes) = std::fs::read(cli.data().join(file)) {
            assert_absent(&bytes, &secrets, file);
        }
    }
    assert_absent(pg::server_log().as_bytes(), &secrets, "the server log");
}
