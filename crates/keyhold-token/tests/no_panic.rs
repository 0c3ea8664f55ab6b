//! Property tests: `verify` never panics and never accepts garbage, on arbitrary input and
//! on mutations of a valid token.
// Test code: helpers outside #[test] fns may unwrap (clippy.toml only covers #[test] fns).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keyhold_token::{
    Claims, DEFAULT_LEEWAY, ExpiryPreset, Jwks, Scope, ScopeSet, SigningKey, mint, verify,
};
use proptest::prelude::*;

const ISS: &str = "https://keyhold.test";
const NOW: i64 = 1_700_000_000;

fn setup() -> (Jwks, String) {
    let key = SigningKey::generate().unwrap();
    let claims = Claims::new(
        ISS,
        "user_1",
        "ws_a",
        ScopeSet::from([Scope::KeysRead]),
        NOW,
        ExpiryPreset::OneHour,
        "key_1",
    )
    .unwrap();
    let token = mint(&key, &claims).unwrap();
    (Jwks::new([key.verifying_key().clone()]), token)
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Swap(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        Just(b'.'),
        Just(b'='),
        Just(b'A'),
        Just(b'_'),
        Just(b'-'),
        any::<u8>().prop_map(|b| b & 0x7f),
        prop::sample::select(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()
        ),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
    ]
}

fn apply(token: &str, muts: &[Mutation]) -> String {
    let mut b = token.as_bytes().to_vec();
    for m in muts {
        let n = b.len().max(1);
        match *m {
            Mutation::Replace(i, c) if !b.is_empty() => b[i % n] = c,
            Mutation::Insert(i, c) => b.insert(i % (b.len() + 1), c),
            Mutation::Delete(i) if !b.is_empty() => {
                b.remove(i % n);
            }
            Mutation::Truncate(i) => b.truncate(i % (b.len() + 1)),
            Mutation::Swap(i, j) if !b.is_empty() => b.swap(i % n, j % n),
            _ => {}
        }
    }
    // Mutation bytes are ASCII, so the result is valid UTF-8.
    String::from_utf8(b).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic_or_verify(s in ".{0,600}", now in any::<i64>(), leeway in any::<u64>()) {
        let (jwks, _) = setup_cached();
        prop_assert!(verify(&s, jwks, ISS, now, leeway).is_err());
    }

    #[test]
    fn token_shaped_strings_never_panic_or_verify(s in "[A-Za-z0-9_=-]{0,120}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,100}") {
        let (jwks, _) = setup_cached();
        prop_assert!(verify(&s, jwks, ISS, NOW, DEFAULT_LEEWAY).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let (jwks, _) = setup_cached();
        let s = String::from_utf8_lossy(&bytes);
        prop_assert!(verify(&s, jwks, ISS, NOW, DEFAULT_LEEWAY).is_err());
    }

    #[test]
    fn mutated_tokens_never_panic_and_only_identity_verifies(muts in prop::collection::vec(mutation(), 1..6)) {
        let (jwks, token) = setup_cached();
        let mutated = apply(token, &muts);
        let r = verify(&mutated, jwks, ISS, NOW, DEFAULT_LEEWAY);
        // Canonical base64url and a strict signature check: any change to the text is refused.
        prop_assert_eq!(r.is_ok(), &mutated == token, "{:?}", r.map(|_| ()));
    }
}

fn setup_cached() -> &'static (Jwks, String) {
    static CELL: std::sync::OnceLock<(Jwks, String)> = std::sync::OnceLock::new();
    CELL.get_or_init(setup)
}
