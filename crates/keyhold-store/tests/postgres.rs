//! The PostgreSQL backend against the test command's throwaway PostgreSQL (found through the
//! `KEYHOLD_TEST_PG_*` variables: without them the tests fail, never skip). Each test gets a
//! database of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use keyhold_store::{RecordKey, RecordRow, Store, StoreError, WorkspaceRow};

#[allow(dead_code)] // each test file uses a part of the fixture
mod common;
use common::database;

fn workspace(id: &str) -> WorkspaceRow {
    WorkspaceRow {
        id: id.into(),
        name: format!("name-of-{id}"),
        created_at: 1,
        revoked_all_at_ms: None,
        revoked_all_seq: None,
        mac: vec![7; 32],
    }
}

#[test]
fn a_store_is_created_once_and_its_statements_run_on_postgresql() {
    let (url, password) = database();
    // Two processes starting together: the schema is created once, both open it.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Store::connect(&url, Some(&password)));
        let b = s.spawn(|| Store::connect(&url, Some(&password)));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (a, b) = (a.expect("a connects"), b.expect("b connects"));
    assert_eq!(a.schema_version().unwrap(), b.schema_version().unwrap());
    assert!(a.path().to_string_lossy().starts_with("postgres://"));
    assert!(!a.path().to_string_lossy().contains(&password));

    let mark = a.changes().unwrap();
    a.write(|tx| -> Result<(), StoreError> {
        tx.set_meta("k", b"\x00\x01bytes")?;
        tx.insert_workspace(&workspace("ws_1"))
    })
    .unwrap();
    assert_ne!(
        b.changes().unwrap(),
        mark,
        "a commit in one process moves the other's mark"
    );
    let (meta, ws) = b
        .read(|tx| -> Result<_, StoreError> { Ok((tx.meta("k")?, tx.workspace("name-of-ws_1")?)) })
        .unwrap();
    assert_eq!(meta.as_deref(), Some(&b"\x00\x01bytes"[..]));
    assert_eq!(ws, Some(workspace("ws_1")));

    // A constraint is a Constraint, and the transaction leaves nothing behind.
    let dup = a.write(|tx| -> Result<(), StoreError> {
        tx.set_meta("half", b"written")?;
        tx.insert_workspace(&workspace("ws_1"))
    });
    assert!(matches!(dup, Err(StoreError::Constraint(_))), "{dup:?}");
    assert_eq!(a.read(|tx| tx.meta("half")).unwrap(), None, "rolled back");

    // The standing counter moves with a revoke-all, in every process.
    let before = b.standing_now().unwrap();
    a.write(|tx| tx.set_workspace_revoke_all("ws_1", 5, 1, &[8; 32]))
        .unwrap();
    assert!(b.standing_now().unwrap() > before);
}

#[test]
fn a_url_with_a_password_is_refused_and_a_wrong_password_is_an_error() {
    let (url, password) = database();
    let u = user(&url);
    let with = url.replacen(&format!("://{u}@"), &format!("://{u}:{password}@"), 1);
    let err = Store::connect(&with, None).expect_err("a password in the URL");
    let text = err.to_string();
    assert!(
        text.contains("PGPASSWORD") && !text.contains(&password),
        "{text}"
    );
    let wrong = Store::connect(&url, Some("not-the-password")).expect_err("wrong password");
    assert!(!wrong.to_string().contains("not-the-password"), "{wrong}");
}

fn user(url: &str) -> String {
    url.trim_start_matches("postgres://")
        .split('@')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn records_round_trip_with_their_versions() {
    let (url, password) = database();
    let s = Store::connect(&url, Some(&password)).unwrap();
    let key = RecordKey {
        workspace: String::new(),
        kind: "kind".into(),
        id: "id".into(),
    };
    s.write(|tx| -> Result<(), StoreError> {
        tx.insert_kek(&keyhold_store::KekRow {
            id: 1,
            wrapped: vec![1; 40],
            state: keyhold_store::KekState::Active,
            created_at: 1,
        })?;
        tx.put_record(&RecordRow {
            key: key.clone(),
            version: 3,
            kek_id: 1,
            envelope: vec![9; 100],
            updated_at: 2,
        })
    })
    .unwrap();
    let (row, version, counts) = s
        .read(|tx| -> Result<_, StoreError> {
            Ok((
                tx.record(&key)?,
                tx.record_version(&key)?,
                tx.record_counts(2)?,
            ))
        })
        .unwrap();
    assert_eq!(row.map(|r| (r.version, r.envelope.len())), Some((3, 100)));
    assert_eq!((version, counts), (3, (1, 1)));
    assert_eq!(s.read(|tx| tx.next_kek_id()).unwrap(), 2);
}
