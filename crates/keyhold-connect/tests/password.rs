//! `new_password`: length, alphabet, no repeats, and no bias between characters.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use std::collections::{BTreeMap, BTreeSet};

use keyhold_connect::{PASSWORD_ALPHABET, PASSWORD_LEN, new_password};

#[test]
fn passwords_are_32_alphanumerics_and_never_repeat() {
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        let p = new_password().unwrap();
        assert_eq!(p.len(), 32);
        assert_eq!(PASSWORD_LEN, 32);
        assert!(p.expose().iter().all(|c| PASSWORD_ALPHABET.contains(c)));
        assert!(p.expose().iter().all(u8::is_ascii_alphanumeric));
        assert!(seen.insert(p.expose().to_vec()), "a password came twice");
    }
}

/// 64,000 characters: each of the 62 is expected about 1,032 times (σ ≈ 32). `b % 62` without
/// rejection would give the first eight about 1,250 each; the bounds (5σ) catch that and let
/// an unbiased generator through all but once in millions of runs.
#[test]
fn every_character_is_equally_likely() {
    let mut counts: BTreeMap<u8, usize> = BTreeMap::new();
    for _ in 0..2000 {
        for &c in new_password().unwrap().expose() {
            *counts.entry(c).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), 62, "every character of the alphabet occurs");
    for (c, n) in counts {
        assert!(
            (872..=1192).contains(&n),
            "{:?} came {n} times out of 64000",
            char::from(c)
        );
    }
}
