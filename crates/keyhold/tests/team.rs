//! Team access through the facade, on a real store: every role against every operation of
//! the role table, members who create keys in their own name, sessions that end when their
//! member is disabled (seen from another process too), and the attacks on passwords and
//! sessions — with a canary password that must appear nowhere.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

mod common;

use common::{Fixture, assert_absent, file_bytes};
use keyhold::access::{Access, OPERATIONS, Role, SessionPolicy};
use keyhold::api::{
    AddMember, AuditQuery, ConnectionKind, CreateConnection, Policy, Secret, SignIn, SlotName,
};
use keyhold::{Caller, ExpiryPreset, Keyhold, MintRequest, Origin, Surface};

const PASSWORD: &str = "canary-Passphrase-7f3a9c1e";

fn op() -> Caller {
    Caller::operator()
}

fn origin(addr: &str) -> Origin {
    Origin {
        surface: Surface::Portal,
        source: Some(format!("{addr}:50000")),
        request_id: keyhold::new_request_id(),
    }
}

fn add(kh: &Keyhold, email: &str, role: &str) {
    let req = AddMember {
        email: email.into(),
        role: role.into(),
        display_name: None,
        password: Some(Secret::new(PASSWORD)),
    };
    kh.add_member(&op(), "default", &req).expect("add member");
}

fn sign_in(kh: &Keyhold, email: &str, password: &str) -> keyhold::Result<(String, String)> {
    let req = SignIn {
        email: email.into(),
        password: Secret::new(password),
        totp: None,
        workspace: None,
    };
    let (token, session) = kh.sign_in(&origin("10.0.0.1"), &req, SessionPolicy::default())?;
    Ok((token.0.to_string(), session.csrf.expose().to_owned()))
}

fn member(kh: &Keyhold, email: &str) -> Caller {
    let (token, _) = sign_in(kh, email, PASSWORD).expect("sign in");
    kh.session_caller(&token, None, &origin("10.0.0.1"))
        .expect("session")
}

fn mint(name: &str, expires: ExpiryPreset) -> MintRequest {
    MintRequest {
        workspace: "default".into(),
        name: name.into(),
        expires,
        scopes: None,
        sub: None,
    }
}

fn generic(name: &str) -> CreateConnection {
    CreateConnection {
        name: name.into(),
        kind: ConnectionKind::Generic,
        host: None,
        port: None,
        database: None,
        url: None,
        scheme: None,
        primary_user: None,
        secondary_user: None,
        admin_user: None,
        admin_password: None,
        grace_secs: 600,
        rotate_every_secs: None,
    }
}

/// What the workspace holds, to prove a refusal changed nothing.
fn state(kh: &Keyhold) -> String {
    let keys = kh.keys(&op(), "default").unwrap();
    let keys: Vec<_> = keys.iter().map(|k| (&k.name, k.status)).collect();
    let members = kh.members(&op(), "default").unwrap();
    let members: Vec<_> = members
        .iter()
        .map(|m| (&m.email, &m.role, &m.state))
        .collect();
    let conns: Vec<_> = kh
        .connections(&op(), "default")
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    format!("{keys:?} {members:?} {conns:?}")
}

/// Performs operation `name` of the role table as `c` (its `Own` variant when `own`).
fn perform(kh: &Keyhold, c: &Caller, name: &str, i: usize) -> keyhold::Result<()> {
    let ws = "default";
    match name {
        "keys.read" => kh.keys(c, ws).map(drop),
        "keys.create" => kh
            .mint_key(c, &mint(&format!("made-{i}"), ExpiryPreset::OneHour))
            .map(drop),
        "keys.revoke" => kh.revoke_key(c, ws, "victim").map(drop),
        "connections.read" => kh.connections(c, ws).map(drop),
        "connections.use" => kh.active_credential(c, ws, "vault").map(drop),
        "connections.write" => kh
            .create_connection(c, ws, &generic(&format!("conn-{i}")))
            .map(drop),
        "connections.rotate" => kh.rotate_connection(c, ws, "vault", false).map(drop),
        "audit.read" => kh.audit_entries(c, &AuditQuery::default()).map(drop),
        "members.read" => kh.members(c, ws).map(drop),
        "members.manage" => {
            let req = AddMember {
                email: format!("new-{i}@team.com"),
                role: "viewer".into(),
                display_name: None,
                password: None,
            };
            kh.add_member(c, ws, &req).map(drop)
        }
        "workspace.policy" => kh
            .set_policy(
                c,
                ws,
                &Policy {
                    developer_scopes: vec!["read:queries".into()],
                    require_totp: false,
                },
            )
            .map(drop),
        "store.admin" => kh.rotate_signing_key(c).map(drop),
        other => panic!("the role table has an operation this test does not know: {other}"),
    }
}

#[test]
fn every_role_against_every_operation_of_the_role_table() {
    let fx = Fixture::new();
    let kh = fx.init();
    add(&kh, "owner@team.com", "owner");
    let vault = kh
        .create_connection(&op(), "default", &generic("vault"))
        .unwrap();
    kh.update_credential(
        &op(),
        "default",
        &vault.name,
        SlotName::Primary,
        &Secret::new("v-1"),
        false,
    )
    .unwrap();
    kh.save_credential(&op(), "default", &vault.name, SlotName::Primary, true)
        .unwrap();
    let mut i = 0;
    for role in Role::ALL {
        let email = format!("{role}@team.com");
        if role != Role::Owner {
            add(&kh, &email, role.as_str());
        }
        let c = member(&kh, &email);
        for operation in OPERATIONS {
            i += 1;
            // A fresh victim key for revocations, created by the operator (not the member).
            kh.mint_key(&op(), &mint("victim", ExpiryPreset::OneHour))
                .ok();
            let before = state(&kh);
            let result = perform(&kh, &c, operation.name, i);
            let refused = matches!(&result, Err(e) if e.code() == "insufficient_role");
            let expected = operation.access[role as usize];
            match expected {
                Access::Yes => assert!(!refused, "{role} may {}: {result:?}", operation.name),
                Access::No => {
                    assert!(refused, "{role} may not {}: {result:?}", operation.name);
                    assert_eq!(
                        state(&kh),
                        before,
                        "{role} {}: a refusal changed something",
                        operation.name
                    );
                }
                // Own: allowed on what is theirs; the victim key is not.
                Access::Own if operation.name == "keys.revoke" => {
                    assert!(refused, "{role} {}: {result:?}", operation.name)
                }
                Access::Own => assert!(!refused, "{role} {} (own): {result:?}", operation.name),
            }
        }
    }
}

#[test]
fn a_member_mints_a_30_day_key_in_their_own_name_within_their_role() {
    let fx = Fixture::new();
    let kh = fx.init();
    add(&kh, "dev@team.com", "developer");
    add(&kh, "admin@team.com", "admin");
    let dev = member(&kh, "dev@team.com");
    let minted = kh
        .mint_key(&dev, &mint("mobile", ExpiryPreset::ThirtyDays))
        .expect("30 days");
    assert_eq!(minted.key.sub, "dev@team.com");
    assert_eq!(minted.key.expires_at - minted.key.created_at, 30 * 86_400);
    assert_eq!(minted.key.created_by, "member:dev@team.com");
    let p = kh.verify_token(minted.token.expose(), None).unwrap();
    assert_eq!(p.sub, "dev@team.com");
    // Beyond the workspace's allowed scopes, or in another's name: refused.
    let mut wide = mint("wide", ExpiryPreset::OneHour);
    wide.scopes = Some([keyhold::Scope::KeysWrite].into_iter().collect());
    assert_eq!(
        kh.mint_key(&dev, &wide).unwrap_err().code(),
        "scope_escalation"
    );
    let mut foreign = mint("foreign", ExpiryPreset::OneHour);
    foreign.sub = Some("boss@team.com".into());
    assert_eq!(
        kh.mint_key(&dev, &foreign).unwrap_err().code(),
        "invalid_input"
    );
    // A developer adds nobody; an admin adds no owner and touches none.
    let req = |role: &str| AddMember {
        email: "x@team.com".into(),
        role: role.into(),
        display_name: None,
        password: None,
    };
    assert_eq!(
        kh.add_member(&dev, "default", &req("viewer"))
            .unwrap_err()
            .code(),
        "insufficient_role"
    );
    let admin = member(&kh, "admin@team.com");
    assert_eq!(
        kh.add_member(&admin, "default", &req("owner"))
            .unwrap_err()
            .code(),
        "insufficient_role"
    );
    add(&kh, "owner@team.com", "owner");
    let demote = kh.update_member(
        &admin,
        "default",
        "owner@team.com",
        (Some(Role::Viewer), None),
    );
    assert_eq!(demote.unwrap_err().code(), "insufficient_role");
    assert!(kh.add_member(&admin, "default", &req("developer")).is_ok());
    // The last owner stays.
    let alone = kh.update_member(&op(), "default", "owner@team.com", (None, Some("disabled")));
    assert_eq!(alone.unwrap_err().code(), "last_owner");
}

#[test]
fn disabling_a_member_ends_their_session_at_once_in_every_process() {
    let fx = Fixture::new();
    let kh = fx.init();
    let other_process = fx.open().unwrap();
    add(&kh, "ann@team.com", "admin");
    let (token, csrf) = sign_in(&kh, "ann@team.com", PASSWORD).unwrap();
    let o = origin("10.0.0.2");
    other_process
        .session_caller(&token, Some(Some(&csrf)), &o)
        .expect("valid everywhere");
    kh.update_member(&op(), "default", "ann@team.com", (None, Some("disabled")))
        .unwrap();
    let e = other_process.session_caller(&token, None, &o).unwrap_err();
    assert_eq!(e.code(), "session_invalid");
    // Enabled again, the old session stays ended; a new sign-in works.
    kh.update_member(&op(), "default", "ann@team.com", (None, Some("active")))
        .unwrap();
    assert_eq!(
        kh.session_caller(&token, None, &o).unwrap_err().code(),
        "session_invalid"
    );
    assert!(sign_in(&kh, "ann@team.com", PASSWORD).is_ok());
    // Removed: refused too, and keys they created can go with them.
    let ann = member(&kh, "ann@team.com");
    kh.mint_key(&ann, &mint("ann-ci", ExpiryPreset::OneHour))
        .unwrap();
    let (token, _) = sign_in(&kh, "ann@team.com", PASSWORD).unwrap();
    kh.remove_member(&op(), "default", "ann@team.com", true)
        .unwrap();
    assert_eq!(
        other_process
            .session_caller(&token, None, &o)
            .unwrap_err()
            .code(),
        "session_invalid"
    );
    assert_eq!(
        kh.key(&op(), "default", "ann-ci").unwrap().status,
        keyhold::KeyState::Revoked
    );
}

#[test]
fn password_and_session_attacks_are_refused() {
    let fx = Fixture::new();
    let kh = fx.init();
    add(&kh, "ann@team.com", "developer");
    // Wrong password and unknown email: the same answer, word for word.
    let wrong = sign_in(&kh, "ann@team.com", "not-the-password-at-all").unwrap_err();
    let unknown = sign_in(&kh, "nobody@team.com", PASSWORD).unwrap_err();
    assert_eq!(
        (wrong.code(), wrong.to_string()),
        (unknown.code(), unknown.to_string())
    );
    assert_eq!(wrong.code(), "sign_in_failed");
    // Each sign-in is a new session: a token cannot be fixed in advance or reused after.
    let (a, csrf) = sign_in(&kh, "ann@team.com", PASSWORD).unwrap();
    let (b, _) = sign_in(&kh, "ann@team.com", PASSWORD).unwrap();
    assert_ne!(a, b);
    // A stolen cookie without the CSRF token cannot change anything.
    let o = origin("10.0.0.1");
    assert_eq!(
        kh.session_caller(&a, Some(None), &o).unwrap_err().code(),
        "csrf_failed"
    );
    assert_eq!(
        kh.session_caller(&a, Some(Some("khx_guess")), &o)
            .unwrap_err()
            .code(),
        "csrf_failed"
    );
    assert!(kh.session_caller(&a, Some(Some(&csrf)), &o).is_ok());
    // Signed out: refused.
    kh.sign_out(&a, &o).unwrap();
    assert_eq!(
        kh.session_caller(&a, None, &o).unwrap_err().code(),
        "session_invalid"
    );
    assert_eq!(
        kh.session_caller("khs_made-up", None, &o)
            .unwrap_err()
            .code(),
        "session_invalid"
    );
    // Expired: a session of one second idle.
    let req = SignIn {
        email: "ann@team.com".into(),
        password: Secret::new(PASSWORD),
        totp: None,
        workspace: None,
    };
    let short = SessionPolicy::new(1, 2).unwrap();
    let (t, _) = kh.sign_in(&o, &req, short).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(
        kh.session_caller(&t.0, None, &o).unwrap_err().code(),
        "session_invalid"
    );
    // Guessing is slowed: after five failures each one makes the next wait longer, so a
    // run of wrong guesses meets the throttle, and then the right password waits too.
    let throttled = (0..20).any(|_| {
        let e = sign_in(&kh, "ann@team.com", "guess-guess-guess-1").unwrap_err();
        e.code() == "sign_in_throttled"
    });
    assert!(throttled, "twenty wrong guesses in a row were never slowed");
    assert_eq!(
        sign_in(&kh, "ann@team.com", PASSWORD).unwrap_err().code(),
        "sign_in_throttled"
    );
    // A replayed enrolment code is refused.
    let added = kh
        .add_member(
            &op(),
            "default",
            &AddMember {
                email: "bob@team.com".into(),
                role: "viewer".into(),
                display_name: None,
                password: None,
            },
        )
        .unwrap();
    let code = added.enrolment.expect("a code").code;
    assert_eq!(added.member.state, "invited");
    kh.redeem_enrolment(&o, code.expose(), "bob's long passphrase 42")
        .unwrap();
    let again = kh.redeem_enrolment(&o, code.expose(), "another long passphrase 43");
    assert_eq!(again.unwrap_err().code(), "enrolment_invalid");
    assert!(sign_in(&kh, "bob@team.com", "bob's long passphrase 42").is_ok());
    // A weak password is refused at enrolment, saying why.
    let weak = kh.add_member(
        &op(),
        "default",
        &AddMember {
            email: "eve@team.com".into(),
            role: "viewer".into(),
            display_name: None,
            password: Some(Secret::new("Password123!")),
        },
    );
    assert_eq!(weak.unwrap_err().code(), "password_rejected");
}

#[test]
fn no_password_session_token_or_enrolment_code_is_kept_in_clear() {
    let fx = Fixture::new();
    let kh = fx.init();
    add(&kh, "ann@team.com", "owner");
    let (token, csrf) = sign_in(&kh, "ann@team.com", PASSWORD).unwrap();
    let _ = sign_in(&kh, "ann@team.com", "canary-wrong-password-55");
    let added = kh
        .add_member(
            &op(),
            "default",
            &AddMember {
                email: "bob@team.com".into(),
                role: "viewer".into(),
                display_name: None,
                password: None,
            },
        )
        .unwrap();
    let code = added.enrolment.unwrap().code.expose().to_owned();
    let audit = format!(
        "{:?}",
        kh.audit_entries(&op(), &AuditQuery::default()).unwrap()
    );
    drop(kh);
    let mut stored = file_bytes(&fx.db());
    stored.extend(file_bytes(&fx.db().with_extension("db-wal")));
    for (what, secret) in [
        ("password", PASSWORD),
        ("wrong password", "canary-wrong-password-55"),
        ("session", &token),
        ("csrf", &csrf),
        ("enrolment code", &code),
    ] {
        assert_absent(
            &stored,
            secret.as_bytes(),
            &format!("the database and its WAL ({what})"),
        );
        assert!(!audit.contains(secret), "{what} in the audit log");
    }
}

/// An owner of one workspace can do nothing to a person's standing in another: not set their
/// password, not redeem their invitation, not set that workspace's policy.
#[test]
fn one_workspace_cannot_reach_a_person_or_policy_of_another() {
    let fx = Fixture::new();
    let kh = fx.init();
    kh.create_workspace(&op(), "evil").unwrap();
    add(&kh, "owner@team.com", "owner");
    let req = AddMember {
        email: "mallory@evil.com".into(),
        role: "owner".into(),
        display_name: None,
        password: Some(Secret::new(PASSWORD)),
    };
    kh.add_member(&op(), "evil", &req).unwrap();
    let mallory = member(&kh, "mallory@evil.com");
    // Her own password for the victim is refused; adding them without one changes nothing.
    let takeover = AddMember {
        email: "owner@team.com".into(),
        role: "viewer".into(),
        display_name: None,
        password: Some(Secret::new("mallory's chosen passphrase")),
    };
    assert_eq!(
        kh.add_member(&mallory, "evil", &takeover)
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    let plain = AddMember {
        password: None,
        ..takeover
    };
    let added = kh.add_member(&mallory, "evil", &plain).unwrap();
    assert!(
        added.enrolment.is_none(),
        "a person with a password gets no code"
    );
    assert!(
        sign_in(&kh, "owner@team.com", PASSWORD).is_ok(),
        "their password still works"
    );
    assert!(sign_in(&kh, "owner@team.com", "mallory's chosen passphrase").is_err());
    // An invited person's code for her workspace activates only her workspace's membership.
    let invite = |ws: &str| {
        let req = AddMember {
            email: "new@team.com".into(),
            role: "owner".into(),
            display_name: None,
            password: None,
        };
        let operator = op();
        let by = if ws == "evil" { &mallory } else { &operator };
        kh.add_member(by, ws, &req).unwrap().enrolment.unwrap().code
    };
    let real = invite("default");
    let hers = invite("evil");
    let o = origin("10.0.0.9");
    kh.redeem_enrolment(&o, hers.expose(), "mallory's chosen passphrase")
        .unwrap();
    let into_default = SignIn {
        email: "new@team.com".into(),
        password: Secret::new("mallory's chosen passphrase"),
        totp: None,
        workspace: Some(kh.workspace("default").unwrap().id),
    };
    assert_eq!(
        kh.sign_in(&o, &into_default, SessionPolicy::default())
            .unwrap_err()
            .code(),
        "sign_in_failed"
    );
    kh.redeem_enrolment(&o, real.expose(), "the real person's passphrase")
        .unwrap();
    // Her policy reaches her workspace only.
    let policy = Policy {
        developer_scopes: vec![],
        require_totp: true,
    };
    assert_eq!(
        kh.set_policy(&mallory, "default", &policy)
            .unwrap_err()
            .code(),
        "insufficient_role"
    );
    assert!(sign_in(&kh, "owner@team.com", PASSWORD).is_ok());
}

/// A developer's keys carry only what developers hold outright, whatever the policy says.
#[test]
fn the_developer_allow_list_cannot_hand_out_what_developers_only_hold_on_their_own() {
    let fx = Fixture::new();
    let kh = fx.init();
    let wide = Policy {
        developer_scopes: vec!["keys:revoke".into(), "read:queries".into()],
        require_totp: false,
    };
    assert_eq!(
        kh.set_policy(&op(), "default", &wide).unwrap_err().code(),
        "invalid_input"
    );
    let ok = Policy {
        developer_scopes: vec![],
        require_totp: false,
    };
    assert!(
        kh.set_policy(&op(), "default", &ok).is_ok(),
        "an empty allow-list is a policy too"
    );
}

/// Parallel guesses are counted before they are checked, so they cannot all slip under the
/// throttle; a workspace that starts requiring a second factor ends the sessions without one.
#[test]
fn parallel_guesses_meet_the_throttle_and_policy_changes_end_sessions() {
    let fx = Fixture::new();
    let kh = std::sync::Arc::new(fx.init());
    add(&kh, "ann@team.com", "owner");
    let (token, _) = sign_in(&kh, "ann@team.com", PASSWORD).unwrap();
    let guesses: Vec<_> = (0..24)
        .map(|_| {
            let kh = kh.clone();
            std::thread::spawn(move || {
                sign_in(&kh, "ann@team.com", "guess-guess-guess-2")
                    .unwrap_err()
                    .code()
            })
        })
        .collect();
    let codes: Vec<&str> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    let checked = codes.iter().filter(|c| **c == "sign_in_failed").count();
    assert!(
        checked <= 6,
        "{checked} of 24 parallel guesses were checked: {codes:?}"
    );
    let o = origin("10.0.0.1");
    assert!(kh.session_caller(&token, None, &o).is_ok());
    let strict = Policy {
        developer_scopes: vec![],
        require_totp: true,
    };
    kh.set_policy(&op(), "default", &strict).unwrap();
    assert_eq!(
        kh.session_caller(&token, None, &o).unwrap_err().code(),
        "session_invalid"
    );
}

/// A TOTP second factor: enrolled with the password and the authenticator's first code;
/// from then on every sign-in needs a fresh code (none, a wrong one or a used one is the same
/// failure), and a workspace that requires a factor admits only people who have one.
#[test]
fn a_second_factor_is_enrolled_and_then_required_and_never_replayed() {
    use keyhold::access::totp;
    use keyhold::api::TotpEnrol;
    let fx = Fixture::new();
    let kh = fx.init();
    add(&kh, "ann@team.com", "owner");
    add(&kh, "bob@team.com", "viewer");
    let o = origin("10.0.0.1");
    let strict = Policy {
        developer_scopes: vec![],
        require_totp: true,
    };
    kh.set_policy(&op(), "default", &strict).unwrap();
    assert_eq!(
        sign_in(&kh, "ann@team.com", PASSWORD).unwrap_err().code(),
        "sign_in_failed",
        "no factor yet"
    );
    let start = TotpEnrol {
        email: "ann@team.com".into(),
        password: Secret::new(PASSWORD),
        code: None,
    };
    let wrong = TotpEnrol {
        password: Secret::new("not-her-password-1"),
        ..start
    };
    assert_eq!(
        kh.enrol_totp(&o, &wrong).unwrap_err().code(),
        "sign_in_failed"
    );
    let start = TotpEnrol {
        password: Secret::new(PASSWORD),
        ..wrong
    };
    let given = kh.enrol_totp(&o, &start).unwrap().expect("a new secret");
    assert!(
        given
            .otpauth_uri
            .expose()
            .starts_with("otpauth://totp/keyhold:ann@team.com?secret=")
    );
    let secret = totp::from_base32(given.secret.expose()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let now = i64::try_from(now).unwrap();
    let bad = TotpEnrol {
        code: Some(Secret::new("000000")),
        ..start
    };
    let bad = if totp::code_at(&secret, now) == "000000" {
        TotpEnrol {
            code: Some(Secret::new("111111")),
            ..bad
        }
    } else {
        bad
    };
    assert_eq!(kh.enrol_totp(&o, &bad).unwrap_err().code(), "invalid_input");
    // Enrolled with the code of the step before now; sign in with the current one.
    let confirm = TotpEnrol {
        code: Some(Secret::new(totp::code_at(&secret, now - 30))),
        ..bad
    };
    assert!(kh.enrol_totp(&o, &confirm).unwrap().is_none(), "enrolled");
    let with = |code: Option<String>| SignIn {
        email: "ann@team.com".into(),
        password: Secret::new(PASSWORD),
        totp: code.map(Secret::new),
        workspace: None,
    };
    assert_eq!(
        kh.sign_in(&o, &with(None), SessionPolicy::default())
            .unwrap_err()
            .code(),
        "sign_in_failed"
    );
    let used = Some(totp::code_at(&secret, now - 30));
    assert_eq!(
        kh.sign_in(&o, &with(used), SessionPolicy::default())
            .unwrap_err()
            .code(),
        "sign_in_failed"
    );
    let code = Some(totp::code_at(&secret, now));
    assert!(
        kh.sign_in(&o, &with(code.clone()), SessionPolicy::default())
            .is_ok()
    );
    assert_eq!(
        kh.sign_in(&o, &with(code), SessionPolicy::default())
            .unwrap_err()
            .code(),
        "sign_in_failed",
        "a code works once"
    );
    // Bob has no factor: the workspace admits him nowhere until he enrols one.
    assert_eq!(
        sign_in(&kh, "bob@team.com", PASSWORD).unwrap_err().code(),
        "sign_in_failed"
    );
    // The secret is an envelope record: not in the database in clear.
    drop(kh);
    let mut stored = file_bytes(&fx.db());
    stored.extend(file_bytes(&fx.db().with_extension("db-wal")));
    assert_absent(&stored, &secret, "the database (TOTP secret)");
}
