//! Tamper detection: every attack is reported at the right seq with the right reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{chain, event, key};
use keyhold_audit::{
    Anchor, AuditChain, AuditError, ChainError, ChainHead, CheckpointSigner, GENESIS_PREV, RowRef,
    StoredRow, Verifier, verify, verify_parallel,
};

const STORE: &[u8] = &[0x5a; 16];

/// Verifies with the streaming verifier and with two threads; both must agree.
fn check(
    k: &keyhold_audit::AuditKey,
    rows: &[StoredRow],
    anchor: Option<Anchor>,
) -> Result<u64, ChainError> {
    let seq = verify(k, rows, anchor);
    let par = verify_parallel(k, rows, anchor, 2);
    assert_eq!(seq, par, "sequential and parallel verification disagree");
    seq.map(|s| s.head_seq)
}

/// Recomputes every link of `rows` with `key`, as someone holding that key would.
fn relink(key: &keyhold_audit::AuditKey, rows: &mut [StoredRow]) {
    let mut prev = GENESIS_PREV;
    for r in rows {
        r.prev = prev;
        r.hash = key.link_hash(r.seq, &r.prev, &r.canonical);
        prev = r.hash;
    }
}

#[test]
fn an_intact_chain_verifies() {
    let k = key(1);
    let (rows, head) = chain(&k, 250);
    let s = verify(&k, &rows, None).unwrap();
    assert_eq!((s.rows, s.head_seq, s.head_hash), (250, 250, head.hash));
    assert_eq!(s.head(), head);
    assert_eq!(rows[0].prev, GENESIS_PREV);
    assert_eq!(rows[0].seq, 1);
    // Borrowed rows verify the same way.
    let refs: Vec<RowRef<'_>> = rows
        .iter()
        .map(|r| RowRef {
            seq: r.seq,
            prev: &r.prev,
            hash: &r.hash,
            canonical: &r.canonical,
        })
        .collect();
    assert_eq!(verify(&k, refs.iter().copied(), None), Ok(s));
    // Batches link on: a second chain continuing from the head.
    let mut c = AuditChain::new(&k, head);
    let more = c.append(&event(251)).unwrap();
    assert_eq!((more.link.seq, more.link.prev), (251, head.hash));
}

#[test]
fn empty_chain() {
    let k = key(1);
    let s = verify(&k, Vec::<StoredRow>::new(), None).unwrap();
    assert_eq!((s.rows, s.head_seq, s.head_hash), (0, 0, GENESIS_PREV));
    let genesis = Anchor {
        seq: 0,
        head: GENESIS_PREV,
    };
    assert!(verify(&k, Vec::<StoredRow>::new(), Some(genesis)).is_ok());
    let later = Anchor {
        seq: 3,
        head: [1; 32],
    };
    assert_eq!(
        verify(&k, Vec::<StoredRow>::new(), Some(later)),
        Err(ChainError::ShorterThanCheckpoint {
            head_seq: 0,
            checkpoint_seq: 3
        })
    );
}

#[test]
fn one_flipped_byte_in_a_middle_row_is_a_hash_mismatch_there() {
    let k = key(1);
    let (mut rows, _) = chain(&k, 20);
    let last = rows[9].canonical.len() - 1;
    rows[9].canonical[last] ^= 0x01; // seq 10's last detail byte
    assert_eq!(
        check(&k, &rows, None),
        Err(ChainError::HashMismatch { seq: 10 })
    );
    // Flipping a bit of the stored hash or prev is caught too.
    let (mut rows, _) = chain(&k, 20);
    rows[9].hash[0] ^= 0x80;
    assert_eq!(
        check(&k, &rows, None),
        Err(ChainError::HashMismatch { seq: 10 })
    );
    let (mut rows, _) = chain(&k, 20);
    rows[9].prev[31] ^= 0x01;
    assert_eq!(
        check(&k, &rows, None),
        Err(ChainError::HashMismatch { seq: 10 })
    );
}

#[test]
fn a_deleted_middle_row_is_a_prev_mismatch_at_the_next_row() {
    let k = key(1);
    let (mut rows, _) = chain(&k, 20);
    rows.remove(9); // seq 10
    let e = check(&k, &rows, None).unwrap_err();
    assert_eq!(e, ChainError::PrevMismatch { seq: 11 });
    assert_eq!(e.seq(), 11);
}

#[test]
fn deleted_oldest_rows_are_reported() {
    let k = key(1);
    let (mut rows, _) = chain(&k, 20);
    rows.drain(..2);
    assert_eq!(
        check(&k, &rows, None),
        Err(ChainError::FirstSeqNotOne { seq: 3 })
    );
}

#[test]
fn deleted_newest_rows_need_a_checkpoint() {
    let k = key(1);
    let (mut rows, head) = chain(&k, 20);
    let signer = CheckpointSigner::generate().unwrap();
    let cp = signer.sign(STORE, head, 1_700_000_999_000).unwrap();
    let anchor = cp.verify_for_store(&signer.public_key(), STORE).unwrap();
    assert_eq!(check(&k, &rows, Some(anchor)), Ok(20));

    rows.truncate(17);
    // Without the checkpoint a truncated chain is indistinguishable from a shorter log.
    assert_eq!(check(&k, &rows, None), Ok(17));
    // With it, the deletion is caught.
    let e = check(&k, &rows, Some(anchor)).unwrap_err();
    assert_eq!(
        e,
        ChainError::ShorterThanCheckpoint {
            head_seq: 17,
            checkpoint_seq: 20
        }
    );
    assert_eq!(e.seq(), 18);
}

#[test]
fn swapped_rows_are_caught() {
    let k = key(1);
    // Rows swapped in place, each keeping its own seq (the iteration order changes).
    let (mut rows, _) = chain(&k, 20);
    rows.swap(4, 5); // seq 5 and seq 6
    assert_eq!(
        check(&k, &rows, None),
        Err(ChainError::PrevMismatch { seq: 6 })
    );
    // Contents swapped between two seq numbers (seq column left alone).
    let (mut rows, _) = chain(&k, 20);
    let a = rows[4].clone();
    let b = rows[5].clone();
    rows[4] = StoredRow { seq: 5, ..b };
    rows[5] = StoredRow { seq: 6, ..a };
    assert_eq!(
        check(&k, &rows, None),
        Err(ChainError::HashMismatch { seq: 5 })
    );
    // Only the event bytes swapped.
    let (mut rows, _) = chain(&k, 20);
    let tmp = std::mem::take(&mut rows[4].canonical);
    rows[4].canonical = std::mem::replace(&mut rows[5].canonical, tmp);
    assert_eq!(
        check(&k, &rows, None),
        Err(ChainError::HashMismatch { seq: 5 })
    );
}

#[test]
fn a_chain_recomputed_without_the_audit_key_fails_at_seq_1() {
    let k = key(1);
    let (mut rows, _) = chain(&k, 20);
    // The attacker alters row 7 and recomputes every link with a key of their own.
    rows[6].canonical = event(999).to_canonical();
    relink(&key(2), &mut rows);
    assert_eq!(
        check(&k, &rows, None),
        Err(ChainError::HashMismatch { seq: 1 })
    );
}

#[test]
fn a_chain_recomputed_with_the_key_is_caught_only_by_the_checkpoint() {
    let k = key(1);
    let (mut rows, head) = chain(&k, 20);
    let signer = CheckpointSigner::generate().unwrap();
    let anchor = signer
        .sign(STORE, head, 0)
        .unwrap()
        .verify(&signer.public_key())
        .unwrap();
    rows[6].canonical = event(999).to_canonical();
    relink(&k, &mut rows);
    assert_eq!(check(&k, &rows, None), Ok(20));
    assert_eq!(
        check(&k, &rows, Some(anchor)),
        Err(ChainError::CheckpointMismatch { seq: 20 })
    );
    // Rows after the checkpoint do not hide the mismatch.
    let mut c = AuditChain::new(
        &k,
        ChainHead {
            seq: 20,
            hash: rows[19].hash,
        },
    );
    rows.extend(
        c.append_batch(&[event(21), event(22)])
            .unwrap()
            .into_iter()
            .map(StoredRow::from),
    );
    assert_eq!(
        check(&k, &rows, Some(anchor)),
        Err(ChainError::CheckpointMismatch { seq: 20 })
    );
}

#[test]
fn a_seq_gap_is_reported() {
    let k = key(1);
    let (mut rows, head) = chain(&k, 6);
    // A writer that read the head wrongly and skipped seq 7.
    let mut c = AuditChain::new(
        &k,
        ChainHead {
            seq: head.seq + 1,
            hash: head.hash,
        },
    );
    rows.extend(
        c.append_batch(&[event(8), event(9)])
            .unwrap()
            .into_iter()
            .map(StoredRow::from),
    );
    assert_eq!(
        check(&k, &rows, None),
        Err(ChainError::SeqGap {
            seq: 8,
            expected: 7
        })
    );
}

#[test]
fn a_row_with_a_valid_mac_but_undecodable_bytes_is_reported() {
    let k = key(1);
    let (mut rows, _) = chain(&k, 10);
    rows[4].canonical = b"\x02not an event".to_vec();
    relink(&k, &mut rows);
    match check(&k, &rows, None) {
        Err(ChainError::Undecodable {
            seq: 5,
            reason: AuditError::Malformed { what },
        }) => {
            assert_eq!(what, "version");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_streaming_verifier_stays_failed() {
    let k = key(1);
    let (mut rows, _) = chain(&k, 10);
    rows[2].canonical[5] ^= 1;
    let mut v = Verifier::new(&k, None);
    v.push(&rows[0]).unwrap();
    v.push(&rows[1]).unwrap();
    assert_eq!(v.push(&rows[2]), Err(ChainError::HashMismatch { seq: 3 }));
    assert_eq!(v.push(&rows[3]), Err(ChainError::HashMismatch { seq: 3 }));
    assert_eq!(v.finish(), Err(ChainError::HashMismatch { seq: 3 }));
}

#[test]
fn a_failed_batch_leaves_the_head_unchanged() {
    let k = key(1);
    let start = ChainHead {
        seq: u64::MAX - 1,
        hash: [3; 32],
    };
    let mut c = AuditChain::new(&k, start);
    assert_eq!(
        c.append_batch(&[event(1), event(2)]).unwrap_err(),
        AuditError::SeqExhausted
    );
    assert_eq!(c.head(), start);
    assert_eq!(c.append(&event(1)).unwrap().link.seq, u64::MAX);
}

/// Large enough that verify_parallel really splits into two chunks; tampering at the chunk
/// boundary and on either side is reported exactly as the sequential verifier reports it.
#[test]
fn parallel_verification_reports_the_first_bad_row() {
    let k = key(1);
    let (rows, head) = chain(&k, 20_000);
    assert_eq!(verify_parallel(&k, &rows, None, 2).unwrap().head(), head);
    for at in [0usize, 1, 9_999, 10_000, 10_001, 19_999] {
        let mut bad = rows.clone();
        bad[at].canonical[1] ^= 0x40;
        let want = Err(ChainError::HashMismatch { seq: at as u64 + 1 });
        assert_eq!(
            verify_parallel(&k, &bad, None, 2).map(|s| s.head_seq),
            want.clone()
        );
        assert_eq!(verify(&k, &bad, None).map(|s| s.head_seq), want);
        let mut gone = rows.clone();
        gone.remove(at);
        let par = verify_parallel(&k, &gone, None, 2);
        assert_eq!(par, verify(&k, &gone, None));
        assert!(par.is_err() || at == 19_999);
    }
    // Two failures in different chunks: the earlier one wins.
    let mut bad = rows.clone();
    bad[15_000].hash[0] ^= 1;
    bad[3_000].hash[0] ^= 1;
    assert_eq!(
        verify_parallel(&k, &bad, None, 2),
        Err(ChainError::HashMismatch { seq: 3_001 })
    );
}
