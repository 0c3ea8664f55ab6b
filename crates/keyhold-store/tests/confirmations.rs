//! The assistant's confirmations on a real SQLite file: taken at most once, expired ones
//! dropped when a new one is added, and a store of the previous schema gains the table when
//! it is opened.
#![allow(clippy::expect_used)]

use keyhold_store::{ConfirmationRow, Store, StoreError, Taken, Tx};

#[allow(dead_code)] // each test file uses a part of the fixture
mod common;
use common::Fixture;

fn store(fx: &Fixture) -> Store {
    fx.store()
}

fn write<T>(store: &Store, f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>) -> T {
    store.write(f).expect("write")
}

fn row(id: &str, expires_at: i64) -> ConfirmationRow {
    ConfirmationRow {
        id: id.into(),
        workspace: "ws_1".into(),
        caller: "key:k1".into(),
        intent: "{\"intent\":\"revoke_all\"}".into(),
        expires_at,
        mac: b"mac".to_vec(),
    }
}

fn a_confirmation_is_taken_once_whole_and_only_by_its_caller(fx: &Fixture) {
    let store = store(fx);
    write(&store, |tx| tx.insert_confirmation(&row("c1", 100), 50));
    write(&store, |tx| tx.insert_confirmation(&row("c2", 100), 50));
    // Another caller finds it, but leaves it.
    let other = write(&store, |tx| tx.take_confirmation("c1", "key:k2", 50));
    assert_eq!(other, Taken::OtherCaller);
    let taken = write(&store, |tx| tx.take_confirmation("c1", "key:k1", 50));
    assert_eq!(taken, Taken::Row(row("c1", 100)));
    let again = write(&store, |tx| tx.take_confirmation("c1", "key:k1", 50));
    assert_eq!(again, Taken::Nothing);
    let none = write(&store, |tx| tx.take_confirmation("nope", "key:k1", 50));
    assert_eq!(none, Taken::Nothing);
    let c2 = write(&store, |tx| tx.take_confirmation("c2", "key:k1", 50));
    assert_eq!(c2, Taken::Row(row("c2", 100)));
}

fn adding_or_taking_one_drops_those_expired_and_keeps_the_rest(fx: &Fixture) {
    let store = store(fx);
    write(&store, |tx| tx.insert_confirmation(&row("old", 10), 5));
    write(&store, |tx| tx.insert_confirmation(&row("live", 30), 5));
    write(&store, |tx| tx.insert_confirmation(&row("new", 60), 20));
    let old = write(&store, |tx| tx.take_confirmation("old", "key:k1", 20));
    assert_eq!(old, Taken::Nothing);
    // Taking drops what expired too, even another caller's.
    let late = write(&store, |tx| tx.take_confirmation("nope", "key:k9", 45));
    assert_eq!(late, Taken::Nothing);
    let live = write(&store, |tx| tx.take_confirmation("live", "key:k1", 45));
    assert_eq!(live, Taken::Nothing);
    let new = write(&store, |tx| tx.take_confirmation("new", "key:k1", 45));
    assert!(matches!(new, Taken::Row(_)));
}

fn a_rolled_back_take_leaves_the_confirmation(fx: &Fixture) {
    let store = store(fx);
    write(&store, |tx| tx.insert_confirmation(&row("c1", 100), 50));
    let failed: Result<(), StoreError> = store.write(|tx| {
        assert!(matches!(
            tx.take_confirmation("c1", "key:k1", 50)?,
            Taken::Row(_)
        ));
        Err(StoreError::Busy(std::path::PathBuf::new()))
    });
    assert!(failed.is_err());
    let kept = write(&store, |tx| tx.take_confirmation("c1", "key:k1", 50));
    assert!(matches!(kept, Taken::Row(_)));
}

#[test]
fn a_store_of_the_previous_schema_gains_confirmations_when_opened() {
    let fx = Fixture::sqlite();
    let store = store(&fx);
    drop(store);
    let path = fx.db_path();
    let c = rusqlite::Connection::open(&path).expect("sqlite");
    c.execute_batch(concat!(
        "DROP TABLE workspace_policies; DROP TABLE sign_in_failures; DROP TABLE enrolments; ",
        "DROP TABLE sessions; DROP TABLE members; DROP TABLE people; ",
        "DROP TABLE confirmations; PRAGMA user_version = 6;"
    ))
    .expect("back to 6");
    drop(c);
    let store = Store::open(&path).expect("open");
    assert_eq!(store.schema_version().expect("version"), 8);
    write(&store, |tx| tx.insert_confirmation(&row("c1", 100), 50));
}

contract!(
    a_confirmation_is_taken_once_whole_and_only_by_its_caller,
    adding_or_taking_one_drops_those_expired_and_keeps_the_rest,
    a_rolled_back_take_leaves_the_confirmation,
);
