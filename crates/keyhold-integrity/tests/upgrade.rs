//! The upgrade to authenticated rows, as far as it decides about rows: what refuses it, the
//! verdict on signing keys the chain never named, and the numbering and marks it writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keyhold_integrity::upgrade::{
    SigningKeyPlan, number_in_creation_order, refuse_earlier_upgrade, refuse_leftovers,
    revoke_all_mark, settle_unnamed_signing_keys, signing_keys_in_order,
};
use keyhold_integrity::{meta, row_key_record};
use keyhold_store::{
    APPLICATION_ID, KekRow, KekState, RecordRow, SigningKeyRow, SigningKeyState, Store,
};

const REFUSED: &str = "the store says its rows are not authenticated yet, but";

fn schema_detail(e: keyhold_integrity::IntegrityError) -> String {
    let (what, detail) = named(e);
    assert_eq!(what, "schema version");
    assert!(detail.starts_with(REFUSED), "{detail}");
    assert!(
        detail.ends_with(": its schema version was put back; refusing to authenticate its rows")
    );
    detail
}

#[test]
fn a_store_with_anything_an_upgrade_makes_is_refused() {
    let (_dir, store) = new_store();
    store.read(refuse_leftovers).unwrap();
    for name in [meta::WITNESS, meta::IDENTITY_MAC, meta::MINT_COUNTER] {
        raw_write(&store, |tx| tx.set_meta(name, b"x"));
        let detail = schema_detail(store.read(refuse_leftovers).unwrap_err());
        assert!(
            detail.contains(&format!("but it has meta {name}:")),
            "{detail}"
        );
        raw_write(&store, |tx| tx.delete_meta(name));
    }
    raw_write(&store, |tx| {
        tx.insert_kek(&KekRow {
            id: 1,
            wrapped: b"w".to_vec(),
            state: KekState::Active,
            created_at: 1,
        })?;
        tx.put_record(&RecordRow {
            key: row_key_record(),
            version: 1,
            kek_id: 1,
            envelope: b"sealed".to_vec(),
            updated_at: 1,
        })
    });
    let detail = schema_detail(store.read(refuse_leftovers).unwrap_err());
    assert!(detail.contains("but it has a row key:"), "{detail}");

    refuse_earlier_upgrade(false).unwrap();
    let detail = schema_detail(refuse_earlier_upgrade(true).unwrap_err());
    assert!(detail.contains("but its audit chain records an earlier upgrade:"));
}

fn kids(rows: &[SigningKeyRow]) -> Vec<&str> {
    rows.iter().map(|k| k.kid.as_str()).collect()
}

fn three_keys() -> Vec<SigningKeyRow> {
    vec![
        signing_key("new", SigningKeyState::Active, 30),
        signing_key("mid", SigningKeyState::Retiring, 20),
        signing_key("first", SigningKeyState::Retiring, 10),
    ]
}

#[test]
fn keys_the_chain_names_are_kept_as_they_are() {
    let plan = settle_unnamed_signing_keys(three_keys(), |_| true, &[], &[]).unwrap();
    assert_eq!(
        plan,
        SigningKeyPlan {
            delete: vec![],
            keep: three_keys()
        }
    );
}

#[test]
fn an_unnamed_retiring_key_needs_the_operators_word() {
    let named_but_first = |kid: &str| kid != "first";
    let e = settle_unnamed_signing_keys(three_keys(), named_but_first, &[], &[]).unwrap_err();
    let (what, detail) = named(e);
    assert_eq!(what, "signing key first");
    assert!(
        detail.contains("`keyhold upgrade --accept-signing-key first`"),
        "{detail}"
    );
    assert!(
        detail.contains("`keyhold upgrade --drop-signing-key first`"),
        "{detail}"
    );

    let accepted =
        settle_unnamed_signing_keys(three_keys(), named_but_first, &["first".into()], &[]).unwrap();
    assert_eq!(
        (accepted.delete.len(), kids(&accepted.keep)),
        (0, vec!["new", "mid", "first"])
    );

    let dropped =
        settle_unnamed_signing_keys(three_keys(), named_but_first, &[], &["first".into()]).unwrap();
    assert_eq!(dropped.delete, vec!["first".to_owned()]);
    assert_eq!(kids(&dropped.keep), vec!["new", "mid"]);

    // A word on a key the chain names changes nothing.
    let plan = settle_unnamed_signing_keys(
        three_keys(),
        named_but_first,
        &[],
        &["first".into(), "mid".into()],
    )
    .unwrap();
    assert_eq!(kids(&plan.keep), vec!["new", "mid"]);
}

#[test]
fn an_unnamed_active_key_is_the_stores_first_and_needs_no_word() {
    let only = vec![signing_key("first", SigningKeyState::Active, 10)];
    let plan = settle_unnamed_signing_keys(only.clone(), |_| false, &[], &[]).unwrap();
    assert_eq!(plan.keep, only);
    // Dropping it is not deleting it: it is left out, and no active key remains to MAC.
    let plan = settle_unnamed_signing_keys(only, |_| false, &[], &["first".into()]).unwrap();
    assert!(plan.delete.is_empty() && plan.keep.is_empty());
    signing_keys_in_order(plan.keep).unwrap_err();
}

#[test]
fn more_than_one_unnamed_key_is_refused_whatever_the_operator_says() {
    let e = settle_unnamed_signing_keys(
        three_keys(),
        |kid| kid == "new",
        &["mid".into(), "first".into()],
        &[],
    )
    .unwrap_err();
    let (what, detail) = named(e);
    assert_eq!(what, "signing key mid, first");
    assert!(detail.starts_with("the audit chain names none of these signing keys"));
}

#[test]
fn signing_keys_are_authenticated_oldest_first_and_the_active_one_last() {
    let mut keys = three_keys();
    keys[0].created_at = 5;
    assert_eq!(
        kids(&signing_keys_in_order(keys).unwrap()),
        vec!["first", "mid", "new"]
    );
    for wrong in [
        vec![signing_key("a", SigningKeyState::Retiring, 1)],
        vec![
            signing_key("a", SigningKeyState::Active, 1),
            signing_key("b", SigningKeyState::Active, 2),
        ],
    ] {
        let (what, detail) = named(signing_keys_in_order(wrong).unwrap_err());
        assert_eq!(what, "signing keys");
        assert_eq!(detail, "a store has exactly one active signing key");
    }
}

#[test]
fn mint_numbers_follow_creation_order_and_marks_cover_what_was_minted_by_the_instant() {
    let mut keys = vec![
        api_key("k1", "ws_a", 100, 0),
        api_key("k2", "ws_b", 150, 0),
        api_key("k3", "ws_a", 200, 0),
        api_key("k4", "ws_a", 300, 0),
    ];
    assert_eq!(number_in_creation_order(&mut []), 0);
    assert_eq!(number_in_creation_order(&mut keys), 4);
    let seqs: Vec<i64> = keys.iter().map(|k| k.mint_seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);

    let mut ws = workspace("ws_a", "a");
    assert_eq!(revoke_all_mark(&ws, &keys), None);
    for (at, mark) in [(99, 0), (100, 1), (250, 3), (300, 4), (1_000, 4)] {
        ws.revoked_all_at_ms = Some(at);
        assert_eq!(revoke_all_mark(&ws, &keys), Some(mark), "at {at}");
    }
}

/// A store as an older keyhold left it (schema 4: no MACs, no mint numbers), with two
/// workspaces, one of them revoked all at once, and three keys.
fn version_4_store(dir: &tempfile::TempDir) -> Store {
    let path = dir.path().join("keyhold.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.pragma_update(None, "application_id", APPLICATION_ID)
        .unwrap();
    drop(c);
    drop(Store::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "INSERT INTO workspaces (id, name, created_at, revoked_all_at_ms)
               VALUES ('ws_a', 'a', 1, 150), ('ws_b', 'b', 1, NULL);
             INSERT INTO api_keys (jti, workspace, name, sub, scopes, kid, fingerprint,
                 created_at_ms, created_by, expires_at)
               VALUES ('k3', 'ws_a', 'three', 's', 'admin', 'kid', 'f3', 200, 'op', 99),
                      ('k1', 'ws_a', 'one', 's', 'admin', 'kid', 'f1', 100, 'op', 99),
                      ('k2', 'ws_b', 'two', 's', 'admin', 'kid', 'f2', 120, 'op', 99);",
        )
        .unwrap();
    Store::open(&path).unwrap()
}

#[test]
fn the_upgrade_authenticates_every_key_and_workspace_row_it_finds() {
    let dir = tempfile::tempdir().unwrap();
    let store = version_4_store(&dir);
    let auth = loaded();
    let from = store.pending_upgrade().unwrap().expect("an upgrade is due");
    let upgraded = store
        .upgrade(from, |tx| {
            let (keys, workspaces) = (tx.all_api_keys()?, tx.workspaces()?);
            auth.authenticate_keys_and_workspaces(tx, keys, workspaces)
        })
        .unwrap();
    assert!(upgraded);
    let (keys, workspaces) = read(&store, |tx| Ok((tx.all_api_keys()?, tx.workspaces()?)));
    for k in &keys {
        auth.check_api_key(k).unwrap();
    }
    for w in &workspaces {
        auth.check_workspace(w).unwrap();
    }
    let seqs: Vec<(&str, i64)> = keys.iter().map(|k| (k.jti.as_str(), k.mint_seq)).collect();
    assert_eq!(seqs, vec![("k1", 1), ("k2", 2), ("k3", 3)]);
    let marks: Vec<Option<i64>> = workspaces.iter().map(|w| w.revoked_all_seq).collect();
    assert_eq!(marks, vec![Some(1), None]);
    assert_eq!(read(&store, |tx| auth.mint_counter(tx)), 3);
}
