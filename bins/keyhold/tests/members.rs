//! `keyhold members`, run as an operator would on a local store: a person added with an
//! enrolment code enrols through standard input, is listed, given another role, disabled and
//! removed; a weak password is refused in one line; the code is shown once and kept nowhere.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        let cli = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        assert!(cli.run(&["init"], None).status.success());
        cli
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyhold"))
            .args(args)
            .env("KEYHOLD_DATA_DIR", self.dir.path().join("data"))
            .env_remove("KEYHOLD_MASTER_KEY")
            .env_remove("KEYHOLD_ADDR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run keyhold");
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args, None);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    }
}

#[test]
fn a_person_is_added_enrols_and_is_managed_by_role() {
    let cli = Cli::new();
    let added = cli.run(&["members", "add", "Ann@Team.com", "--role", "admin"], None);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let code = String::from_utf8(added.stdout).unwrap().trim().to_owned();
    assert!(code.starts_with("khe_"), "the code, shown once: {code}");
    assert!(String::from_utf8_lossy(&added.stderr).contains("invited"));
    let list = cli.json(&["members", "list", "--json"]);
    assert_eq!(
        (list[0]["email"].as_str(), list[0]["state"].as_str()),
        (Some("ann@team.com"), Some("invited"))
    );
    // A weak password is refused in one line, and the code is still good.
    let weak = cli.run(
        &["members", "enrol"],
        Some(&format!("{code}\npassword1234\n")),
    );
    assert_eq!(weak.status.code(), Some(2));
    let err = String::from_utf8_lossy(&weak.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("password rejected"), "{err}");
    let enrolled = cli.run(
        &["members", "enrol"],
        Some(&format!("{code}\nann's own long passphrase\n")),
    );
    assert!(
        enrolled.status.success(),
        "{}",
        String::from_utf8_lossy(&enrolled.stderr)
    );
    let replay = cli.run(
        &["members", "enrol"],
        Some(&format!("{code}\nsomebody else's passphrase\n")),
    );
    assert_eq!(replay.status.code(), Some(2), "a code works once");
    assert_eq!(
        cli.json(&["members", "show", "ann@team.com", "--json"])["state"],
        "active"
    );
    // Roles and states change; the last owner stays.
    cli.run(
        &[
            "members",
            "add",
            "bob@team.com",
            "--role",
            "owner",
            "--password-stdin",
        ],
        Some("bob's long passphrase\n"),
    );
    assert_eq!(
        cli.json(&["members", "set-role", "ann@team.com", "developer", "--json"])["role"],
        "developer"
    );
    assert_eq!(
        cli.json(&["members", "disable", "ann@team.com", "--json"])["state"],
        "disabled"
    );
    let last = cli.run(&["members", "disable", "bob@team.com"], None);
    assert_eq!(
        last.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    assert!(
        cli.run(
            &["members", "remove", "ann@team.com", "--revoke-keys"],
            None
        )
        .status
        .success()
    );
    let list = cli.json(&["members", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let policy = cli.json(&[
        "members",
        "policy",
        "--developer-scope",
        "read:queries",
        "--json",
    ]);
    assert_eq!(
        policy["developer_scopes"],
        serde_json::json!(["read:queries"])
    );
    // The code is nowhere in the store, and nothing was read from argv but names.
    let export = cli.run(&["audit", "export", "--jsonl"], None);
    assert!(!String::from_utf8_lossy(&export.stdout).contains(&code));
    let db = std::fs::read(cli.dir.path().join("data/keyhold.db")).unwrap();
    assert!(!db.windows(code.len()).any(|w| w == code.as_bytes()));
}
