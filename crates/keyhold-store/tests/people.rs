//! Team access rows on a real SQLite file: people and memberships, sessions that end with
//! their member, enrolment codes taken once, failed sign-ins, policies — and a store of the
//! previous schema gains the tables when it is opened.
#![allow(clippy::expect_used)]

use keyhold_store::{
    EnrolmentRow, MemberRow, PersonRow, PolicyRow, SessionRow, Store, StoreError, Tx, WorkspaceRow,
};

#[allow(dead_code)] // each test file uses a part of the fixture
mod common;
use common::Fixture;

fn store(fx: &Fixture) -> Store {
    let store = fx.store();
    for (id, name) in [("ws_1", "default"), ("ws_2", "other")] {
        store
            .write(|tx| {
                tx.insert_workspace(&WorkspaceRow {
                    id: id.into(),
                    name: name.into(),
                    created_at: 1,
                    mac: b"mac".to_vec(),
                    ..WorkspaceRow::default()
                })
            })
            .expect("workspace");
    }
    store
}

fn write<T>(store: &Store, f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>) -> T {
    store.write(f).expect("write")
}

fn person(email: &str) -> PersonRow {
    PersonRow {
        email: email.into(),
        display_name: "Ann".into(),
        password_hash: Some("$argon2id$…".into()),
        created_at: 10,
        updated_at: 10,
        mac: b"mac".to_vec(),
        ..PersonRow::default()
    }
}

fn member(ws: &str, email: &str, role: &str) -> MemberRow {
    MemberRow {
        workspace: ws.into(),
        email: email.into(),
        role: role.into(),
        state: "active".into(),
        created_by: "operator:root".into(),
        created_at: 10,
        updated_at: 10,
        mac: b"mac".to_vec(),
    }
}

fn session(id: &str, ws: &str, email: &str, created: i64) -> SessionRow {
    SessionRow {
        id: id.into(),
        email: email.into(),
        workspace: ws.into(),
        csrf: "c".into(),
        created_at: created,
        idle_secs: 1800,
        absolute_secs: 43_200,
        mac: b"mac".to_vec(),
        last_seen: created,
    }
}

fn a_person_belongs_to_workspaces_with_a_role_in_each(fx: &Fixture) {
    let store = store(fx);
    write(&store, |tx| tx.put_person(&person("ann@team.com")));
    assert!(write(&store, |tx| tx.insert_member(&member(
        "ws_1",
        "ann@team.com",
        "owner"
    ))));
    assert!(write(&store, |tx| tx.insert_member(&member(
        "ws_2",
        "ann@team.com",
        "viewer"
    ))));
    assert!(!write(&store, |tx| tx.insert_member(&member(
        "ws_1",
        "ann@team.com",
        "viewer"
    ))));
    // A membership needs a person.
    let orphan = store.write(|tx| tx.insert_member(&member("ws_1", "nobody@team.com", "owner")));
    assert!(orphan.is_err());
    let mine = write(&store, |tx| tx.members(None, Some("ann@team.com")));
    let roles: Vec<&str> = mine.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["owner", "viewer"]);
    let mut m = mine[1].clone();
    m.role = "developer".into();
    m.state = "disabled".into();
    assert!(write(&store, |tx| tx.update_member(&m)));
    assert_eq!(
        write(&store, |tx| tx.member("ws_2", "ann@team.com")),
        Some(m)
    );
    // A changed person keeps their informational columns.
    write(&store, |tx| tx.signed_in("ann@team.com", 50, Some(7)));
    let mut p = person("ann@team.com");
    p.display_name = "Ann B".into();
    p.updated_at = 60;
    write(&store, |tx| tx.put_person(&p));
    let got = write(&store, |tx| tx.person("ann@team.com")).expect("person");
    assert_eq!(
        (got.display_name.as_str(), got.last_sign_in, got.totp_step),
        ("Ann B", Some(50), Some(7))
    );
}

fn sessions_end_with_their_membership_and_at_their_absolute_lifetime(fx: &Fixture) {
    let store = store(fx);
    write(&store, |tx| tx.put_person(&person("ann@team.com")));
    write(&store, |tx| {
        tx.insert_member(&member("ws_1", "ann@team.com", "admin"))
    });
    write(&store, |tx| {
        tx.insert_session(&session("s1", "ws_1", "ann@team.com", 100), 100)
    });
    write(&store, |tx| {
        tx.insert_session(&session("s2", "ws_2", "ann@team.com", 100), 100)
    });
    write(&store, |tx| tx.touch_session("s1", 160));
    assert_eq!(
        write(&store, |tx| tx.session("s1")).expect("s1").last_seen,
        160
    );
    assert!(write(&store, |tx| tx.delete_member("ws_1", "ann@team.com")));
    assert_eq!(
        write(&store, |tx| tx.session("s1")),
        None,
        "ended with the membership"
    );
    assert!(
        write(&store, |tx| tx.session("s2")).is_some(),
        "another workspace's stays"
    );
    // A new session drops those past their absolute lifetime.
    write(&store, |tx| {
        tx.insert_session(&session("s3", "ws_2", "ann@team.com", 50_000), 50_000)
    });
    assert_eq!(write(&store, |tx| tx.session("s2")), None);
    assert!(write(&store, |tx| tx.delete_session("s3")));
    assert!(!write(&store, |tx| tx.delete_session("s3")));
    assert_eq!(
        write(&store, |tx| tx.delete_sessions_of("", "ann@team.com")),
        0
    );
}

fn an_enrolment_code_is_taken_once_and_a_new_one_replaces_the_old(fx: &Fixture) {
    let store = store(fx);
    let code = |id: &str, expires_at| EnrolmentRow {
        id: id.into(),
        email: "ann@team.com".into(),
        workspace: "ws_1".into(),
        expires_at,
        mac: b"mac".to_vec(),
    };
    write(&store, |tx| tx.insert_enrolment(&code("e1", 100), 10));
    write(&store, |tx| tx.insert_enrolment(&code("e2", 100), 20));
    assert_eq!(
        write(&store, |tx| tx.take_enrolment("e1")),
        None,
        "replaced"
    );
    assert_eq!(
        write(&store, |tx| tx.take_enrolment("e2")),
        Some(code("e2", 100))
    );
    assert_eq!(write(&store, |tx| tx.take_enrolment("e2")), None, "used");
}

fn failures_count_and_clear_and_policies_are_set_whole(fx: &Fixture) {
    let store = store(fx);
    assert_eq!(
        write(&store, |tx| tx.failures("account:ann@team.com")),
        (0, 0)
    );
    write(&store, |tx| tx.set_failures("account:ann@team.com", 3, 77));
    assert_eq!(
        write(&store, |tx| tx.failures("account:ann@team.com")),
        (3, 77)
    );
    write(&store, |tx| tx.set_failures("account:ann@team.com", 0, 80));
    assert_eq!(
        write(&store, |tx| tx.failures("account:ann@team.com")),
        (0, 0)
    );
    let mut p = PolicyRow {
        workspace: "ws_1".into(),
        require_totp: true,
        developer_scopes: "read:queries".into(),
        updated_at: 5,
        mac: b"mac".to_vec(),
    };
    write(&store, |tx| tx.put_policy(&p));
    p.require_totp = false;
    write(&store, |tx| tx.put_policy(&p));
    assert_eq!(write(&store, |tx| tx.policy("ws_1")), Some(p));
    assert_eq!(write(&store, |tx| tx.policy("ws_2")), None);
}

#[test]
fn a_store_of_the_previous_schema_gains_the_team_tables_when_opened() {
    let fx = Fixture::sqlite();
    let store = store(&fx);
    drop(store);
    let path = fx.db_path();
    let c = rusqlite::Connection::open(&path).expect("sqlite");
    c.execute_batch(concat!(
        "DROP TABLE workspace_policies; DROP TABLE sign_in_failures; DROP TABLE enrolments; ",
        "DROP TABLE sessions; DROP TABLE members; DROP TABLE people; PRAGMA user_version = 7;"
    ))
    .expect("back to 7");
    drop(c);
    let store = Store::open(&path).expect("open");
    assert_eq!(store.schema_version().expect("version"), 8);
    write(&store, |tx| tx.put_person(&person("ann@team.com")));
}

contract!(
    a_person_belongs_to_workspaces_with_a_role_in_each,
    sessions_end_with_their_membership_and_at_their_absolute_lifetime,
    an_enrolment_code_is_taken_once_and_a_new_one_replaces_the_old,
    failures_count_and_clear_and_policies_are_set_whole,
);
