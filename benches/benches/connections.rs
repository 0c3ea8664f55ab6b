//! A consumer's credential read against token verification, in one run, on a real SQLite
//! store (harness: plain `main`, prints ratios). Both are measured the way they run in
//! production: every call durably recorded in the audit log (group commit,
//! `synchronous=FULL`), from `CALLERS` threads:
//!
//! - `active_credential`: read and check the connection's row, decrypt its active credential
//!   (XChaCha20-Poly1305 under its data key), record `credential.read`;
//! - the verify pipeline with the cache off (signature, claims, the key's standing, `key.used`);
//! - the verify pipeline with the cache on (a repeated token).
//!
//! The connection is `generic` (saved with an acknowledgement), so no target is involved: what
//! is measured is keyhold's own cost. Over HTTP, see `benches/load/run.sh`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keyhold::api::{ConnectionKind, CreateConnection, Secret, SlotName};
use keyhold::{Caller, ExpiryPreset, KeySource, Keyhold, MintRequest, Scope};

const CALLERS: usize = 16;

fn store(dir: &std::path::Path) -> (Keyhold, String) {
    let (kh, _) = Keyhold::init(dir, KeySource::default_file(dir)).expect("init");
    let op = Caller::operator();
    let req = CreateConnection {
        name: "bench".into(),
        kind: ConnectionKind::Generic,
        host: None,
        port: None,
        database: None,
        url: None,
        scheme: None,
        primary_user: Some("svc".into()),
        secondary_user: Some("svc2".into()),
        admin_user: None,
        admin_password: None,
        grace_secs: 600,
        rotate_every_secs: None,
    };
    kh.create_connection(&op, "default", &req).expect("create");
    let secret = Secret::new("a-credential-of-thirty-two-bytes");
    kh.update_credential(&op, "default", "bench", SlotName::Primary, &secret, false)
        .expect("update");
    kh.save_credential(&op, "default", "bench", SlotName::Primary, true)
        .expect("save");
    let mint = MintRequest {
        workspace: "default".into(),
        name: "bench".into(),
        expires: ExpiryPreset::OneDay,
        scopes: Some([Scope::ReadQueries].into_iter().collect()),
        sub: None,
    };
    let token = kh
        .mint_key(&op, &mint)
        .expect("mint")
        .token
        .expose()
        .to_owned();
    (kh, token)
}

/// Calls per second of `f` from `CALLERS` threads during `secs`.
fn rate(f: &(dyn Fn() + Sync), secs: f64) -> f64 {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..CALLERS {
            s.spawn(|| {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    f();
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
    });
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (kh, token) = store(&tmp.path().join("store"));
    kh.record_key_uses(true);
    let op = Caller::operator();
    let read = || {
        let c = kh.active_credential(&op, "default", "bench").expect("read");
        std::hint::black_box(c.password.expose().len());
    };
    let verify = || {
        kh.verify_token(&token, None).expect("valid");
    };
    let rounds: usize = std::env::var("KEYHOLD_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let (mut reads, mut pipeline, mut cached) = (Vec::new(), Vec::new(), Vec::new());
    let (mut r_pipe, mut r_cached) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        kh.set_verify_cache_capacity(0);
        let p = rate(&verify, 1.0);
        let r = rate(&read, 1.0);
        kh.set_verify_cache_capacity(keyhold::VERIFY_CACHE_CAPACITY);
        let c = rate(&verify, 1.0);
        reads.push(r);
        pipeline.push(p);
        cached.push(c);
        r_pipe.push(r / p);
        r_cached.push(r / c);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{CALLERS} concurrent callers, every call durably audited ({rounds} alternating rounds, medians):"
    );
    println!(
        "  active_credential (decrypt + credential.read) {:>9.0}/s",
        median(&mut reads)
    );
    println!(
        "  verify pipeline, cache off                    {:>9.0}/s",
        median(&mut pipeline)
    );
    println!(
        "  verify pipeline, cache on                     {:>9.0}/s",
        median(&mut cached)
    );
    println!(
        "  active_credential / verify (cache off):       {:.3}",
        median(&mut r_pipe)
    );
    println!(
        "  active_credential / verify (cache on):        {:.3}",
        median(&mut r_cached)
    );
}
