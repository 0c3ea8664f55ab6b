//! `verify` must never panic, whatever the bytes, and must accept nothing but tokens signed
//! by the key it trusts. Run: `cargo +nightly fuzz run token_verify`.
#![no_main]

use std::sync::OnceLock;

use keyhold_token::{
    Claims, DEFAULT_LEEWAY, ExpiryPreset, Jwks, Scope, ScopeSet, SigningKey, mint, verify,
};
use libfuzzer_sys::fuzz_target;

const ISS: &str = "https://keyhold.fuzz";
const NOW: i64 = 1_700_000_000;

/// One key generated per process and one valid token minted with it. Odd mode bytes splice
/// the fuzz input into that token, so mutations of a valid token are explored too.
fn fixture() -> &'static (Jwks, String) {
    static CELL: OnceLock<(Jwks, String)> = OnceLock::new();
    CELL.get_or_init(|| {
        let Ok(key) = SigningKey::generate() else {
            panic!("random source unavailable");
        };
        let scopes = ScopeSet::from([Scope::KeysRead]);
        let claims = Claims::new(ISS, "u", "ws", scopes, NOW, ExpiryPreset::OneHour, "key_f");
        let Ok(token) = claims.and_then(|c| mint(&key, &c)) else {
            panic!("minting failed");
        };
        (Jwks::new([key.verifying_key().clone()]), token)
    })
}

fuzz_target!(|data: &[u8]| {
    let (jwks, token) = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let input = String::from_utf8_lossy(rest);
    let candidate = if mode & 1 == 0 {
        input.into_owned()
    } else {
        // Splice fuzz bytes into the valid token at a fuzz-chosen position.
        let at = usize::from(mode >> 1) % (token.len() + 1);
        format!("{}{}", &token[..at], input)
    };
    let now = NOW + i64::from(mode);
    if let Ok(v) = verify(&candidate, jwks, ISS, now, DEFAULT_LEEWAY) {
        // Only the one minted token can verify (canonical encoding, strict signature).
        assert_eq!(&candidate, token);
        assert_eq!(v.claims().iss(), ISS);
    }
});
