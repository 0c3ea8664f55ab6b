//! Every public function of the store against a real SQLite file in a temporary directory:
//! what each one's documentation promises, and the errors, rollbacks and counters the rest of
//! keyhold relies on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use keyhold_store::{
    APPLICATION_ID, AUDIT_STREAM_PAGE, ApiKeyRow, AuditFilter, AuditRow, KekRow, KekState,
    RecordKey, RecordRow, SigningKeyRow, SigningKeyState, Store, StoreError, Tx, WorkspaceRow,
};
use tempfile::TempDir;

#[allow(dead_code)] // each test file uses a part of the fixture
mod common;
use common::Fixture;

/// The schema version this build creates.
const LATEST: u32 = 8;
/// The last version `Store::open` applies by itself.
const AUTOMATIC: u32 = 4;

// --- helpers ------------------------------------------------------------------------------

fn new_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::create(&db_path(&dir)).expect("create");
    (dir, store)
}

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("keyhold.db")
}

/// Runs `f` in a write transaction that must succeed.
fn write<T>(store: &Store, f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>) -> T {
    store.write(f).expect("write")
}

/// Runs `f` in a read transaction that must succeed.
fn read<T>(store: &Store, f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>) -> T {
    store.read(f).expect("read")
}

/// The standing counter's value, read beside the store (its own API only compares
/// standings), after checking that the store's answer moved exactly when the counter did.
fn standing(store: &Store) -> i64 {
    let before = store.standing_now().expect("standing");
    let value: i64 = raw(store.path())
        .query_row("SELECT version FROM standing", [], |r| r.get(0))
        .expect("counter");
    assert_eq!(store.standing_now().expect("standing"), before);
    value
}

/// An error of the caller's own, to abort a transaction with.
#[derive(Debug)]
enum Abort {
    Store(StoreError),
    Refused,
}

impl From<StoreError> for Abort {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

fn workspace(id: &str, name: &str) -> WorkspaceRow {
    WorkspaceRow {
        id: id.into(),
        name: name.into(),
        created_at: 1_700_000_000,
        revoked_all_at_ms: None,
        revoked_all_seq: None,
        mac: format!("mac-{id}").into_bytes(),
    }
}

fn api_key(jti: &str, ws: &str, name: &str, created_at_ms: i64, mint_seq: i64) -> ApiKeyRow {
    ApiKeyRow {
        jti: jti.into(),
        workspace: ws.into(),
        name: name.into(),
        sub: format!("sub-{name}"),
        scopes: "secrets:read secrets:write".into(),
        kid: "kid-a".into(),
        fingerprint: format!("fp-{jti}"),
        created_at_ms,
        created_by: "operator".into(),
        expires_at: 2_000_000_000,
        revoked_at_ms: None,
        revoked_by: None,
        last_used_at: None,
        mint_seq,
        mac: format!("mac-{jti}").into_bytes(),
    }
}

fn signing_key(kid: &str, state: SigningKeyState, created_at: i64) -> SigningKeyRow {
    SigningKeyRow {
        kid: kid.into(),
        public_key: format!("pk-{kid}").into_bytes(),
        state,
        created_at,
        retired_at: None,
        mac: format!("mac-{kid}").into_bytes(),
    }
}

fn kek(id: u32, state: KekState) -> KekRow {
    KekRow {
        id,
        wrapped: format!("wrapped-{id}").into_bytes(),
        state,
        created_at: 1_700_000_000 + i64::from(id),
    }
}

fn record_key(ws: &str, kind: &str, id: &str) -> RecordKey {
    RecordKey {
        workspace: ws.into(),
        kind: kind.into(),
        id: id.into(),
    }
}

fn record(key: &RecordKey, version: u64, kek_id: u32) -> RecordRow {
    RecordRow {
        key: key.clone(),
        version,
        kek_id,
        envelope: format!("env-{}-{}-v{version}-k{kek_id}", key.kind, key.id).into_bytes(),
        updated_at: 1_700_000_000 + i64::try_from(version).expect("small"),
    }
}

fn audit_row(
    seq: u64,
    time_ms: i64,
    ws: Option<&str>,
    action: &str,
    actor: &str,
    key_id: Option<&str>,
) -> AuditRow {
    AuditRow {
        seq,
        time_ms,
        workspace: ws.map(Into::into),
        action: action.into(),
        actor: actor.into(),
        key_id: key_id.map(Into::into),
        outcome: if seq.is_multiple_of(2) {
            "denied"
        } else {
            "success"
        }
        .into(),
        event: format!("event-{seq}").into_bytes(),
        prev: vec![u8::try_from(seq - 1).expect("small"); 32],
        hash: vec![u8::try_from(seq).expect("small"); 32],
    }
}

/// A SQLite file carrying keyhold's application id and schema version 0: what `Store::open`
/// takes to version 4 by itself.
fn bare_keyhold_file(path: &Path) {
    let c = rusqlite::Connection::open(path).expect("sqlite");
    c.pragma_update(None, "application_id", APPLICATION_ID)
        .expect("application_id");
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("sqlite")
}

// --- Store: create and open -----------------------------------------------------------------

#[test]
fn create_makes_a_private_wal_database_at_the_latest_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let store = Store::create(&path).expect("create");
    assert_eq!(store.path(), path.as_path());
    assert!(format!("{store:?}").contains("keyhold.db"));
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the database is private from its first byte");
    assert_eq!(store.schema_version().expect("version"), LATEST);
    assert_eq!(store.pending_upgrade().expect("pending"), None);
    assert_eq!(
        store.changes().expect("mark"),
        Store::open(&path).expect("open").changes().expect("mark"),
        "migrations are not counted as writes"
    );
    store.quick_check().expect("a new database is sound");
    assert_eq!(standing(&store), 0);

    let c = raw(&path);
    let app_id: i32 = c
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .expect("application_id");
    assert_eq!(app_id, APPLICATION_ID);
    let mode: String = c
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    read(&store, |tx| {
        assert_eq!(tx.keks()?, Vec::new());
        assert_eq!(tx.workspaces()?, Vec::new());
        assert_eq!(tx.signing_keys()?, Vec::new());
        assert_eq!(tx.all_api_keys()?, Vec::new());
        assert_eq!(tx.audit_count()?, 0);
        assert_eq!(tx.record_counts(1)?, (0, 0));
        Ok(())
    });
}

#[test]
fn create_refuses_an_existing_file_and_leaves_it_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    std::fs::write(&path, b"precious").expect("write");
    let err = Store::create(&path).expect_err("the file exists");
    assert!(
        matches!(&err, StoreError::AlreadyExists(p) if p == &path),
        "{err:?}"
    );
    assert!(err.to_string().contains("already exists"));
    assert_eq!(std::fs::read(&path).expect("read"), b"precious");

    let other = dir.path().join("other.db");
    let store = Store::create(&other).expect("create");
    write(&store, |tx| tx.set_meta("kept", b"yes"));
    drop(store);
    assert!(matches!(
        Store::create(&other),
        Err(StoreError::AlreadyExists(p)) if p == other
    ));
    let store = Store::open(&other).expect("open");
    assert_eq!(
        read(&store, |tx| tx.meta("kept")),
        Some(b"yes".to_vec()),
        "a refused create does not touch an existing database"
    );
}

#[test]
fn create_in_a_missing_directory_is_an_io_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("no-such-dir").join("keyhold.db");
    let err = Store::create(&path).expect_err("no directory");
    assert!(
        matches!(&err, StoreError::Io { path: p, kind } if p == &path && *kind == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
}

#[test]
fn open_finds_what_an_earlier_handle_wrote() {
    let (dir, store) = new_store();
    write(&store, |tx| {
        tx.set_meta("m", b"v")?;
        tx.insert_workspace(&workspace("ws_1", "one"))
    });
    drop(store);
    let store = Store::open(&db_path(&dir)).expect("open");
    assert_eq!(store.schema_version().expect("version"), LATEST);
    assert_eq!(store.pending_upgrade().expect("pending"), None);
    assert_eq!(
        store.changes().expect("mark"),
        Store::open(&db_path(&dir))
            .expect("open")
            .changes()
            .expect("mark"),
        "counted per handle: opening wrote nothing"
    );
    assert_eq!(read(&store, |tx| tx.meta("m")), Some(b"v".to_vec()));
    assert_eq!(
        read(&store, |tx| tx.workspace("ws_1")),
        Some(workspace("ws_1", "one"))
    );
}

#[test]
fn open_a_missing_file_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let err = Store::open(&path).expect_err("missing");
    assert!(
        matches!(&err, StoreError::Missing(p) if p == &path),
        "{err:?}"
    );
    assert!(err.to_string().contains(&path.display().to_string()));
    assert!(!path.exists(), "open never creates a database");
}

#[test]
fn open_a_directory_is_not_a_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Store::open(dir.path()).expect_err("directory");
    assert!(
        matches!(&err, StoreError::NotADatabase(p) if p == dir.path()),
        "{err:?}"
    );
}

#[test]
fn open_a_file_that_is_not_sqlite_is_not_a_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let junk: Vec<u8> = b"this is not a database, only some text. "
        .iter()
        .copied()
        .cycle()
        .take(8192)
        .collect();
    std::fs::write(&path, &junk).expect("write");
    let err = Store::open(&path).expect_err("not sqlite");
    assert!(
        matches!(&err, StoreError::NotADatabase(p) if p == &path),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), junk, "left untouched");
}

#[test]
fn open_an_empty_file_is_not_a_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    std::fs::write(&path, b"").expect("write");
    let err = Store::open(&path).expect_err("empty");
    assert!(
        matches!(&err, StoreError::NotADatabase(p) if p == &path),
        "{err:?}"
    );
}

#[test]
fn open_another_applications_sqlite_file_is_not_a_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    {
        let c = raw(&path);
        c.pragma_update(None, "application_id", 0x1234_5678)
            .expect("application_id");
        c.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
            .expect("schema");
    }
    let err = Store::open(&path).expect_err("other application");
    assert!(
        matches!(&err, StoreError::NotADatabase(p) if p == &path),
        "{err:?}"
    );
    let c = raw(&path);
    let version: u32 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version");
    assert_eq!(version, 0, "no migration ran on a foreign file");
    let tables: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(tables, 1);
}

/// A file `Store::open` refuses is left as it was: the application id is read before WAL mode
/// (a persistent change to the file's header) is set.
#[test]
fn a_refused_open_leaves_the_file_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let foreign = dir.path().join("foreign.db");
    {
        let c = raw(&foreign);
        c.pragma_update(None, "application_id", 0x1234_5678)
            .expect("application_id");
        c.execute_batch("CREATE TABLE notes (body TEXT);")
            .expect("schema");
    }
    let before = std::fs::read(&foreign).expect("read");
    assert!(matches!(
        Store::open(&foreign),
        Err(StoreError::NotADatabase(_))
    ));
    let mode: String = raw(&foreign)
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(
        mode, "delete",
        "another application's journal mode is its own"
    );
    assert_eq!(std::fs::read(&foreign).expect("read"), before);

    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").expect("write");
    assert!(matches!(
        Store::open(&empty),
        Err(StoreError::NotADatabase(_))
    ));
    assert_eq!(
        std::fs::metadata(&empty).expect("meta").len(),
        0,
        "an empty file is not made a database"
    );
}

#[test]
fn open_a_newer_schema_names_both_versions() {
    let (dir, store) = new_store();
    drop(store);
    let path = db_path(&dir);
    raw(&path)
        .pragma_update(None, "user_version", LATEST + 1)
        .expect("user_version");
    let err = Store::open(&path).expect_err("newer");
    match &err {
        StoreError::NewerSchema {
            path: p,
            found,
            supported,
        } => {
            assert_eq!(p, &path);
            assert_eq!(*found, LATEST + 1);
            assert_eq!(*supported, LATEST);
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    assert!(err.to_string().contains("upgrade keyhold"));
}

#[test]
fn quick_check_reports_a_damaged_file_as_corrupt() {
    let (dir, store) = new_store();
    write(&store, |tx| {
        tx.insert_kek(&kek(1, KekState::Active))?;
        for i in 0..200 {
            let mut row = record(&record_key("", "secret", &format!("r{i:03}")), 1, 1);
            row.envelope = vec![0xA5; 1000];
            tx.put_record(&row)?;
        }
        Ok(())
    });
    store.quick_check().expect("sound before the damage");
    drop(store);
    let path = db_path(&dir);
    // Overwrite pages in the middle of the file (not the header, so it still opens).
    let mut bytes = std::fs::read(&path).expect("read");
    assert!(bytes.len() > 16 * 4096, "the records span many pages");
    for b in &mut bytes[8 * 4096..12 * 4096] {
        *b = 0x5A;
    }
    std::fs::write(&path, &bytes).expect("write");
    let store = Store::open(&path).expect("the header is intact");
    let err = store.quick_check().expect_err("damaged");
    assert!(
        matches!(&err, StoreError::Corrupt { path: p, .. } if p == &path),
        "{err:?}"
    );
}

// --- Store: upgrades ------------------------------------------------------------------------

/// A database at version 4 (what an older keyhold left) with one workspace and two keys.
fn version_4_store(dir: &TempDir) -> Store {
    let path = db_path(dir);
    bare_keyhold_file(&path);
    let store = Store::open(&path).expect("open");
    assert_eq!(
        store.schema_version().expect("version"),
        AUTOMATIC,
        "open applies the automatic migrations"
    );
    drop(store);
    raw(&path)
        .execute_batch(
            "INSERT INTO workspaces (id, name, created_at) VALUES ('ws_1', 'one', 10);
             INSERT INTO api_keys (jti, workspace, name, sub, scopes, kid, fingerprint,
                 created_at_ms, created_by, expires_at)
               VALUES ('key_late', 'ws_1', 'late', 's', 'admin', 'kid', 'f1', 2000, 'op', 99),
                      ('key_early', 'ws_1', 'early', 's', 'admin', 'kid', 'f2', 1000, 'op', 99);",
        )
        .expect("version 4 rows");
    Store::open(&path).expect("reopen")
}

#[test]
fn pending_upgrade_names_the_version_to_upgrade_from() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = version_4_store(&dir);
    assert_eq!(store.schema_version().expect("version"), AUTOMATIC);
    assert_eq!(store.pending_upgrade().expect("pending"), Some(AUTOMATIC));
}

#[test]
fn upgrade_from_a_version_the_schema_is_not_at_does_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = version_4_store(&dir);
    let m0 = store.changes().expect("mark");
    let mut called = false;
    let done = store
        .upgrade(AUTOMATIC - 1, |_| -> Result<(), StoreError> {
            called = true;
            Ok(())
        })
        .expect("upgrade");
    assert!(!done);
    assert!(!called, "the caller's work runs only with the migration");
    assert_eq!(store.schema_version().expect("version"), AUTOMATIC);
    assert_eq!(store.changes().expect("mark"), m0, "nothing committed");

    let (_dir, latest) = new_store();
    let done = latest
        .upgrade(LATEST, |_| -> Result<(), StoreError> {
            panic!("no migration after the latest")
        })
        .expect("upgrade");
    assert!(!done, "nothing to upgrade from the latest version");
    assert_eq!(latest.schema_version().expect("version"), LATEST);
}

#[test]
fn a_failed_upgrade_leaves_the_schema_and_the_data_as_they_were() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = version_4_store(&dir);
    let m0 = store.changes().expect("mark");
    let result = store.upgrade(AUTOMATIC, |tx| -> Result<(), Abort> {
        tx.set_meta("half-done", b"1")?;
        tx.set_workspace_auth("ws_1", Some(7), b"mac")?;
        Err(Abort::Refused)
    });
    assert!(matches!(result, Err(Abort::Refused)), "{result:?}");
    assert_eq!(store.schema_version().expect("version"), AUTOMATIC);
    assert_eq!(store.pending_upgrade().expect("pending"), Some(AUTOMATIC));
    assert_eq!(store.changes().expect("mark"), m0, "nothing committed");
    // The version-5 columns are gone with the rolled-back migration...
    assert!(matches!(
        store.read(|tx| tx.workspaces()),
        Err(StoreError::Sqlite { .. })
    ));
    // ...and so is the caller's work.
    let c = raw(&db_path(&dir));
    let meta: i64 = c
        .query_row("SELECT COUNT(*) FROM meta", [], |r| r.get(0))
        .expect("meta");
    assert_eq!(meta, 0);
    drop(c);

    // A retry succeeds.
    assert!(
        store
            .upgrade(AUTOMATIC, |_| -> Result<(), StoreError> { Ok(()) })
            .expect("retry")
    );
    assert_eq!(store.schema_version().expect("version"), LATEST);
}

#[test]
fn upgrade_applies_the_migration_and_the_callers_work_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = version_4_store(&dir);
    let s0 = standing(&store);
    let m0 = store.changes().expect("mark");
    let done = store
        .upgrade(AUTOMATIC, |tx| -> Result<(), StoreError> {
            // The new columns exist inside the transaction, empty.
            let workspaces = tx.workspaces()?;
            assert_eq!(workspaces.len(), 1);
            assert_eq!(workspaces[0].mac, Vec::<u8>::new());
            assert_eq!(workspaces[0].revoked_all_seq, None);
            let keys = tx.all_api_keys()?;
            let jtis: Vec<&str> = keys.iter().map(|k| k.jti.as_str()).collect();
            assert_eq!(
                jtis,
                ["key_early", "key_late"],
                "keys without a sequence number come by creation time"
            );
            assert!(keys.iter().all(|k| k.mint_seq == 0 && k.mac.is_empty()));
            for (seq, key) in (1..).zip(&keys) {
                tx.set_api_key_auth(&key.jti, seq, format!("mac-{}", key.jti).as_bytes())?;
            }
            tx.set_workspace_auth("ws_1", None, b"ws-mac")?;
            Ok(())
        })
        .expect("upgrade");
    assert!(done);
    assert_eq!(store.schema_version().expect("version"), LATEST);
    assert_eq!(store.pending_upgrade().expect("pending"), None);
    assert_ne!(store.changes().expect("mark"), m0, "an upgrade is a write");
    assert!(standing(&store) > s0, "re-authenticated rows move it");
    let (ws, early, late) = read(&store, |tx| {
        Ok((
            tx.workspace("ws_1")?,
            tx.api_key("key_early")?,
            tx.api_key("key_late")?,
        ))
    });
    let ws = ws.expect("workspace");
    assert_eq!(ws.mac, b"ws-mac");
    assert_eq!(ws.revoked_all_seq, None);
    let early = early.expect("early");
    assert_eq!(
        (early.mint_seq, early.mac.as_slice()),
        (1, &b"mac-key_early"[..])
    );
    let late = late.expect("late");
    assert_eq!(
        (late.mint_seq, late.mac.as_slice()),
        (2, &b"mac-key_late"[..])
    );

    let again = store
        .upgrade(AUTOMATIC, |_| -> Result<(), StoreError> { Ok(()) })
        .expect("again");
    assert!(!again, "already upgraded (by this or another process)");
    drop(store);
    let reopened = Store::open(&db_path(&dir)).expect("reopen");
    assert_eq!(reopened.schema_version().expect("version"), LATEST);
}

// --- Store: transactions ----------------------------------------------------------------------

fn meta_values_are_set_replaced_and_deleted(fx: &Fixture) {
    let store = fx.store();
    assert_eq!(read(&store, |tx| tx.meta("k")), None);
    let m0 = store.changes().expect("mark");
    write(&store, |tx| tx.set_meta("k", b"one"));
    assert_eq!(read(&store, |tx| tx.meta("k")), Some(b"one".to_vec()));
    write(&store, |tx| {
        tx.set_meta("k", b"two")?;
        tx.set_meta("other", b"")
    });
    assert_eq!(read(&store, |tx| tx.meta("k")), Some(b"two".to_vec()));
    assert_eq!(read(&store, |tx| tx.meta("other")), Some(Vec::new()));
    write(&store, |tx| tx.delete_meta("k"));
    assert_eq!(read(&store, |tx| tx.meta("k")), None);
    assert_eq!(read(&store, |tx| tx.meta("other")), Some(Vec::new()));
    let m1 = store.changes().expect("mark");
    assert_ne!(m1, m0);
    write(&store, |tx| tx.delete_meta("never-set"));
    assert_ne!(
        store.changes().expect("mark"),
        m1,
        "a write that changed nothing"
    );
}

fn the_change_mark_moves_on_committed_writes_only(fx: &Fixture) {
    let store = fx.store();
    let m0 = store.changes().expect("mark");
    assert_eq!(store.changes().expect("mark"), m0, "stable while idle");
    write(&store, |tx| tx.set_meta("a", b"1"));
    let m1 = store.changes().expect("mark");
    assert_ne!(m1, m0, "an own write moves it");
    read(&store, |tx| tx.meta("a"));
    assert_eq!(store.changes().expect("mark"), m1, "reads are not writes");
    let failed = store.write(|tx| -> Result<(), Abort> {
        tx.set_meta("a", b"2")?;
        Err(Abort::Refused)
    });
    assert!(matches!(failed, Err(Abort::Refused)));
    assert_eq!(
        store.changes().expect("mark"),
        m1,
        "a rolled-back write is not"
    );
    store
        .write_aside(|tx| tx.set_meta("b", b"1"))
        .expect("aside");
    let m2 = store.changes().expect("mark");
    assert_ne!(m2, m1, "a write aside is");
    write(&fx.open(), |tx| tx.set_meta("c", b"1"));
    assert_ne!(store.changes().expect("mark"), m2, "another handle's is");
}

fn a_write_whose_closure_fails_leaves_nothing_behind(fx: &Fixture) {
    let store = fx.store();
    write(&store, |tx| tx.set_meta("before", b"1"));
    let m0 = store.changes().expect("mark");
    let s0 = fx.standing(&store);
    let result = store.write(|tx| -> Result<(), Abort> {
        tx.set_meta("before", b"changed")?;
        tx.set_meta("new", b"1")?;
        tx.insert_kek(&kek(1, KekState::Active))?;
        tx.insert_workspace(&workspace("ws_1", "one"))?;
        tx.put_record(&record(&record_key("ws_1", "secret", "a"), 1, 1))?;
        tx.insert_signing_key(&signing_key("kid-a", SigningKeyState::Active, 1))?;
        tx.insert_api_key(&api_key("key_1", "ws_1", "k", 1, 1))?;
        tx.revoke_api_key("key_1", 5, "op", b"m")?;
        tx.append_audit(&[audit_row(1, 1, None, "store.created", "op", None)])?;
        tx.bump_standing()?;
        Err(Abort::Refused)
    });
    assert!(matches!(result, Err(Abort::Refused)), "{result:?}");
    read(&store, |tx| {
        assert_eq!(tx.meta("before")?, Some(b"1".to_vec()));
        assert_eq!(tx.meta("new")?, None);
        assert_eq!(tx.keks()?, Vec::new());
        assert_eq!(tx.workspaces()?, Vec::new());
        assert_eq!(tx.record_counts(1)?, (0, 0));
        assert_eq!(tx.signing_keys()?, Vec::new());
        assert_eq!(tx.all_api_keys()?, Vec::new());
        assert_eq!(tx.audit_count()?, 0);
        Ok(())
    });
    assert_eq!(fx.standing(&store), s0);
    assert_eq!(store.changes().expect("mark"), m0, "nothing committed");
}

fn a_panic_inside_write_rolls_back_and_the_store_stays_usable(fx: &Fixture) {
    let store = fx.store();
    let m0 = store.changes().expect("mark");
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        store.write(|tx| -> Result<(), StoreError> {
            tx.set_meta("k", b"from the panicking write")?;
            tx.insert_workspace(&workspace("ws_1", "one"))?;
            panic!("the caller's code fails mid-transaction");
        })
    }));
    assert!(outcome.is_err(), "the panic propagates");
    assert_eq!(store.changes().expect("mark"), m0, "nothing committed");
    assert_eq!(read(&store, |tx| tx.meta("k")), None);
    assert_eq!(read(&store, |tx| tx.workspaces()), Vec::new());
    write(&store, |tx| tx.set_meta("k", b"after"));
    assert_eq!(read(&store, |tx| tx.meta("k")), Some(b"after".to_vec()));
    assert_ne!(store.changes().expect("mark"), m0);
}

fn a_read_closure_error_is_passed_through(fx: &Fixture) {
    let store = fx.store();
    write(&store, |tx| tx.set_meta("k", b"v"));
    let result = store.read(|tx| -> Result<(), Abort> {
        assert_eq!(tx.meta("k")?, Some(b"v".to_vec()));
        Err(Abort::Refused)
    });
    assert!(matches!(result, Err(Abort::Refused)));
    assert_eq!(read(&store, |tx| tx.meta("k")), Some(b"v".to_vec()));
}

fn write_aside_commits_rolls_back_and_is_seen_by_the_main_connection(fx: &Fixture) {
    let store = fx.store();
    let d0 = store.changes().expect("mark");
    let n = store
        .write_aside(|tx| {
            tx.append_audit(&[audit_row(1, 10, None, "key.used", "op", Some("key_1"))])?;
            tx.audit_count()
        })
        .expect("aside");
    assert_eq!(n, 1, "the closure's value is returned");
    assert_eq!(read(&store, |tx| tx.audit_count()), 1);
    assert_ne!(store.changes().expect("mark"), d0);

    let failed = store.write_aside(|tx| -> Result<(), Abort> {
        tx.append_audit(&[audit_row(2, 20, None, "key.used", "op", None)])?;
        Err(Abort::Refused)
    });
    assert!(matches!(failed, Err(Abort::Refused)));
    assert_eq!(read(&store, |tx| tx.audit_head()), Some((1, vec![1; 32])));

    // The main connection's writes and the aside connection's interleave.
    write(&store, |tx| {
        tx.append_audit(&[audit_row(2, 20, None, "key.used", "op", None)])
    });
    store
        .write_aside(|tx| tx.append_audit(&[audit_row(3, 30, None, "key.used", "op", None)]))
        .expect("aside");
    assert_eq!(read(&store, |tx| tx.audit_count()), 3);
}

fn a_constraint_violation_is_a_constraint_error_and_rolls_back(fx: &Fixture) {
    let store = fx.store();
    write(&store, |tx| {
        tx.insert_workspace(&workspace("ws_1", "alpha"))
    });
    let m1 = store.changes().expect("mark");

    let err = store
        .write(|tx| tx.insert_workspace(&workspace("ws_2", "alpha")))
        .expect_err("the name is taken");
    assert!(
        matches!(&err, StoreError::Constraint(m) if m.contains("workspaces.name")),
        "{err:?}"
    );
    let err = store
        .write(|tx| tx.insert_workspace(&workspace("ws_1", "beta")))
        .expect_err("the id is taken");
    assert!(matches!(&err, StoreError::Constraint(_)), "{err:?}");

    // A violation after other changes in the same transaction takes them all back.
    let err = store
        .write(|tx| {
            tx.insert_workspace(&workspace("ws_3", "gamma"))?;
            tx.set_meta("k", b"v")?;
            tx.insert_workspace(&workspace("ws_4", "alpha"))
        })
        .expect_err("the name is taken");
    assert!(matches!(err, StoreError::Constraint(_)));
    assert_eq!(
        read(&store, |tx| tx.workspaces()),
        vec![workspace("ws_1", "alpha")]
    );
    assert_eq!(read(&store, |tx| tx.meta("k")), None);

    // The caller's error type carries the store's error through.
    let result = store.write(|tx| -> Result<(), Abort> {
        tx.insert_workspace(&workspace("ws_5", "alpha"))?;
        Err(Abort::Refused)
    });
    assert!(
        matches!(&result, Err(Abort::Store(StoreError::Constraint(_)))),
        "{result:?}"
    );
    assert_eq!(
        store.changes().expect("mark"),
        m1,
        "only the first write committed"
    );
}

fn the_change_mark_moves_when_another_handle_commits(fx: &Fixture) {
    let a = fx.store();
    let b = fx.open();
    let v0 = a.changes().expect("mark");
    assert_eq!(a.changes().expect("mark"), v0, "stable while idle");
    read(&b, |tx| tx.meta("x"));
    assert_eq!(a.changes().expect("mark"), v0, "reads do not move it");
    write(&b, |tx| tx.set_meta("x", b"1"));
    let v1 = a.changes().expect("mark");
    assert_ne!(v1, v0, "another handle's commit moves it");
    let failed = b.write(|tx| -> Result<(), Abort> {
        tx.set_meta("x", b"2")?;
        Err(Abort::Refused)
    });
    assert!(failed.is_err());
    assert_eq!(a.changes().expect("mark"), v1, "a rollback does not");
    assert_eq!(read(&a, |tx| tx.meta("x")), Some(b"1".to_vec()));
}

// --- key-encryption keys ----------------------------------------------------------------------

fn keks_are_inserted_listed_by_id_and_change_state(fx: &Fixture) {
    let store = fx.store();
    read(&store, |tx| {
        assert_eq!(tx.next_kek_id()?, 1, "ids start at 1");
        assert_eq!(tx.active_kek_id()?, None);
        Ok(())
    });
    write(&store, |tx| tx.insert_kek(&kek(1, KekState::Active)));
    assert_eq!(read(&store, |tx| tx.active_kek_id()), Some(1));
    assert_eq!(read(&store, |tx| tx.next_kek_id()), 2);

    let err = store
        .write(|tx| tx.insert_kek(&kek(2, KekState::Active)))
        .expect_err("one active KEK at most");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    let err = store
        .write(|tx| tx.insert_kek(&kek(1, KekState::Retiring)))
        .expect_err("ids are unique");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");

    // Rotation: the old one retires, a new one becomes active.
    write(&store, |tx| {
        tx.set_kek_state(1, KekState::Retiring)?;
        tx.insert_kek(&kek(3, KekState::Active))?;
        tx.insert_kek(&kek(2, KekState::Retiring))
    });
    assert_eq!(
        read(&store, |tx| tx.keks()),
        vec![
            kek(1, KekState::Retiring),
            kek(2, KekState::Retiring),
            kek(3, KekState::Active)
        ],
        "by id"
    );
    assert_eq!(read(&store, |tx| tx.active_kek_id()), Some(3));
    assert_eq!(read(&store, |tx| tx.next_kek_id()), 4);

    write(&store, |tx| {
        tx.set_kek_wrapped(1, b"rewrapped under a new master key")
    });
    let keks = read(&store, |tx| tx.keks());
    assert_eq!(keks[0].wrapped, b"rewrapped under a new master key");
    assert_eq!(keks[0].state, KekState::Retiring);
    assert_eq!(keks[0].created_at, kek(1, KekState::Retiring).created_at);
    assert_eq!(keks[1], kek(2, KekState::Retiring), "others untouched");

    write(&store, |tx| tx.delete_kek(3));
    assert_eq!(read(&store, |tx| tx.active_kek_id()), None);
    assert_eq!(
        read(&store, |tx| tx.next_kek_id()),
        3,
        "the highest id plus one"
    );
    write(&store, |tx| tx.delete_kek(99));
    assert_eq!(read(&store, |tx| tx.keks()).len(), 2);
}

fn a_kek_still_wrapping_a_record_cannot_be_deleted(fx: &Fixture) {
    let store = fx.store();
    let key = record_key("", "store", "root");
    write(&store, |tx| {
        tx.insert_kek(&kek(1, KekState::Active))?;
        tx.put_record(&record(&key, 1, 1))
    });
    let err = store
        .write(|tx| tx.delete_kek(1))
        .expect_err("a record still needs it");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    assert_eq!(read(&store, |tx| tx.keks()), vec![kek(1, KekState::Active)]);

    let err = store
        .write(|tx| tx.put_record(&record(&record_key("", "store", "x"), 1, 7)))
        .expect_err("no KEK 7");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");

    write(&store, |tx| {
        tx.set_kek_state(1, KekState::Retiring)?;
        tx.insert_kek(&kek(2, KekState::Active))?;
        assert!(tx.rewrap_record(&key, 1, 2, b"under 2")?);
        tx.delete_kek(1)
    });
    assert_eq!(read(&store, |tx| tx.keks()), vec![kek(2, KekState::Active)]);
}

// --- workspaces ---------------------------------------------------------------------------------

fn workspaces_are_listed_by_name_and_found_by_id_or_name(fx: &Fixture) {
    let store = fx.store();
    let mut zulu = workspace("ws_a", "zulu");
    zulu.revoked_all_at_ms = Some(5);
    zulu.revoked_all_seq = Some(3);
    let no_mac = WorkspaceRow {
        mac: Vec::new(),
        ..workspace("ws_c", "mike")
    };
    // "ws_a" is also another workspace's name: the id wins.
    write(&store, |tx| {
        tx.insert_workspace(&zulu)?;
        tx.insert_workspace(&workspace("ws_b", "alpha"))?;
        tx.insert_workspace(&no_mac)?;
        tx.insert_workspace(&workspace("ws_d", "ws_a"))
    });
    let names: Vec<String> = read(&store, |tx| tx.workspaces())
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, ["alpha", "mike", "ws_a", "zulu"], "by name");
    read(&store, |tx| {
        assert_eq!(tx.workspace("ws_a")?, Some(zulu.clone()), "by id first");
        assert_eq!(tx.workspace("zulu")?, Some(zulu.clone()), "by name");
        assert_eq!(tx.workspace("ws_b")?, Some(workspace("ws_b", "alpha")));
        assert_eq!(tx.workspace("alpha")?, Some(workspace("ws_b", "alpha")));
        assert_eq!(tx.workspace("mike")?, Some(no_mac.clone()));
        assert_eq!(tx.workspace("ws_d")?.map(|w| w.name), Some("ws_a".into()));
        assert_eq!(tx.workspace("nope")?, None);
        assert_eq!(tx.workspace("")?, None);
        assert_eq!(tx.workspace("ALPHA")?, None, "names are exact");
        Ok(())
    });
}

fn revoke_all_and_auth_rewrite_a_workspace_row(fx: &Fixture) {
    let store = fx.store();
    write(&store, |tx| {
        tx.insert_workspace(&workspace("ws_1", "one"))?;
        tx.insert_workspace(&workspace("ws_2", "two"))
    });
    assert!(write(&store, |tx| tx
        .set_workspace_revoke_all("ws_1", 1234, 9, b"new-mac")));
    assert!(!write(&store, |tx| tx.set_workspace_revoke_all(
        "ws_missing",
        1,
        1,
        b"m"
    )));
    let one = read(&store, |tx| tx.workspace("ws_1")).expect("ws_1");
    assert_eq!(one.revoked_all_at_ms, Some(1234));
    assert_eq!(one.revoked_all_seq, Some(9));
    assert_eq!(one.mac, b"new-mac");
    assert_eq!((one.id.as_str(), one.name.as_str()), ("ws_1", "one"));
    assert_eq!(
        read(&store, |tx| tx.workspace("ws_2")),
        Some(workspace("ws_2", "two")),
        "only that workspace"
    );

    write(&store, |tx| {
        tx.set_workspace_auth("ws_1", None, b"auth-mac")
    });
    let one = read(&store, |tx| tx.workspace("ws_1")).expect("ws_1");
    assert_eq!(one.revoked_all_seq, None);
    assert_eq!(one.mac, b"auth-mac");
    assert_eq!(one.revoked_all_at_ms, Some(1234), "not touched by auth");
    write(&store, |tx| tx.set_workspace_auth("ws_1", Some(4), b""));
    let one = read(&store, |tx| tx.workspace("ws_1")).expect("ws_1");
    assert_eq!((one.revoked_all_seq, one.mac), (Some(4), Vec::new()));
}

// --- records ------------------------------------------------------------------------------------

fn records_are_put_read_replaced_and_deleted(fx: &Fixture) {
    let store = fx.store();
    let key = record_key("ws_1", "secret", "db-password");
    let store_level = record_key("", "secret", "db-password");
    read(&store, |tx| {
        assert_eq!(tx.record(&key)?, None);
        assert_eq!(tx.record_version(&key)?, 0, "0 if absent");
        Ok(())
    });
    write(&store, |tx| {
        tx.insert_kek(&kek(1, KekState::Active))?;
        tx.put_record(&record(&key, 1, 1))?;
        tx.put_record(&record(&store_level, 7, 1))
    });
    read(&store, |tx| {
        assert_eq!(tx.record(&key)?, Some(record(&key, 1, 1)));
        assert_eq!(tx.record_version(&key)?, 1);
        assert_eq!(tx.record(&store_level)?, Some(record(&store_level, 7, 1)));
        assert_eq!(tx.record_version(&store_level)?, 7);
        assert_eq!(tx.record(&record_key("ws_1", "secret", "other"))?, None);
        assert_eq!(tx.record(&record_key("ws_1", "note", "db-password"))?, None);
        Ok(())
    });

    write(&store, |tx| tx.put_record(&record(&key, 2, 1)));
    assert_eq!(read(&store, |tx| tx.record(&key)), Some(record(&key, 2, 1)));
    assert_eq!(read(&store, |tx| tx.record_version(&key)), 2);
    assert_eq!(read(&store, |tx| tx.record_counts(1)), (2, 0));

    let err = store
        .write(|tx| tx.put_record(&record(&key, 0, 1)))
        .expect_err("versions start at 1");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");

    assert!(write(&store, |tx| tx.delete_record(&key)));
    assert!(!write(&store, |tx| tx.delete_record(&key)), "already gone");
    read(&store, |tx| {
        assert_eq!(tx.record(&key)?, None);
        assert_eq!(tx.record_version(&key)?, 0);
        assert_eq!(tx.record(&store_level)?, Some(record(&store_level, 7, 1)));
        Ok(())
    });
}

fn kek_rotation_finds_rewraps_and_counts_records(fx: &Fixture) {
    let store = fx.store();
    let keys = [
        record_key("ws_b", "secret", "a"),
        record_key("", "store", "z"),
        record_key("ws_a", "secret", "b"),
        record_key("ws_a", "note", "c"),
        record_key("ws_a", "secret", "a"),
    ];
    write(&store, |tx| {
        tx.insert_kek(&kek(1, KekState::Retiring))?;
        tx.insert_kek(&kek(2, KekState::Active))?;
        for k in &keys {
            tx.put_record(&record(k, 3, 1))?;
        }
        tx.put_record(&record(&record_key("ws_a", "secret", "new"), 1, 2))
    });
    assert_eq!(read(&store, |tx| tx.record_counts(2)), (6, 5));
    assert_eq!(read(&store, |tx| tx.record_counts(1)), (6, 1));
    assert_eq!(read(&store, |tx| tx.record_counts(9)), (6, 6));

    let ids = |rows: Vec<RecordRow>| -> Vec<String> {
        rows.into_iter()
            .map(|r| format!("{}/{}/{}", r.key.workspace, r.key.kind, r.key.id))
            .collect()
    };
    let all = read(&store, |tx| tx.records_not_under_kek(2, 100));
    assert!(all.iter().all(|r| r.kek_id == 1 && r.version == 3));
    assert_eq!(
        ids(all),
        [
            "/store/z",
            "ws_a/note/c",
            "ws_a/secret/a",
            "ws_a/secret/b",
            "ws_b/secret/a"
        ],
        "by workspace, kind, id; never the ones already under KEK 2"
    );
    assert_eq!(
        ids(read(&store, |tx| tx.records_not_under_kek(2, 2))),
        ["/store/z", "ws_a/note/c"],
        "at most `limit`"
    );
    assert!(read(&store, |tx| tx.records_not_under_kek(2, 0)).is_empty());
    assert_eq!(
        ids(read(&store, |tx| tx.records_not_under_kek(1, 10))),
        ["ws_a/secret/new"]
    );

    let target = record_key("ws_a", "secret", "a");
    assert!(
        !write(&store, |tx| tx.rewrap_record(&target, 2, 2, b"stale")),
        "the record moved on since it was read"
    );
    assert_eq!(
        read(&store, |tx| tx.record(&target)),
        Some(record(&target, 3, 1))
    );
    assert!(!write(&store, |tx| tx.rewrap_record(
        &record_key("ws_a", "secret", "missing"),
        1,
        2,
        b"x"
    )));
    assert!(write(&store, |tx| tx.rewrap_record(
        &target,
        3,
        2,
        b"rewrapped"
    )));
    let after = read(&store, |tx| tx.record(&target)).expect("record");
    assert_eq!(
        after,
        RecordRow {
            kek_id: 2,
            envelope: b"rewrapped".to_vec(),
            ..record(&target, 3, 1)
        },
        "version and updated_at unchanged"
    );
    assert_eq!(read(&store, |tx| tx.record_counts(2)), (6, 4));
    assert_eq!(
        ids(read(&store, |tx| tx.records_not_under_kek(2, 100))),
        ["/store/z", "ws_a/note/c", "ws_a/secret/b", "ws_b/secret/a"]
    );
}

// --- signing keys -------------------------------------------------------------------------------

fn signing_keys_are_listed_newest_first_updated_and_deleted(fx: &Fixture) {
    let store = fx.store();
    let mut old = signing_key("kid-old", SigningKeyState::Retiring, 100);
    old.retired_at = Some(150);
    let no_mac = SigningKeyRow {
        mac: Vec::new(),
        ..signing_key("kid-b", SigningKeyState::Retiring, 200)
    };
    write(&store, |tx| {
        tx.insert_signing_key(&old)?;
        tx.insert_signing_key(&signing_key("kid-new", SigningKeyState::Active, 300))?;
        tx.insert_signing_key(&signing_key("kid-c", SigningKeyState::Retiring, 200))?;
        tx.insert_signing_key(&no_mac)
    });
    let listed = read(&store, |tx| tx.signing_keys());
    assert_eq!(
        listed,
        vec![
            signing_key("kid-new", SigningKeyState::Active, 300),
            no_mac.clone(),
            signing_key("kid-c", SigningKeyState::Retiring, 200),
            old.clone(),
        ],
        "newest first, ties by kid"
    );

    let err = store
        .write(|tx| tx.insert_signing_key(&signing_key("kid-x", SigningKeyState::Active, 400)))
        .expect_err("one active signing key at most");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    let err = store
        .write(|tx| tx.insert_signing_key(&signing_key("kid-old", SigningKeyState::Retiring, 1)))
        .expect_err("kids are unique");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");

    // Retire the active one: state, retirement time and MAC change, nothing else.
    let retired = SigningKeyRow {
        state: SigningKeyState::Retiring,
        retired_at: Some(350),
        mac: b"retired-mac".to_vec(),
        public_key: b"ignored".to_vec(),
        created_at: 1,
        ..signing_key("kid-new", SigningKeyState::Active, 300)
    };
    write(&store, |tx| tx.update_signing_key(&retired));
    let listed = read(&store, |tx| tx.signing_keys());
    assert_eq!(
        listed[0],
        SigningKeyRow {
            state: SigningKeyState::Retiring,
            retired_at: Some(350),
            mac: b"retired-mac".to_vec(),
            ..signing_key("kid-new", SigningKeyState::Active, 300)
        }
    );
    write(&store, |tx| {
        tx.insert_signing_key(&signing_key("kid-next", SigningKeyState::Active, 360))
    });

    write(&store, |tx| tx.delete_signing_key("kid-old"));
    write(&store, |tx| tx.delete_signing_key("kid-never"));
    let kids: Vec<String> = read(&store, |tx| tx.signing_keys())
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["kid-next", "kid-new", "kid-b", "kid-c"]);
}

fn last_expiry_signed_by_counts_only_unrevoked_keys_of_that_signer(fx: &Fixture) {
    let store = fx.store();
    assert_eq!(read(&store, |tx| tx.last_expiry_signed_by("kid-a")), None);
    let mut k1 = api_key("key_1", "ws_1", "one", 1, 1);
    k1.expires_at = 500;
    let mut k2 = api_key("key_2", "ws_1", "two", 2, 2);
    k2.expires_at = 900;
    let mut k3 = api_key("key_3", "ws_1", "three", 3, 3);
    k3.expires_at = 700;
    let mut other = api_key("key_4", "ws_1", "four", 4, 4);
    other.kid = "kid-b".into();
    other.expires_at = 5_000;
    write(&store, |tx| {
        tx.insert_workspace(&workspace("ws_1", "one"))?;
        for k in [&k1, &k2, &k3, &other] {
            tx.insert_api_key(k)?;
        }
        Ok(())
    });
    assert_eq!(
        read(&store, |tx| tx.last_expiry_signed_by("kid-a")),
        Some(900)
    );
    assert_eq!(
        read(&store, |tx| tx.last_expiry_signed_by("kid-b")),
        Some(5_000)
    );
    assert_eq!(read(&store, |tx| tx.last_expiry_signed_by("kid-z")), None);
    assert!(write(&store, |tx| tx.revoke_api_key("key_2", 10, "op", b"m")));
    assert_eq!(
        read(&store, |tx| tx.last_expiry_signed_by("kid-a")),
        Some(700),
        "a revoked key needs no verifying"
    );
    write(&store, |tx| {
        tx.revoke_api_key("key_1", 11, "op", b"m")?;
        tx.revoke_api_key("key_3", 12, "op", b"m")
    });
    assert_eq!(read(&store, |tx| tx.last_expiry_signed_by("kid-a")), None);
    assert_eq!(
        read(&store, |tx| tx.last_expiry_signed_by("kid-b")),
        Some(5_000)
    );
}

// --- API keys -----------------------------------------------------------------------------------

fn api_keys_round_trip_and_are_found_by_jti_and_by_name(fx: &Fixture) {
    let store = fx.store();
    let mut full = api_key("key_1", "ws_1", "deploy", 1_000, 1);
    full.revoked_at_ms = Some(1_500);
    full.revoked_by = Some("admin".into());
    full.last_used_at = Some(1);
    let bare = ApiKeyRow {
        mac: Vec::new(),
        ..api_key("key_2", "ws_1", "ci", 2_000, 2)
    };
    let elsewhere = api_key("key_3", "ws_2", "deploy", 3_000, 3);
    write(&store, |tx| {
        tx.insert_workspace(&workspace("ws_1", "one"))?;
        tx.insert_workspace(&workspace("ws_2", "two"))?;
        tx.insert_api_key(&full)?;
        tx.insert_api_key(&bare)?;
        tx.insert_api_key(&elsewhere)
    });
    read(&store, |tx| {
        assert_eq!(tx.api_key("key_1")?, Some(full.clone()));
        assert_eq!(tx.api_key("key_2")?, Some(bare.clone()));
        assert_eq!(tx.api_key("key_9")?, None);
        assert_eq!(tx.api_key_by_name("ws_1", "deploy")?, Some(full.clone()));
        assert_eq!(
            tx.api_key_by_name("ws_2", "deploy")?,
            Some(elsewhere.clone())
        );
        assert_eq!(tx.api_key_by_name("ws_1", "ci")?, Some(bare.clone()));
        assert_eq!(tx.api_key_by_name("ws_2", "ci")?, None);
        assert_eq!(tx.api_key_by_name("one", "deploy")?, None, "by id only");
        Ok(())
    });

    let err = store
        .write(|tx| tx.insert_api_key(&api_key("key_5", "ws_1", "deploy", 5, 5)))
        .expect_err("names are unique in a workspace");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    let err = store
        .write(|tx| tx.insert_api_key(&api_key("key_1", "ws_1", "fresh", 5, 5)))
        .expect_err("jtis are unique");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    let err = store
        .write(|tx| tx.insert_api_key(&api_key("key_5", "ws_1", "fresh", 5, 1)))
        .expect_err("mint sequence numbers are unique");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    let err = store
        .write(|tx| tx.insert_api_key(&api_key("key_5", "ws_nope", "fresh", 5, 5)))
        .expect_err("the workspace must exist");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    assert_eq!(read(&store, |tx| tx.all_api_keys()).len(), 3);
}

fn api_keys_are_listed_newest_first_per_workspace_and_in_mint_order_overall(fx: &Fixture) {
    let store = fx.store();
    write(&store, |tx| {
        tx.insert_workspace(&workspace("ws_1", "one"))?;
        tx.insert_workspace(&workspace("ws_2", "two"))?;
        // Clocks and mint order disagree on purpose.
        tx.insert_api_key(&api_key("key_c", "ws_1", "c", 3_000, 1))?;
        tx.insert_api_key(&api_key("key_a", "ws_1", "a", 1_000, 4))?;
        tx.insert_api_key(&api_key("key_z", "ws_2", "z", 9_000, 2))?;
        tx.insert_api_key(&api_key("key_b2", "ws_1", "b2", 2_000, 5))?;
        tx.insert_api_key(&api_key("key_b1", "ws_1", "b1", 2_000, 3))
    });
    let jtis = |rows: Vec<ApiKeyRow>| -> Vec<String> { rows.into_iter().map(|k| k.jti).collect() };
    assert_eq!(
        jtis(read(&store, |tx| tx.api_keys("ws_1"))),
        ["key_c", "key_b1", "key_b2", "key_a"],
        "newest first, ties by jti"
    );
    assert_eq!(jtis(read(&store, |tx| tx.api_keys("ws_2"))), ["key_z"]);
    assert_eq!(
        jtis(read(&store, |tx| tx.api_keys("one"))),
        Vec::<String>::new()
    );
    assert_eq!(
        jtis(read(&store, |tx| tx.all_api_keys())),
        ["key_c", "key_z", "key_b1", "key_a", "key_b2"],
        "mint order, whatever the clocks said"
    );
}

fn revoke_api_key_revokes_once(fx: &Fixture) {
    let store = fx.store();
    write(&store, |tx| {
        tx.insert_workspace(&workspace("ws_1", "one"))?;
        tx.insert_api_key(&api_key("key_1", "ws_1", "k", 1, 1))?;
        tx.insert_api_key(&api_key("key_2", "ws_1", "j", 2, 2))
    });
    assert!(write(&store, |tx| tx.revoke_api_key(
        "key_1",
        5_000,
        "alice",
        b"revoked-mac"
    )));
    let expected = ApiKeyRow {
        revoked_at_ms: Some(5_000),
        revoked_by: Some("alice".into()),
        mac: b"revoked-mac".to_vec(),
        ..api_key("key_1", "ws_1", "k", 1, 1)
    };
    assert_eq!(
        read(&store, |tx| tx.api_key("key_1")),
        Some(expected.clone())
    );
    assert!(
        !write(&store, |tx| tx
            .revoke_api_key("key_1", 9_000, "bob", b"again")),
        "already revoked"
    );
    assert_eq!(
        read(&store, |tx| tx.api_key("key_1")),
        Some(expected),
        "the first revocation stands"
    );
    assert!(!write(&store, |tx| tx.revoke_api_key("key_9", 1, "bob", b"m")));
    assert_eq!(
        read(&store, |tx| tx.api_key("key_2")),
        Some(api_key("key_2", "ws_1", "j", 2, 2)),
        "only that key"
    );
}

fn set_api_key_auth_replaces_sequence_number_and_mac_only(fx: &Fixture) {
    let store = fx.store();
    write(&store, |tx| {
        tx.insert_workspace(&workspace("ws_1", "one"))?;
        tx.insert_api_key(&api_key("key_1", "ws_1", "k", 1, 1))
    });
    write(&store, |tx| tx.set_api_key_auth("key_1", 42, b"new-mac"));
    assert_eq!(
        read(&store, |tx| tx.api_key("key_1")),
        Some(ApiKeyRow {
            mint_seq: 42,
            mac: b"new-mac".to_vec(),
            ..api_key("key_1", "ws_1", "k", 1, 1)
        })
    );
    write(&store, |tx| tx.set_api_key_auth("key_missing", 43, b"m"));
    assert_eq!(read(&store, |tx| tx.all_api_keys()).len(), 1);
}

fn touch_api_key_writes_at_most_once_a_minute(fx: &Fixture) {
    let store = fx.store();
    write(&store, |tx| {
        tx.insert_workspace(&workspace("ws_1", "one"))?;
        tx.insert_api_key(&api_key("key_1", "ws_1", "k", 1, 1))?;
        tx.insert_api_key(&api_key("key_2", "ws_1", "j", 2, 2))
    });
    let last_used = |jti: &str| {
        read(&store, |tx| tx.api_key(jti))
            .expect("key")
            .last_used_at
    };
    write(&store, |tx| tx.touch_api_key("key_1", 10_000));
    assert_eq!(last_used("key_1"), Some(10_000), "unset: set");
    assert_eq!(last_used("key_2"), None, "only that key");
    write(&store, |tx| tx.touch_api_key("key_1", 10_059));
    assert_eq!(last_used("key_1"), Some(10_000), "within the minute: kept");
    write(&store, |tx| tx.touch_api_key("key_1", 10_060));
    assert_eq!(last_used("key_1"), Some(10_060), "a minute later: set");
    write(&store, |tx| tx.touch_api_key("key_1", 5_000));
    assert_eq!(last_used("key_1"), Some(10_060), "never moves backwards");
    write(&store, |tx| tx.touch_api_key("key_missing", 20_000));
    let seen = store
        .key_standing("key_1", |_, s| s.map(|s| s.last_used_at))
        .expect("standing");
    assert_eq!(seen, Some(Some(10_060)));
}

// --- key standing and the standing counter ------------------------------------------------------

fn key_standing_reads_a_key_and_its_workspace_in_one_lookup(fx: &Fixture) {
    let store = fx.store();
    let (v, found) = store
        .key_standing("key_1", |v, s| (v, s.is_none()))
        .expect("lookup");
    assert!(found, "no such key: None");
    assert_eq!(v, store.standing_now().expect("standing"));

    let mut ws = workspace("ws_1", "one");
    ws.revoked_all_seq = Some(0);
    write(&store, |tx| {
        tx.insert_workspace(&ws)?;
        tx.insert_api_key(&api_key("key_1", "ws_1", "k", 1, 7))
    });
    let seen = store
        .key_standing("key_1", |_, s| {
            let s = s.expect("standing");
            (
                s.workspace.to_owned(),
                s.revoked_at_ms,
                s.mint_seq,
                s.last_used_at,
                s.mac.to_vec(),
                s.revoked_all_seq,
                s.workspace_mac.to_vec(),
            )
        })
        .expect("lookup");
    assert_eq!(
        seen,
        (
            "ws_1".to_owned(),
            None,
            7,
            None,
            b"mac-key_1".to_vec(),
            Some(0),
            b"mac-ws_1".to_vec()
        )
    );

    // Another handle revokes: the next lookup sees it, with the standing it reflects.
    let other = fx.open();
    write(&other, |tx| {
        tx.revoke_api_key("key_1", 99, "op", b"mac-revoked")?;
        tx.set_workspace_revoke_all("ws_1", 100, 7, b"ws-revoked")
    });
    let (v, seen) = store
        .key_standing("key_1", |v, s| {
            let s = s.expect("standing");
            (
                v,
                (
                    s.revoked_at_ms,
                    s.mac.to_vec(),
                    s.revoked_all_seq,
                    s.workspace_mac.to_vec(),
                ),
            )
        })
        .expect("lookup");
    assert_eq!(
        seen,
        (
            Some(99),
            b"mac-revoked".to_vec(),
            Some(7),
            b"ws-revoked".to_vec()
        )
    );
    assert_eq!(v, store.standing_now().expect("standing"));
    assert_eq!(v, other.standing_now().expect("standing"));
}

fn the_standing_counter_moves_on_access_changes_only(fx: &Fixture) {
    let store = fx.store();
    let s0 = fx.standing(&store);

    // Inserts and everything that decides no access leave it alone.
    write(&store, |tx| {
        tx.insert_workspace(&workspace("ws_1", "one"))?;
        tx.insert_api_key(&api_key("key_1", "ws_1", "k", 1, 1))?;
        tx.insert_api_key(&api_key("key_2", "ws_1", "j", 2, 2))?;
        tx.insert_signing_key(&signing_key("kid-a", SigningKeyState::Active, 1))?;
        tx.insert_kek(&kek(1, KekState::Active))?;
        tx.put_record(&record(&record_key("ws_1", "secret", "a"), 1, 1))?;
        tx.set_meta("m", b"v")?;
        tx.append_audit(&[audit_row(1, 1, None, "key.created", "op", Some("key_1"))])
    });
    assert_eq!(fx.standing(&store), s0, "inserts do not move it");
    write(&store, |tx| tx.touch_api_key("key_1", 1_000));
    write(&store, |tx| tx.touch_api_key("key_1", 2_000));
    assert_eq!(
        read(&store, |tx| tx.api_key("key_1"))
            .expect("key")
            .last_used_at,
        Some(2_000)
    );
    assert_eq!(fx.standing(&store), s0, "last-used times do not move it");
    write(&store, |tx| {
        tx.rewrap_record(&record_key("ws_1", "secret", "a"), 1, 1, b"e")?;
        tx.set_kek_wrapped(1, b"w")?;
        tx.delete_meta("m")
    });
    assert_eq!(
        fx.standing(&store),
        s0,
        "records, KEKs and meta do not move it"
    );

    let mut last = s0;
    let mut step = |what: &str, f: &dyn Fn(&Tx<'_>) -> Result<(), StoreError>| {
        write(&store, |tx| f(tx));
        let now = fx.standing(&store);
        assert!(now > last, "{what} moves it ({last} -> {now})");
        last = now;
    };
    step("a revocation", &|tx| {
        assert!(tx.revoke_api_key("key_1", 10, "op", b"m")?);
        Ok(())
    });
    step("a revoke-all", &|tx| {
        assert!(tx.set_workspace_revoke_all("ws_1", 20, 2, b"m")?);
        Ok(())
    });
    step("new key auth", &|tx| tx.set_api_key_auth("key_2", 9, b"m2"));
    step("new workspace auth", &|tx| {
        tx.set_workspace_auth("ws_1", Some(3), b"m3")
    });
    step("a signing key's update", &|tx| {
        tx.update_signing_key(&SigningKeyRow {
            state: SigningKeyState::Retiring,
            retired_at: Some(5),
            ..signing_key("kid-a", SigningKeyState::Active, 1)
        })
    });
    step("a signing key's deletion", &|tx| {
        tx.delete_signing_key("kid-a")
    });
    step("an explicit bump", &|tx| tx.bump_standing());

    let before = fx.standing(&store);
    write(&store, |tx| tx.bump_standing());
    assert_eq!(fx.standing(&store), before + 1, "a bump is one step");
    write(&store, |tx| {
        assert!(!tx.revoke_api_key("key_1", 30, "op", b"m")?);
        assert!(!tx.set_workspace_revoke_all("ws_missing", 30, 9, b"m")?);
        tx.touch_api_key("key_2", 99_999)
    });
    assert_eq!(
        fx.standing(&store),
        before + 1,
        "no-op revocations and touches leave it"
    );

    // Every handle (and process) sees the same counter.
    let other = fx.open();
    assert_eq!(fx.standing(&other), before + 1);
    write(&other, |tx| tx.bump_standing());
    assert_eq!(fx.standing(&store), before + 2);
}

fn standing_now_follows_the_counter_in_every_handle(fx: &Fixture) {
    let store = fx.store();
    let s0 = store.standing_now().expect("standing");
    assert_eq!(fx.standing(&store), 0);
    let other = fx.open();
    write(&other, |tx| tx.bump_standing());
    let s1 = store.standing_now().expect("standing");
    assert!(s1 > s0, "another handle's bump is seen on the next reading");
    assert_eq!(fx.standing(&store), 1);
    assert_eq!(
        store.standing_now().expect("standing"),
        s1,
        "stable while idle"
    );
    write(&other, |tx| tx.set_meta("x", b"1"));
    assert_eq!(
        store.standing_now().expect("standing"),
        s1,
        "other commits: no move"
    );
    assert_eq!(
        other.standing_now().expect("standing"),
        s1,
        "the same in every handle"
    );
}

// --- audit log ----------------------------------------------------------------------------------

fn audit_fixture() -> Vec<AuditRow> {
    vec![
        audit_row(1, 100, None, "store.created", "root", None),
        audit_row(2, 200, Some("ws_1"), "key.created", "alice", Some("key_1")),
        audit_row(3, 300, Some("ws_1"), "secret.read", "bob", Some("key_1")),
        audit_row(4, 300, Some("ws_2"), "secret.read", "alice", Some("key_2")),
        audit_row(5, 400, Some("ws_2"), "key.revoked", "alice", Some("key_2")),
        audit_row(6, 500, Some("ws_1"), "secret.read", "bob", Some("key_1")),
    ]
}

fn seqs(rows: &[AuditRow]) -> Vec<u64> {
    rows.iter().map(|r| r.seq).collect()
}

fn audit_rows_are_appended_and_the_head_follows(fx: &Fixture) {
    let store = fx.store();
    read(&store, |tx| {
        assert_eq!(tx.audit_head()?, None, "an empty log has no head");
        assert_eq!(tx.audit_count()?, 0);
        assert_eq!(tx.audit_rows(&AuditFilter::default())?, Vec::new());
        Ok(())
    });
    let rows = audit_fixture();
    write(&store, |tx| tx.append_audit(&rows[..2]));
    assert_eq!(read(&store, |tx| tx.audit_head()), Some((2, vec![2; 32])));
    write(&store, |tx| tx.append_audit(&rows[2..]));
    write(&store, |tx| tx.append_audit(&[]));
    read(&store, |tx| {
        assert_eq!(tx.audit_head()?, Some((6, vec![6; 32])));
        assert_eq!(tx.audit_count()?, 6);
        assert_eq!(
            tx.audit_rows(&AuditFilter::default())?,
            rows,
            "oldest first"
        );
        Ok(())
    });

    let err = store
        .write(|tx| {
            tx.append_audit(&[
                audit_row(7, 600, None, "x", "root", None),
                audit_row(3, 600, None, "x", "root", None),
            ])
        })
        .expect_err("a sequence number is never reused");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    let err = store
        .write(|tx| {
            tx.append_audit(&[AuditRow {
                seq: 0,
                ..audit_row(1, 1, None, "x", "root", None)
            }])
        })
        .expect_err("sequence numbers start at 1");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    read(&store, |tx| {
        assert_eq!(tx.audit_count()?, 6, "a failed append adds nothing");
        assert_eq!(tx.audit_head()?, Some((6, vec![6; 32])));
        Ok(())
    });
}

/// A batch larger than one statement's rows (64 + 16 + 4 + 1 = 85) lands whole and in
/// order; a bad row in a later statement of a batch undoes the statements before it.
fn a_large_audit_batch_is_written_whole_or_not_at_all(fx: &Fixture) {
    let store = fx.store();
    let row = |seq: u64| {
        audit_row(
            seq,
            i64::try_from(seq).expect("small"),
            Some("ws_1"),
            "key.used",
            "op",
            Some("key_1"),
        )
    };
    let batch: Vec<AuditRow> = (1..=85).map(row).collect();
    write(&store, |tx| tx.append_audit(&batch));
    read(&store, |tx| {
        assert_eq!(tx.audit_count()?, 85);
        assert_eq!(
            tx.audit_rows(&AuditFilter::default())?,
            batch,
            "every row, in order"
        );
        Ok(())
    });

    // 70 rows: the first statement (64 rows) is good, the second repeats seq 85.
    let mut bad: Vec<AuditRow> = (86..=155).map(row).collect();
    bad[66] = row(85);
    let err = store
        .write(|tx| tx.append_audit(&bad))
        .expect_err("a reused sequence number fails the batch");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    read(&store, |tx| {
        assert_eq!(
            tx.audit_count()?,
            85,
            "none of the failed batch's rows stay"
        );
        assert_eq!(tx.audit_head()?.map(|(seq, _)| seq), Some(85));
        Ok(())
    });
}

fn audit_rows_filter_by_every_column_and_limit_to_the_newest(fx: &Fixture) {
    let store = fx.store();
    let rows = audit_fixture();
    write(&store, |tx| tx.append_audit(&rows));
    let q = |filter: AuditFilter| seqs(&read(&store, |tx| tx.audit_rows(&filter)));
    let s = |v: &str| Some(v.to_owned());

    assert_eq!(q(AuditFilter::default()), [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        q(AuditFilter {
            since_ms: Some(300),
            ..AuditFilter::default()
        }),
        [3, 4, 5, 6],
        "at or after"
    );
    assert_eq!(
        q(AuditFilter {
            since_ms: Some(501),
            ..AuditFilter::default()
        }),
        Vec::<u64>::new()
    );
    assert_eq!(
        q(AuditFilter {
            action: s("secret.read"),
            ..AuditFilter::default()
        }),
        [3, 4, 6]
    );
    assert_eq!(
        q(AuditFilter {
            key_id: s("key_2"),
            ..AuditFilter::default()
        }),
        [4, 5]
    );
    assert_eq!(
        q(AuditFilter {
            actor: s("alice"),
            ..AuditFilter::default()
        }),
        [2, 4, 5]
    );
    assert_eq!(
        q(AuditFilter {
            workspace: s("ws_1"),
            ..AuditFilter::default()
        }),
        [2, 3, 6]
    );
    assert_eq!(
        q(AuditFilter {
            workspace: s("nope"),
            ..AuditFilter::default()
        }),
        Vec::<u64>::new()
    );
    assert_eq!(
        q(AuditFilter {
            since_ms: Some(250),
            action: s("secret.read"),
            key_id: s("key_1"),
            actor: s("bob"),
            workspace: s("ws_1"),
            limit: None,
        }),
        [3, 6],
        "filters combine"
    );

    // A limit keeps the newest rows and still returns them oldest first.
    assert_eq!(
        q(AuditFilter {
            limit: Some(2),
            ..AuditFilter::default()
        }),
        [5, 6]
    );
    assert_eq!(
        q(AuditFilter {
            limit: Some(1),
            ..AuditFilter::default()
        }),
        [6]
    );
    assert_eq!(
        q(AuditFilter {
            limit: Some(0),
            ..AuditFilter::default()
        }),
        Vec::<u64>::new()
    );
    assert_eq!(
        q(AuditFilter {
            limit: Some(100),
            ..AuditFilter::default()
        }),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(
        q(AuditFilter {
            actor: s("alice"),
            limit: Some(2),
            ..AuditFilter::default()
        }),
        [4, 5],
        "the limit applies after the filters"
    );
    assert_eq!(
        q(AuditFilter {
            since_ms: Some(200),
            workspace: s("ws_1"),
            limit: Some(u64::MAX),
            ..AuditFilter::default()
        }),
        [2, 3, 6]
    );
    let full = read(&store, |tx| {
        tx.audit_rows(&AuditFilter {
            key_id: s("key_2"),
            limit: Some(1),
            ..AuditFilter::default()
        })
    });
    assert_eq!(full, vec![rows[4].clone()], "whole rows come back");
}

fn for_each_audit_row_streams_in_order_and_stops_when_asked(fx: &Fixture) {
    let store = fx.store();
    let rows = audit_fixture();
    let mut seen = 0;
    read(&store, |tx| {
        tx.for_each_audit_row(|_| {
            seen += 1;
            true
        })
    });
    assert_eq!(seen, 0, "an empty log: no calls");

    // Appended out of order: streamed by seq.
    write(&store, |tx| {
        tx.append_audit(&rows[3..])?;
        tx.append_audit(&rows[..3])
    });
    let mut streamed = Vec::new();
    read(&store, |tx| {
        tx.for_each_audit_row(|v| {
            streamed.push(AuditRow {
                seq: v.seq,
                time_ms: v.time_ms,
                workspace: v.workspace.map(Into::into),
                action: v.action.into(),
                actor: v.actor.into(),
                key_id: v.key_id.map(Into::into),
                outcome: v.outcome.into(),
                event: v.event.to_vec(),
                prev: v.prev.to_vec(),
                hash: v.hash.to_vec(),
            });
            true
        })
    });
    assert_eq!(streamed, rows);

    let mut visited = Vec::new();
    read(&store, |tx| {
        tx.for_each_audit_row(|v| {
            visited.push(v.seq);
            v.seq < 3
        })
    });
    assert_eq!(visited, [1, 2, 3], "`false` stops the stream");
}

#[test]
fn audit_row_view_borrows_every_field() {
    let row = audit_row(4, 300, Some("ws_2"), "secret.read", "alice", Some("key_2"));
    let v = row.view();
    assert_eq!(v.seq, 4);
    assert_eq!(v.time_ms, 300);
    assert_eq!(v.workspace, Some("ws_2"));
    assert_eq!(v.action, "secret.read");
    assert_eq!(v.actor, "alice");
    assert_eq!(v.key_id, Some("key_2"));
    assert_eq!(v.outcome, "denied");
    assert_eq!(v.event, b"event-4");
    assert_eq!(v.prev, [3; 32]);
    assert_eq!(v.hash, [4; 32]);
    let bare = audit_row(1, 1, None, "a", "b", None);
    assert_eq!((bare.view().workspace, bare.view().key_id), (None, None));
}

fn the_audit_stream_crosses_pages_in_order_and_stops_on_any_page(fx: &Fixture) {
    let store = fx.store();
    let page = u64::try_from(AUDIT_STREAM_PAGE).expect("small");
    let rows: Vec<AuditRow> = (1..=2 * page + 1)
        .map(|seq| AuditRow {
            seq,
            event: seq.to_be_bytes().to_vec(),
            ..audit_row(1, 1, None, "a", "b", None)
        })
        .collect();
    write(&store, |tx| tx.append_audit(&rows));

    let mut seen = Vec::new();
    read(&store, |tx| {
        tx.for_each_audit_row(|v| {
            seen.push((v.seq, v.event.to_vec()));
            true
        })
    });
    let all: Vec<_> = rows.iter().map(|r| (r.seq, r.event.clone())).collect();
    assert_eq!(seen, all, "every row once, in order, across three pages");

    let mut visited = Vec::new();
    read(&store, |tx| {
        tx.for_each_audit_row(|v| {
            visited.push(v.seq);
            v.seq <= page
        })
    });
    assert_eq!(
        visited,
        (1..=page + 1).collect::<Vec<_>>(),
        "stops within the second page"
    );
}

contract!(
    meta_values_are_set_replaced_and_deleted,
    the_change_mark_moves_on_committed_writes_only,
    a_write_whose_closure_fails_leaves_nothing_behind,
    a_panic_inside_write_rolls_back_and_the_store_stays_usable,
    a_read_closure_error_is_passed_through,
    write_aside_commits_rolls_back_and_is_seen_by_the_main_connection,
    a_constraint_violation_is_a_constraint_error_and_rolls_back,
    the_change_mark_moves_when_another_handle_commits,
    keks_are_inserted_listed_by_id_and_change_state,
    a_kek_still_wrapping_a_record_cannot_be_deleted,
    workspaces_are_listed_by_name_and_found_by_id_or_name,
    revoke_all_and_auth_rewrite_a_workspace_row,
    records_are_put_read_replaced_and_deleted,
    kek_rotation_finds_rewraps_and_counts_records,
    signing_keys_are_listed_newest_first_updated_and_deleted,
    last_expiry_signed_by_counts_only_unrevoked_keys_of_that_signer,
    api_keys_round_trip_and_are_found_by_jti_and_by_name,
    api_keys_are_listed_newest_first_per_workspace_and_in_mint_order_overall,
    revoke_api_key_revokes_once,
    set_api_key_auth_replaces_sequence_number_and_mac_only,
    touch_api_key_writes_at_most_once_a_minute,
    key_standing_reads_a_key_and_its_workspace_in_one_lookup,
    the_standing_counter_moves_on_access_changes_only,
    standing_now_follows_the_counter_in_every_handle,
    audit_rows_are_appended_and_the_head_follows,
    a_large_audit_batch_is_written_whole_or_not_at_all,
    audit_rows_filter_by_every_column_and_limit_to_the_newest,
    for_each_audit_row_streams_in_order_and_stops_when_asked,
    the_audit_stream_crosses_pages_in_order_and_stops_on_any_page,
);
