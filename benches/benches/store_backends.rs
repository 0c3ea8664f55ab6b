//! Token verification on the two store backends, in one run: a SQLite file on disk and a
//! PostgreSQL database over loopback (the one `benches/load/nodes.sh` starts; it exports the
//! `KEYHOLD_TEST_PG_*` variables and `KEYHOLD_STORE_PASSWORD_FILE` this needs).
//!
//! - `sqlite_cached` / `postgres_cached`: `verify_token` of a cached token: the signature is
//!   not checked again, but the key's standing is — on PostgreSQL that is the cross-node
//!   revocation check, one read of the standing counter per request;
//! - `sqlite_pipeline` / `postgres_pipeline`: the cache off (signature, claims, the key's row).
//!
//! The interleaved rounds print the ratios docs/performance.md reports, and the cross-node
//! check's cost per request: the cached PostgreSQL time minus the cached SQLite time.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use keyhold::{Caller, ExpiryPreset, KeySource, Keyhold, MasterKey, MintRequest, Scope, StoreAt};

fn var(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run benches/load/nodes.sh, which sets it"))
}

/// A fresh database on the benchmark's PostgreSQL: its URL (the CA verifies the server).
fn database() -> String {
    let (host, port, user) = (
        var("KEYHOLD_TEST_PG_HOST"),
        var("KEYHOLD_TEST_PG_PORT"),
        var("KEYHOLD_TEST_PG_USER"),
    );
    let password = std::fs::read_to_string(var("KEYHOLD_STORE_PASSWORD_FILE")).expect("password");
    let name = format!("kh_bench_{}", std::process::id());
    let mut admin = postgres::Config::new()
        .host(&host)
        .port(port.parse().expect("port"))
        .user(&user)
        .password(password.trim())
        .dbname("postgres")
        .connect(postgres::NoTls)
        .expect("the superuser logs in");
    // Two statements: PostgreSQL refuses DROP/CREATE DATABASE inside the implicit
    // transaction of a multi-statement batch.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.batch_execute(&sql).expect("create database");
    }
    let ca = var("KEYHOLD_TEST_PG_CA");
    format!("postgres://{user}@{host}:{port}/{name}?sslrootcert={ca}")
}

/// A store at `at` with one key minted: the handle and the token.
fn store(at: &StoreAt) -> (Keyhold, String) {
    let master = MasterKey::generate().expect("rng");
    let text = master.to_base64url().to_string();
    let key = KeySource::Text(keyhold::Zeroizing::new(text));
    let (kh, _) = Keyhold::init_at(at, key, &Caller::operator()).expect("init");
    let req = MintRequest {
        workspace: "default".into(),
        name: "bench".into(),
        expires: ExpiryPreset::ThirtyDays,
        scopes: Some([Scope::ReadQueries].into_iter().collect()),
        sub: Some("bench@team.example".into()),
    };
    let token = kh.mint_key(&Caller::operator(), &req).expect("mint");
    // This bench measures verification; durable use records are measured by benches/audit.rs.
    kh.record_key_uses(false);
    (kh, token.token.expose().to_owned())
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (lite, lite_token) = store(&StoreAt::Sqlite(dir.path().join("data")));
    let (pg, pg_token) = store(&StoreAt::Postgres(database()));
    interleaved_ratios(&lite, &lite_token, &pg, &pg_token);
    let mut g = c.benchmark_group("store_backends");
    for (name, kh, token) in [("sqlite", &lite, &lite_token), ("postgres", &pg, &pg_token)] {
        kh.set_verify_cache_capacity(keyhold::VERIFY_CACHE_CAPACITY);
        g.bench_function(format!("{name}_cached"), |b| {
            b.iter(|| black_box(kh.verify_token(black_box(token), None).is_ok()))
        });
        kh.set_verify_cache_capacity(0);
        g.bench_function(format!("{name}_pipeline"), |b| {
            b.iter(|| black_box(kh.verify_token(black_box(token), None).is_ok()))
        });
    }
    g.finish();
}

/// Alternating rounds (SQLite cached, PostgreSQL cached, SQLite pipeline, PostgreSQL
/// pipeline, ...), so noise hits both backends alike; medians of the per-round figures.
fn interleaved_ratios(lite: &Keyhold, lite_token: &str, pg: &Keyhold, pg_token: &str) {
    const ROUNDS: usize = 21;
    const N: u32 = 300;
    let time = |kh: &Keyhold, token: &str, cache: usize| {
        kh.set_verify_cache_capacity(cache);
        assert!(kh.verify_token(token, None).is_ok(), "the token verifies");
        let t = Instant::now();
        for _ in 0..N {
            black_box(kh.verify_token(black_box(token), None).is_ok());
        }
        t.elapsed().as_secs_f64() / f64::from(N)
    };
    let mut rows: [Vec<f64>; 6] = Default::default();
    for _ in 0..ROUNDS {
        let lc = time(lite, lite_token, keyhold::VERIFY_CACHE_CAPACITY);
        let pc = time(pg, pg_token, keyhold::VERIFY_CACHE_CAPACITY);
        let lp = time(lite, lite_token, 0);
        let pp = time(pg, pg_token, 0);
        for (v, x) in rows.iter_mut().zip([lc, pc, lp, pp, lc / pc, lp / pp]) {
            v.push(x);
        }
    }
    let [lc, pc, lp, pp, cached_ratio, pipeline_ratio] = rows.map(|mut v| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    });
    println!("interleaved ({ROUNDS} rounds x {N} verifications, medians):");
    println!("  SQLite cached:        {:8.1} us", lc * 1e6);
    println!("  PostgreSQL cached:    {:8.1} us", pc * 1e6);
    println!("  SQLite pipeline:      {:8.1} us", lp * 1e6);
    println!("  PostgreSQL pipeline:  {:8.1} us", pp * 1e6);
    println!("  cached rate, PostgreSQL / SQLite:    {cached_ratio:.3}");
    println!("  pipeline rate, PostgreSQL / SQLite:  {pipeline_ratio:.3}");
    println!(
        "  cross-node revocation check, per request: {:.1} us",
        (pc - lc) * 1e6
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
