//! Envelope seal/open against raw XChaCha20-Poly1305 with the same payloads, in one run.
//!
//! The envelope does strictly more work (a fresh data key, its wrap under the KEK, a second
//! nonce); the ratio `envelope / raw` is what docs/performance.md reports.
#![allow(missing_docs)]

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

    for size in [256usize, 64 * 1024] {
        let payload = vec![0x5au8; size];
        let mut g = c.benchmark_group(format!("seal_{size}"));
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(BenchmarkId::new("raw_xchacha20poly1305", size), |b| {
            let mut buf = payload.clone();
            b.iter(|| {
                buf.copy_from_slice(&payload);
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

criterion_group!(benches, bench);
criterion_main!(benches);
