//! The mechanism under the marks: `data_version` per connection, the main connection's own
//! commit count and the standing counter, and how `changes`/`standing_now` combine them.

use crate::sqlite::Sqlite;
use crate::{ApiKeyRow, Store, StoreError, WorkspaceRow};

/// The SQLite backend of `s`, whose own mechanisms these tests look at.
fn lite(s: &Store) -> &Sqlite {
    s.sqlite().expect("a SQLite store")
}

fn workspace() -> WorkspaceRow {
    WorkspaceRow {
        id: "ws_1".into(),
        name: "one".into(),
        created_at: 1,
        revoked_all_at_ms: None,
        revoked_all_seq: None,
        mac: Vec::new(),
    }
}

fn key() -> ApiKeyRow {
    ApiKeyRow {
        jti: "key_1".into(),
        workspace: "ws_1".into(),
        name: "k".into(),
        sub: "s".into(),
        scopes: "admin".into(),
        kid: "kid".into(),
        fingerprint: "f".into(),
        created_at_ms: 1,
        created_by: "op".into(),
        expires_at: i64::MAX,
        revoked_at_ms: None,
        revoked_by: None,
        last_used_at: None,
        mint_seq: 1,
        mac: Vec::new(),
    }
}

#[derive(Debug)]
struct Refused;

impl From<StoreError> for Refused {
    fn from(_: StoreError) -> Self {
        Self
    }
}

#[test]
fn data_version_moves_on_every_commit_the_reader_did_not_make() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.db");
    let a = Store::create(&path).expect("create");
    let b = Store::open(&path).expect("open");
    let v0 = lite(&a).data_version().expect("v");
    assert_eq!(
        lite(&a).data_version().expect("v"),
        v0,
        "stable while nothing changes"
    );
    a.write(|tx| tx.set_meta("x", b"1")).expect("own write");
    let after_own = lite(&a).data_version().expect("v");
    assert_ne!(
        after_own, v0,
        "the reader is its own connection: it sees this store's writes too"
    );
    let v0 = after_own;
    b.write(|tx| tx.set_meta("x", b"2")).expect("other write");
    let v1 = lite(&a).data_version().expect("v");
    assert_ne!(v1, v0, "another connection's commit is seen at once");
    assert_eq!(
        lite(&a).data_version().expect("v"),
        v1,
        "stable while nothing changes"
    );
    read_only(&a, v1);
    b.write(|tx| tx.set_meta("x", b"3")).expect("other write");
    assert_ne!(
        lite(&a).data_version().expect("v"),
        v1,
        "the reader sees it"
    );
}

/// A key lookup and a read transaction leave `data_version` where it was.
fn read_only(a: &Store, v: i64) {
    let none = a
        .key_standing("key_missing", |_, s| s.is_none())
        .expect("lookup");
    assert!(none);
    a.read(|tx| tx.meta("x")).expect("read");
    assert_eq!(
        lite(a).data_version().expect("v"),
        v,
        "reads do not move it"
    );
}

#[test]
fn data_version_moves_when_another_handle_commits_not_when_it_rolls_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.db");
    let a = Store::create(&path).expect("create");
    let b = Store::open(&path).expect("open");
    b.write(|tx| tx.set_meta("x", b"1")).expect("write");
    let v1 = lite(&a).data_version().expect("data");
    assert_eq!(lite(&a).versions().expect("versions").0, v1);
    let failed = b.write(|tx| -> Result<(), Refused> {
        tx.set_meta("x", b"2")?;
        Err(Refused)
    });
    assert!(failed.is_err());
    assert_eq!(
        lite(&a).data_version().expect("data"),
        v1,
        "a rollback does not"
    );

    // The transaction's own view: another handle's commit shows in the next transaction.
    let in_tx0 = a.read(|tx| tx.data_version()).expect("read");
    assert_eq!(a.read(|tx| tx.data_version()).expect("read"), in_tx0);
    b.write(|tx| tx.set_meta("x", b"3")).expect("write");
    assert_ne!(a.read(|tx| tx.data_version()).expect("read"), in_tx0);
}

#[test]
fn own_writes_counts_committed_writes_on_the_main_connection_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::create(&dir.path().join("k.db")).expect("create");
    assert_eq!(lite(&store).own_writes(), 0, "migrations are not counted");
    store.write(|tx| tx.set_meta("a", b"1")).expect("write");
    assert_eq!(lite(&store).own_writes(), 1);
    store.read(|tx| tx.meta("a")).expect("read");
    assert_eq!(lite(&store).own_writes(), 1, "reads are not writes");
    let failed = store.write(|tx| -> Result<(), Refused> {
        tx.set_meta("a", b"2")?;
        Err(Refused)
    });
    assert!(failed.is_err());
    assert_eq!(
        lite(&store).own_writes(),
        1,
        "a rolled-back write is not counted"
    );
    store
        .write_aside(|tx| tx.set_meta("b", b"1"))
        .expect("aside");
    assert_eq!(
        lite(&store).own_writes(),
        1,
        "write_aside is another connection"
    );
    store.write(|tx| tx.set_meta("c", b"1")).expect("write");
    assert_eq!(lite(&store).own_writes(), 2);
    let reopened = Store::open(store.path()).expect("open");
    assert_eq!(lite(&reopened).own_writes(), 0, "counted per handle");
}

#[test]
fn the_standing_counter_moves_on_revocations_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Store::create(&dir.path().join("k.db")).expect("create");
    let standing = || lite(&a).versions().expect("versions").1;
    let s0 = standing();
    a.write(|tx| {
        tx.insert_workspace(&workspace())?;
        tx.insert_api_key(&key())
    })
    .expect("write");
    assert_eq!(standing(), s0, "a new key does not move it");
    a.write(|tx| {
        tx.touch_api_key("key_1", 5)?;
        tx.set_meta("x", b"1")
    })
    .expect("write");
    assert_eq!(standing(), s0, "last-used times and meta: no change");
    let w0 = lite(&a).own_writes();
    a.write(|tx| tx.revoke_api_key("key_1", 10, "op", b"m"))
        .expect("revoke");
    assert_eq!(lite(&a).own_writes(), w0 + 1);
    let s1 = standing();
    assert!(s1 > s0, "a revocation moves it");
    a.write(|tx| tx.set_workspace_revoke_all("ws_1", 20, 1, b"m"))
        .expect("revoke all");
    let s2 = standing();
    assert!(s2 > s1, "a revoke-all moves it");
    let (s, found) = a
        .key_standing("key_1", |s, k| {
            (s, k.map(|k| (k.revoked_at_ms, k.revoked_all_seq)))
        })
        .expect("lookup");
    assert_eq!(s, s2, "read with the standing it reflects");
    assert_eq!(found, Some((Some(10), Some(1))));
}

#[test]
fn versions_reads_both_counters_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.db");
    let store = Store::create(&path).expect("create");
    let other = Store::open(&path).expect("open");
    let v0 = lite(&store).versions().expect("versions");
    assert_eq!(v0.0, lite(&store).data_version().expect("data"));
    assert_eq!(v0.1.0, 0);
    other.write(|tx| tx.bump_standing()).expect("bump");
    let v1 = lite(&store).versions().expect("versions");
    assert_ne!(v1.0, v0.0);
    assert_eq!(v1.1.0, 1);
    assert_eq!(
        lite(&store).versions().expect("versions"),
        v1,
        "stable while idle"
    );
}

#[test]
fn the_change_mark_covers_both_the_readers_view_and_own_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.db");
    let store = Store::create(&path).expect("create");
    let m0 = store.changes().expect("mark");
    assert_eq!(
        (m0.data_version, m0.own_writes),
        (lite(&store).data_version().expect("data"), 0)
    );
    store.write(|tx| tx.set_meta("a", b"1")).expect("write");
    let m1 = store.changes().expect("mark");
    assert_eq!(m1.own_writes, 1, "an own commit moves the mark");
    assert_ne!(m1, m0);
    Store::open(&path)
        .expect("open")
        .write(|tx| tx.set_meta("b", b"1"))
        .expect("write");
    let m2 = store.changes().expect("mark");
    assert_eq!(m2.own_writes, 1);
    assert_ne!(m2.data_version, m1.data_version, "so does another's");
}

#[test]
fn standing_now_reads_the_counter_again_only_when_the_mark_moved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.db");
    let store = Store::create(&path).expect("create");
    let s0 = store.standing_now().expect("standing");
    let memo = || {
        let m = lite(&store).memo();
        (m.at, m.standing)
    };
    assert_eq!(memo(), (Some(store.changes().expect("mark")), Some(s0)));
    assert_eq!(store.standing_now().expect("standing"), s0);
    // A memo that no longer matches the mark is never used: the counter is read again.
    *lite(&store).memo() = super::StandingMemo {
        at: Some(store.changes().expect("mark")),
        standing: Some(super::Standing(41)),
    };
    assert_eq!(
        store.standing_now().expect("standing"),
        super::Standing(41),
        "the mark has not moved: the memo answers"
    );
    let other = Store::open(&path).expect("open");
    other.write(|tx| tx.set_meta("x", b"1")).expect("write");
    assert_eq!(
        store.standing_now().expect("standing"),
        s0,
        "any commit moves the mark: read again"
    );
    other.write(|tx| tx.bump_standing()).expect("bump");
    let s1 = store.standing_now().expect("standing");
    assert!(s1 > s0, "another process's revocation is seen at once");
    store.write(|tx| tx.bump_standing()).expect("bump");
    assert!(
        store.standing_now().expect("standing") > s1,
        "and an own one"
    );
}

#[test]
fn own_writes_counts_an_upgrade_as_one_write_and_a_refused_one_as_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.db");
    rusqlite::Connection::open(&path)
        .and_then(|c| c.pragma_update(None, "application_id", crate::APPLICATION_ID))
        .expect("bare keyhold file");
    let store = Store::open(&path).expect("open");
    assert_eq!(
        lite(&store).own_writes(),
        0,
        "automatic migrations are not counted"
    );
    let from = store
        .pending_upgrade()
        .expect("pending")
        .expect("an upgrade");
    let refused = store.upgrade(from, |_| -> Result<(), Refused> { Err(Refused) });
    assert!(refused.is_err());
    assert_eq!(
        lite(&store).own_writes(),
        0,
        "a refused upgrade is not counted"
    );
    let wrong = store
        .upgrade(from - 1, |_| -> Result<(), StoreError> { Ok(()) })
        .expect("upgrade");
    assert!(!wrong);
    assert_eq!(lite(&store).own_writes(), 0, "nor one from another version");
    let done = store
        .upgrade(from, |_| -> Result<(), StoreError> { Ok(()) })
        .expect("upgrade");
    assert!(done);
    assert_eq!(lite(&store).own_writes(), 1, "an upgrade is one write");
}
