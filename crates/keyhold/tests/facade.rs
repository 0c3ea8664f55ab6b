//! The facade against a real SQLite file on disk: round trips, tampering, wrong keys,
//! rotations (including interrupted ones), canary, permissions and damaged files.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

mod common;

use std::ops::ControlFlow;

use common::*;
use keyhold::{Error, KeySource, Keyhold, MasterKey};

#[test]
fn round_trip_versions_and_overwrite() {
    let fx = Fixture::new();
    let kh = fx.init();
    for (i, len) in [0usize, 1, 255, 4096, 70_000].into_iter().enumerate() {
        let value: Vec<u8> = (0..len).map(|j| (j * 7 + i) as u8).collect();
        let info = kh
            .put_record(
                &keyhold::Caller::operator(),
                "default",
                "secret",
                &format!("item-{i}"),
                &secret(&value),
            )
            .expect("put");
        assert_eq!(info.version, 1);
        assert_eq!(
            kh.record(
                &keyhold::Caller::operator(),
                "default",
                "secret",
                &format!("item-{i}")
            )
            .expect("get")
            .expose(),
            &value[..]
        );
    }
    let v2 = kh
        .put_record(
            &keyhold::Caller::operator(),
            "default",
            "secret",
            "item-0",
            &secret(b"second"),
        )
        .expect("put");
    assert_eq!(v2.version, 2);
    assert_eq!(
        kh.record(&keyhold::Caller::operator(), "default", "secret", "item-0")
            .expect("get")
            .expose(),
        b"second"
    );
    // Workspaces are addressed by name or id, and isolate records.
    let ws = kh
        .create_workspace(&keyhold::Caller::operator(), "mobile-app")
        .expect("ws");
    kh.put_record(
        &keyhold::Caller::operator(),
        &ws.id,
        "secret",
        "item-0",
        &secret(b"other ws"),
    )
    .expect("put");
    assert_eq!(
        kh.record(
            &keyhold::Caller::operator(),
            "mobile-app",
            "secret",
            "item-0"
        )
        .expect("get")
        .expose(),
        b"other ws"
    );
    assert_eq!(
        kh.record(&keyhold::Caller::operator(), "default", "secret", "item-0")
            .expect("get")
            .expose(),
        b"second"
    );
    drop(kh);
    let kh = fx.open().expect("reopen");
    assert_eq!(
        kh.record(&keyhold::Caller::operator(), "default", "secret", "item-4")
            .expect("get")
            .len(),
        70_000
    );
    kh.delete_record(&keyhold::Caller::operator(), "default", "secret", "item-4")
        .expect("delete");
    assert_eq!(
        kh.record(&keyhold::Caller::operator(), "default", "secret", "item-4")
            .expect_err("gone")
            .code(),
        "not_found"
    );
    assert_eq!(
        kh.record(&keyhold::Caller::operator(), "nope", "secret", "item-0")
            .expect_err("no ws")
            .code(),
        "not_found"
    );
    assert_eq!(
        kh.put_record(
            &keyhold::Caller::operator(),
            "default",
            "Bad Kind",
            "x",
            &secret(b"v")
        )
        .expect_err("kind")
        .code(),
        "invalid_input"
    );
}

/// Byte ranges of the envelope format (docs/envelope-format.md).
const FIELDS: &[(&str, usize)] = &[
    ("version", 0),
    ("kek id", 2),
    ("wrap nonce", 10),
    ("wrapped data key", 40),
    ("wrap tag", 70),
    ("record nonce", 90),
    ("ciphertext", 105),
    ("record tag", 120), // counted from the start for a 10-byte plaintext: 101 + 10 + 9
];

#[test]
fn every_tampered_field_is_an_integrity_error_naming_the_record() {
    let fx = Fixture::new();
    let kh = fx.init();
    put(&kh, "db-password", b"0123456789");
    let ws = kh.workspace("default").expect("ws").id;
    let sql = fx.sql();
    let original: Vec<u8> = sql
        .query_row(
            "SELECT envelope FROM records WHERE id = 'db-password'",
            [],
            |r| r.get(0),
        )
        .expect("row");
    assert_eq!(original.len(), 117 + 10);
    for (field, offset) in FIELDS {
        let mut t = original.clone();
        t[*offset] ^= 0x04;
        sql.execute(
            "UPDATE records SET envelope = ?1 WHERE id = 'db-password'",
            [&t],
        )
        .expect("tamper");
        let err = kh
            .record(
                &keyhold::Caller::operator(),
                "default",
                "secret",
                "db-password",
            )
            .expect_err(field);
        assert_eq!(err.code(), "integrity_error", "{field}: {err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("record {ws}/secret/db-password version 1")),
            "{field}: {msg}"
        );
        assert!(!msg.contains("0123456789"), "{field}: {msg}");
    }
    // Truncated and empty envelopes.
    for t in [original[..50].to_vec(), Vec::new()] {
        sql.execute(
            "UPDATE records SET envelope = ?1 WHERE id = 'db-password'",
            [&t],
        )
        .expect("tamper");
        assert_eq!(
            kh.record(
                &keyhold::Caller::operator(),
                "default",
                "secret",
                "db-password"
            )
            .expect_err("short")
            .code(),
            "integrity_error"
        );
    }
    // The AAD: the row's version (bound into the AAD) changed under an intact envelope.
    sql.execute(
        "UPDATE records SET envelope = ?1, version = 2 WHERE id = 'db-password'",
        [&original],
    )
    .expect("tamper");
    let err = kh
        .record(
            &keyhold::Caller::operator(),
            "default",
            "secret",
            "db-password",
        )
        .expect_err("version");
    assert_eq!(err.code(), "integrity_error");
    assert!(err.to_string().contains("version 2"), "{err}");
    sql.execute(
        "UPDATE records SET version = 1 WHERE id = 'db-password'",
        [],
    )
    .expect("restore");
    assert_eq!(
        kh.record(
            &keyhold::Caller::operator(),
            "default",
            "secret",
            "db-password"
        )
        .expect("restored")
        .expose(),
        b"0123456789"
    );
}

#[test]
fn an_envelope_moved_to_another_record_fails_to_open() {
    let fx = Fixture::new();
    let kh = fx.init();
    let other = kh
        .create_workspace(&keyhold::Caller::operator(), "other")
        .expect("ws");
    put(&kh, "a", b"value-a");
    put(&kh, "b", b"value-b");
    kh.put_record(
        &keyhold::Caller::operator(),
        "other",
        "secret",
        "a",
        &secret(b"value-other"),
    )
    .expect("put");
    kh.put_record(
        &keyhold::Caller::operator(),
        "default",
        "note",
        "a",
        &secret(b"value-note"),
    )
    .expect("put");
    let sql = fx.sql();
    let copy = |from_ws: &str, to_id: &str, to_ws: &str, to_kind: &str| {
        sql.execute(
            "UPDATE records SET envelope = (SELECT envelope FROM records WHERE id = 'a' AND kind = 'secret' AND workspace = ?1)
             WHERE id = ?2 AND workspace = ?3 AND kind = ?4",
            [from_ws, to_id, to_ws, to_kind],
        )
        .expect("move");
    };
    let default_id = kh.workspace("default").expect("ws").id;
    copy(&default_id, "b", &default_id, "secret"); // another id
    assert_eq!(
        kh.record(&keyhold::Caller::operator(), "default", "secret", "b")
            .expect_err("moved id")
            .code(),
        "integrity_error"
    );
    copy(&default_id, "a", &other.id, "secret"); // another workspace
    assert_eq!(
        kh.record(&keyhold::Caller::operator(), "other", "secret", "a")
            .expect_err("moved ws")
            .code(),
        "integrity_error"
    );
    copy(&default_id, "a", &default_id, "note"); // another kind
    assert_eq!(
        kh.record(&keyhold::Caller::operator(), "default", "note", "a")
            .expect_err("moved kind")
            .code(),
        "integrity_error"
    );
    assert_eq!(
        kh.record(&keyhold::Caller::operator(), "default", "secret", "a")
            .expect("source intact")
            .expose(),
        b"value-a"
    );
}

#[test]
fn wrong_master_key_is_reported_as_such_and_writes_nothing() {
    let fx = Fixture::new();
    let kh = fx.init();
    put(&kh, "x", b"v");
    drop(kh);
    let before = file_bytes(&fx.db());
    let wrong = MasterKey::generate().expect("rng");
    for _ in 0..3 {
        let err = Keyhold::open(fx.data(), text_key(&wrong)).expect_err("wrong key");
        assert!(matches!(err, Error::WrongMasterKey(_)), "{err:?}");
        assert_eq!(err.code(), "wrong_master_key");
        assert!(err.to_string().starts_with("wrong master key"), "{err}");
    }
    // A wrong key file (valid key, other store) is the same error.
    let other = Fixture::new();
    drop(other.init());
    let err = Keyhold::open(fx.data(), KeySource::default_file(other.data()))
        .expect_err("other store's key");
    assert_eq!(err.code(), "wrong_master_key");
    assert_eq!(
        file_bytes(&fx.db()),
        before,
        "a wrong key must not change the database"
    );
    assert!(
        !fx.data().join("keyhold.db-wal").exists()
            || file_bytes(&fx.data().join("keyhold.db-wal")).is_empty()
    );
    assert_eq!(
        fx.open()
            .expect("right key")
            .record(&keyhold::Caller::operator(), "default", "secret", "x")
            .expect("get")
            .expose(),
        b"v"
    );
}

#[test]
fn master_key_rotation_keeps_every_record_readable() {
    let fx = Fixture::new();
    let kh = fx.init();
    for i in 0..40 {
        put(&kh, &format!("r{i}"), format!("value-{i}").as_bytes());
    }
    kh.rotate_kek(&keyhold::Caller::operator())
        .expect("a second KEK, so more than one is re-wrapped");
    let old_file = file_bytes(&fx.key_file());
    let new_key = MasterKey::generate().expect("rng");
    let envelopes_before: Vec<Vec<u8>> = {
        let sql = fx.sql();
        let mut st = sql
            .prepare("SELECT envelope FROM records ORDER BY id")
            .expect("prep");
        st.query_map([], |r| r.get(0))
            .expect("q")
            .map(|r| r.expect("row"))
            .collect()
    };
    let r = kh
        .rotate_master_key(&keyhold::Caller::operator(), &new_key)
        .expect("rotate");
    assert_eq!(
        r.keks_rewrapped, 1,
        "KEK rotation finished, so one KEK remains"
    );
    assert_eq!(mode(&fx.key_file()), 0o600);
    assert_ne!(file_bytes(&fx.key_file()), old_file);
    assert!(!fx.data().join("master.key.next").exists());
    // The running handle keeps working, a fresh open uses the new key file.
    assert_eq!(
        kh.record(&keyhold::Caller::operator(), "default", "secret", "r3")
            .expect("get")
            .expose(),
        b"value-3"
    );
    drop(kh);
    let kh = fx.open().expect("open with the rotated key file");
    for i in 0..40 {
        assert_eq!(
            kh.record(
                &keyhold::Caller::operator(),
                "default",
                "secret",
                &format!("r{i}")
            )
            .expect("get")
            .expose(),
            format!("value-{i}").as_bytes()
        );
    }
    // Data was not re-encrypted: record envelopes are byte-identical.
    let envelopes_after: Vec<Vec<u8>> = {
        let sql = fx.sql();
        let mut st = sql
            .prepare("SELECT envelope FROM records ORDER BY id")
            .expect("prep");
        st.query_map([], |r| r.get(0))
            .expect("q")
            .map(|r| r.expect("row"))
            .collect()
    };
    assert_eq!(envelopes_before, envelopes_after);
    // The old key no longer opens it.
    let old =
        MasterKey::from_base64url(std::str::from_utf8(&old_file).expect("utf8")).expect("old key");
    assert_eq!(
        Keyhold::open(fx.data(), text_key(&old))
            .expect_err("old key")
            .code(),
        "wrong_master_key"
    );
    assert!(Keyhold::open(fx.data(), text_key(&new_key)).is_ok());
}

#[test]
fn master_key_rotation_interrupted_before_the_key_file_rename_is_finished_on_open() {
    let fx = Fixture::new();
    let kh = fx.init();
    put(&kh, "x", b"survives");
    let old_file = file_bytes(&fx.key_file());
    kh.rotate_master_key(
        &keyhold::Caller::operator(),
        &MasterKey::generate().expect("rng"),
    )
    .expect("rotate");
    drop(kh);
    // Reconstruct the crash window: database committed, new key still only in the staging file.
    let new_file = file_bytes(&fx.key_file());
    let staged = fx.data().join("master.key.next");
    std::fs::rename(fx.key_file(), &staged).expect("stage");
    std::fs::write(fx.key_file(), &old_file).expect("old key back");
    std::fs::set_permissions(
        fx.key_file(),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let kh = fx.open().expect("open finishes the rotation");
    assert_eq!(
        kh.record(&keyhold::Caller::operator(), "default", "secret", "x")
            .expect("get")
            .expose(),
        b"survives"
    );
    assert_eq!(file_bytes(&fx.key_file()), new_file);
    assert!(!staged.exists());
}

#[test]
fn kek_rotation_stopped_halfway_resumes_and_completes() {
    let fx = Fixture::new();
    let kh = fx.init();
    // The store starts with its own records (token-signing key, audit keys).
    let base = kh.status().expect("status").records;
    assert!(base >= 1);
    for i in 0..50 {
        put(&kh, &format!("r{i:02}"), format!("v{i}").as_bytes());
    }
    let mut seen = 0;
    let partial = kh
        .rotate_kek_with(&keyhold::Caller::operator(), 7, |_| {
            seen += 1;
            if seen == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("partial");
    assert!(!partial.complete);
    assert_eq!(partial.rewrapped, 14);
    assert_eq!(partial.active_kek, 2);
    // A write during the rotation uses the new KEK.
    put(&kh, "during", b"new");
    drop(kh); // the process "dies" here: each batch was its own committed transaction
    let kh = fx.open().expect("reopen");
    let status = kh.status().expect("status");
    assert_eq!(status.kek_count, 2);
    assert_eq!(status.records_pending_rewrap, 36 + base);
    for i in 0..50 {
        assert_eq!(
            kh.record(
                &keyhold::Caller::operator(),
                "default",
                "secret",
                &format!("r{i:02}")
            )
            .expect("mixed KEKs readable")
            .expose(),
            format!("v{i}").as_bytes()
        );
    }
    let done = kh.rotate_kek(&keyhold::Caller::operator()).expect("resume");
    assert!(done.resumed && done.complete);
    assert_eq!(
        done.active_kek, 2,
        "resuming does not start yet another KEK"
    );
    assert_eq!(done.rewrapped, 36 + base);
    assert_eq!(done.retired, vec![1]);
    let status = kh.status().expect("status");
    assert_eq!(
        (
            status.kek_count,
            status.records_pending_rewrap,
            status.records
        ),
        (1, 0, 51 + base)
    );
    for i in 0..50 {
        assert_eq!(
            kh.record(
                &keyhold::Caller::operator(),
                "default",
                "secret",
                &format!("r{i:02}")
            )
            .expect("get")
            .expose(),
            format!("v{i}").as_bytes()
        );
    }
    let again = kh
        .rotate_kek(&keyhold::Caller::operator())
        .expect("next rotation");
    assert_eq!(
        (again.active_kek, again.rewrapped, again.resumed),
        (3, 51 + base, false)
    );
}

#[test]
fn another_process_rotating_the_kek_is_picked_up() {
    let fx = Fixture::new();
    let a = fx.init();
    let b = fx.open().expect("second handle");
    put(&a, "x", b"one");
    b.rotate_kek(&keyhold::Caller::operator())
        .expect("rotate in b");
    // `a` has never seen KEK 2; it must load it rather than fail.
    a.put_record(
        &keyhold::Caller::operator(),
        "default",
        "secret",
        "y",
        &secret(b"two"),
    )
    .expect("put with the new KEK");
    assert_eq!(
        a.record(&keyhold::Caller::operator(), "default", "secret", "x")
            .expect("get")
            .expose(),
        b"one"
    );
    assert_eq!(
        b.record(&keyhold::Caller::operator(), "default", "secret", "y")
            .expect("get")
            .expose(),
        b"two"
    );
}

#[test]
fn canary_never_reaches_the_database_files_or_debug_output() {
    let fx = Fixture::new();
    let kh = fx.init();
    let canary = canary();
    put(&kh, "canary", &canary);
    kh.put_record(
        &keyhold::Caller::operator(),
        "default",
        "secret",
        "canary",
        &secret(&canary),
    )
    .expect("overwrite");
    kh.rotate_kek(&keyhold::Caller::operator())
        .expect("kek rotation re-wraps it");
    let got = kh
        .record(&keyhold::Caller::operator(), "default", "secret", "canary")
        .expect("get");
    assert_eq!(got.expose(), &canary[..]);
    let debug = format!(
        "{got:?} {kh:?} {:?} {:?}",
        kh.status().expect("status"),
        kh.workspaces().expect("ws")
    );
    assert_absent(debug.as_bytes(), &canary, "Debug output");
    let err = kh
        .record(&keyhold::Caller::operator(), "default", "secret", "missing")
        .expect_err("missing");
    assert_absent(format!("{err} {err:?}").as_bytes(), &canary, "an error");
    // While open (WAL and SHM present) ...
    assert!(
        file_bytes(&fx.data().join("keyhold.db-wal")).len() > 4096,
        "the scan must cover a live WAL"
    );
    for suffix in ["", "-wal", "-shm"] {
        let path = fx.data().join(format!("keyhold.db{suffix}"));
        assert_absent(
            &file_bytes(&path),
            &canary,
            &format!("{} (open)", path.display()),
        );
    }
    // ... and after a clean close (WAL checkpointed into the database).
    drop(kh);
    for suffix in ["", "-wal", "-shm"] {
        let path = fx.data().join(format!("keyhold.db{suffix}"));
        assert_absent(&file_bytes(&path), &canary, &path.display().to_string());
    }
}

#[test]
fn files_are_private() {
    let fx = Fixture::new();
    let kh = fx.init();
    put(&kh, "x", b"v");
    assert_eq!(mode(&fx.data()), 0o700);
    assert_eq!(mode(&fx.db()), 0o600);
    assert_eq!(mode(&fx.key_file()), 0o600);
    for suffix in ["-wal", "-shm"] {
        let p = fx.data().join(format!("keyhold.db{suffix}"));
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    // An existing, too-open data dir is tightened by init.
    let fx2 = Fixture::new();
    std::fs::create_dir(fx2.data()).expect("mkdir");
    std::fs::set_permissions(
        fx2.data(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    drop(fx2.init());
    assert_eq!(mode(&fx2.data()), 0o700);
}

#[test]
fn unsafe_or_missing_key_file_is_refused_with_the_fix() {
    let fx = Fixture::new();
    drop(fx.init());
    std::fs::set_permissions(
        fx.key_file(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    let err = fx.open().expect_err("world-readable");
    assert_eq!(err.code(), "master_key_unavailable");
    assert!(err.to_string().contains("chmod 600"), "{err}");
    std::fs::remove_file(fx.key_file()).expect("rm");
    let err = fx.open().expect_err("missing");
    assert_eq!(err.code(), "master_key_unavailable");
    assert!(err.to_string().contains("KEYHOLD_MASTER_KEY"), "{err}");
}

#[test]
fn second_init_refuses_and_changes_nothing() {
    let fx = Fixture::new();
    drop(fx.init());
    let db = file_bytes(&fx.db());
    let key = file_bytes(&fx.key_file());
    let err =
        Keyhold::init(fx.data(), KeySource::default_file(fx.data())).expect_err("second init");
    assert_eq!(err.code(), "already_initialized");
    assert_eq!(file_bytes(&fx.db()), db);
    assert_eq!(file_bytes(&fx.key_file()), key);
    // Also with a different key source.
    let err = Keyhold::init(fx.data(), text_key(&MasterKey::generate().expect("rng")))
        .expect_err("second init");
    assert_eq!(err.code(), "already_initialized");
    fx.open().expect("still opens");
}

#[test]
fn open_without_a_store_says_to_init() {
    let fx = Fixture::new();
    let err = fx.open().expect_err("nothing there");
    assert_eq!(err.code(), "not_initialized");
    assert!(err.to_string().contains("keyhold init"), "{err}");
}

#[test]
fn init_with_an_environment_key_writes_no_key_file() {
    let fx = Fixture::new();
    let key = MasterKey::generate().expect("rng");
    let (kh, report) = Keyhold::init(fx.data(), text_key(&key)).expect("init");
    assert!(!report.generated_master_key);
    assert!(!fx.key_file().exists());
    put(&kh, "x", b"v");
    drop(kh);
    assert!(Keyhold::open(fx.data(), text_key(&key)).is_ok());
    let bad = KeySource::Text(keyhold::Zeroizing::new("not-a-key".into()));
    assert_eq!(
        Keyhold::open(fx.data(), bad).expect_err("bad text").code(),
        "master_key_invalid"
    );
}

#[test]
fn damaged_database_files_give_a_clear_error() {
    // Garbage instead of a database.
    let fx = Fixture::new();
    drop(fx.init());
    std::fs::write(
        fx.db(),
        b"this is not a database, just some bytes on disk that got here somehow ............",
    )
    .expect("write");
    let err = fx.open().expect_err("garbage");
    assert_eq!(err.code(), "store_corrupt", "{err}");
    assert!(err.to_string().contains("keyhold.db"), "{err}");

    // Truncated to its first page.
    let fx = Fixture::new();
    let kh = fx.init();
    for i in 0..30 {
        put(&kh, &format!("r{i}"), &[7u8; 3000]);
    }
    drop(kh);
    let full = file_bytes(&fx.db());
    assert!(full.len() > 64 * 1024);
    std::fs::write(fx.db(), &full[..4096]).expect("truncate");
    let err = match fx.open() {
        Err(e) => e,
        Ok(kh) => kh
            .record(&keyhold::Caller::operator(), "default", "secret", "r29")
            .expect_err("truncated data cannot be read"),
    };
    assert_eq!(err.code(), "store_corrupt", "{err}");
    assert!(
        err.to_string().contains("damaged") || err.to_string().contains("not a keyhold database"),
        "{err}"
    );

    // Empty file.
    std::fs::write(fx.db(), b"").expect("empty");
    let err = fx.open().expect_err("empty file");
    assert!(
        matches!(err.code(), "store_corrupt" | "not_initialized"),
        "{err}"
    );

    // A SQLite database of some other application.
    let fx = Fixture::new();
    drop(fx.init());
    std::fs::remove_file(fx.db()).expect("rm");
    rusqlite::Connection::open(fx.db())
        .expect("other app")
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .expect("sql");
    let err = fx.open().expect_err("foreign database");
    assert_eq!(err.code(), "store_corrupt");
    assert!(err.to_string().contains("not a keyhold database"), "{err}");
}

#[test]
fn a_newer_schema_is_refused() {
    let fx = Fixture::new();
    drop(fx.init());
    fx.sql()
        .pragma_update(None, "user_version", 99)
        .expect("bump");
    let err = fx.open().expect_err("newer");
    assert_eq!(err.code(), "store_version_unsupported");
    assert!(err.to_string().contains("upgrade keyhold"), "{err}");
}

#[test]
fn workspace_rules() {
    let fx = Fixture::new();
    let kh = fx.init();
    let ws = kh
        .create_workspace(&keyhold::Caller::operator(), "team-a")
        .expect("create");
    assert!(ws.id.starts_with("ws_") && ws.id.len() == 23);
    assert_eq!(
        kh.create_workspace(&keyhold::Caller::operator(), "team-a")
            .expect_err("dup")
            .code(),
        "conflict"
    );
    assert_eq!(
        kh.create_workspace(&keyhold::Caller::operator(), "Team A")
            .expect_err("bad")
            .code(),
        "invalid_input"
    );
    let names: Vec<String> = kh
        .workspaces()
        .expect("list")
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, ["default", "team-a"]);
    assert_eq!(kh.workspace(&ws.id).expect("by id"), ws);
}

#[test]
fn key_sources_and_handles_do_not_print_keys() {
    let fx = Fixture::new();
    let key = MasterKey::generate().expect("rng");
    let text = key.to_base64url().to_string();
    let source = text_key(&key);
    let (kh, report) = Keyhold::init(fx.data(), text_key(&key)).expect("init");
    let printed = format!(
        "{source:?} {source:#?} {kh:?} {report:?} {key:?} {:?}",
        kh.status().expect("status")
    );
    assert!(!printed.contains(&text), "{printed}");
    assert!(!printed.contains(&text[..20]), "{printed}");
    assert!(
        printed.contains("KEYHOLD_MASTER_KEY"),
        "says where the key comes from: {printed}"
    );
}

#[test]
fn a_data_dir_that_cannot_be_created_is_an_io_error_naming_it() {
    let fx = Fixture::new();
    let file = fx.dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let err = Keyhold::init(
        file.join("data"),
        KeySource::default_file(file.join("data")),
    )
    .expect_err("under a file");
    assert_eq!(err.code(), "io_error");
    assert!(err.to_string().contains("a-file"), "{err}");
}

/// Regression (security review): a stale handle's failed rotation used to delete another
/// rotation's committed-but-not-yet-renamed staging file, losing the only copy of the key.
#[test]
fn a_failed_master_key_rotation_never_deletes_another_rotations_staged_key() {
    let fx = Fixture::new();
    let kh = fx.init();
    put(&kh, "x", b"keep me");
    let stale = fx.open().expect("a handle that will hold the old key");
    let old_file = file_bytes(&fx.key_file());
    let k2 = MasterKey::generate().expect("rng");
    kh.rotate_master_key(&keyhold::Caller::operator(), &k2)
        .expect("rotate");
    drop(kh);
    // Recreate the window between commit and rename.
    let staged = fx.data().join("master.key.next");
    std::fs::rename(fx.key_file(), &staged).expect("stage");
    std::fs::write(fx.key_file(), &old_file).expect("old key back");
    std::fs::set_permissions(
        fx.key_file(),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let err = stale
        .rotate_master_key(
            &keyhold::Caller::operator(),
            &MasterKey::generate().expect("rng"),
        )
        .expect_err("the stale handle holds the old key");
    assert_eq!(err.code(), "wrong_master_key");
    assert!(
        staged.exists(),
        "the committed rotation's staged key must survive"
    );
    drop(stale);
    // A handle with the current key that rotates again first finishes the pending rename.
    let current = Keyhold::open(fx.data(), text_key(&k2)).expect("current key");
    let k3 = MasterKey::generate().expect("rng");
    // (Its key source is text, so it stages nothing of its own; the file must end up with k2.)
    current
        .rotate_master_key(&keyhold::Caller::operator(), &k3)
        .expect("rotate");
    drop(current);
    assert_eq!(
        Keyhold::open(fx.data(), text_key(&k3))
            .expect("k3 opens")
            .record(&keyhold::Caller::operator(), "default", "secret", "x")
            .expect("get")
            .expose(),
        b"keep me"
    );
}
