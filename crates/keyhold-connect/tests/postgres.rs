//! The PostgreSQL connector against a real server (`scripts/pg-cluster`; see `common`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

mod common;

use std::net::TcpListener;

use common::{Role, canary, connector, text, unique, with_admin_login};
use keyhold_connect::{Connector, Login, Postgres, Refusal, SecretBytes, SetError, new_password};

/// Names a careless quoting would break: a quote, a space, non-ASCII, an injection attempt.
fn awkward_names() -> Vec<String> {
    let u = unique();
    vec![
        u.clone(),
        format!("{u} with space"),
        format!("{u}\"quote"),
        format!("{u}_rôle_ü_名"),
        format!("x\"; DROP ROLE postgres; --{}", &u[8..]),
    ]
}

fn rejected(r: Result<(), Refusal>) -> String {
    match r {
        Err(Refusal::Rejected { detail }) => detail,
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[test]
fn a_login_passes_with_its_password_and_is_rejected_with_another() {
    let pg = connector();
    assert!(pg.testable() && pg.regenerates());
    let right = new_password().unwrap();
    let wrong = new_password().unwrap();
    for name in awkward_names() {
        let role = Role::create(&name, &right, "");
        assert_eq!(pg.test(&role.login(&right)), Ok(()), "{name:?}");
        let detail = rejected(pg.test(&role.login(&wrong)));
        assert!(detail.contains("28P01"), "{detail}");
    }
    let nobody = unique();
    let detail = rejected(pg.test(&Login {
        user: &nobody,
        password: &right,
    }));
    assert!(!detail.contains(&text(&right)));
}

#[test]
fn a_closed_port_is_unreachable() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let pg = Postgres::new("127.0.0.1", port, "postgres").unwrap();
    let pw = SecretBytes::copy_from(b"irrelevant");
    match pg.test(&Login {
        user: "nobody",
        password: &pw,
    }) {
        Err(Refusal::Unreachable { detail }) => {
            assert!(detail.contains("connection refused"), "{detail}");
            assert!(detail.contains(&port.to_string()), "{detail}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    let admin = Login {
        user: "postgres",
        password: &pw,
    };
    assert!(matches!(
        pg.set_password("nobody", &pw, &admin),
        Err(SetError::Unreachable { .. })
    ));
}

#[test]
fn an_administrator_sets_a_password_and_only_the_new_one_works() {
    let pg = connector();
    for name in awkward_names() {
        let old = new_password().unwrap();
        let new = new_password().unwrap();
        let role = Role::create(&name, &old, "");
        with_admin_login(|admin| pg.set_password(&name, &new, admin)).unwrap();
        assert_eq!(pg.test(&role.login(&new)), Ok(()), "{name:?}");
        rejected(pg.test(&role.login(&old)));
        // Again: no harm done, still only the new one.
        with_admin_login(|admin| pg.set_password(&name, &new, admin)).unwrap();
        assert_eq!(pg.test(&role.login(&new)), Ok(()), "{name:?}");
        rejected(pg.test(&role.login(&old)));
    }
    // The injection attempt named a role; it did not run a statement.
    let alive = common::admin_client()
        .query_one(
            "SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(alive, 1);
}

#[test]
fn a_role_sets_its_own_password() {
    let pg = connector();
    let old = new_password().unwrap();
    let new = new_password().unwrap();
    let role = Role::create(&format!("{} self", unique()), &old, "");
    pg.set_password(&role.name, &new, &role.login(&old))
        .unwrap();
    assert_eq!(pg.test(&role.login(&new)), Ok(()));
    rejected(pg.test(&role.login(&old)));
    // Its old login is now refused as an authority too.
    match pg.set_password(&role.name, &new, &role.login(&old)) {
        Err(SetError::Rejected { detail }) => assert!(detail.contains("28P01"), "{detail}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[test]
fn a_role_without_createrole_may_not_set_another_roles_password() {
    let pg = connector();
    let pw = new_password().unwrap();
    let other_pw = new_password().unwrap();
    let plain = Role::create(&unique(), &pw, "NOCREATEROLE");
    let other = Role::create(&unique(), &other_pw, "");
    let attempt = new_password().unwrap();
    match pg.set_password(&other.name, &attempt, &plain.login(&pw)) {
        Err(SetError::NotPermitted { detail }) => assert!(detail.contains("42501"), "{detail}"),
        other => panic!("expected NotPermitted, got {other:?}"),
    }
    assert_eq!(pg.test(&other.login(&other_pw)), Ok(()));
    rejected(pg.test(&other.login(&attempt)));
}

#[test]
fn a_missing_role_or_an_unusable_name_is_refused() {
    let pg = connector();
    let pw = new_password().unwrap();
    for name in [unique(), String::new(), "a\0b".into(), "n".repeat(64)] {
        let r = with_admin_login(|admin| pg.set_password(&name, &pw, admin));
        assert!(
            matches!(r, Err(SetError::Rejected { .. })),
            "{name:?}: {r:?}"
        );
    }
}

#[test]
fn no_password_reaches_the_server_log_or_an_error() {
    let pg = connector();
    let generated = new_password().unwrap();
    let planted = canary();
    let role = Role::create(&unique(), &new_password().unwrap(), "");
    let mut messages = Vec::new();

    // The secrets as passwords set, by an administrator and by the role itself.
    with_admin_login(|admin| pg.set_password(&role.name, &planted, admin)).unwrap();
    pg.set_password(&role.name, &generated, &role.login(&planted))
        .unwrap();
    assert_eq!(pg.test(&role.login(&generated)), Ok(()));
    // The secrets as wrong passwords, and refused changes.
    messages.push(format!("{:?}", pg.test(&role.login(&planted)).unwrap_err()));
    let e = pg.test(&role.login(&planted)).unwrap_err();
    messages.push(e.to_string());
    let nobody = Login {
        user: "kh_test_nobody",
        password: &generated,
    };
    let e = pg.set_password(&role.name, &planted, &nobody).unwrap_err();
    messages.push(format!("{e} {e:?}"));
    let plain = Role::create(&unique(), &planted, "");
    let e = pg
        .set_password(&role.name, &generated, &plain.login(&planted))
        .unwrap_err();
    assert!(matches!(e, SetError::NotPermitted { .. }));
    messages.push(format!("{e} {e:?}"));
    messages.push(format!("{:?}", role.login(&planted)));
    messages.push(format!("{pg:?}"));

    let log = common::server_log();
    for secret in [&generated, &planted] {
        let s = text(secret);
        assert!(!log.contains(&s), "a password is in the server log");
        for m in &messages {
            assert!(!m.contains(&s), "a password is in a message: {m}");
        }
    }
    assert!(
        log.contains(&format!(
            "ALTER ROLE \"{}\" PASSWORD 'SCRAM-SHA-256$",
            role.name
        )),
        "the log records statements (log_statement = all), so its silence means something"
    );
}
