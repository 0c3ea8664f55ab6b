//! The verify cache against `verify` itself: the same time rules, and a standing reused only
//! while it is provably current.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use keyhold_token::{
    CacheEntry, Claims, DEFAULT_LEEWAY, ExpiryPreset, KeyFacts, Lookup, STANDING_MAX_AGE, Scope,
    ScopeSet, SigningKey, VerifyCache, mint, verify,
};

const ISS: &str = "urn:keyhold:t";

fn claims(iat: i64, preset: ExpiryPreset) -> Claims {
    let scopes: ScopeSet = [Scope::ReadQueries].into_iter().collect();
    Claims::new(ISS, "s", "ws_1", scopes, iat, preset, "key_1").expect("claims")
}

fn entry(claims: Claims, seen: u32, read_at: Instant) -> CacheEntry<&'static str, u32> {
    CacheEntry {
        principal: "principal",
        claims,
        facts: KeyFacts::on_record(false, 1, None, 0),
        seen,
        read_at,
    }
}

/// Whether a fresh entry for `token` is a hit at `now`.
fn hit_at(cache: &VerifyCache<&'static str, u32>, token: &str, c: &Claims, now: i64) -> bool {
    let t0 = Instant::now();
    cache.insert(token, entry(c.clone(), 0, t0));
    matches!(cache.lookup(token, now, &0, || t0, None), Lookup::Hit(_))
}

#[test]
fn cached_tokens_expire_exactly_with_the_same_leeway_as_verify() {
    let l = i64::try_from(DEFAULT_LEEWAY).expect("small");
    let c = claims(1_000_000, ExpiryPreset::FifteenMinutes);
    let exp = c.exp();
    let ok = |c: &Claims, now| c.check_times(now, DEFAULT_LEEWAY).is_ok();
    assert!(ok(&c, exp));
    assert!(ok(&c, exp + l), "edge of the leeway is still valid");
    assert!(!ok(&c, exp + l + 1), "one second past it is not");
    assert!(ok(&c, 1_000_000 - l), "iat at the leeway edge");
    assert!(!ok(&c, 1_000_000 - l - 1), "iat further in the future");
    let nbf = claims(1_000_000, ExpiryPreset::OneHour).with_not_before(1_000_100);
    assert!(ok(&nbf, 1_000_100 - l));
    assert!(!ok(&nbf, 1_000_100 - l - 1));

    // The cache and `verify` agree at every edge, for the same token.
    let key = SigningKey::generate().expect("key");
    let token = mint(&key, &c).expect("mint");
    let vk = key.verifying_key();
    let cache = VerifyCache::default();
    for now in [
        exp,
        exp + l,
        exp + l + 1,
        1_000_000 - l,
        1_000_000 - l - 1,
        1_000_000,
    ] {
        let verified = verify(&token, vk, ISS, now, DEFAULT_LEEWAY).is_ok();
        assert_eq!(hit_at(&cache, &token, &c, now), verified, "at {now}");
    }
    let nbf_token = mint(&key, &nbf).expect("mint");
    for now in [1_000_100 - l, 1_000_100 - l - 1] {
        let verified = verify(&nbf_token, vk, ISS, now, DEFAULT_LEEWAY).is_ok();
        assert_eq!(hit_at(&cache, &nbf_token, &nbf, now), verified, "at {now}");
    }
}

#[test]
fn a_standing_is_reused_only_under_the_same_mark_and_not_past_its_age() {
    let c = claims(1_000_000, ExpiryPreset::OneHour);
    let cache = VerifyCache::new(8);
    let t0 = Instant::now();
    let now = 1_000_001;
    cache.insert("tok", entry(c.clone(), 7, t0));
    assert!(matches!(
        cache.lookup("tok", now, &7, || t0 + STANDING_MAX_AGE / 2, None),
        Lookup::Hit("principal")
    ));
    assert!(matches!(
        cache.lookup("tok", now, &7, || t0 + STANDING_MAX_AGE, None),
        Lookup::Miss
    ));
    assert!(
        matches!(cache.lookup("tok", now, &7, || t0, None), Lookup::Miss),
        "a stale entry is dropped"
    );
    cache.insert("tok", entry(c.clone(), 7, t0));
    assert!(matches!(
        cache.lookup("tok", now, &8, || t0, None),
        Lookup::Miss
    ));
    assert!(matches!(
        cache.lookup("tok", now, &7, || t0, None),
        Lookup::Miss
    ));
    cache.insert("tok", entry(c, 7, t0));
    match cache.lookup("tok", now, &7, || t0, Some(Scope::Admin)) {
        Lookup::Refused(e, p) => assert_eq!((e.code(), p), ("insufficient_scope", "principal")),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(cache.lookup("tok", now, &7, || t0, None), Lookup::Hit(_)),
        "the key is current, only not good for that: its entry stays"
    );
}

#[test]
fn a_revoked_or_revoked_all_standing_is_never_a_hit() {
    let c = claims(1_000_000, ExpiryPreset::OneHour);
    let cache = VerifyCache::new(8);
    let t0 = Instant::now();
    for facts in [
        KeyFacts::on_record(true, 1, None, c.iat()),
        KeyFacts::on_record(false, 5, Some(5), c.iat()),
        KeyFacts::not_on_record(true),
    ] {
        cache.insert(
            "tok",
            CacheEntry {
                facts,
                ..entry(c.clone(), 0, t0)
            },
        );
        assert!(matches!(
            cache.lookup("tok", 1_000_001, &0, || t0, None),
            Lookup::Miss
        ));
        assert!(cache.is_empty(), "and it is dropped");
    }
}

#[test]
fn capacity_bounds_the_entries_and_zero_disables() {
    let c = claims(1_000_000, ExpiryPreset::OneHour);
    let cache = VerifyCache::new(2);
    let t0 = Instant::now();
    for tok in ["a", "b", "c"] {
        cache.insert(tok, entry(c.clone(), 0, t0));
    }
    assert_eq!(cache.len(), 2);
    assert!(cache.enabled());
    cache.set_capacity(0);
    assert!(!cache.enabled());
    cache.insert("d", entry(c, 0, t0));
    assert!(cache.is_empty());
    assert_eq!(format!("{cache:?}"), "VerifyCache { capacity: 0, .. }");
}
