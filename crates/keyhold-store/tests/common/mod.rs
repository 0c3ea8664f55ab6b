//! The store's contract fixture: every test written with [`contract!`] runs twice, once on a
//! SQLite file in a temporary directory and once on a fresh database of the test command's
//! throwaway PostgreSQL (found through the `KEYHOLD_TEST_PG_*` variables: without them the
//! PostgreSQL half fails, never skips).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use keyhold_store::Store;
use tempfile::TempDir;

/// For each `name` listed, a `fn name(fx: &Fixture)` of the test file runs as two tests,
/// `name::sqlite` and `name::postgres`. A contract test left out of the list is dead code,
/// which the build refuses.
#[macro_export]
macro_rules! contract {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(&$crate::common::Fixture::sqlite())
            }

            #[test]
            fn postgres() {
                super::$name(&$crate::common::Fixture::postgres())
            }
        }
    )*};
}

/// Where a test's store lives, and how to look at it from beside the store.
pub enum Fixture {
    Sqlite { dir: TempDir },
    Postgres { url: String, password: String },
}

impl Fixture {
    pub fn sqlite() -> Self {
        Self::Sqlite {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn postgres() -> Self {
        let (url, password) = database();
        Self::Postgres { url, password }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres { .. })
    }

    /// The SQLite file's path (a SQLite fixture only).
    pub fn db_path(&self) -> PathBuf {
        match self {
            Self::Sqlite { dir } => dir.path().join("keyhold.db"),
            Self::Postgres { .. } => panic!("a PostgreSQL fixture has no file"),
        }
    }

    /// The store, created: the first handle of a test.
    pub fn store(&self) -> Store {
        match self {
            Self::Sqlite { .. } => Store::create(&self.db_path()).expect("create"),
            Self::Postgres { url, password } => {
                Store::connect(url, Some(password)).expect("connect")
            }
        }
    }

    /// Another handle on the same store, as another process would open it.
    pub fn open(&self) -> Store {
        match self {
            Self::Sqlite { .. } => Store::open(&self.db_path()).expect("open"),
            Self::Postgres { url, password } => {
                Store::connect(url, Some(password)).expect("connect")
            }
        }
    }

    /// One `BIGINT` (SQLite `INTEGER`) the query `sql` reads, from beside the store.
    pub fn scalar(&self, sql: &str) -> i64 {
        match self {
            Self::Sqlite { .. } => rusqlite::Connection::open(self.db_path())
                .expect("sqlite")
                .query_row(sql, [], |r| r.get(0))
                .expect(sql),
            Self::Postgres { url, password } => {
                let mut c = admin(url, password);
                c.query_one(sql, &[]).expect(sql).get(0)
            }
        }
    }

    /// Runs `sql` from beside the store: what another program, or damage, would do.
    pub fn execute(&self, sql: &str) {
        match self {
            Self::Sqlite { .. } => {
                rusqlite::Connection::open(self.db_path())
                    .expect("sqlite")
                    .execute_batch(sql)
                    .expect(sql);
            }
            Self::Postgres { url, password } => {
                admin(url, password).batch_execute(sql).expect(sql);
            }
        }
    }

    /// The standing counter's value, read beside the store (its own API only compares
    /// standings), after checking that the store's answer did not move meanwhile.
    pub fn standing(&self, store: &Store) -> i64 {
        let before = store.standing_now().expect("standing");
        let value = self.scalar("SELECT version FROM standing");
        assert_eq!(store.standing_now().expect("standing"), before);
        value
    }
}

fn var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: run the tests with scripts/test, or start a server with \
             `scripts/pg-cluster start DIR` and `set -a; . DIR/env; set +a` first"
        ),
    }
}

/// The test server's superuser (host, port, user, password).
fn server() -> (String, u16, String, String) {
    let password = std::fs::read_to_string(var("KEYHOLD_TEST_PG_PASSWORD_FILE"))
        .expect("password file")
        .trim()
        .to_owned();
    let port = var("KEYHOLD_TEST_PG_PORT").parse().expect("a port");
    (
        var("KEYHOLD_TEST_PG_HOST"),
        port,
        var("KEYHOLD_TEST_PG_USER"),
        password,
    )
}

/// The test server's CA certificate (PEM), which signed its certificate for `localhost`.
pub fn ca() -> String {
    var("KEYHOLD_TEST_PG_CA")
}

/// The database `url` names (its path, without the query).
fn dbname(url: &str) -> &str {
    let path = url.split('?').next().expect("a URL");
    path.rsplit('/').next().expect("a database")
}

/// A connection of the superuser to database `url` names, in plain TCP.
pub fn admin(url: &str, password: &str) -> postgres::Client {
    let (host, port, user, _) = server();
    let db = dbname(url);
    let mut config = postgres::Config::new();
    config
        .host(&host)
        .port(port)
        .user(&user)
        .password(password)
        .dbname(db);
    config
        .connect(postgres::NoTls)
        .expect("the superuser logs in")
}

/// A fresh, empty database on the test server: its URL (no password; `sslrootcert` the
/// server's CA, so that the default `prefer` verifies the certificate the server offers) and
/// the password.
pub fn database() -> (String, String) {
    let (host, ..) = server();
    database_at(&host, &format!("sslrootcert={}", ca()))
}

/// A fresh, empty database on the test server reached at `host` (the server's own host or
/// another name for it), with `query` in its URL: the URL and the password.
pub fn database_at(host: &str, query: &str) -> (String, String) {
    let (server_host, port, user, password) = server();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "kh_store_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos()
    );
    admin(
        &format!("postgres://{user}@{server_host}:{port}/postgres"),
        &password,
    )
    .batch_execute(&format!("CREATE DATABASE {name}"))
    .expect("create database");
    let url = format!("postgres://{user}@{host}:{port}/{name}");
    let url = if query.is_empty() {
        url
    } else {
        format!("{url}?{query}")
    };
    (url, password)
}

/// Whether each of the store's connections (`application_name` keyhold) to the database `url`
/// names runs over TLS, as the server sees them.
pub fn store_sessions_tls(url: &str, password: &str) -> Vec<bool> {
    admin(url, password)
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
             WHERE a.application_name = 'keyhold' AND a.datname = current_database()",
            &[],
        )
        .expect("pg_stat_ssl")
        .iter()
        .map(|r| r.get(0))
        .collect()
}
