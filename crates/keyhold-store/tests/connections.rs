//! Connection rows on a real SQLite file: one per name in a workspace, transitions rewrite the
//! authenticated columns, the schedule is claimed by one runner, the lease by one holder, and
//! a store of the previous schema gains the table when it is opened.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use keyhold_store::{
    ConnectionRow, KekRow, KekState, RecordKey, RecordRow, Store, StoreError, Tx, WorkspaceRow,
};

#[allow(dead_code)] // each test file uses a part of the fixture
mod common;
use common::Fixture;

fn store(fx: &Fixture) -> Store {
    let store = fx.store();
    store
        .write(|tx| {
            tx.insert_workspace(&WorkspaceRow {
                id: "ws_1".into(),
                name: "default".into(),
                created_at: 1,
                revoked_all_at_ms: None,
                revoked_all_seq: None,
                mac: b"mac".to_vec(),
            })
        })
        .expect("workspace");
    store
}

fn write<T>(store: &Store, f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>) -> T {
    store.write(f).expect("write")
}

fn row(id: &str, name: &str) -> ConnectionRow {
    ConnectionRow {
        id: id.into(),
        workspace: "ws_1".into(),
        name: name.into(),
        kind: "postgres".into(),
        settings: "{}".into(),
        grace_secs: 600,
        primary_state: "empty".into(),
        secondary_state: "empty".into(),
        created_at: 10,
        created_by: "op".into(),
        updated_at: 10,
        mac: b"mac".to_vec(),
        ..ConnectionRow::default()
    }
}

fn a_name_is_taken_once_per_workspace_and_a_transition_rewrites_the_row(fx: &Fixture) {
    let store = store(fx);
    assert!(write(&store, |tx| tx.insert_connection(&row("con_1", "orders"))));
    assert!(!write(&store, |tx| tx.insert_connection(&row("con_2", "orders"))));
    let mut r = write(&store, |tx| tx.connection("ws_1", "orders")).expect("row");
    assert_eq!(r, row("con_1", "orders"));
    r.primary_state = "active:1:20".into();
    r.last_version = 1;
    r.updated_at = 20;
    r.created_by = "someone else".into();
    assert!(write(&store, |tx| tx.update_connection(&r)));
    let read = write(&store, |tx| tx.connection("ws_1", "orders")).expect("row");
    assert_eq!(read.primary_state, "active:1:20");
    assert_eq!(read.last_version, 1);
    assert_eq!(read.created_by, "op", "creation is not rewritten");
    assert_eq!(write(&store, |tx| tx.connections(Some("ws_1"))).len(), 1);
    assert_eq!(write(&store, |tx| tx.connections(Some("ws_2"))).len(), 0);
    assert!(write(&store, |tx| tx.delete_connection("con_1")));
    assert!(!write(&store, |tx| tx.update_connection(&r)), "gone");
    assert!(write(&store, |tx| tx.connection("ws_1", "orders")).is_none());
}

fn a_due_rotation_is_claimed_by_one_runner_and_a_lease_held_by_one_holder(fx: &Fixture) {
    let store = store(fx);
    let mut r = row("con_1", "orders");
    r.next_rotation_at = Some(100);
    // A schedule without a period (an edited row: every write sets both) is never due.
    write(&store, |tx| tx.insert_connection(&r));
    assert!(write(&store, |tx| tx.connections_due(100)).is_empty());
    r.rotate_every_secs = Some(1000);
    r.mac = b"mac2".to_vec();
    write(&store, |tx| tx.update_connection(&r));
    assert!(write(&store, |tx| tx.connections_due(99)).is_empty());
    assert_eq!(write(&store, |tx| tx.connections_due(100)).len(), 1);
    assert!(write(&store, |tx| tx.claim_rotation(
        "con_1",
        Some(100),
        Some(130),
        1
    )));
    assert!(
        !write(&store, |tx| tx.claim_rotation(
            "con_1",
            Some(100),
            Some(130),
            1
        )),
        "a second runner that read the same schedule does not get it"
    );
    let now = write(&store, |tx| tx.connection("ws_1", "orders")).unwrap();
    assert_eq!(
        (now.next_rotation_at, now.rotation_failures),
        (Some(130), 1)
    );

    assert!(write(&store, |tx| tx.take_connection_lease("con_1", "a", 0, 60)));
    assert!(
        write(&store, |tx| tx.take_connection_lease("con_1", "a", 1, 61)),
        "its holder again"
    );
    assert!(!write(&store, |tx| tx.take_connection_lease("con_1", "b", 30, 90)));
    assert!(
        write(&store, |tx| tx.take_connection_lease("con_1", "b", 61, 121)),
        "expired"
    );
    write(&store, |tx| tx.release_connection_lease("con_1", "a"));
    assert!(
        !write(&store, |tx| tx.take_connection_lease("con_1", "c", 62, 122)),
        "not a's to give back"
    );
    write(&store, |tx| tx.release_connection_lease("con_1", "b"));
    assert!(write(&store, |tx| tx.take_connection_lease("con_1", "c", 62, 122)));
    // A lease ending later than any one taken now is not honoured (an edited row).
    write(&store, |tx| tx.release_connection_lease("con_1", "c"));
    assert!(write(&store, |tx| tx
        .take_connection_lease("con_1", "d", 70, 1_000_000)));
    assert!(write(&store, |tx| tx.take_connection_lease("con_1", "e", 71, 131)));
}

fn credentials_are_found_and_deleted_by_prefix_and_last_use_only_moves_forward(fx: &Fixture) {
    let store = store(fx);
    write(&store, |tx| tx.insert_connection(&row("con_1", "orders")));
    let kek = KekRow {
        id: 1,
        wrapped: b"wrapped".to_vec(),
        state: KekState::Active,
        created_at: 1,
    };
    write(&store, |tx| tx.insert_kek(&kek));
    for id in [
        "con_1.primary.v1",
        "con_1.primary.v3",
        "con_10.primary.v1",
        "con_1.secondary.v2",
    ] {
        let key = RecordKey {
            workspace: "ws_1".into(),
            kind: "connection-credential".into(),
            id: id.into(),
        };
        let rec = RecordRow {
            key,
            version: 1,
            kek_id: 1,
            envelope: b"sealed".to_vec(),
            updated_at: 1,
        };
        write(&store, |tx| tx.put_record(&rec));
    }
    let ids = write(&store, |tx| {
        tx.record_ids_prefixed("ws_1", "connection-credential", "con_1.primary.v")
    });
    assert_eq!(ids, ["con_1.primary.v1", "con_1.primary.v3"]);
    let n = write(&store, |tx| {
        tx.delete_records_prefixed("ws_1", "connection-credential", "con_1.")
    });
    assert_eq!(n, 3, "con_10's record is another connection's");
    write(&store, |tx| tx.touch_connection_named("ws_1", "orders", 50));
    write(&store, |tx| tx.touch_connection_named("ws_1", "orders", 40));
    let r = write(&store, |tx| tx.connection("ws_1", "orders")).unwrap();
    assert_eq!(r.last_used_at, Some(50));
}

#[test]
fn a_store_of_the_previous_schema_gains_connections_when_opened() {
    let fx = Fixture::sqlite();
    let store = store(&fx);
    drop(store);
    let path = fx.db_path();
    let c = rusqlite::Connection::open(&path).expect("sqlite");
    c.execute_batch(concat!(
        "DROP TABLE workspace_policies; DROP TABLE sign_in_failures; DROP TABLE enrolments; ",
        "DROP TABLE sessions; DROP TABLE members; DROP TABLE people; ",
        "DROP TABLE confirmations; DROP TABLE connections; PRAGMA user_version = 5;"
    ))
    .expect("back to 5");
    drop(c);
    let store = Store::open(&path).expect("open");
    assert_eq!(store.schema_version().expect("version"), 8);
    assert_eq!(store.pending_upgrade().expect("pending"), None);
    assert!(write(&store, |tx| tx.insert_connection(&row("con_1", "orders"))));
}

fn a_schedule_read_as_none_is_claimed_only_while_it_is_still_none(fx: &Fixture) {
    let store = store(fx);
    assert!(write(&store, |tx| tx.insert_connection(&row("con_1", "orders"))));
    let claim = |seen, next| write(&store, |tx| tx.claim_rotation("con_1", seen, next, 0));
    assert!(!claim(Some(100), Some(130)), "the schedule is not 100");
    assert!(
        claim(None, Some(130)),
        "NULL matches a schedule read as none"
    );
    assert!(!claim(None, Some(160)), "no longer none");
    assert!(claim(Some(130), None), "back to none");
    assert!(claim(None, None));
}

contract!(
    a_schedule_read_as_none_is_claimed_only_while_it_is_still_none,
    a_name_is_taken_once_per_workspace_and_a_transition_rewrites_the_row,
    a_due_rotation_is_claimed_by_one_runner_and_a_lease_held_by_one_holder,
    credentials_are_found_and_deleted_by_prefix_and_last_use_only_moves_forward,
);
