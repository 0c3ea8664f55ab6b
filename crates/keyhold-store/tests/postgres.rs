//! The PostgreSQL backend against the test command's throwaway PostgreSQL (found through the
//! `KEYHOLD_TEST_PG_*` variables: without them the tests fail, never skip). Each test gets a
//! database of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use keyhold_store::{RecordKey, RecordRow, Store, StoreError, WorkspaceRow};

#[allow(dead_code)] // each test file uses a part of the fixture
mod common;
use common::{ca, database, database_at, store_sessions_tls};

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
    // A loopback host without an sslmode is `prefer`: the server offers TLS, and it is used.
    let tls = store_sessions_tls(&url, &password);
    assert!(!tls.is_empty() && tls.iter().all(|t| *t), "{tls:?}");
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

/// The server as `host` reaches it, through a store connected with `query` in its URL: the
/// store (or why not), with the database's URL and password.
fn store_at(host: &str, query: &str) -> (Result<Store, StoreError>, String, String) {
    let (url, password) = database_at(host, query);
    (Store::connect(&url, Some(&password)), url, password)
}

#[test]
fn verify_full_to_the_name_the_certificate_carries_connects_over_tls() {
    let query = format!("sslmode=verify-full&sslrootcert={}", ca());
    let (store, url, password) = store_at("localhost", &query);
    let store = store.expect("verify-full to localhost");
    assert_eq!(store.read(|tx| tx.meta("k")).unwrap(), None);
    let tls = store_sessions_tls(&url, &password);
    assert!(!tls.is_empty() && tls.iter().all(|t| *t), "{tls:?}");
    // The location shown in errors keeps to postgres://USER@HOST:PORT/DB.
    let shown = store.path().to_string_lossy().into_owned();
    assert!(
        shown.starts_with("postgres://") && shown.contains("@localhost:") && !shown.contains('?'),
        "{shown}"
    );
}

#[test]
fn verify_full_refuses_a_host_the_certificate_does_not_name_and_verify_ca_accepts_it() {
    let query = format!("sslmode=verify-full&sslrootcert={}", ca());
    let (store, ..) = store_at("127.0.0.1", &query);
    let text = store
        .expect_err("127.0.0.1 is not in the certificate")
        .to_string();
    assert!(
        text.contains("server's certificate")
            && text.contains("does not name the host 127.0.0.1 (it names localhost)"),
        "{text}"
    );

    let query = format!("sslmode=verify-ca&sslrootcert={}", ca());
    let (store, url, password) = store_at("127.0.0.1", &query);
    let _store = store.expect("verify-ca checks the chain, not the name");
    let tls = store_sessions_tls(&url, &password);
    assert!(!tls.is_empty() && tls.iter().all(|t| *t), "{tls:?}");
}

#[test]
fn a_certificate_authority_that_did_not_sign_the_server_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-ca.pem");
    let made = rcgen::generate_simple_self_signed(vec!["another CA".to_owned()]).unwrap();
    std::fs::write(&other, made.cert.pem()).unwrap();
    let query = format!("sslmode=verify-ca&sslrootcert={}", other.display());
    let (store, ..) = store_at("localhost", &query);
    let text = store.expect_err("an unknown issuer").to_string();
    assert!(
        text.contains("server's certificate") && text.contains("not issued by"),
        "{text}"
    );

    // Without an sslmode a loopback host is `prefer`: the certificate the server offers is
    // verified all the same, and its refusal is no fallback to plain TCP.
    let query = format!("sslrootcert={}", other.display());
    let (store, ..) = store_at("localhost", &query);
    let text = store.expect_err("prefer verifies").to_string();
    assert!(
        text.contains("server's certificate")
            && text.contains("sslmode=prefer")
            && text.contains("sslmode=disable"),
        "{text}"
    );
}

#[test]
fn an_unknown_sslmode_is_an_error_and_disable_connects_in_plain_text() {
    let (store, _, password) = store_at("localhost", "sslmode=bogus");
    let text = store.expect_err("bogus").to_string();
    assert!(
        text.contains("sslmode \"bogus\"") && !text.contains(&password),
        "{text}"
    );

    let (store, url, password) = store_at("localhost", "sslmode=disable");
    let _store = store.expect("plain TCP");
    let tls = store_sessions_tls(&url, &password);
    assert!(!tls.is_empty() && tls.iter().all(|t| !*t), "{tls:?}");
}

/// Set in the child process of the password-file test: the URL it connects to.
const CHILD_URL: &str = "KEYHOLD_TEST_CONNECT_URL";

#[test]
fn connect_url_reads_a_private_password_file_and_ignores_one_others_may_read() {
    if let Ok(url) = std::env::var(CHILD_URL) {
        // Child: the environment is the parent's making.
        match Store::connect_url(&url) {
            Ok(_) => println!("\nCHILD CONNECTED"),
            Err(e) => println!("\nCHILD REFUSED {e}"),
        }
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let (url, password) = database();
    let target = url
        .split('?')
        .next()
        .unwrap()
        .trim_start_matches("postgres://");
    let (user, rest) = target.split_once('@').unwrap();
    let (host_port, db) = rest.split_once('/').unwrap();
    let (host, port) = host_port.rsplit_once(':').unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pgpass");
    std::fs::write(
        &file,
        format!(
            "# keyhold's test\n{host}:{port}:not_{db}:{user}:wrong\n{host}:{port}:*:{user}:{password}\n"
        ),
    )
    .unwrap();
    let own = dir.path().join("store-password");
    std::fs::write(&own, format!("{password}\n")).unwrap();
    // Either libpq's password file, or keyhold's own, which comes first when named.
    let run_with = |path: &std::path::Path, mode: u32, named: bool| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        if named {
            child.env("KEYHOLD_STORE_PASSWORD_FILE", path);
        } else {
            child.env_remove("KEYHOLD_STORE_PASSWORD_FILE");
        }
        let out = child
            .args([
                "--exact",
                "connect_url_reads_a_private_password_file_and_ignores_one_others_may_read",
            ])
            .args(["--nocapture", "--test-threads", "1"])
            .env(CHILD_URL, &url)
            .env("PGPASSFILE", &file)
            .env("HOME", dir.path())
            .env_remove("PGPASSWORD")
            .env_remove("PGSSLMODE")
            .env_remove("PGSSLROOTCERT")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix("CHILD "))
            .unwrap_or_else(|| panic!("the child said nothing: {text}"))
            .to_owned()
    };
    let run = |mode: u32| run_with(&file, mode, false);
    assert_eq!(run(0o600), "CONNECTED");
    let ignored = run(0o644);
    assert!(
        ignored.starts_with("REFUSED")
            && ignored.contains("password missing")
            && ignored.contains("was ignored because its group or others may read it")
            && !ignored.contains(&password),
        "{ignored}"
    );
    // keyhold's own password file, named outright, is refused rather than passed over.
    assert_eq!(run_with(&own, 0o600, true), "CONNECTED");
    let shared = run_with(&own, 0o640, true);
    assert!(
        shared.starts_with("REFUSED")
            && shared.contains("KEYHOLD_STORE_PASSWORD_FILE")
            && shared.contains("owner only")
            && !shared.contains(&password),
        "{shared}"
    );
}

/// The advisory lock every keyhold write holds ("KHLD").
const WRITE_LOCK: i64 = 0x4B48_4C44;

#[test]
fn writes_waiting_for_the_lock_leave_reads_served_and_connections_sound_when_they_time_out() {
    let (url, password) = database();
    let store = Store::connect(&url, Some(&password)).unwrap();
    store.write(|tx| tx.set_meta("k", b"before")).unwrap();
    // Another session holds the lock every write needs: a write elsewhere that stalls.
    let mut holder = common::admin(&url, &password);
    holder
        .batch_execute(&format!("SELECT pg_advisory_lock({WRITE_LOCK})"))
        .unwrap();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let outcomes = std::thread::scope(|s| {
        // More writers than the pool has connections.
        let writers: Vec<_> = (0..keyhold_store::POSTGRES_POOL + 2)
            .map(|i| {
                let (store, done) = (&store, &done);
                s.spawn(move || {
                    let out = store.write(|tx| tx.set_meta("k", format!("w{i}").as_bytes()));
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    out
                })
            })
            .collect();
        // Once a writer waits on the lock in the database, reads are still answered, while
        // every writer is still waiting: waiting writers hold no connection reads need.
        let waiters = || {
            common::admin(&url, &password)
                .query_one(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                    &[],
                )
                .unwrap()
                .get::<_, i64>(0)
        };
        let mut tries = 0;
        while waiters() == 0 {
            // Well within the writers' 10 s budget: the check fails rather than hangs.
            tries += 1;
            assert!(tries < 200, "no writer came to wait on the lock");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for _ in 0..3 * keyhold_store::POSTGRES_POOL {
            let seen = store.read(|tx| tx.meta("k")).unwrap();
            assert_eq!(seen.as_deref(), Some(&b"before"[..]));
        }
        assert_eq!(
            done.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "reads were answered only once writers gave up"
        );
        writers
            .into_iter()
            .map(|w| w.join().unwrap())
            .collect::<Vec<_>>()
    });
    for out in &outcomes {
        assert!(matches!(out, Err(StoreError::Busy(_))), "{out:?}");
    }
    holder
        .batch_execute(&format!("SELECT pg_advisory_unlock({WRITE_LOCK})"))
        .unwrap();
    // Every connection a timed-out write used is sound again: nothing is left inside an
    // aborted transaction, and writes and reads on all of them go on.
    for i in 0..3 * keyhold_store::POSTGRES_POOL {
        let value = format!("after{i}");
        store
            .write(|tx| tx.set_meta("k", value.as_bytes()))
            .unwrap();
        assert_eq!(
            store.read(|tx| tx.meta("k")).unwrap().as_deref(),
            Some(value.as_bytes())
        );
    }
}

#[test]
fn a_url_naming_several_hosts_is_refused() {
    let (url, password) = database();
    let (head, tail) = url.split_once('@').unwrap();
    let (host_port, rest) = tail.split_once('/').unwrap();
    for several in [
        format!("{head}@{host_port},{host_port}/{rest}"),
        format!("{url}&host=127.0.0.2"),
    ] {
        let err = Store::connect(&several, Some(&password)).expect_err(&several);
        assert!(err.to_string().contains("several hosts"), "{err}");
    }
}

#[test]
fn a_schema_version_this_build_did_not_write_is_refused() {
    let (url, password) = database();
    let version = Store::connect(&url, Some(&password))
        .unwrap()
        .schema_version()
        .unwrap();
    let set = |v: u32| {
        common::admin(&url, &password)
            .batch_execute(&format!("UPDATE keyhold_schema SET version = {v}"))
            .unwrap();
    };
    set(version - 1);
    let older = Store::connect(&url, Some(&password)).expect_err("older");
    assert!(older.to_string().contains("older"), "{older}");
    set(version + 1);
    let newer = Store::connect(&url, Some(&password)).expect_err("newer");
    assert!(matches!(newer, StoreError::NewerSchema { .. }), "{newer}");
    set(version);
    Store::connect(&url, Some(&password)).unwrap();
}

#[test]
fn a_transaction_that_went_on_past_a_failed_statement_is_not_reported_committed() {
    let (url, password) = database();
    let store = Store::connect(&url, Some(&password)).unwrap();
    store
        .write(|tx| tx.insert_workspace(&workspace("ws_1")))
        .unwrap();
    for write in [true, false] {
        let body = |tx: &keyhold_store::Tx<'_>| -> Result<(), StoreError> {
            if write {
                tx.set_meta("half", b"written")?;
                // A duplicate, its error swallowed: PostgreSQL aborted the transaction.
                let _ = tx.insert_workspace(&workspace("ws_1"));
            } else {
                let _ = tx.insert_workspace(&workspace("ws_2"));
            }
            Ok(())
        };
        let out = if write {
            store.write(body)
        } else {
            store.read(body)
        };
        assert!(
            matches!(&out, Err(StoreError::Postgres { detail, .. }) if detail.contains("nothing of it was kept")),
            "write {write}: {out:?}"
        );
    }
    assert_eq!(store.read(|tx| tx.meta("half")).unwrap(), None);
    store.write(|tx| tx.set_meta("after", b"ok")).unwrap();
}
