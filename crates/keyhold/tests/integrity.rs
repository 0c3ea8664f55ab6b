//! The attacker who can write `keyhold.db` but has no master key: every attack that used to
//! work is reproduced here on a real store, and each is now refused at once (an
//! `integrity_error` naming the row, never a grant) or — for an older authentic copy of a row
//! put back, which no MAC can tell — caught by `audit verify`, naming the row. This is the
//! table "attacker who can write the database" of docs/security.md, as tests.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

mod common;

use common::*;
use keyhold::{Caller, ExpiryPreset, Keyhold, MintRequest, Scope};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn op() -> Caller {
    Caller::operator()
}

fn req(name: &str, scopes: &[Scope]) -> MintRequest {
    MintRequest {
        workspace: "default".into(),
        name: name.into(),
        expires: ExpiryPreset::OneHour,
        scopes: Some(scopes.iter().copied().collect()),
        sub: Some("svc@team.example".into()),
    }
}

fn mint(kh: &Keyhold, name: &str) -> (String, String) {
    let m = kh
        .mint_key(&op(), &req(name, &[Scope::ReadQueries]))
        .expect("mint");
    (m.token.expose().to_owned(), m.key.id)
}

/// A `keys:read` key of workspace `team-b` (created by the caller): another tenant's service.
fn b_reader(kh: &Keyhold) -> keyhold::MintedKey {
    kh.mint_key(
        &op(),
        &MintRequest {
            workspace: "team-b".into(),
            ..req("b-reader", &[Scope::KeysRead])
        },
    )
    .expect("mint")
}

/// Asserts an integrity error whose message names `what`.
#[track_caller]
fn assert_integrity<T: std::fmt::Debug>(r: keyhold::Result<T>, what: &str) {
    let e = r.expect_err("must be refused");
    assert_eq!(e.code(), "integrity_error", "{e}");
    assert!(e.to_string().contains(what), "{e} should name {what}");
}

#[test]
fn a_forged_signing_key_row_is_never_a_grant() {
    let fx = Fixture::new();
    let kh = fx.init();
    let (good, good_id) = mint(&kh, "legit");
    // A running server: it has verified before the attack.
    let server = fx.open().expect("open");
    server.verify_token(&good, None).expect("valid before");

    // The attacker's own Ed25519 key, its kid the RFC 7638 thumbprint (all a row used to need).
    let evil = keyhold_token::SigningKey::generate().expect("key");
    let kid = evil.kid().to_owned();
    fx.sql()
        .execute(
            "INSERT INTO signing_keys (kid, public_key, state, created_at, retired_at, mac)
             SELECT ?1, ?2, 'retiring', created_at, NULL, mac FROM signing_keys LIMIT 1",
            rusqlite::params![kid, evil.verifying_key().as_bytes().to_vec()],
        )
        .expect("insert row");
    let claims = keyhold_token::Claims::new(
        kh.issuer(),
        "attacker",
        &server.workspace("default").expect("ws").id,
        [Scope::Admin].into_iter().collect(),
        now(),
        ExpiryPreset::ThirtyDays,
        &good_id, // even the jti of a real, active key
    )
    .expect("claims");
    let forged = keyhold_token::mint(&evil, &claims).expect("sign");
    for h in [&server, &kh] {
        assert_integrity(h.verify_token(&forged, None), &format!("signing key {kid}"));
    }
    // The JWKS never publishes it; a fresh process refuses to start on it, naming it.
    assert_integrity(server.jwks(), &format!("signing key {kid}"));
    assert_integrity(fx.open(), &format!("signing key {kid}"));
    // Tokens of the real keys still verify in the process that was running.
    server
        .verify_token(&good, None)
        .expect("real keys unaffected");
}

#[test]
fn an_edited_api_key_row_is_refused_in_every_process() {
    let fx = Fixture::new();
    let kh = fx.init();
    let (t1, id1) = mint(&kh, "k1");
    let server = fx.open().expect("open");
    server.verify_token(&t1, None).expect("valid");
    kh.revoke_key(&op(), "default", "k1").expect("revoke");

    // Edit: un-revoke k1.
    fx.sql()
        .execute(
            "UPDATE api_keys SET revoked_at_ms = NULL, revoked_by = NULL WHERE jti = ?1",
            [&id1],
        )
        .expect("edit");
    for h in [&server, &kh] {
        assert_integrity(h.verify_token(&t1, None), &format!("api key {id1}"));
    }
    assert_integrity(kh.keys(&op(), "default"), &format!("api key {id1}"));
    assert_integrity(kh.verify_audit(None), &format!("api key {id1}"));
    // Scopes, expiry, workspace or the id itself: the same.
    // Its workspace, mint order or id: refused at once too.
    for edit in [
        "UPDATE api_keys SET mint_seq = mint_seq + 100 WHERE jti = ?1",
        "UPDATE api_keys SET revoked_at_ms = 1 WHERE jti = ?1",
    ] {
        let (t, id) = mint(&kh, &format!("s{}", edit.len()));
        fx.sql().execute(edit, [&id]).expect("edit");
        assert_integrity(server.verify_token(&t, None), &format!("api key {id}"));
    }
}

#[test]
fn an_edited_informational_column_grants_nothing_is_named_and_the_key_stays_revocable() {
    // Scopes, expiry and subject decide nothing at verification (the signed token does), so
    // editing them grants nothing: the token keeps its own claims. Every read of the whole
    // row names the edit, and the key can still be revoked at once.
    for edit in [
        "UPDATE api_keys SET scopes = 'admin' WHERE jti = ?1",
        "UPDATE api_keys SET expires_at = expires_at + 86400 WHERE jti = ?1",
        "UPDATE api_keys SET sub = 'someone-else' WHERE jti = ?1",
    ] {
        let fx = Fixture::new();
        let kh = fx.init();
        let server = fx.open().expect("open");
        let name = format!("e{}", edit.len());
        let (t, id) = mint(&kh, &name);
        fx.sql().execute(edit, [&id]).expect("edit");
        let p = server.verify_token(&t, None).expect("its own claims");
        assert!(!p.scopes.covers(Scope::Admin) && p.sub == "svc@team.example");
        assert_integrity(kh.key(&op(), "default", &name), &format!("api key {id}"));
        assert_integrity(kh.verify_audit(None), &format!("api key {id}"));
        assert_integrity(
            kh.revoke_key(&op(), "default", &name),
            "revoke it by its id",
        );
        kh.revoke_key(&op(), "default", &id)
            .expect("revocable by its id all the same");
        assert_eq!(
            server.verify_token(&t, None).expect_err("revoked").code(),
            "key_revoked"
        );
        assert_integrity(kh.key(&op(), "default", &name), &format!("api key {id}"));
        assert_integrity(kh.verify_audit(None), &format!("api key {id}"));
    }
}

#[test]
fn a_replayed_pre_revocation_row_is_named_by_audit_verify() {
    let fx = Fixture::new();
    let kh = fx.init();
    let (token, id) = mint(&kh, "k");
    let old: Vec<rusqlite::types::Value> = fx
        .sql()
        .query_row("SELECT * FROM api_keys WHERE jti = ?1", [&id], |r| {
            (0..15).map(|i| r.get(i)).collect()
        })
        .expect("row");
    kh.revoke_key(&op(), "default", "k").expect("revoke");
    kh.verify_audit(None).expect("consistent");
    let conn = fx.sql();
    conn.execute("DELETE FROM api_keys WHERE jti = ?1", [&id])
        .expect("delete");
    conn.execute(
        "INSERT INTO api_keys VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        rusqlite::params_from_iter(old),
    )
    .expect("replay");
    // What docs/security.md states: an authentic older copy is not refused at once...
    let fresh = fx.open().expect("open");
    assert!(
        fresh.verify_token(&token, None).is_ok(),
        "a replay is not seen by a MAC"
    );
    // ...and audit verify names it, with the audit record of the revocation.
    let e = fresh.verify_audit(None).expect_err("caught");
    assert_eq!(e.code(), "integrity_error");
    let msg = e.to_string();
    assert!(msg.contains(&format!("api key {id}")), "{msg}");
    assert!(msg.contains("older copy"), "{msg}");
}

#[test]
fn an_edited_or_replayed_revoke_all_mark_is_refused_or_caught() {
    let fx = Fixture::new();
    let kh = fx.init();
    let (token, _) = mint(&kh, "k");
    let ws = kh.workspace("default").expect("ws").id;
    let old: Vec<rusqlite::types::Value> = fx
        .sql()
        .query_row("SELECT * FROM workspaces WHERE id = ?1", [&ws], |r| {
            (0..6).map(|i| r.get(i)).collect()
        })
        .expect("row");
    let columns: Vec<String> = {
        let conn = fx.sql();
        let st = conn.prepare("SELECT * FROM workspaces").expect("prepare");
        st.column_names().into_iter().map(str::to_owned).collect()
    };
    kh.revoke_all_keys(&op(), "default").expect("revoke all");
    assert_eq!(
        kh.verify_token(&token, None).expect_err("revoked").code(),
        "key_revoked_all"
    );
    for edit in [
        "UPDATE workspaces SET revoked_all_seq = NULL WHERE id = ?1",
        "UPDATE workspaces SET revoked_all_seq = 0 WHERE id = ?1",
        "UPDATE workspaces SET revoked_all_at_ms = 0 WHERE id = ?1",
    ] {
        let conn = fx.sql();
        conn.execute("SAVEPOINT s", []).expect("savepoint");
        conn.execute(edit, [&ws]).expect("edit");
        conn.execute("RELEASE s", []).expect("release");
        let fresh = fx.open().expect("open");
        assert_integrity(fresh.verify_token(&token, None), &format!("workspace {ws}"));
        assert_integrity(kh.verify_token(&token, None), &format!("workspace {ws}"));
    }
    // The pre-revoke-all row put back whole: authentic, so only the chain can tell.
    let sets: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 1))
        .collect();
    let mut args = old.clone();
    args.push(rusqlite::types::Value::Text(ws.clone()));
    fx.sql()
        .execute(
            &format!(
                "UPDATE workspaces SET {} WHERE id = ?{}",
                sets.join(", "),
                columns.len() + 1
            ),
            rusqlite::params_from_iter(args),
        )
        .expect("replay");
    let e = kh.verify_audit(None).expect_err("caught");
    assert!(e.to_string().contains(&format!("workspace {ws}")), "{e}");
}

#[test]
fn every_audit_filter_column_is_covered() {
    let fx = Fixture::new();
    let kh = fx.init();
    let (token, id) = mint(&kh, "k");
    kh.verify_token(&token, None).expect("use");
    let seq: i64 = fx
        .sql()
        .query_row(
            "SELECT seq FROM audit_log WHERE action = 'key.used' AND key_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .expect("use row");
    kh.verify_audit(None).expect("intact");
    for (column, value) in [
        ("workspace", "'ws_other'"),
        ("action", "'key.created'"),
        ("actor", "'somebody-else'"),
        ("key_id", "NULL"),
        ("outcome", "'token_revoked'"),
        ("time_ms", "0"),
    ] {
        let conn = fx.sql();
        let before: rusqlite::types::Value = conn
            .query_row(
                &format!("SELECT {column} FROM audit_log WHERE seq = ?1"),
                [seq],
                |r| r.get(0),
            )
            .expect("value");
        conn.execute(
            &format!("UPDATE audit_log SET {column} = {value} WHERE seq = ?1"),
            [seq],
        )
        .expect("edit");
        let e = kh.verify_audit(None).expect_err(column);
        assert_eq!(e.code(), "integrity_error", "{column}: {e}");
        assert!(
            e.to_string().contains(&format!("audit record {seq}")),
            "{column}: {e}"
        );
        // A listing that returns the edited row refuses it rather than show it.
        let listed = kh.audit_entries(&op(), &keyhold::api::AuditQuery::default());
        assert_integrity(listed, &format!("audit record {seq}"));
        conn.execute(
            &format!("UPDATE audit_log SET {column} = ?1 WHERE seq = ?2"),
            rusqlite::params![before, seq],
        )
        .expect("restore");
        kh.verify_audit(None).expect("intact again");
    }
}

#[test]
fn edited_identity_rows_are_integrity_errors_and_a_wrong_key_is_still_a_wrong_key() {
    let fx = Fixture::new();
    drop(fx.init());
    for (row, edit) in [
        (
            "master_check",
            "UPDATE meta SET value = zeroblob(32) WHERE key = 'master_check'",
        ),
        (
            "store_id",
            "UPDATE meta SET value = zeroblob(16) WHERE key = 'store_id'",
        ),
        (
            "audit_checkpoint_public",
            "UPDATE meta SET value = zeroblob(32) WHERE key = 'audit_checkpoint_public'",
        ),
        (
            "created_at",
            "UPDATE meta SET value = zeroblob(8) WHERE key = 'created_at'",
        ),
    ] {
        let conn = fx.sql();
        let before: Vec<u8> = conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [row], |r| r.get(0))
            .expect("value");
        conn.execute(edit, []).expect("edit");
        let e = fx.open().expect_err(row);
        assert_eq!(e.code(), "integrity_error", "{row}: {e}");
        assert!(e.to_string().contains("meta"), "{row}: {e}");
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE key = ?2",
            rusqlite::params![before, row],
        )
        .expect("restore");
        fx.open().expect("opens again");
    }
    let wrong = keyhold::MasterKey::generate().expect("key");
    let e = Keyhold::open(fx.data(), text_key(&wrong)).expect_err("wrong key");
    assert_eq!(e.code(), "wrong_master_key");
}

#[test]
fn revoke_all_refuses_every_key_that_existed_whatever_its_creation_time_says() {
    // Clocks cannot be moved here without editing (and so failing) the row MAC; the CLI test
    // `revoke_all_ignores_a_minting_clock_ahead` mints under a clock a day ahead. Here: the
    // decision is by mint order, so keys minted in the same millisecond as the revoke-all,
    // before it, are refused, and those after it work.
    let fx = Fixture::new();
    let kh = fx.init();
    let before: Vec<String> = (0..3).map(|i| mint(&kh, &format!("b{i}")).0).collect();
    let r = kh.revoke_all_keys(&op(), "default").expect("revoke all");
    assert_eq!(r.keys_revoked, 3, "the count is the keys actually refused");
    let after = mint(&kh, "after").0;
    for t in &before {
        assert_eq!(
            kh.verify_token(t, None).expect_err("refused").code(),
            "key_revoked_all"
        );
    }
    kh.verify_token(&after, None)
        .expect("minted after it: works");
    let again = kh.revoke_all_keys(&op(), "default").expect("again");
    assert_eq!(again.keys_revoked, 1, "only the one active key");
    kh.verify_audit(None).expect("chain and rows agree");
}

#[test]
fn introspection_of_another_workspaces_token_says_nothing_and_is_recorded_in_both_logs() {
    let fx = Fixture::new();
    let kh = fx.init();
    let b = kh.create_workspace(&op(), "team-b").expect("ws");
    let a_admin = kh
        .mint_key(&op(), &req("a-admin", &[Scope::Admin]))
        .expect("mint");
    let b_reader = b_reader(&kh);
    let origin = keyhold::Origin::new(keyhold::Surface::Http);
    let keyhold::Introspection::Verdict { caller, verdict } = kh.introspect_deferred(
        b_reader.token.expose(),
        a_admin.token.expose(),
        None,
        &origin,
    ) else {
        panic!("B's key is valid");
    };
    assert_eq!(caller.workspace, b.id);
    let e = verdict.wait().expect_err("refused");
    assert_eq!(e.code(), "workspace_mismatch");
    assert!(!e.to_string().contains(&a_admin.key.id), "{e}");
    // A revoked token of A: still only workspace_mismatch (B learns nothing of its state).
    kh.revoke_key(&op(), "default", "a-admin").expect("revoke");
    let keyhold::Introspection::Verdict { verdict, .. } = kh.introspect_deferred(
        b_reader.token.expose(),
        a_admin.token.expose(),
        None,
        &origin,
    ) else {
        panic!("B's key is valid");
    };
    assert_eq!(
        verdict.wait().expect_err("refused").code(),
        "workspace_mismatch"
    );
    let entries = kh
        .audit_entries(&op(), &keyhold::api::AuditQuery::default())
        .expect("audit");
    let mismatches: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "key.rejected" && e.outcome == "workspace_mismatch")
        .collect();
    let in_a = mismatches
        .iter()
        .filter(|e| e.workspace.as_deref() == Some(&a_admin.key.workspace))
        .count();
    let in_b: Vec<_> = mismatches
        .iter()
        .filter(|e| e.workspace.as_deref() == Some(&b.id))
        .collect();
    assert_eq!((in_a, in_b.len()), (2, 2), "{mismatches:#?}");
    for e in in_b {
        assert_eq!(e.key_id.as_deref(), Some(b_reader.key.id.as_str()));
        assert!(e.target.is_none() && !format!("{e:?}").contains(&a_admin.key.id));
    }
}

#[test]
fn a_flood_of_garbage_tokens_is_counted_not_written_row_by_row() {
    let fx = Fixture::new();
    let kh = fx.init();
    let rows = || -> i64 {
        fx.sql()
            .query_row(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'key.rejected'",
                [],
                |r| r.get(0),
            )
            .expect("count")
    };
    let mut origin = keyhold::Origin::new(keyhold::Surface::Http);
    origin.source = Some("192.0.2.7:5555".into());
    for i in 0..500 {
        let e = kh
            .verify_token_from(&format!("garbage.{i}.token"), None, &origin)
            .expect_err("garbage");
        assert_eq!(e.code(), "token_malformed");
    }
    let written = rows();
    assert!(
        (1..=20).contains(&written),
        "{written} rows for 500 refusals"
    );
    kh.flush_rejection_counts();
    // The flushed count rides on a row of its own once committed (the next use commits it).
    let (t, _) = mint(&kh, "k");
    kh.verify_token(&t, None)
        .expect("valid uses are recorded one by one");
    let suppressed: i64 = kh
        .audit_entries(&op(), &keyhold::api::AuditQuery::default())
        .expect("audit")
        .iter()
        .filter_map(|e| {
            e.details
                .get("suppressed")
                .and_then(serde_json::Value::as_i64)
        })
        .sum();
    assert_eq!(suppressed + rows() - 1, 500, "every refusal is counted");
}

#[test]
fn a_standing_counter_put_back_buys_at_most_the_cache_age() {
    // A running process caches a verified token; another process revokes it (the counter
    // moves); the attacker puts the counter back so the cached standing looks current.
    let fx = Fixture::new();
    let kh = fx.init();
    let (token, _) = mint(&kh, "k");
    let server = fx.open().expect("open");
    server.verify_token(&token, None).expect("cached");
    let counter: i64 = fx
        .sql()
        .query_row("SELECT version FROM standing", [], |r| r.get(0))
        .expect("counter");
    kh.revoke_key(&op(), "default", "k").expect("revoke");
    fx.sql()
        .execute("UPDATE standing SET version = ?1", [counter])
        .expect("put back");
    std::thread::sleep(keyhold::STANDING_MAX_AGE + std::time::Duration::from_millis(100));
    assert_eq!(
        server
            .verify_token(&token, None)
            .expect_err("read again")
            .code(),
        "key_revoked"
    );
}

/// The schema-5 shape taken apart back to schema 4, as an attacker would to have the next
/// open authenticate rows of their own.
const DOWNGRADE: &str = "DROP INDEX api_keys_by_seq;
     DROP TRIGGER api_keys_standing_update;
     DROP TRIGGER workspaces_standing_update;
     DROP TRIGGER signing_keys_standing_change;
     DROP TRIGGER signing_keys_standing_delete;
     ALTER TABLE signing_keys DROP COLUMN mac;
     ALTER TABLE api_keys DROP COLUMN mint_seq;
     ALTER TABLE api_keys DROP COLUMN mac;
     ALTER TABLE workspaces DROP COLUMN revoked_all_seq;
     ALTER TABLE workspaces DROP COLUMN mac;
     CREATE TRIGGER api_keys_standing_update
         AFTER UPDATE OF jti, workspace, created_at_ms, expires_at, revoked_at_ms ON api_keys
         BEGIN UPDATE standing SET version = version + 1 WHERE id = 0; END;
     CREATE TRIGGER workspaces_standing_update
         AFTER UPDATE OF id, revoked_all_at_ms ON workspaces
         BEGIN UPDATE standing SET version = version + 1 WHERE id = 0; END;
     PRAGMA user_version = 4;";

/// Putting the schema version back does not get forged rows authenticated: the store refuses
/// to open, whatever else of the upgrade's traces is removed, as long as the chain holds it.
#[test]
fn a_store_put_back_to_schema_4_refuses_to_bless_forged_rows() {
    for remove_traces in [false, true] {
        let fx = Fixture::new();
        drop(fx.init());
        let evil = keyhold_token::SigningKey::generate().expect("key");
        let conn = fx.sql();
        conn.execute_batch(DOWNGRADE).expect("downgrade");
        conn.execute(
            "INSERT INTO signing_keys (kid, public_key, state, created_at, retired_at)
             VALUES (?1, ?2, 'retiring', 1, NULL)",
            rusqlite::params![evil.kid(), evil.verifying_key().as_bytes().to_vec()],
        )
        .expect("forged key");
        if remove_traces {
            conn.execute_batch(
                "DELETE FROM meta WHERE key IN ('master_witness', 'identity_mac', 'mint_counter');
                 DELETE FROM records WHERE kind = 'row-key';",
            )
            .expect("remove traces");
        }
        drop(conn);
        let e = fx.open().expect_err("refused");
        assert_eq!(e.code(), "integrity_error", "{e}");
        assert!(e.to_string().contains("schema version"), "{e}");
        // Nothing was written: still schema 4, the forged row still unauthenticated.
        let v: i64 = fx
            .sql()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(v, 4);
    }
}

#[test]
fn a_foreign_token_refused_before_its_principal_is_known_still_says_only_workspace_mismatch() {
    // Its row fails authentication (refused before a principal is built): B must not learn
    // that, nor anything else about A's token.
    let fx = Fixture::new();
    let kh = fx.init();
    kh.create_workspace(&op(), "team-b").expect("ws");
    let (a_token, a_id) = mint(&kh, "a");
    let b_reader = b_reader(&kh);
    fx.sql()
        .execute(
            "UPDATE api_keys SET scopes = 'admin' WHERE jti = ?1",
            [&a_id],
        )
        .expect("edit");
    let origin = keyhold::Origin::new(keyhold::Surface::Http);
    let keyhold::Introspection::Verdict { verdict, .. } =
        kh.introspect_deferred(b_reader.token.expose(), &a_token, None, &origin)
    else {
        panic!("B's key is valid");
    };
    let e = verdict.wait().expect_err("refused");
    assert_eq!(e.code(), "workspace_mismatch", "{e}");
    assert!(!e.to_string().contains(&a_id), "{e}");
    // A garbage token says what it is (it names no workspace).
    let keyhold::Introspection::Verdict { verdict, .. } =
        kh.introspect_deferred(b_reader.token.expose(), "not.a.token", None, &origin)
    else {
        panic!("B's key is valid");
    };
    assert_eq!(
        verdict.wait().expect_err("refused").code(),
        "token_malformed"
    );
}

#[test]
fn a_revoke_all_cannot_be_dodged_by_hiding_the_newest_rows() {
    let fx = Fixture::new();
    let kh = fx.init();
    let (_, _) = mint(&kh, "old");
    let (stolen, stolen_id) = mint(&kh, "stolen");
    // Hide the stolen key's row (the newest) while the operator revokes all, then put it back.
    let row: Vec<rusqlite::types::Value> = fx
        .sql()
        .query_row("SELECT * FROM api_keys WHERE jti = ?1", [&stolen_id], |r| {
            (0..15).map(|i| r.get(i)).collect()
        })
        .expect("row");
    fx.sql()
        .execute("DELETE FROM api_keys WHERE jti = ?1", [&stolen_id])
        .expect("hide");
    let r = kh.revoke_all_keys(&op(), "default").expect("revoke all");
    assert_eq!(r.keys_revoked, 1, "only the visible key was active");
    fx.sql()
        .execute(
            "INSERT INTO api_keys VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            rusqlite::params_from_iter(row),
        )
        .expect("put back");
    // The mark came from the authenticated mint counter, not from the rows left visible.
    assert_eq!(
        kh.verify_token(&stolen, None).expect_err("refused").code(),
        "key_revoked_all"
    );
}

#[test]
fn a_put_back_mint_counter_is_named_by_audit_verify() {
    let fx = Fixture::new();
    let kh = fx.init();
    mint(&kh, "a");
    let counter: Vec<u8> = fx
        .sql()
        .query_row(
            "SELECT value FROM meta WHERE key = 'mint_counter'",
            [],
            |r| r.get(0),
        )
        .expect("counter");
    let (late, _) = mint(&kh, "late");
    fx.sql()
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = 'mint_counter'",
            [&counter],
        )
        .expect("put back");
    // The next mint finds its number taken: named, not mistaken for a name conflict.
    let e = kh
        .mint_key(&op(), &req("next", &[Scope::ReadQueries]))
        .expect_err("refused");
    assert_eq!(e.code(), "integrity_error", "{e}");
    assert!(e.to_string().contains("mint_counter"), "{e}");
    // A revoke-all's mark is never below an authenticated key of the workspace: "late" is
    // refused at once even so.
    kh.revoke_all_keys(&op(), "default").expect("revoke all");
    assert_eq!(
        kh.verify_token(&late, None).expect_err("refused").code(),
        "key_revoked_all"
    );
    // And the chain knows the highest number it handed out: audit verify names the counter.
    let e = kh.verify_audit(None).expect_err("caught");
    assert!(e.to_string().contains("mint_counter"), "{e}");
}

#[test]
fn a_key_row_found_by_a_name_that_does_not_authenticate_is_revoked_only_by_id() {
    let fx = Fixture::new();
    let kh = fx.init();
    let (leaked, leaked_id) = mint(&kh, "leaked");
    let (_, harmless_id) = mint(&kh, "harmless");
    // Swap the two names.
    let conn = fx.sql();
    conn.execute_batch("DROP INDEX IF EXISTS sqlite_autoindex_api_keys_2;")
        .ok();
    conn.execute(
        "UPDATE api_keys SET name = CASE jti WHEN ?1 THEN 'tmp-a' ELSE 'tmp-b' END WHERE jti IN (?1, ?2)",
        [&leaked_id, &harmless_id],
    )
    .expect("rename");
    conn.execute(
        "UPDATE api_keys SET name = CASE name WHEN 'tmp-a' THEN 'harmless' ELSE 'leaked' END WHERE name IN ('tmp-a', 'tmp-b')",
        [],
    )
    .expect("swap");
    // "leaked" now names the harmless key's row: refused, not the wrong key revoked.
    assert_integrity(
        kh.revoke_key(&op(), "default", "leaked"),
        "revoke it by its id",
    );
    kh.verify_token(&leaked, None).expect("nothing revoked yet");
    let r = kh.revoke_key(&op(), "default", &leaked_id).expect("by id");
    assert_eq!(r.id, leaked_id);
    assert_eq!(
        kh.verify_token(&leaked, None).expect_err("revoked").code(),
        "key_revoked"
    );
}

#[test]
fn an_edited_workspace_row_does_not_hold_up_a_revocation_by_id() {
    let fx = Fixture::new();
    let kh = fx.init();
    let (token, _) = mint(&kh, "k");
    let ws = kh.workspace("default").expect("ws").id;
    fx.sql()
        .execute("UPDATE workspaces SET created_at = created_at + 1", [])
        .expect("edit");
    // Verification reads only the mark, which is intact.
    kh.verify_token(&token, None).expect("still valid");
    assert_integrity(
        kh.revoke_all_keys(&op(), "default"),
        &format!("workspace {ws}"),
    );
    let r = kh.revoke_all_keys(&op(), &ws).expect("by id");
    assert_eq!(r.keys_revoked, 1);
    assert_eq!(
        kh.verify_token(&token, None).expect_err("revoked").code(),
        "key_revoked_all"
    );
    // The edit stays visible.
    assert_integrity(kh.workspaces(), &format!("workspace {ws}"));
}

#[test]
fn a_garbage_token_claiming_another_workspace_is_refused_without_writing_there() {
    let fx = Fixture::new();
    let kh = fx.init();
    let a = kh.workspace("default").expect("ws").id;
    kh.create_workspace(&op(), "team-b").expect("ws");
    let b_reader = b_reader(&kh);
    use base64::Engine;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let forged = format!(
        "{}.{}.{}",
        b64(&serde_json::json!({"typ": "at+jwt", "alg": "EdDSA", "kid": "x".repeat(43)})),
        b64(&serde_json::json!({"workspace": a, "sub": "x", "jti": "key_x"})),
        "A".repeat(86)
    );
    let origin = keyhold::Origin::new(keyhold::Surface::Http);
    let keyhold::Introspection::Verdict { verdict, .. } =
        kh.introspect_deferred(b_reader.token.expose(), &forged, None, &origin)
    else {
        panic!("B's key is valid");
    };
    assert_eq!(
        verdict.wait().expect_err("refused").code(),
        "workspace_mismatch"
    );
    let in_a = kh
        .audit_entries(
            &op(),
            &keyhold::api::AuditQuery {
                workspace: Some(a),
                action: Some("key.rejected".into()),
                ..Default::default()
            },
        )
        .expect("audit");
    assert!(
        in_a.is_empty(),
        "an unverified claim writes nothing into A's log: {in_a:?}"
    );
}

#[test]
fn a_retired_signing_key_put_back_as_active_is_named_by_audit_verify() {
    let fx = Fixture::new();
    let kh = fx.init();
    let old: Vec<rusqlite::types::Value> = fx
        .sql()
        .query_row(
            "SELECT * FROM signing_keys WHERE state = 'active'",
            [],
            |r| (0..6).map(|i| r.get(i)).collect(),
        )
        .expect("row");
    let Some(rusqlite::types::Value::Text(old_kid)) = old.first().cloned() else {
        panic!("kid");
    };
    kh.rotate_signing_key(&op()).expect("rotate");
    // The unique index allows one active key; an attacker who can write the file drops it.
    let conn = fx.sql();
    conn.execute_batch("DROP INDEX signing_keys_one_active;")
        .expect("drop index");
    conn.execute("DELETE FROM signing_keys WHERE kid = ?1", [&old_kid])
        .expect("delete");
    conn.execute(
        "INSERT INTO signing_keys VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params_from_iter(old),
    )
    .expect("put back the active copy");
    let e = kh.verify_audit(None).expect_err("caught");
    assert_eq!(e.code(), "integrity_error");
    // Named: here the rotation had also deleted it (no token of it left), so the message says
    // its row is back; with its tokens still live it would name the wrong active key.
    assert!(
        e.to_string().contains(&format!("signing key {old_kid}")),
        "{e}"
    );
}

#[test]
fn a_deleted_signing_key_put_back_is_named_by_audit_verify() {
    let fx = Fixture::new();
    let kh = fx.init();
    let (_, old_key) = mint(&kh, "signed-by-the-first");
    kh.rotate_signing_key(&op()).expect("rotate");
    // The first key, retiring, as an attacker would keep it.
    let row: Vec<rusqlite::types::Value> = fx
        .sql()
        .query_row(
            "SELECT * FROM signing_keys WHERE state = 'retiring'",
            [],
            |r| (0..6).map(|i| r.get(i)).collect(),
        )
        .expect("row");
    // Its last token revoked, the next mint deletes it.
    kh.revoke_key(&op(), "default", &old_key).expect("revoke");
    mint(&kh, "next");
    let left: i64 = fx
        .sql()
        .query_row("SELECT COUNT(*) FROM signing_keys", [], |r| r.get(0))
        .expect("count");
    assert_eq!(left, 1, "the first key was deleted");
    kh.verify_audit(None).expect("consistent");
    fx.sql()
        .execute(
            "INSERT INTO signing_keys VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params_from_iter(row),
        )
        .expect("put back");
    let e = kh.verify_audit(None).expect_err("caught");
    assert!(e.to_string().contains("its row is back"), "{e}");
}
