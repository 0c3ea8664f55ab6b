//! API keys through the facade, against a real store: presets, scopes and no-escalation,
//! revocation (one key, all keys), tokens of other stores and workspaces, signing-key
//! rotation, and that no token ever reaches the database files.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

mod common;

use base64::Engine;
use common::*;
use keyhold::{Caller, ExpiryPreset, KeyState, Keyhold, MintRequest, Principal, Scope, ScopeSet};

fn op() -> Caller {
    Caller::operator()
}

fn req(name: &str, expires: ExpiryPreset, scopes: &[Scope]) -> MintRequest {
    MintRequest {
        workspace: "default".into(),
        name: name.into(),
        expires,
        scopes: if scopes.is_empty() {
            None
        } else {
            Some(scopes.iter().copied().collect())
        },
        sub: Some("svc@team.example".into()),
    }
}

fn payload(token: &str) -> serde_json::Value {
    let part = token.split('.').nth(1).expect("payload part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

fn as_key(kh: &Keyhold, token: &str) -> Caller {
    Caller::key(kh.verify_token(token, None).expect("valid token"))
}

#[test]
fn every_preset_mints_exactly_its_lifetime() {
    let fx = Fixture::new();
    let kh = fx.init();
    for (i, preset) in ExpiryPreset::all().iter().enumerate() {
        let minted = kh
            .mint_key(
                &op(),
                &req(&format!("k{i}"), *preset, &[Scope::ReadQueries]),
            )
            .expect("mint");
        let claims = payload(minted.token.expose());
        let iat = claims["iat"].as_i64().expect("iat");
        let exp = claims["exp"].as_i64().expect("exp");
        assert_eq!(
            u64::try_from(exp - iat).expect("positive"),
            preset.seconds(),
            "{preset}"
        );
        assert_eq!(minted.key.expires_at, exp);
        for claim in ["iss", "sub", "workspace", "scopes", "iat", "exp", "jti"] {
            assert!(!claims[claim].is_null(), "claim {claim} present");
        }
        assert_eq!(claims["sub"], "svc@team.example");
        assert_eq!(claims["scopes"], serde_json::json!(["read:queries"]));
        assert_eq!(claims["jti"], minted.key.id.as_str());
        let p = kh
            .verify_token(minted.token.expose(), Some(Scope::ReadQueries))
            .expect("verifies");
        assert_eq!(p.key_id, minted.key.id);
    }
    assert_eq!(ExpiryPreset::all().len(), 6);
    for bad in ["2d", "90m", "1w", "", "forever", "0"] {
        assert!(bad.parse::<ExpiryPreset>().is_err(), "{bad} refused");
    }
}

#[test]
fn a_key_cannot_mint_a_key_with_more_than_its_own_scopes() {
    let fx = Fixture::new();
    let kh = fx.init();
    let minter = kh
        .mint_key(
            &op(),
            &req(
                "minter",
                ExpiryPreset::OneHour,
                &[Scope::KeysWrite, Scope::ReadQueries],
            ),
        )
        .expect("mint");
    let caller = as_key(&kh, minter.token.expose());
    // Within its scopes: fine.
    let child = kh
        .mint_key(
            &caller,
            &req("child", ExpiryPreset::FifteenMinutes, &[Scope::ReadQueries]),
        )
        .expect("subset");
    assert_eq!(child.key.scopes, ["read:queries"]);
    assert_eq!(child.key.created_by, format!("key:{}", minter.key.id));
    // Beyond them: refused, and nothing stored.
    for escalation in [
        &[Scope::Admin][..],
        &[Scope::KeysRevoke],
        &[Scope::ReadQueries, Scope::ExecuteQueries],
    ] {
        let err = kh
            .mint_key(&caller, &req("escalate", ExpiryPreset::OneHour, escalation))
            .expect_err("escalation");
        assert_eq!(err.code(), "scope_escalation", "{escalation:?}");
        assert_eq!(err.http_status(), 403);
    }
    // Defaulting to "the caller's scopes" never widens them either.
    let default = kh
        .mint_key(
            &caller,
            &req("default-scopes", ExpiryPreset::FifteenMinutes, &[]),
        )
        .expect("mint");
    assert_eq!(default.key.scopes, ["keys:write", "read:queries"]);
    // A key cannot mint a key that outlives it, nor one for another subject.
    let err = kh
        .mint_key(
            &caller,
            &req("outlives", ExpiryPreset::EightHours, &[Scope::ReadQueries]),
        )
        .expect_err("an eight-hour child of a one-hour key");
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("outlive"), "{err}");
    let mut other_sub = req(
        "impostor",
        ExpiryPreset::FifteenMinutes,
        &[Scope::ReadQueries],
    );
    other_sub.sub = Some("alice@team.example".into());
    let err = kh
        .mint_key(&caller, &other_sub)
        .expect_err("another subject");
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("own subject"), "{err}");
    // A key without keys:write cannot mint at all.
    let reader = as_key(&kh, child.token.expose());
    let err = kh
        .mint_key(
            &reader,
            &req("nope", ExpiryPreset::OneHour, &[Scope::ReadQueries]),
        )
        .expect_err("no keys:write");
    assert_eq!(err.code(), "insufficient_scope");
    let names: Vec<String> = kh
        .keys(&op(), "default")
        .expect("list")
        .into_iter()
        .map(|k| k.name)
        .collect();
    for refused in ["escalate", "nope", "outlives", "impostor"] {
        assert!(!names.contains(&refused.to_owned()), "{refused} was stored");
    }
}

#[test]
fn scope_checks_on_every_key_operation() {
    let fx = Fixture::new();
    let kh = fx.init();
    let reader = kh
        .mint_key(
            &op(),
            &req("reader", ExpiryPreset::OneHour, &[Scope::KeysRead]),
        )
        .expect("mint");
    let reader = as_key(&kh, reader.token.expose());
    kh.keys(&reader, "default").expect("keys:read lists");
    kh.key(&reader, "default", "reader")
        .expect("keys:read shows");
    assert_eq!(
        kh.revoke_key(&reader, "default", "reader")
            .expect_err("no keys:revoke")
            .code(),
        "insufficient_scope"
    );
    assert_eq!(
        kh.revoke_all_keys(&reader, "default")
            .expect_err("no keys:revoke")
            .code(),
        "insufficient_scope"
    );
    assert_eq!(
        kh.rotate_signing_key(&reader)
            .expect_err("not admin")
            .code(),
        "insufficient_scope"
    );
    let p = kh.verify_token(
        kh.mint_key(
            &op(),
            &req("q", ExpiryPreset::OneHour, &[Scope::ReadQueries]),
        )
        .expect("mint")
        .token
        .expose(),
        Some(Scope::ExecuteQueries),
    );
    let err = p.expect_err("insufficient scope for the operation");
    assert_eq!((err.code(), err.http_status()), ("insufficient_scope", 403));
}

#[test]
fn a_token_of_workspace_a_is_refused_in_workspace_b() {
    let fx = Fixture::new();
    let kh = fx.init();
    kh.create_workspace(&keyhold::Caller::operator(), "team-b")
        .expect("ws");
    let a = kh
        .mint_key(
            &op(),
            &req("a-admin", ExpiryPreset::OneHour, &[Scope::Admin]),
        )
        .expect("mint");
    let a = as_key(&kh, a.token.expose());
    for err in [
        kh.keys(&a, "team-b").expect_err("list in B"),
        kh.mint_key(
            &a,
            &MintRequest {
                workspace: "team-b".into(),
                // Shorter than the minting key, so only the workspace can refuse it.
                ..req("x", ExpiryPreset::FifteenMinutes, &[Scope::ReadQueries])
            },
        )
        .expect_err("mint in B"),
        kh.revoke_all_keys(&a, "team-b")
            .expect_err("revoke-all in B"),
    ] {
        assert_eq!((err.code(), err.http_status()), ("workspace_mismatch", 401));
    }
}

#[test]
fn revoke_by_id_or_name_takes_effect_on_the_next_verification() {
    let fx = Fixture::new();
    let kh = fx.init();
    let other = fx
        .open()
        .expect("a second handle, as another process would hold");
    let one = kh
        .mint_key(
            &op(),
            &req("one", ExpiryPreset::OneDay, &[Scope::ReadQueries]),
        )
        .expect("mint");
    let two = kh
        .mint_key(
            &op(),
            &req("two", ExpiryPreset::OneDay, &[Scope::ReadQueries]),
        )
        .expect("mint");
    other.verify_token(one.token.expose(), None).expect("valid");
    other.verify_token(two.token.expose(), None).expect("valid");
    kh.revoke_key(&op(), "default", "one").expect("by name");
    assert_eq!(
        other
            .verify_token(one.token.expose(), None)
            .expect_err("revoked")
            .code(),
        "key_revoked"
    );
    other
        .verify_token(two.token.expose(), None)
        .expect("unaffected");
    kh.revoke_key(&op(), "default", &two.key.id).expect("by id");
    assert_eq!(
        other
            .verify_token(two.token.expose(), None)
            .expect_err("revoked")
            .code(),
        "key_revoked"
    );
    let shown = kh.key(&op(), "default", "two").expect("show");
    assert_eq!(shown.status, KeyState::Revoked);
    assert_eq!(shown.revoked_by.as_deref(), Some(op().name().as_str()));
    assert_eq!(
        kh.revoke_key(&op(), "default", "nope")
            .expect_err("unknown")
            .code(),
        "not_found"
    );
}

#[test]
fn revoke_all_disables_every_existing_key_at_once_and_only_those() {
    let fx = Fixture::new();
    let kh = fx.init();
    kh.create_workspace(&keyhold::Caller::operator(), "other")
        .expect("ws");
    let tokens: Vec<_> = (0..25)
        .map(|i| {
            kh.mint_key(
                &op(),
                &req(
                    &format!("k{i}"),
                    ExpiryPreset::SevenDays,
                    &[Scope::ReadQueries],
                ),
            )
            .expect("mint")
        })
        .collect();
    let elsewhere = kh
        .mint_key(
            &op(),
            &MintRequest {
                workspace: "other".into(),
                ..req("x", ExpiryPreset::OneHour, &[Scope::ReadQueries])
            },
        )
        .expect("mint");
    let r = kh.revoke_all_keys(&op(), "default").expect("revoke all");
    assert_eq!(r.keys_revoked, 25);
    let other = fx.open().expect("second handle");
    for t in &tokens {
        assert_eq!(
            other
                .verify_token(t.token.expose(), None)
                .expect_err("revoked")
                .code(),
            "key_revoked_all"
        );
    }
    other
        .verify_token(elsewhere.token.expose(), None)
        .expect("other workspace untouched");
    // A key minted right after (even within the same second) works.
    let fresh = kh
        .mint_key(
            &op(),
            &req("fresh", ExpiryPreset::OneHour, &[Scope::ReadQueries]),
        )
        .expect("mint");
    other
        .verify_token(fresh.token.expose(), None)
        .expect("minted after revoke-all");
    let listed = kh.keys(&op(), "default").expect("list");
    assert_eq!(
        listed
            .iter()
            .filter(|k| k.status == KeyState::Revoked)
            .count(),
        25
    );
    assert_eq!(
        listed
            .iter()
            .find(|k| k.name == "fresh")
            .expect("fresh")
            .status,
        KeyState::Active
    );
    // One row written, whatever the number of keys: the keys' own rows are unchanged.
    let untouched: i64 = fx
        .sql()
        .query_row(
            "SELECT COUNT(*) FROM api_keys WHERE revoked_at_ms IS NULL",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(untouched, 27);
}

#[test]
fn a_token_signed_by_another_store_is_refused() {
    let a = Fixture::new();
    let b = Fixture::new();
    let ka = a.init();
    let kb = b.init();
    let t = kb
        .mint_key(&op(), &req("b", ExpiryPreset::OneHour, &[Scope::Admin]))
        .expect("mint in b");
    let err = ka
        .verify_token(t.token.expose(), None)
        .expect_err("foreign token");
    assert_eq!((err.code(), err.http_status()), ("token_unknown_kid", 401));
    // Even with store B's public key known to A, the issuer differs.
    assert_ne!(ka.issuer(), kb.issuer());
}

#[test]
fn only_an_admin_key_of_the_home_workspace_rotates_the_signing_key() {
    let fx = Fixture::new();
    let kh = fx.init();
    kh.create_workspace(&op(), "team-b").expect("workspace");
    let admin_b = kh
        .mint_key(
            &op(),
            &MintRequest {
                workspace: "team-b".into(),
                ..req("admin-b", ExpiryPreset::OneHour, &[Scope::Admin])
            },
        )
        .expect("mint");
    let admin_b = as_key(&kh, admin_b.token.expose());
    let before = kh.jwks().expect("jwks");
    assert_eq!(
        kh.rotate_signing_key(&admin_b)
            .expect_err("admin of another workspace")
            .code(),
        "workspace_mismatch"
    );
    assert_eq!(kh.jwks().expect("jwks"), before, "nothing rotated");
    let admin = kh
        .mint_key(&op(), &req("admin", ExpiryPreset::OneHour, &[Scope::Admin]))
        .expect("mint");
    let r = kh
        .rotate_signing_key(&as_key(&kh, admin.token.expose()))
        .expect("home admin rotates");
    assert!(kh.jwks().expect("jwks").find(&r.kid).is_some());
    assert_ne!(kh.jwks().expect("jwks"), before);
}

#[test]
fn signing_key_rotation_keeps_old_tokens_valid_and_publishes_both_keys() {
    let fx = Fixture::new();
    let kh = fx.init();
    let other = fx.open().expect("second handle");
    let old = kh
        .mint_key(
            &op(),
            &req("old", ExpiryPreset::OneHour, &[Scope::ReadQueries]),
        )
        .expect("mint");
    let old_kid = old.key.kid.clone();
    let r = kh.rotate_signing_key(&op()).expect("rotate");
    assert_ne!(r.kid, old_kid);
    assert_eq!(r.retiring.len(), 1);
    assert_eq!(r.retiring[0].0, old_kid);
    assert_eq!(r.retiring[0].1, Some(old.key.expires_at));
    // The other handle mints with the new key (it notices the rotation) ...
    let new = other
        .mint_key(
            &op(),
            &req("new", ExpiryPreset::OneHour, &[Scope::ReadQueries]),
        )
        .expect("mint");
    assert_eq!(new.key.kid, r.kid);
    // ... and both verify everywhere.
    for h in [&kh, &other] {
        h.verify_token(old.token.expose(), None).expect("old token");
        h.verify_token(new.token.expose(), None).expect("new token");
    }
    let jwks = serde_json::to_value(kh.jwks().expect("jwks")).expect("json");
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid"))
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&r.kid.as_str()));
    // The old private key is gone from the store; only its public half remains.
    let private: i64 = fx
        .sql()
        .query_row(
            "SELECT COUNT(*) FROM records WHERE kind = 'signing-key'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(private, 1);
    // Once no live token needs it (revoked here), the next rotation retires it.
    kh.revoke_key(&op(), "default", "old").expect("revoke");
    let r2 = kh.rotate_signing_key(&op()).expect("rotate again");
    assert!(r2.retired.contains(&old_kid), "{r2:?}");
}

#[test]
fn tokens_never_reach_the_database_files() {
    let fx = Fixture::new();
    let kh = fx.init();
    let mut tokens = Vec::new();
    for i in 0..5 {
        let m = kh
            .mint_key(
                &op(),
                &req(&format!("k{i}"), ExpiryPreset::OneDay, &[Scope::Admin]),
            )
            .expect("mint");
        kh.verify_token(m.token.expose(), None)
            .expect("verify (writes last-used)");
        tokens.push(m.token.expose().to_owned());
    }
    kh.revoke_key(&op(), "default", "k0").expect("revoke");
    let debug = format!("{kh:?} {:?}", kh.keys(&op(), "default").expect("list"));
    let scan = |phase: &str| {
        for suffix in ["", "-wal", "-shm"] {
            let bytes = file_bytes(&fx.data().join(format!("keyhold.db{suffix}")));
            for tok in &tokens {
                let signature = tok.rsplit('.').next().expect("signature");
                assert!(
                    !contains(&bytes, tok.as_bytes()),
                    "token in keyhold.db{suffix} ({phase})"
                );
                assert!(
                    !contains(&bytes, signature.as_bytes()),
                    "signature in keyhold.db{suffix} ({phase})"
                );
                assert!(!debug.contains(signature), "signature in Debug output");
            }
        }
    };
    assert!(
        file_bytes(&fx.data().join("keyhold.db-wal")).len() > 4096,
        "a live WAL is scanned"
    );
    scan("open");
    drop(kh);
    scan("closed");
}

#[test]
fn principal_debug_and_token_debug_are_safe() {
    let fx = Fixture::new();
    let kh = fx.init();
    let m = kh
        .mint_key(
            &op(),
            &req("k", ExpiryPreset::OneHour, &[Scope::ReadQueries]),
        )
        .expect("mint");
    let p: Principal = kh.verify_token(m.token.expose(), None).expect("verify");
    let printed = format!("{:?} {:?} {p:?}", m.token, m);
    assert!(!printed.contains(m.token.expose().rsplit('.').next().expect("sig")));
    assert!(format!("{:?}", m.token) == "Token(..)");
    let _: ScopeSet = p.scopes;
}

#[test]
fn cached_verifications_see_revocations_from_this_handle_other_handles_and_revoke_all() {
    let fx = Fixture::new();
    let kh = fx.init();
    let other = fx.open().expect("second connection");
    let mint = |name: &str| {
        kh.mint_key(
            &op(),
            &req(name, ExpiryPreset::OneHour, &[Scope::ReadQueries]),
        )
        .expect("mint")
    };
    let (a, b, c) = (mint("a"), mint("b"), mint("c"));
    for _ in 0..3 {
        for t in [&a, &b, &c] {
            kh.verify_token(t.token.expose(), None)
                .expect("valid, then cached");
        }
    }
    // Revoked through the same handle: its own commit does not move data_version; the
    // handle's epoch catches it.
    kh.revoke_key(&op(), "default", "a").expect("revoke");
    assert_eq!(
        kh.verify_token(a.token.expose(), None)
            .expect_err("revoked")
            .code(),
        "key_revoked"
    );
    // Revoked through another connection: data_version moves.
    other.revoke_key(&op(), "default", "b").expect("revoke");
    assert_eq!(
        kh.verify_token(b.token.expose(), None)
            .expect_err("revoked")
            .code(),
        "key_revoked"
    );
    kh.verify_token(c.token.expose(), Some(Scope::ReadQueries))
        .expect("still valid");
    // A cached token asked for a scope it lacks is refused, and stays valid for what it has.
    assert_eq!(
        kh.verify_token(c.token.expose(), Some(Scope::KeysWrite))
            .expect_err("scope")
            .code(),
        "insufficient_scope"
    );
    kh.verify_token(c.token.expose(), None)
        .expect("still valid");
    other.revoke_all_keys(&op(), "default").expect("revoke all");
    assert_eq!(
        kh.verify_token(c.token.expose(), None)
            .expect_err("revoked")
            .code(),
        "key_revoked_all"
    );
    // With the cache off, the same answers.
    kh.set_verify_cache_capacity(0);
    assert_eq!(
        kh.verify_token(c.token.expose(), None)
            .expect_err("revoked")
            .code(),
        "key_revoked_all"
    );
}

#[test]
fn a_first_start_creates_the_store_and_one_admin_key_shown_once() {
    let fx = Fixture::new();
    let key = || keyhold::KeySource::default_file(fx.data());
    let (kh, first) = Keyhold::open_or_create(fx.data(), key(), &op()).expect("first start");
    let first = first.expect("a new store");
    assert_eq!(first.admin.key.name, "admin");
    let p = kh
        .verify_token(first.admin.token.expose(), Some(Scope::Admin))
        .expect("an admin key");
    assert_eq!(p.workspace, first.report.workspace.id);
    assert_eq!(p.exp - p.iat, 30 * 86_400);
    drop(kh);
    let (kh, again) = Keyhold::open_or_create(fx.data(), key(), &op()).expect("second start");
    assert!(again.is_none(), "an existing store is only opened");
    assert_eq!(kh.keys(&op(), "default").expect("keys").len(), 1);
}
