//! The facade's full token verification against a bare Ed25519 check of the same token, all in
//! one run, on real SQLite stores on disk:
//!
//! - `bare_ed25519`: ring's Ed25519 verification of the token's signing input (the baseline);
//! - `pipeline_10_keys`: `Keyhold::verify_token` with the cache off (parse, signature, claims,
//!   the key's standing read from the database, the rules) on a store holding 10 keys;
//! - `pipeline_1m_keys`: the same on a store holding 1,000,000 keys, 100,000 of them revoked;
//! - `cached`: `verify_token` of the same token again with the cache on (expiry re-checked,
//!   revocation checked through `data_version`).
//!
//! Targets (docs/performance.md): pipeline ≥ 90% of the bare rate; cached ≥ 20× the bare rate;
//! 1M keys within 5% of 10 keys.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::hint::black_box;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use keyhold::{Caller, ExpiryPreset, KeySource, Keyhold, MasterKey, MintRequest, Scope};

fn store(dir: &Path, keys: usize, revoked: usize) -> (Keyhold, String) {
    let master = MasterKey::generate().expect("rng");
    let text = master.to_base64url().to_string();
    let (kh, _) = Keyhold::init(dir, KeySource::Text(keyhold::Zeroizing::new(text))).expect("init");
    let req = MintRequest {
        workspace: "default".into(),
        name: "bench".into(),
        expires: ExpiryPreset::ThirtyDays,
        scopes: Some(
            [Scope::ReadQueries, Scope::ExecuteQueries]
                .into_iter()
                .collect(),
        ),
        sub: Some("bench@team.example".into()),
    };
    let token = kh
        .mint_key(&Caller::operator(), &req)
        .expect("mint")
        .token
        .expose()
        .to_owned();
    // Fill the key table directly: minting a million keys through the facade would measure
    // signing, not lookups. The rows have the shape minted keys have (without MACs: they are
    // filler for the B-tree; the token verified is a minted key's, with its MACs).
    let ws = kh.workspace("default").expect("ws").id;
    let mut conn = rusqlite::Connection::open(dir.join("keyhold.db")).expect("sqlite");
    let tx = conn.transaction().expect("tx");
    {
        let mut st = tx
            .prepare(
                "INSERT INTO api_keys (jti, workspace, name, sub, scopes, kid, fingerprint, created_at_ms, created_by, expires_at, revoked_at_ms, revoked_by)
                 VALUES (?1, ?2, ?3, 'svc@team.example', 'read:queries', 'kid', 'fp', 1700000000000, 'operator:bench', 1900000000, ?4, ?5)",
            )
            .expect("prepare");
        for i in 1..keys {
            // Random-looking ids spread over the whole B-tree, like real jtis.
            let d = ring::digest::digest(&ring::digest::SHA256, &i.to_le_bytes());
            let jti: String = d.as_ref()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let revoked = (i < revoked).then_some(1_700_000_001_000i64);
            st.execute(rusqlite::params![
                format!("key_{jti}"),
                ws,
                format!("k{i}"),
                revoked,
                revoked.map(|_| "operator:bench")
            ])
            .expect("insert");
        }
    }
    tx.commit().expect("commit");
    // Keys minted one at a time are checkpointed as they go; a bulk load leaves one huge WAL
    // that every page lookup would search. Fold it into the database as normal use would.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    drop(conn);
    (kh, token)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (small, token) = store(&dir.path().join("small"), 10, 0);
    let (large, large_token) = store(&dir.path().join("large"), 1_000_000, 100_000);
    small.set_verify_cache_capacity(0);
    large.set_verify_cache_capacity(0);
    // This bench measures verification; the cost of making each use durable in the audit log
    // is measured by benches/audit.rs.
    small.record_key_uses(false);
    large.record_key_uses(false);
    // Let the kernel write the freshly built 1M-key store back before anything is timed.
    let _ = std::process::Command::new("sync").status();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let jwks = small.jwks().expect("jwks");
    let key = jwks.keys()[0].clone();
    let (input, sig) = token.rsplit_once('.').expect("three parts");
    let sig = URL_SAFE_NO_PAD.decode(sig).expect("b64");

    interleaved_ratios(
        &key,
        input.as_bytes(),
        &sig,
        &small,
        &token,
        &large,
        &large_token,
    );

    // The interleaved rounds leave the small store's cache on: the pipeline is measured
    // with it off.
    small.set_verify_cache_capacity(0);
    let mut g = c.benchmark_group("verify");
    g.bench_function("bare_ed25519", |b| {
        b.iter(|| black_box(key.verify_signature(black_box(input.as_bytes()), &sig)))
    });
    g.bench_function("pipeline_10_keys", |b| {
        b.iter(|| black_box(small.verify_token(black_box(&token), None).is_ok()))
    });
    g.bench_function("pipeline_1m_keys", |b| {
        b.iter(|| black_box(large.verify_token(black_box(&large_token), None).is_ok()))
    });
    small.set_verify_cache_capacity(keyhold::VERIFY_CACHE_CAPACITY);
    g.bench_function("cached", |b| {
        b.iter(|| black_box(small.verify_token(black_box(&token), None).is_ok()))
    });
    g.finish();
}

/// Ratios measured in alternating rounds (bare, pipeline, 1M pipeline, cached, bare, ...), so
/// machine noise and drift hit every variant alike; the median of the per-round ratios is
/// what docs/performance.md reports next to criterion's absolute times.
fn interleaved_ratios(
    key: &keyhold::VerifyingKey,
    input: &[u8],
    sig: &[u8],
    small: &Keyhold,
    token: &str,
    large: &Keyhold,
    large_token: &str,
) {
    use std::time::Instant;
    const ROUNDS: usize = 31;
    const N: u32 = 400;
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..N {
            f();
        }
        t.elapsed().as_secs_f64() / f64::from(N)
    };
    let (mut pipe, mut big, mut cached) = (Vec::new(), Vec::new(), Vec::new());
    let mut bare_times = Vec::new();
    for _ in 0..ROUNDS {
        small.set_verify_cache_capacity(0);
        let bare = time(&mut || {
            black_box(key.verify_signature(black_box(input), sig));
        });
        let p = time(&mut || {
            black_box(small.verify_token(black_box(token), None).is_ok());
        });
        let l = time(&mut || {
            black_box(large.verify_token(black_box(large_token), None).is_ok());
        });
        small.set_verify_cache_capacity(keyhold::VERIFY_CACHE_CAPACITY);
        let c = time(&mut || {
            black_box(small.verify_token(black_box(token), None).is_ok());
        });
        bare_times.push(bare);
        pipe.push(bare / p);
        big.push(p / l);
        cached.push(bare / c);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("interleaved ({ROUNDS} rounds x {N} verifications, medians):");
    println!(
        "  bare Ed25519 verify:                      {:.1} us",
        median(&mut bare_times) * 1e6
    );
    println!(
        "  pipeline rate / bare rate:                {:.3}  (target >= 0.90)",
        median(&mut pipe)
    );
    println!(
        "  1M-key rate / 10-key rate:                {:.3}  (target >= 0.95)",
        median(&mut big)
    );
    println!(
        "  cached rate / bare rate:                  {:.1}x (target >= 20x)",
        median(&mut cached)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
