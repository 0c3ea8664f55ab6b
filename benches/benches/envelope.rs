//! Envelope seal/open against raw XChaCha20-Poly1305 with the same payloads, in one run.
//!
//! The envelope does strictly more work (a fresh data key, its wrap under the KEK, a second
//! nonce); the ratio `envelope / raw` is what docs/performance.md reports.
#![allow(missing_docs, clippy::print_stdout)]

use std::hint::black_box;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use keyhold_crypto::{KekRing, MasterKey, RecordAad, UnlockedMaster};

fn bench(c: &mut Criterion) {
    let Ok(master) = MasterKey::generate().and_then(|k| UnlockedMaster::derive(&k, b"bench"))
    else {
        panic!("random source unavailable");
    };
    let mut ring = KekRing::new();
    if ring.generate(&master, 1).is_err() {
        panic!("random source unavailable");
    }
    let aad = RecordAad {
        kind: "secret",
        workspace: "ws_bench",
        id: "payload",
        version: 1,
    };
    let raw = XChaCha20Poly1305::new(&[7u8; 32].into());
    let nonce = XNonce::from([9u8; 24]);

    interleaved_ratios(&ring, &aad, &raw, &nonce);
    for size in [256usize, 64 * 1024] {
        let payload = vec![0x5au8; size];
        let mut g = c.benchmark_group(format!("seal_{size}"));
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(BenchmarkId::new("raw_xchacha20poly1305", size), |b| {
            let mut buf = payload.clone();
            b.iter(|| {
                black_box(raw.encrypt_inout_detached(&nonce, b"aad", buf.as_mut_slice().into()))
            })
        });
        g.bench_function(BenchmarkId::new("envelope", size), |b| {
            b.iter(|| black_box(ring.seal(1, &aad, black_box(&payload))))
        });
        g.finish();

        let Ok(env) = ring.seal(1, &aad, &payload) else {
            panic!("seal failed")
        };
        let mut sealed = payload.clone();
        let Ok(tag) = raw.encrypt_inout_detached(&nonce, b"aad", sealed.as_mut_slice().into())
        else {
            panic!("raw seal failed")
        };
        let mut g = c.benchmark_group(format!("open_{size}"));
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(BenchmarkId::new("raw_xchacha20poly1305", size), |b| {
            let mut buf = sealed.clone();
            b.iter(|| {
                buf.copy_from_slice(&sealed);
                black_box(raw.decrypt_inout_detached(
                    &nonce,
                    b"aad",
                    buf.as_mut_slice().into(),
                    &tag,
                ))
            })
        });
        g.bench_function(BenchmarkId::new("envelope", size), |b| {
            b.iter(|| black_box(ring.open(&aad, black_box(&env))).map(|s| s.len()))
        });
        g.finish();
    }
}

/// Envelope time / raw time, measured in alternating rounds so machine noise hits both alike;
/// docs/performance.md reports the medians.
fn interleaved_ratios(
    ring: &KekRing,
    aad: &RecordAad<'_>,
    raw: &XChaCha20Poly1305,
    nonce: &XNonce,
) {
    use std::time::Instant;
    const ROUNDS: usize = 41;
    println!("interleaved ({ROUNDS} rounds, medians of envelope time / raw time):");
    for size in [256usize, 64 * 1024] {
        let n: u32 = if size == 256 { 20_000 } else { 200 };
        let payload = vec![0x5au8; size];
        let Ok(env) = ring.seal(1, aad, &payload) else {
            panic!("seal failed")
        };
        let mut sealed = payload.clone();
        let Ok(tag) = raw.encrypt_inout_detached(nonce, b"aad", sealed.as_mut_slice().into())
        else {
            panic!("raw seal failed")
        };
        let mut buf = payload.clone();
        let time = |f: &mut dyn FnMut()| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_secs_f64() / f64::from(n)
        };
        let (mut seal, mut open, mut raw_seal_t, mut raw_open_t) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let rs = time(&mut || {
                buf.copy_from_slice(&payload);
                let _ =
                    black_box(raw.encrypt_inout_detached(nonce, b"aad", buf.as_mut_slice().into()));
            });
            let es = time(&mut || {
                let _ = black_box(ring.seal(1, aad, black_box(&payload)));
            });
            let ro = time(&mut || {
                buf.copy_from_slice(&sealed);
                let _ = black_box(raw.decrypt_inout_detached(
                    nonce,
                    b"aad",
                    buf.as_mut_slice().into(),
                    &tag,
                ));
            });
            let eo = time(&mut || {
                let _ = black_box(ring.open(aad, black_box(&env)).map(|s| s.len()));
            });
            seal.push(es / rs);
            open.push(eo / ro);
            raw_seal_t.push(rs);
            raw_open_t.push(ro);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "  {size:>6} B: seal {:.3} (raw {:.2} us), open {:.3} (raw {:.2} us)",
            median(&mut seal),
            median(&mut raw_seal_t) * 1e6,
            median(&mut open),
            median(&mut raw_open_t) * 1e6
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
