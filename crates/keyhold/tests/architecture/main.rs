//! Keeps docs/architecture.md true: its **Architecture Invariant** lines are checked here
//! against the code itself — the crate graph from `cargo metadata` and every source file parsed
//! with `syn` ([`rules`]). Each rule is also run on a fixture workspace that breaks it on
//! purpose, so a rule that stopped seeing its violation would fail here.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

mod rules;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rules::Violation;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/architecture")
}

/// Files and functions over the size budget that the code still carries; the list may only
/// shrink. A file or function that comes under budget must leave it (the test says so), and a
/// new one over budget fails.
const OVER_BUDGET: &[(&str, &str)] = &[];

fn shown(v: &[Violation]) -> String {
    v.iter()
        .map(|v| format!("\n  [{}] {}: {}", v.rule, v.place, v.what))
        .collect()
}

/// A size violation's key in [`OVER_BUDGET`]: its file and what is over (`file` or `fn NAME`).
fn budget_key(v: &Violation) -> (String, String) {
    let what = v.what.split(':').next().unwrap_or_default();
    (v.place.clone(), what.to_owned())
}

#[test]
fn main_keeps_every_rule() {
    let allowed: BTreeSet<(String, String)> = OVER_BUDGET
        .iter()
        .map(|(p, w)| ((*p).to_owned(), (*w).to_owned()))
        .collect();
    let all = rules::check(&root());
    let over: BTreeSet<(String, String)> = all
        .iter()
        .filter(|v| v.rule == "size")
        .map(budget_key)
        .collect();
    let broken: Vec<Violation> = all
        .into_iter()
        .filter(|v| v.rule != "size" || !allowed.contains(&budget_key(v)))
        .collect();
    assert!(
        broken.is_empty(),
        "architecture rules broken (size budget: {} lines a file, {} a function):{}",
        rules::MAX_FILE_LINES,
        rules::MAX_FN_LINES,
        shown(&broken)
    );
    let fixed: Vec<_> = allowed.difference(&over).collect();
    assert!(
        fixed.is_empty(),
        "now under budget; remove from OVER_BUDGET: {fixed:?}"
    );
}

/// The facade's share of the library's code lines stays below this many percent, a ceiling
/// that only ever comes down. The facade authorises, performs and records; rules and
/// mechanisms live in the crate that owns their subject.
const FACADE_SHARE_CEILING: usize = 21;

#[test]
fn the_facade_stays_thin() {
    let root = root();
    let lines = rules::library_lines(&root, &rules::workspace(&root));
    let total: usize = lines.values().sum();
    let facade = lines["keyhold"];
    let share = facade as f64 * 100.0 / total as f64;
    assert!(
        facade * 100 < FACADE_SHARE_CEILING * total,
        "the facade holds {share:.1}% of the library's code lines ({facade} of {total}), \
         not below {FACADE_SHARE_CEILING}%: {lines:?}"
    );
    assert!(
        facade * 100 >= (FACADE_SHARE_CEILING - 1) * total,
        "the facade is down to {share:.1}% ({facade} of {total}): lower FACADE_SHARE_CEILING"
    );
}

/// Every rule sees its violation in the fixture workspace, and nothing else is reported there.
#[test]
fn each_rule_catches_its_deliberate_violation() {
    let found: Vec<(String, String, String)> = rules::check(&fixture())
        .into_iter()
        .map(|v| (v.rule.to_owned(), v.place, v.what))
        .collect();
    let expected: Vec<(String, String, String)> = EXPECTED_IN_FIXTURE
        .iter()
        .map(|(r, p, w)| ((*r).to_owned(), (*p).to_owned(), (*w).to_owned()))
        .collect();
    let missing: Vec<_> = expected.iter().filter(|e| !found.contains(e)).collect();
    let extra: Vec<_> = found.iter().filter(|f| !expected.contains(f)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missed: {missing:#?}\nunexpected: {extra:#?}"
    );
}

const AUDIT: &str = "crates/keyhold-audit/src/lib.rs";
const TOKEN: &str = "crates/keyhold-token/src/lib.rs";
const FACADE: &str = "crates/keyhold/src/lib.rs";

const EXPECTED_IN_FIXTURE: &[(&str, &str, &str)] = &[
    // The graph.
    (
        "binaries-use-only-the-facade",
        "keyhold-cli",
        "depends on keyhold-store",
    ),
    ("standalone", "keyhold-crypto", "depends on keyhold-token"),
    (
        "nothing-depends-on-a-binary",
        "keyhold-token",
        "depends on keyhold-cli",
    ),
    ("allowed-deps", "keyhold-token", "depends on keyhold-cli"),
    ("allowed-deps", "keyhold-audit", "depends on keyhold-store"),
    ("allowed-deps", "keyhold-api", "depends on keyhold-token"),
    (
        "forbids-unsafe",
        "crates/keyhold-token/src/lib.rs",
        "no #![forbid(unsafe_code)]",
    ),
    // No I/O, however it is spelled.
    ("no-io", AUDIT, "names std::fs"),
    ("no-io", AUDIT, "names std::env"),
    ("no-io", AUDIT, "names std::net::TcpStream"),
    ("no-io", AUDIT, "names std::io::stdin"),
    ("no-io", AUDIT, "names std::time::SystemTime"),
    ("no-io", AUDIT, "names std::time::Instant::now"),
    ("no-io", AUDIT, "names std::process"),
    ("no-io", AUDIT, "uses println!"),
    ("no-io", TOKEN, "names rusqlite"),
    ("no-io", TOKEN, "names keyhold_store"),
    ("no-io", TOKEN, "names std::thread::available_parallelism"),
    // Primitives come from keyhold-crypto only.
    ("primitives-from-crypto", TOKEN, "names ring"),
    // The facade hands on no lower type.
    (
        "facade-hands-on-no-lower-type",
        FACADE,
        "pub use keyhold_store::AuditFilter",
    ),
    (
        "facade-hands-on-no-lower-type",
        FACADE,
        "pub use keyhold_token::TokenError",
    ),
    (
        "facade-hands-on-no-lower-type",
        FACADE,
        "pub use keyhold_store::*",
    ),
    (
        "facade-hands-on-no-lower-type",
        FACADE,
        "pub use keyhold_store::tx::Tx",
    ),
    (
        "facade-hands-on-no-lower-type",
        FACADE,
        "pub type Filter = keyhold_store::AuditFilter",
    ),
    (
        "facade-hands-on-no-lower-type",
        FACADE,
        "pub use keyhold_token",
    ),
    // Sizes.
    ("size", "crates/keyhold/src/big.rs", "file: 502 lines"),
    ("size", "crates/keyhold/src/big.rs", "fn long: 82 lines"),
];

#[test]
fn every_crate_inherits_the_workspace_lints() {
    for (name, p) in rules::workspace(&root()) {
        let manifest = std::fs::read_to_string(p.dir.join("Cargo.toml")).expect("manifest");
        assert!(
            manifest.contains("[lints]\nworkspace = true"),
            "{name} must inherit [workspace.lints]"
        );
    }
    let root_manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("root manifest");
    assert!(root_manifest.contains("unsafe_code = \"forbid\""));
    assert!(root_manifest.contains("unwrap_used = \"deny\""));
}

#[test]
fn the_map_names_every_crate() {
    let map =
        std::fs::read_to_string(root().join("docs/architecture.md")).expect("docs/architecture.md");
    let root = root();
    for (name, p) in rules::workspace(&root) {
        let rel = p
            .dir
            .strip_prefix(&root)
            .expect("in workspace")
            .display()
            .to_string();
        assert!(
            map.contains(&format!("`{rel}`")),
            "docs/architecture.md has no entry for {name} (`{rel}`)"
        );
    }
    assert!(map.contains("**Architecture Invariant**"));
}
