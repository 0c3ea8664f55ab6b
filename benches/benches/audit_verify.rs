//! Audit chain verification: 1,000,000 in-memory rows of realistic events (key uses,
//! rejections, admin actions with details), verified on one thread (`verify`) and on two
//! (`verify_parallel`), with the bare HMAC-SHA256 of the same rows as the baseline. The
//! target is at least 1,000,000 rows/s on a 2-core machine.
#![allow(missing_docs, clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keyhold_audit::{
    Action, Actor, AuditChain, AuditKey, ChainHead, DetailName, Details, Event, Outcome,
    PublicText, ReasonCode, StoredRow, Surface, verify, verify_parallel,
};

const ROWS: u64 = 1_000_000;

fn text(s: &str) -> PublicText {
    match PublicText::new(s) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

fn event(i: u64) -> Event {
    let actions = [
        Action::KeyUsed,
        Action::KeyUsed,
        Action::KeyUsed,
        Action::KeyUsed,
        Action::KeyRejected,
        Action::RecordWritten,
    ];
    let action = actions[(i % 6) as usize];
    let actor = Actor::new(text(&format!("svc-billing-{}", i % 7)), Surface::Http)
        .with_key_id(text(&format!("jti_{:022x}", i % 1013)))
        .with_source(text("203.0.113.17:51544"));
    let mut details = Details::new();
    let name = |s: &str| match DetailName::new(s) {
        Ok(n) => n,
        Err(e) => panic!("{e}"),
    };
    let ok = details
        .insert(name("scope"), text("execute:queries"))
        .and_then(|()| details.insert(name("latency_us"), (i % 900) as i64));
    assert!(ok.is_ok());
    let mut e = Event::new(
        1_700_000_000_000 + (i as i64) * 3,
        actor,
        action,
        text(&format!("req_{i:020}")),
    )
    .with_workspace(text("ws_1f3a9c0d7e"))
    .with_target(text(&format!("qry_{:010}", i % 4099)))
    .with_details(details);
    if action == Action::KeyRejected {
        let Ok(code) = ReasonCode::new("token_expired") else {
            panic!("reason code");
        };
        e = e.with_outcome(Outcome::Failure(code));
    }
    e
}

fn rows(key: &AuditKey) -> Vec<StoredRow> {
    let mut chain = AuditChain::new(key, ChainHead::GENESIS);
    let mut out = Vec::with_capacity(ROWS as usize);
    let mut batch = Vec::with_capacity(500);
    for i in 1..=ROWS {
        batch.push(event(i));
        if batch.len() == 500 || i == ROWS {
            match chain.append_batch(&batch) {
                Ok(sealed) => out.extend(sealed.into_iter().map(StoredRow::from)),
                Err(e) => panic!("{e}"),
            }
            batch.clear();
        }
    }
    out
}

fn rate(d: Duration) -> f64 {
    ROWS as f64 / d.as_secs_f64()
}

fn bench(c: &mut Criterion) {
    let Ok(key) = AuditKey::generate() else {
        panic!("random source unavailable");
    };
    let rows = rows(&key);
    let avg = rows.iter().map(|r| r.canonical.len()).sum::<usize>() / rows.len();
    assert!(verify(&key, &rows, None).is_ok());
    assert!(verify_parallel(&key, &rows, None, 2).is_ok());

    // A direct measurement, printed as rows/s (best of 5 runs each).
    let best = |f: &dyn Fn()| {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .min()
            .unwrap_or_default()
    };
    let one = best(&|| assert!(verify(&key, black_box(&rows), None).is_ok()));
    let two = best(&|| assert!(verify_parallel(&key, black_box(&rows), None, 2).is_ok()));
    let mac = best(&|| {
        for r in &rows {
            black_box(key.link_hash(r.seq, &r.prev, &r.canonical));
        }
    });
    println!("audit_verify: {ROWS} rows, {avg} B canonical event on average");
    println!("  hmac only (baseline)  {:>12.0} rows/s", rate(mac));
    println!("  verify, 1 thread      {:>12.0} rows/s", rate(one));
    println!("  verify_parallel, 2    {:>12.0} rows/s", rate(two));

    let mut g = c.benchmark_group("audit_verify_1M");
    g.throughput(Throughput::Elements(ROWS));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("hmac_only", |b| {
        b.iter(|| {
            for r in &rows {
                black_box(key.link_hash(r.seq, &r.prev, &r.canonical));
            }
        })
    });
    g.bench_function("verify_1_thread", |b| {
        b.iter(|| verify(&key, black_box(&rows), None))
    });
    g.bench_function("verify_parallel_2_threads", |b| {
        b.iter(|| verify_parallel(&key, black_box(&rows), None, 2))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
