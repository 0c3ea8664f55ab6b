//! The audit log through the facade, on real SQLite files: one event per operation with the
//! right action, actor and surface; tampering of every kind detected and named; no secret or
//! token in any row or export.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

mod common;

use common::*;
use keyhold::api::AuditQuery;
use keyhold::{Caller, ExpiryPreset, Keyhold, MasterKey, MintRequest, Origin, Scope, Surface};

fn all(kh: &Keyhold) -> Vec<keyhold::AuditEntry> {
    kh.audit_entries(&Caller::operator(), &AuditQuery::default())
        .expect("entries")
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

/// Runs `op` and returns the single event it added (asserting it added exactly one).
fn one_event(kh: &Keyhold, op: impl FnOnce()) -> keyhold::AuditEntry {
    let before = all(kh).len();
    op();
    let after = all(kh);
    assert_eq!(
        after.len(),
        before + 1,
        "exactly one event: {:?}",
        &after[before..]
    );
    after.last().expect("event").clone()
}

#[test]
fn each_operation_yields_exactly_one_attributed_event() {
    let fx = Fixture::new();
    let cli = Caller::operator().via(Surface::Cli);
    let (kh, _) = Keyhold::init_by(fx.data(), keyhold::KeySource::default_file(fx.data()), &cli)
        .expect("init");
    let first = all(&kh);
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].action.as_str(), first[0].surface.as_str()),
        ("workspace.created", "cli")
    );
    let os_user = cli.sub();
    let check = |e: &keyhold::AuditEntry, action: &str, surface: &str| {
        assert_eq!(e.action, action);
        assert_eq!(e.surface, surface, "{action}");
        assert_eq!(e.outcome, "success", "{action}");
        assert!(!e.request_id.is_empty());
    };

    let e = one_event(&kh, || {
        drop(kh.create_workspace(&cli, "team-b").expect("ws"))
    });
    check(&e, "workspace.created", "cli");
    assert_eq!(
        (e.actor.as_str(), e.target.as_deref()),
        (os_user.as_str(), Some("team-b"))
    );
    let e = one_event(&kh, || {
        drop(
            kh.put_record(&cli, "default", "secret", "db", &secret(b"v1"))
                .expect("put"),
        )
    });
    check(&e, "record.written", "cli");
    assert_eq!(e.target.as_deref(), Some("secret/db"));
    let e = one_event(&kh, || {
        kh.delete_record(&cli, "default", "secret", "db")
            .expect("delete")
    });
    check(&e, "record.deleted", "cli");
    let e = one_event(&kh, || drop(kh.rotate_kek(&cli).expect("kek")));
    check(&e, "kek.rotated", "cli");
    let e = one_event(&kh, || {
        drop(
            kh.rotate_master_key(&cli, &MasterKey::generate().expect("rng"))
                .expect("master"),
        )
    });
    check(&e, "master_key.rotated", "cli");
    let e = one_event(&kh, || drop(kh.rotate_signing_key(&cli).expect("signing")));
    check(&e, "signing_key.rotated", "cli");

    let mut token = String::new();
    let e = one_event(&kh, || {
        let m = kh
            .mint_key(&cli, &req("admin", &[Scope::Admin]))
            .expect("mint");
        token = m.token.expose().to_owned();
    });
    check(&e, "key.created", "cli");
    let key_id = e.target.clone().expect("target is the new key");

    // A key acting over HTTP from an address: its key id, surface and source are recorded.
    let http = Origin {
        surface: Surface::Http,
        source: Some("127.0.0.1:50123".into()),
        request_id: "req_test_1".into(),
    };
    let mut principal = None;
    let e = one_event(&kh, || {
        principal = Some(
            kh.verify_token_from(&token, Some(Scope::Admin), &http)
                .expect("verify"),
        )
    });
    check(&e, "key.used", "http");
    assert_eq!(e.key_id.as_deref(), Some(key_id.as_str()));
    assert_eq!(
        (e.source.as_deref(), e.request_id.as_str(), e.actor.as_str()),
        (Some("127.0.0.1:50123"), "req_test_1", "svc@team.example")
    );
    let as_key = Caller::key(principal.expect("principal")).with_origin(http.clone());
    // Shorter than its minter: a one-hour key minted a second later would outlive it.
    let child = MintRequest {
        expires: ExpiryPreset::FifteenMinutes,
        ..req("child", &[Scope::ReadQueries])
    };
    let e = one_event(&kh, || {
        drop(kh.mint_key(&as_key, &child).expect("mint by key"))
    });
    check(&e, "key.created", "http");
    assert_eq!(
        e.key_id.as_deref(),
        Some(key_id.as_str()),
        "the acting key is recorded"
    );
    let e = one_event(&kh, || {
        drop(kh.revoke_key(&as_key, "default", "child").expect("revoke"))
    });
    check(&e, "key.revoked", "http");
    let e = one_event(&kh, || {
        drop(kh.revoke_all_keys(&cli, "default").expect("revoke all"))
    });
    check(&e, "keys.revoked_all", "cli");

    // Rejections are recorded with their reason and, when the signature proved it, the key.
    let e = one_event(&kh, || {
        drop(
            kh.verify_token(&token, None)
                .expect_err("revoked by revoke-all"),
        )
    });
    assert_eq!(
        (e.action.as_str(), e.outcome.as_str()),
        ("key.rejected", "key_revoked_all")
    );
    assert_eq!(e.key_id.as_deref(), Some(key_id.as_str()));
    let e = one_event(&kh, || {
        drop(kh.verify_token("not.a.token", None).expect_err("garbage"))
    });
    assert_eq!(
        (e.action.as_str(), e.outcome.as_str(), e.actor.as_str()),
        ("key.rejected", "token_malformed", "anonymous")
    );
    assert_eq!(e.key_id, None);

    let cp = fx.dir.path().join("cp.json");
    let e = one_event(&kh, || {
        drop(kh.audit_checkpoint(&cli, &cp).expect("checkpoint"))
    });
    check(&e, "audit.checkpointed", "cli");

    // A denied operation changes nothing and records nothing (the transaction rolled back).
    let reader = kh
        .mint_key(&cli, &req("reader", &[Scope::KeysRead]))
        .expect("mint");
    let reader = Caller::key(kh.verify_token(reader.token.expose(), None).expect("ok"));
    let before = all(&kh).len();
    kh.revoke_all_keys(&reader, "default")
        .expect_err("no keys:revoke");
    assert_eq!(all(&kh).len(), before);
    let v = kh.verify_audit(Some(&cp)).expect("chain verifies");
    assert_eq!(v.rows, u64::try_from(all(&kh).len()).expect("fits"));
}

#[test]
fn filters_and_last_used_from_use_records() {
    let fx = Fixture::new();
    let kh = fx.init();
    let m = kh
        .mint_key(&Caller::operator(), &req("svc", &[Scope::ReadQueries]))
        .expect("mint");
    for _ in 0..3 {
        kh.verify_token(m.token.expose(), None).expect("verify");
    }
    let used = kh
        .audit_entries(
            &Caller::operator(),
            &AuditQuery {
                action: Some("key.used".into()),
                key: Some(m.key.id.clone()),
                ..AuditQuery::default()
            },
        )
        .expect("filter");
    assert_eq!(used.len(), 3);
    let last = kh
        .key(&Caller::operator(), "default", "svc")
        .expect("show")
        .last_used_at
        .expect("last used");
    assert_eq!(last, used[2].time_ms / 1000);
    let limited = kh
        .audit_entries(
            &Caller::operator(),
            &AuditQuery {
                limit: Some(2),
                ..AuditQuery::default()
            },
        )
        .expect("limit");
    assert_eq!(limited.len(), 2);
    assert_eq!(
        limited[1].seq,
        all(&kh).last().expect("last").seq,
        "the newest, oldest first"
    );
}

#[test]
fn an_introspection_is_one_row_naming_both_keys() {
    let fx = Fixture::new();
    let kh = fx.init();
    let op = Caller::operator();
    let service = kh
        .mint_key(&op, &req("service", &[Scope::KeysRead]))
        .expect("mint");
    let user = kh
        .mint_key(&op, &req("user", &[Scope::ReadQueries]))
        .expect("mint");
    let weak = kh
        .mint_key(&op, &req("weak", &[Scope::ReadQueries]))
        .expect("mint");
    let origin = Origin {
        surface: Surface::Http,
        source: Some("127.0.0.1:5555".into()),
        request_id: "req-introspect".into(),
    };
    let used = one_event(&kh, || {
        let keyhold::Introspection::Verdict { caller, verdict } = kh.introspect_deferred(
            service.token.expose(),
            user.token.expose(),
            Some(Scope::ReadQueries),
            &origin,
        ) else {
            panic!("the service is authenticated");
        };
        assert_eq!(caller.key_id, service.key.id);
        let p = verdict.wait().expect("valid");
        assert_eq!(p.key_id, user.key.id);
    });
    assert_eq!(used.action, "key.used");
    assert_eq!(used.key_id.as_deref(), Some(user.key.id.as_str()));
    assert_eq!(used.details["introspected_by"], service.key.id.as_str());
    assert_eq!(used.source.as_deref(), Some("127.0.0.1:5555"));
    // Both keys' last use comes from that one row.
    for id in [&service.key.id, &user.key.id] {
        assert!(
            kh.key(&op, "default", id)
                .expect("key")
                .last_used_at
                .is_some()
        );
    }
    // A refused token: one key.rejected row, still naming the service.
    let rejected = one_event(&kh, || {
        let keyhold::Introspection::Verdict { verdict, .. } = kh.introspect_deferred(
            service.token.expose(),
            user.token.expose(),
            Some(Scope::KeysWrite),
            &origin,
        ) else {
            panic!("authenticated");
        };
        assert_eq!(
            verdict.wait().expect_err("scope").code(),
            "insufficient_scope"
        );
    });
    assert_eq!(
        (rejected.action.as_str(), rejected.outcome.as_str()),
        ("key.rejected", "insufficient_scope")
    );
    assert_eq!(rejected.details["introspected_by"], service.key.id.as_str());
    // A caller without keys:read is refused, and that refusal is its row.
    let refused = one_event(&kh, || {
        let keyhold::Introspection::Refused(refusal) =
            kh.introspect_deferred(weak.token.expose(), user.token.expose(), None, &origin)
        else {
            panic!("a key without keys:read introspected");
        };
        assert_eq!(
            refusal.wait().expect_err("refused").code(),
            "insufficient_scope"
        );
    });
    assert_eq!(refused.key_id.as_deref(), Some(weak.key.id.as_str()));
    assert!(refused.details.get("introspected_by").is_none());
}

fn chain_error(kh: &Keyhold, checkpoint: Option<&std::path::Path>) -> String {
    let err = kh
        .verify_audit(checkpoint)
        .expect_err("tampering must be detected");
    assert_eq!(err.code(), "integrity_error");
    err.to_string()
}

fn populated() -> (Fixture, Keyhold, u64) {
    let fx = Fixture::new();
    let kh = fx.init();
    for i in 0..9 {
        kh.create_workspace(&Caller::operator(), &format!("ws-{i}"))
            .expect("ws");
    }
    let n = kh.verify_audit(None).expect("clean chain").rows;
    assert_eq!(n, 10);
    (fx, kh, n)
}

#[test]
fn a_flipped_byte_in_a_middle_row_is_named() {
    let (fx, kh, _) = populated();
    let sql = fx.sql();
    let mut ev: Vec<u8> = sql
        .query_row("SELECT event FROM audit_log WHERE seq = 5", [], |r| {
            r.get(0)
        })
        .expect("row");
    let i = ev.len() / 2;
    ev[i] ^= 0x01;
    sql.execute("UPDATE audit_log SET event = ?1 WHERE seq = 5", [&ev])
        .expect("tamper");
    let msg = chain_error(&kh, None);
    assert!(msg.contains("audit record 5"), "{msg}");
}

#[test]
fn a_deleted_middle_row_is_named() {
    let (fx, kh, _) = populated();
    fx.sql()
        .execute("DELETE FROM audit_log WHERE seq = 4", [])
        .expect("delete");
    let msg = chain_error(&kh, None);
    assert!(
        msg.contains("audit record 5"),
        "the gap shows at the next row: {msg}"
    );
}

#[test]
fn deleted_newest_rows_are_caught_by_a_checkpoint() {
    let (fx, kh, _) = populated();
    let cp = fx.dir.path().join("checkpoint.json");
    let made = kh
        .audit_checkpoint(&Caller::operator(), &cp)
        .expect("checkpoint");
    assert_eq!(made.checkpoint_seq, Some(10));
    kh.verify_audit(Some(&cp)).expect("intact");
    fx.sql()
        .execute("DELETE FROM audit_log WHERE seq >= 9", [])
        .expect("truncate");
    // Without the checkpoint a shorter chain still looks whole ...
    assert_eq!(kh.verify_audit(None).expect("consistent prefix").rows, 8);
    // ... with it, the loss is named.
    let msg = chain_error(&kh, Some(&cp));
    assert!(msg.contains("10") || msg.contains("checkpoint"), "{msg}");
    // A forged checkpoint does not verify.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cp).expect("read")).expect("json");
    doc["seq"] = serde_json::json!(8);
    std::fs::write(&cp, doc.to_string()).expect("write");
    assert_eq!(
        kh.verify_audit(Some(&cp)).expect_err("forged").code(),
        "integrity_error"
    );
}

#[test]
fn two_swapped_rows_are_named() {
    let (fx, kh, _) = populated();
    let sql = fx.sql();
    let get = |seq: i64| -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        sql.query_row(
            "SELECT event, prev, hash FROM audit_log WHERE seq = ?1",
            [seq],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("row")
    };
    let (a, b) = (get(3), get(6));
    for (seq, (ev, prev, hash)) in [(3, b), (6, a)] {
        sql.execute(
            "UPDATE audit_log SET event = ?1, prev = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![ev, prev, hash, seq],
        )
        .expect("swap");
    }
    let msg = chain_error(&kh, None);
    assert!(msg.contains("audit record 3"), "{msg}");
}

#[test]
fn a_chain_recomputed_without_the_audit_key_fails_at_its_first_row() {
    use keyhold_audit::{AuditChain, AuditKey, ChainHead, Event};
    let (fx, kh, n) = populated();
    // An attacker with the database but not the master key: re-chain every row with a key of
    // their own (the events can even be edited on the way).
    let sql = fx.sql();
    let forged_key = AuditKey::generate().expect("rng");
    let mut chain = AuditChain::new(&forged_key, ChainHead::GENESIS);
    for seq in 1..=i64::try_from(n).expect("fits") {
        let ev: Vec<u8> = sql
            .query_row("SELECT event FROM audit_log WHERE seq = ?1", [seq], |r| {
                r.get(0)
            })
            .expect("row");
        let event = Event::from_canonical(&ev).expect("decodes");
        let sealed = chain.append(&event).expect("append");
        sql.execute(
            "UPDATE audit_log SET event = ?1, prev = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![
                sealed.canonical,
                sealed.link.prev.to_vec(),
                sealed.link.hash.to_vec(),
                seq
            ],
        )
        .expect("rewrite");
    }
    let msg = chain_error(&kh, None);
    assert!(msg.contains("audit record 1"), "{msg}");
}

#[test]
fn no_secret_or_token_reaches_an_audit_row_or_export() {
    let fx = Fixture::new();
    let kh = fx.init();
    let canary = canary();
    kh.put_record(
        &Caller::operator(),
        "default",
        "secret",
        "canary",
        &secret(&canary),
    )
    .expect("put");
    let mut tokens = Vec::new();
    for i in 0..3 {
        let m = kh
            .mint_key(&Caller::operator(), &req(&format!("k{i}"), &[Scope::Admin]))
            .expect("mint");
        kh.verify_token(m.token.expose(), None).expect("use");
        let mut bad = m.token.expose().to_owned();
        bad.push('x');
        kh.verify_token(&bad, None).expect_err("rejected");
        tokens.push(m.token.expose().to_owned());
    }
    kh.revoke_key(&Caller::operator(), "default", "k0")
        .expect("revoke");
    kh.verify_token(&tokens[0], None).expect_err("revoked");
    let rows: Vec<u8> = {
        let sql = fx.sql();
        let mut st = sql.prepare("SELECT seq, time_ms, workspace, action, actor, key_id, outcome, event, prev, hash FROM audit_log").expect("prep");
        let mut out = Vec::new();
        let mut q = st.query([]).expect("q");
        while let Some(r) = q.next().expect("row") {
            for i in 0..10 {
                match r.get_ref(i).expect("col") {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        out.extend_from_slice(t)
                    }
                    _ => {}
                }
            }
        }
        out
    };
    let export = serde_json::to_vec(&all(&kh)).expect("export");
    assert!(all(&kh).len() >= 12);
    for hay in [&rows, &export] {
        assert_absent(hay, &canary, "the audit log");
        for t in &tokens {
            let sig = t.rsplit('.').next().expect("sig");
            assert!(
                !contains(hay, sig.as_bytes()),
                "a token signature in the audit log"
            );
            assert!(!contains(hay, t.as_bytes()), "a token in the audit log");
        }
    }
}
