//! Audit-log benchmarks on real SQLite stores (harness: plain `main`, prints ratios):
//!
//! 1. verification throughput with 32 concurrent callers, with durable use records (group
//!    commit, `synchronous=FULL`) vs with use recording off — target ≥ 80%;
//! 2. `verify_audit` over 1,000,000 stored rows — target ≥ 1,000,000 rows/s — next to a bare
//!    scan of the same rows (the floor any verifier pays to read them).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keyhold::{Caller, ExpiryPreset, KeySource, Keyhold, MintRequest, Scope};

const CALLERS: usize = 32;

fn store(dir: &std::path::Path) -> (Keyhold, Vec<String>) {
    let (kh, _) = Keyhold::init(dir, KeySource::default_file(dir)).expect("init");
    let tokens = (0..8)
        .map(|i| {
            let req = MintRequest {
                workspace: "default".into(),
                name: format!("k{i}"),
                expires: ExpiryPreset::OneDay,
                scopes: Some([Scope::ReadQueries].into_iter().collect()),
                sub: None,
            };
            kh.mint_key(&Caller::operator(), &req)
                .expect("mint")
                .token
                .expose()
                .to_owned()
        })
        .collect();
    (kh, tokens)
}

/// Verifications per second from `CALLERS` threads during `secs`.
fn rate(kh: &Keyhold, tokens: &[String], secs: f64) -> f64 {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..CALLERS {
            let (stop, done) = (&stop, &done);
            s.spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    kh.verify_token(&tokens[(t + n) % tokens.len()], None)
                        .expect("valid");
                    n += 1;
                }
                done.fetch_add(n as u64, Ordering::Relaxed);
            });
        }
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
    });
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (kh, tokens) = store(&tmp.path().join("uses"));
    if let Ok(mode) = std::env::var("KEYHOLD_BENCH_PROBE") {
        // Diagnostics: one mode for 5 s, to be run under `time`/`perf`.
        kh.set_verify_cache_capacity(0);
        kh.record_key_uses(mode == "durable");
        let secs = std::env::var("KEYHOLD_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5.0);
        println!("{mode}: {:.0}/s", rate(&kh, &tokens, secs));
        return;
    }
    println!("1. verifications/s with {CALLERS} concurrent callers (alternating rounds, medians):");
    for (label, cache) in [
        ("full verification (cache off)", 0),
        ("repeated tokens (cache on)", keyhold::VERIFY_CACHE_CAPACITY),
    ] {
        kh.set_verify_cache_capacity(cache);
        let (mut on, mut off, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..5 {
            kh.record_key_uses(false);
            let without = rate(&kh, &tokens, 1.0);
            kh.record_key_uses(true);
            let with = rate(&kh, &tokens, 1.0);
            off.push(without);
            on.push(with);
            ratio.push(with / without);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "   {label:<32} without records {:>9.0}/s, durable records {:>9.0}/s, ratio {:.3}",
            median(&mut off),
            median(&mut on),
            median(&mut ratio)
        );
    }

    if std::env::var_os("KEYHOLD_BENCH_SKIP_MILLION").is_some() {
        return;
    }
    // 2. One million rows, written the way production writes them: durable key.used records
    //    from concurrent verifications (cache on, so this takes seconds, not minutes).
    let (big, big_tokens) = store(&tmp.path().join("million"));
    let t = Instant::now();
    let stop = AtomicBool::new(false);
    let written = AtomicU64::new(0);
    std::thread::scope(|s| {
        for th in 0..CALLERS {
            let (stop, written, big, big_tokens) = (&stop, &written, &big, &big_tokens);
            s.spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    big.verify_token(&big_tokens[(th + n) % big_tokens.len()], None)
                        .expect("valid");
                    n += 1;
                    if written.fetch_add(1, Ordering::Relaxed) + 1 >= 1_000_000 {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    println!(
        "2. wrote {} rows through group commit in {:.1} s",
        written.load(Ordering::Relaxed),
        t.elapsed().as_secs_f64()
    );
    let _ = std::process::Command::new("sync").status();
    let db = tmp.path().join("million").join("keyhold.db");
    let mut verify_rates = Vec::new();
    let mut scan_rates = Vec::new();
    for _ in 0..3 {
        let conn = rusqlite::Connection::open(&db).expect("open");
        let t = Instant::now();
        let mut st = conn
            .prepare("SELECT seq, event, prev, hash FROM audit_log ORDER BY seq")
            .expect("prep");
        let mut rows = st.query([]).expect("q");
        let mut n = 0u64;
        let mut bytes = 0usize;
        while let Some(r) = rows.next().expect("row") {
            bytes += r.get_ref(1).expect("ev").as_blob().expect("blob").len();
            n += 1;
        }
        std::hint::black_box(bytes);
        scan_rates.push(n as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        let v = big.verify_audit(None).expect("verifies");
        verify_rates.push(v.rows as f64 / t.elapsed().as_secs_f64());
    }
    verify_rates.sort_by(f64::total_cmp);
    scan_rates.sort_by(f64::total_cmp);
    println!(
        "   verify_audit: {:.0} rows/s (median of 3); bare row scan of the same table: {:.0} rows/s; ratio {:.2}",
        verify_rates[1],
        scan_rates[1],
        verify_rates[1] / scan_rates[1]
    );
}
