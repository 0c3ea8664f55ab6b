//! Durability of use records under `kill -9`: 32 threads verify keys as fast as they can; the
//! process is killed after a varying number of reported verifications, 20 times. Afterwards
//! the chain must verify and every verification the process reported successful must have its
//! `key.used` row.
//!
//! The child is this same test binary, re-run on the `storm` test with an environment
//! variable; run on its own (`storm` without the variable) it checks the same property without
//! a crash.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // tests: a failed expectation is the report

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use keyhold::api::AuditQuery;
use keyhold::{Caller, ExpiryPreset, KeySource, Keyhold, MintRequest, Origin, Scope, Surface};

const CHILD: &str = "KEYHOLD_CRASH_CHILD_DIR";
const THREADS: usize = 32;

fn open(dir: &Path) -> Keyhold {
    Keyhold::open(dir, KeySource::default_file(dir)).expect("open")
}

fn setup(dir: &Path) {
    let (kh, _) = Keyhold::init(dir, KeySource::default_file(dir)).expect("init");
    let mut tokens = String::new();
    for i in 0..8 {
        let req = MintRequest {
            workspace: "default".into(),
            name: format!("k{i}"),
            expires: ExpiryPreset::OneHour,
            scopes: Some([Scope::ReadQueries].into_iter().collect()),
            sub: None,
        };
        tokens.push_str(
            kh.mint_key(&Caller::operator(), &req)
                .expect("mint")
                .token
                .expose(),
        );
        tokens.push('\n');
    }
    std::fs::write(dir.join("tokens.txt"), tokens).expect("tokens");
}

/// Verifies from `THREADS` threads until `done` counts `until` successes (or 20 s); prints
/// `OK <request id>` for every success, after `verify_token_from` returned (so after its row
/// is durable).
fn run_storm(dir: &Path, done: &AtomicUsize, until: usize) {
    let kh = open(dir);
    let tokens: Vec<String> = std::fs::read_to_string(dir.join("tokens.txt"))
        .expect("tokens")
        .lines()
        .map(str::to_owned)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (kh, tokens) = (&kh, &tokens);
            s.spawn(move || {
                let mut n = 0u64;
                while done.load(Ordering::Relaxed) < until && Instant::now() < deadline {
                    let origin = Origin {
                        surface: Surface::Http,
                        source: None,
                        request_id: format!("req_{t}_{n}"),
                    };
                    if kh
                        .verify_token_from(&tokens[(t + n as usize) % tokens.len()], None, &origin)
                        .is_ok()
                    {
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "OK {}", origin.request_id).expect("stdout");
                        out.flush().expect("flush");
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 1;
                }
            });
        }
    });
}

fn recorded(dir: &Path) -> HashSet<String> {
    let kh = open(dir);
    let v = kh
        .verify_audit(None)
        .expect("the chain verifies after the crash");
    assert!(v.rows > 0);
    kh.audit_entries(
        &Caller::operator(),
        &AuditQuery {
            action: Some("key.used".into()),
            ..AuditQuery::default()
        },
    )
    .expect("entries")
    .into_iter()
    .map(|e| e.request_id)
    .collect()
}

#[test]
fn storm() {
    if let Ok(dir) = std::env::var(CHILD) {
        // Child mode: run until killed.
        run_storm(Path::new(&dir), &AtomicUsize::new(0), usize::MAX);
        return;
    }
    // On its own: the same property without a crash, over a fixed amount of work rather than
    // a fixed time, which a loaded machine might spend opening the store.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    setup(&dir);
    let done = AtomicUsize::new(0);
    run_storm(&dir, &done, 2000);
    let done = done.into_inner();
    assert!(done >= 2000, "only {done} verifications in 20 s");
    let rows = recorded(&dir);
    assert!(
        rows.len() >= done,
        "{done} verifications succeeded, {} recorded",
        rows.len()
    );
}

#[test]
fn kill_9_during_32_concurrent_verifiers_loses_no_reported_use() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    setup(&dir);
    let exe = std::env::current_exe().expect("test binary");
    let mut total_reported = 0usize;
    for round in 0..20usize {
        // Kill points spread over 100..~5000 reported verifications, different every round:
        // counted, not timed, so every kill lands in the storm however slowly the child starts.
        let kill_after = 100 + (round * 7919) % 4900;
        let mut child = Command::new(&exe)
            .args(["--exact", "storm", "--nocapture", "--test-threads", "1"])
            .env(CHILD, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let seen = Arc::new(AtomicUsize::new(0));
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                    .filter_map(|l| l.strip_prefix("OK ").map(str::to_owned))
                    .inspect(|_| {
                        seen.fetch_add(1, Ordering::Relaxed);
                    })
                    .collect::<Vec<_>>()
            })
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while seen.load(Ordering::Relaxed) < kill_after {
            assert!(
                child.try_wait().expect("try_wait").is_none(),
                "round {round}: the child stopped after {} of {kill_after} verifications",
                seen.load(Ordering::Relaxed)
            );
            assert!(
                Instant::now() < deadline,
                "round {round}: {} of {kill_after} verifications reported in 20 s",
                seen.load(Ordering::Relaxed)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        let reported = reader.join().expect("reader");
        let rows = recorded(&dir);
        let missing: Vec<_> = reported
            .iter()
            .filter(|r| !rows.contains(*r))
            .take(5)
            .collect();
        assert!(
            missing.is_empty(),
            "round {round}: verifications reported successful without a durable row: {missing:?}"
        );
        total_reported += reported.len();
    }
    assert!(
        total_reported > 100,
        "the children must have done real work ({total_reported} successes)"
    );
    println!("20 kills, {total_reported} reported verifications, all recorded");
}
