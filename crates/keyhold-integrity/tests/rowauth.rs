//! `RowAuth` against a real store: every row MAC'd before it is written and checked as read,
//! each edit named as the row it touched, the mint counter and the store's identity.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keyhold_crypto::{MasterKey, RowKey, SecretBytes};
use keyhold_integrity::{IntegrityError, RowAuth, is_witnessed, keep_whole, meta};
use keyhold_store::SigningKeyState;

#[test]
fn nothing_is_maced_or_checked_before_the_key_is_there() {
    let auth = RowAuth::default();
    let mut ws = workspace("ws_a", "a");
    assert!(matches!(
        auth.mac_workspace(&mut ws),
        Err(IntegrityError::KeyNotLoaded)
    ));
    assert!(matches!(
        auth.check_workspace(&ws),
        Err(IntegrityError::KeyNotLoaded)
    ));
    assert_eq!(format!("{auth:?}"), "RowAuth(..)");
}

#[test]
fn a_loaded_key_checks_what_the_installed_one_maced() {
    let key = RowKey::generate().unwrap();
    let sealed = key.to_secret_bytes();
    let writer = RowAuth::default();
    writer.install(key);
    let mut row = signing_key("kid-a", SigningKeyState::Active, 1);
    writer.mac_signing_key(&mut row).unwrap();

    let reader = RowAuth::default();
    reader.load(Some(&sealed)).unwrap();
    reader.check_signing_key(&row).unwrap();
    // Another store's key does not.
    loaded().check_signing_key(&row).unwrap_err();
}

#[test]
fn a_missing_or_short_row_key_record_is_an_integrity_error() {
    let auth = RowAuth::default();
    let (what, detail) = named(auth.load(None).unwrap_err());
    assert_eq!(
        (what.as_str(), detail.as_str()),
        ("row key", "the store's row key record is missing")
    );
    let short = SecretBytes::copy_from(&[7u8; 31]);
    let (what, detail) = named(auth.load(Some(&short)).unwrap_err());
    assert_eq!(
        (what.as_str(), detail.as_str()),
        ("row key", "wrong length")
    );
}

/// Workspace `ws_a` and its key `key_1`, MACed by `auth` and stored; returned as written.
fn stored_key(
    store: &keyhold_store::Store,
    auth: &RowAuth,
) -> (keyhold_store::WorkspaceRow, keyhold_store::ApiKeyRow) {
    let mut ws = workspace("ws_a", "a");
    let mut key = api_key("key_1", "ws_a", 10, 1);
    auth.mac_workspace(&mut ws).unwrap();
    auth.mac_api_key(&mut key).unwrap();
    write(store, |tx| {
        tx.insert_workspace(&ws)?;
        Ok(tx.insert_api_key(&key)?)
    });
    (ws, key)
}

#[test]
fn a_signing_key_row_authenticates_until_any_field_changes() {
    let (_dir, store) = new_store();
    let auth = loaded();
    let mut row = signing_key("kid-a", SigningKeyState::Active, 100);
    auth.mac_signing_key(&mut row).unwrap();
    write(&store, |tx| Ok(tx.insert_signing_key(&row)?));
    let stored = read(&store, |tx| Ok(tx.signing_keys()?));
    auth.check_signing_key(&stored[0]).unwrap();

    let edits: [fn(&mut keyhold_store::SigningKeyRow); 4] = [
        |r| r.public_key.push(0),
        |r| r.state = SigningKeyState::Retiring,
        |r| r.created_at += 1,
        |r| r.retired_at = Some(5),
    ];
    for edit in edits {
        let mut bad = stored[0].clone();
        edit(&mut bad);
        let (what, detail) = named(auth.check_signing_key(&bad).unwrap_err());
        assert_eq!(
            (what.as_str(), detail.as_str()),
            ("signing key kid-a", TAMPERED)
        );
    }
}

#[test]
fn an_edited_informational_column_fails_the_whole_key_row_but_not_its_standing() {
    let (_dir, store) = new_store();
    let auth = loaded();
    stored_key(&store, &auth);
    let stored = read(&store, |tx| Ok(tx.api_key("key_1")?)).unwrap();
    auth.check_api_key(&stored).unwrap();

    let mut renamed = stored.clone();
    renamed.scopes = "admin".into();
    assert_eq!(
        named(auth.check_api_key(&renamed).unwrap_err()).0,
        "api key key_1"
    );
    auth.check_api_key_standing(&renamed).unwrap();

    // What verification reads is covered by both MACs.
    let mut unrevoked = stored.clone();
    unrevoked.revoked_at_ms = Some(1);
    auth.check_api_key_standing(&unrevoked).unwrap_err();
    let mut moved = stored;
    moved.jti = "key_2".into();
    let (what, detail) = named(auth.check_api_key(&moved).unwrap_err());
    assert_eq!(
        (what.as_str(), detail.as_str()),
        ("api key key_2", TAMPERED)
    );
    assert_eq!(
        named(auth.check_api_key_standing(&moved).unwrap_err()).0,
        "api key key_2"
    );
}

#[test]
fn a_workspace_row_and_its_revoke_all_mark_are_checked_apart() {
    let auth = loaded();
    let mut ws = workspace("ws_a", "a");
    ws.revoked_all_seq = Some(3);
    auth.mac_workspace(&mut ws).unwrap();
    auth.check_workspace(&ws).unwrap();
    let mut renamed = ws.clone();
    renamed.name = "b".into();
    assert_eq!(
        named(auth.check_workspace(&renamed).unwrap_err()).0,
        "workspace ws_a"
    );
    auth.check_workspace_mark(&renamed).unwrap();
    let mut put_back = ws;
    put_back.revoked_all_seq = Some(2);
    assert_eq!(
        named(auth.check_workspace_mark(&put_back).unwrap_err()).0,
        "workspace ws_a"
    );
}

#[test]
fn keep_whole_leaves_a_failing_whole_row_mac_failing_after_a_revocation() {
    let auth = loaded();
    let mut row = api_key("key_1", "ws_a", 10, 1);
    auth.mac_api_key(&mut row).unwrap();
    row.name = "edited".into();
    let old = std::mem::take(&mut row.mac);
    row.revoked_at_ms = Some(99);
    auth.mac_api_key(&mut row).unwrap();
    keep_whole(&mut row.mac, &old);
    auth.check_api_key_standing(&row).unwrap();
    auth.check_api_key(&row).unwrap_err();
    // A column too short for a whole-row MAC keeps its length.
    let mut mac = row.mac.clone();
    keep_whole(&mut mac, b"short");
    assert_eq!(mac.len(), row.mac.len());
    assert!(mac.starts_with(b"short"));
}

#[test]
fn an_edited_row_is_revoked_by_its_id_only_and_stays_visibly_edited() {
    let auth = loaded();
    let mut row = api_key("key_1", "ws_a", 10, 1);
    auth.mac_api_key(&mut row).unwrap();
    assert!(auth.check_api_key_for_revocation(&row, "key_1").unwrap());
    row.name = "edited".into();
    assert!(!auth.check_api_key_for_revocation(&row, "key_1").unwrap());
    let (what, detail) = named(
        auth.check_api_key_for_revocation(&row, "edited")
            .unwrap_err(),
    );
    assert_eq!(what, "api key key_1");
    assert!(detail.contains("revoke it by its id"), "{detail}");
    row.revoked_at_ms = Some(99);
    auth.mac_revoked_api_key(&mut row, false).unwrap();
    auth.check_api_key_standing(&row).unwrap();
    auth.check_api_key(&row).unwrap_err();

    let mut ws = workspace("ws_a", "a");
    auth.mac_workspace(&mut ws).unwrap();
    ws.name = "b".into();
    assert!(!auth.check_workspace_for_revocation(&ws, "ws_a").unwrap());
    auth.check_workspace_for_revocation(&ws, "b").unwrap_err();
    ws.revoked_all_seq = Some(3);
    auth.mac_revoked_workspace(&mut ws, false).unwrap();
    auth.check_workspace_mark(&ws).unwrap();
    auth.check_workspace(&ws).unwrap_err();
}

#[test]
fn the_hot_path_checks_the_borrowed_standing_of_the_key_and_its_workspace() {
    let (_dir, store) = new_store();
    let auth = loaded();
    let (ws, key) = stored_key(&store, &auth);
    let check = |jti: &str| {
        store
            .key_standing(jti, |_, st| st.map(|st| auth.check_standing(jti, &st)))
            .unwrap()
            .unwrap()
    };
    check("key_1").unwrap();

    // The workspace's mark put back, MAC'd under another key.
    let mut forged = ws.clone();
    forged.revoked_all_seq = Some(0);
    loaded().mac_workspace(&mut forged).unwrap();
    raw_write(&store, |tx| {
        tx.set_workspace_auth("ws_a", Some(0), &forged.mac)
    });
    let (what, detail) = named(check("key_1").unwrap_err());
    assert_eq!(
        (what.as_str(), detail.as_str()),
        ("workspace ws_a", TAMPERED)
    );

    // The key's row under another id fails first.
    raw_write(&store, |tx| tx.set_workspace_auth("ws_a", None, &ws.mac));
    let mut copy = key.clone();
    copy.jti = "key_2".into();
    copy.name = "other".into();
    copy.mint_seq = 2;
    copy.mac = key.mac.clone();
    raw_write(&store, |tx| tx.insert_api_key(&copy));
    assert_eq!(named(check("key_2").unwrap_err()).0, "api key key_2");
}

#[test]
fn the_mint_counter_round_trips_and_an_edited_or_damaged_one_is_named() {
    let (_dir, store) = new_store();
    let auth = loaded();
    write(&store, |tx| auth.set_mint_counter(tx, 41));
    assert_eq!(read(&store, |tx| auth.mint_counter(tx)), 41);

    let mut value = read(&store, |tx| Ok(tx.meta(meta::MINT_COUNTER)?)).unwrap();
    value[7] = 40;
    for bad in [value, vec![0; 5], Vec::new()] {
        raw_write(&store, |tx| tx.set_meta(meta::MINT_COUNTER, &bad));
        let e = store.read(|tx| auth.mint_counter(tx)).unwrap_err();
        assert_eq!(named(e), ("meta mint_counter".into(), TAMPERED.into()));
    }
}

fn identity_rows(store: &keyhold_store::Store) {
    raw_write(store, |tx| {
        tx.set_meta(meta::STORE_ID, b"id")?;
        tx.set_meta(meta::MASTER_CHECK, b"check")?;
        tx.set_meta(meta::CREATED_AT, &7i64.to_be_bytes())?;
        tx.set_meta(meta::CHECKPOINT_PUBLIC, b"pk")
    });
}

#[test]
fn the_identity_rows_are_maced_together_with_a_witness_of_the_master_key() {
    let (_dir, store) = new_store();
    let auth = loaded();
    let master = MasterKey::generate().unwrap();
    identity_rows(&store);
    write(&store, |tx| auth.write_identity(tx, &master));
    read(&store, |tx| auth.check_identity(tx));
    assert!(read(&store, |tx| Ok(is_witnessed(tx, &master)?)));
    let other = MasterKey::generate().unwrap();
    assert!(!read(&store, |tx| Ok(is_witnessed(tx, &other)?)));

    for name in meta::IDENTITY {
        let before = read(&store, |tx| Ok(tx.meta(name)?)).unwrap();
        raw_write(&store, |tx| tx.set_meta(name, b"edited"));
        let e = store.read(|tx| auth.check_identity(tx)).unwrap_err();
        assert_eq!(named(e), ("meta (store identity)".into(), TAMPERED.into()));
        raw_write(&store, |tx| tx.delete_meta(name));
        let e = store.read(|tx| auth.check_identity(tx)).unwrap_err();
        assert_eq!(named(e), (format!("meta {name}"), "missing".into()));
        raw_write(&store, |tx| tx.set_meta(name, &before));
    }
    read(&store, |tx| auth.check_identity(tx));
    // An edited witness witnesses nothing; a missing identity MAC authenticates nothing.
    raw_write(&store, |tx| tx.set_meta(meta::WITNESS, b"short"));
    assert!(!read(&store, |tx| Ok(is_witnessed(tx, &master)?)));
    write(&store, |tx| auth.write_identity(tx, &master));
    raw_write(&store, |tx| tx.delete_meta(meta::IDENTITY_MAC));
    store.read(|tx| auth.check_identity(tx)).unwrap_err();
}

#[test]
fn a_confirmation_authenticates_only_for_its_caller_intent_workspace_and_time() {
    let (_dir, store) = new_store();
    let auth = loaded();
    let mut row = keyhold_store::ConfirmationRow {
        id: "ab12".into(),
        workspace: "ws_a".into(),
        caller: "key:k1".into(),
        intent: "{\"intent\":\"revoke_key\",\"key\":\"grafana\"}".into(),
        expires_at: 100,
        mac: Vec::new(),
    };
    auth.mac_confirmation(&mut row).unwrap();
    write(&store, |tx| Ok(tx.insert_confirmation(&row, 0)?));
    let taken = match write(&store, |tx| Ok(tx.take_confirmation("ab12", "key:k1", 0)?)) {
        keyhold_store::Taken::Row(row) => row,
        other => panic!("{other:?}"),
    };
    auth.check_confirmation(&taken).unwrap();

    let edits: [fn(&mut keyhold_store::ConfirmationRow); 5] = [
        |r| r.id = "ab13".into(),
        |r| r.workspace = "ws_b".into(),
        |r| r.caller = "key:k2".into(),
        |r| r.intent = "{\"intent\":\"revoke_all\"}".into(),
        |r| r.expires_at += 3600,
    ];
    for edit in edits {
        let mut bad = taken.clone();
        edit(&mut bad);
        let (what, detail) = named(auth.check_confirmation(&bad).unwrap_err());
        assert_eq!(
            (what.as_str(), detail.as_str()),
            ("an assistant confirmation", TAMPERED)
        );
    }
    // Another store's key does not either.
    loaded().check_confirmation(&taken).unwrap_err();
}

#[test]
fn team_access_rows_authenticate_until_an_access_deciding_field_changes() {
    use keyhold_integrity::AccessRow;
    use keyhold_store::{MemberRow, PersonRow, SessionRow};
    let auth = loaded();
    let mut person = PersonRow {
        email: "ann@team.com".into(),
        display_name: "Ann".into(),
        password_hash: Some("$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA".into()),
        created_at: 1,
        updated_at: 1,
        ..PersonRow::default()
    };
    auth.mac_access(&mut person).unwrap();
    auth.check_access(&person).unwrap();
    // Informational columns are outside the MAC.
    let mut seen = person.clone();
    seen.last_sign_in = Some(9);
    seen.totp_step = Some(3);
    auth.check_access(&seen).unwrap();
    // A password hash put in by someone without the master key does not authenticate.
    let mut swapped = person.clone();
    swapped.password_hash = Some("$argon2id$v=19$m=64,t=1,p=1$c2FsdA$b3RoZXI".into());
    let (what, detail) = named(auth.check_access(&swapped).unwrap_err());
    assert_eq!(
        (what.as_str(), detail.as_str()),
        ("person ann@team.com", TAMPERED)
    );

    let mut member = MemberRow {
        workspace: "ws_a".into(),
        email: "ann@team.com".into(),
        role: "viewer".into(),
        state: "active".into(),
        created_by: "operator:root".into(),
        created_at: 1,
        updated_at: 1,
        mac: Vec::new(),
    };
    auth.mac_access(&mut member).unwrap();
    for edit in [
        |m: &mut MemberRow| m.role = "owner".into(),
        |m: &mut MemberRow| m.state = "disabled".into(),
        |m: &mut MemberRow| m.workspace = "ws_b".into(),
    ] {
        let mut bad = member.clone();
        edit(&mut bad);
        assert!(auth.check_access(&bad).is_err());
    }
    let mut session = SessionRow {
        id: "ab".into(),
        email: "ann@team.com".into(),
        workspace: "ws_a".into(),
        csrf: "cd".into(),
        created_at: 1,
        idle_secs: 1800,
        absolute_secs: 43_200,
        mac: Vec::new(),
        last_seen: 1,
    };
    auth.mac_access(&mut session).unwrap();
    let mut longer = session.clone();
    longer.absolute_secs *= 10;
    assert!(auth.check_access(&longer).is_err());
    assert_eq!(session.what(), "a session of ann@team.com");
    loaded().check_access(&session).unwrap_err();
}
