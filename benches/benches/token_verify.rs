//! Token verification against a bare Ed25519 signature check of the same token, in one run.
//!
//! `verify` does strictly more work than the bare check (length and alphabet scan, base64url
//! decoding of three parts, two JSON parses with duplicate detection, header checks, kid
//! lookup, typed claim extraction, issuer and time checks); the ratio
//! `keyhold_token_verify / ring_ed25519_verify` is the cost of that work on top of the
//! signature.
#![allow(missing_docs)]

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use keyhold_token::{
    Claims, DEFAULT_LEEWAY, ExpiryPreset, Jwks, Scope, ScopeSet, SigningKey, mint, new_jti, verify,
};
use ring::signature::{ED25519, UnparsedPublicKey};

const ISS: &str = "https://keyhold.example";
const NOW: i64 = 1_700_000_000;

fn bench(c: &mut Criterion) {
    let Ok(key) = SigningKey::generate() else {
        panic!("random source unavailable");
    };
    let Ok(jti) = new_jti() else {
        panic!("random source unavailable");
    };
    let scopes = ScopeSet::from([Scope::ReadQueries, Scope::ExecuteQueries, Scope::KeysRead]);
    let claims = Claims::new(
        ISS,
        "user_42",
        "ws_prod",
        scopes,
        NOW,
        ExpiryPreset::OneHour,
        &jti,
    );
    let Ok(token) = claims.and_then(|c| mint(&key, &c)) else {
        panic!("minting failed");
    };
    let Some((signing_input, sig_b64)) = token.rsplit_once('.') else {
        panic!("minted token has no signature part");
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(sig_b64) else {
        panic!("minted signature is not base64url");
    };
    let public = *key.verifying_key().as_bytes();
    // Several keys in the set, as during a rotation.
    let others = (0..3).filter_map(|_| SigningKey::generate().ok());
    let jwks = Jwks::new(
        others
            .map(|k| k.verifying_key().clone())
            .chain([key.verifying_key().clone()]),
    );
    assert!(verify(&token, &jwks, ISS, NOW, DEFAULT_LEEWAY).is_ok());

    let mut g = c.benchmark_group(format!("token_verify_{}B", token.len()));
    g.bench_function("ring_ed25519_verify", |b| {
        b.iter(|| {
            black_box(
                UnparsedPublicKey::new(&ED25519, black_box(&public))
                    .verify(black_box(signing_input.as_bytes()), black_box(&signature))
                    .is_ok(),
            )
        })
    });
    g.bench_function("keyhold_token_verify", |b| {
        b.iter(|| black_box(verify(black_box(&token), &jwks, ISS, NOW, DEFAULT_LEEWAY).is_ok()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
