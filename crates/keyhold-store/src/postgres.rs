//! The PostgreSQL backend: a store shared by several keyhold processes on several machines.
//! The database must exist; keyhold creates its schema there under a migration lock, so
//! nodes starting together create it once. Write transactions are serialised across every
//! node by one transaction-scoped advisory lock — the same one-writer-at-a-time rule SQLite's
//! write lock gives, so every read-check-write of the facade means on PostgreSQL what it
//! means on SQLite — and each one moves the `writes` counter, every node's change mark.
//! Reads run in repeatable-read snapshots and never wait for a writer. Connections use TLS as
//! libpq's `sslmode` and `sslrootcert` say (`pg_tls.rs`), always verifying the server's
//! certificate chain.

use std::path::{Path, PathBuf};

use crate::changes::{ChangeMark, Standing};
use crate::key_rows::{KEY_STANDING, KeyStanding};
use crate::pg::{Failure, PgPool};
use crate::pg_tls::{self, SslMode, Tls};
use crate::pgpass::{Credential, Target};
use crate::sql::{Row, values};
use crate::{StoreError, Tx, migrations, pg_schema};

/// The advisory lock every write transaction holds ("KHLD").
const WRITE_LOCK: i64 = 0x4B48_4C44;
/// How long opening a connection may take, unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Idle time before a connection's first TCP keepalive probe, unless the URL says.
const KEEPALIVE_IDLE: std::time::Duration = std::time::Duration::from_secs(30);
/// How long sent data may go unacknowledged before the connection is given up, unless the
/// URL says (`tcp_user_timeout`).
const UNACKNOWLEDGED: std::time::Duration = std::time::Duration::from_secs(30);
/// The advisory lock around creating or migrating the schema.
const MIGRATION_LOCK: i64 = WRITE_LOCK + 1;

/// A keyhold store in a PostgreSQL database.
pub(crate) struct Postgres {
    pool: PgPool,
    /// `postgres://USER@HOST:PORT/DB`: names the database in errors, never with a password.
    location: PathBuf,
    /// The connections' TLS, named when the server's certificate is refused.
    tls: Tls,
    /// The standing counter's readings, shared by concurrent requests.
    standing: crate::coalesce::Coalesced,
    /// This process's writers, one at a time, before they take a connection.
    writer: crate::turn::Turn,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("location", &self.location)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// The host, port, database and user `config` names, as libpq's password file names them:
/// a Unix socket by its directory, the port 5432 and the database named after the user when
/// none is given.
fn target(config: &tokio_postgres::Config) -> Target {
    use tokio_postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or_default();
    let database = config.get_dbname().unwrap_or(user);
    Target {
        host,
        port: port.to_string(),
        database: database.to_owned(),
        user: user.to_owned(),
    }
}

/// `postgres://USER@HOST:PORT/DB` of `config`: what errors and logs may say of it.
fn describe(config: &tokio_postgres::Config) -> String {
    let Target {
        host,
        port,
        database,
        user,
    } = target(config);
    format!("postgres://{user}@{host}:{port}/{database}")
}

impl Postgres {
    /// Connects to the database `url` names (`postgres://USER@HOST:PORT/DB`, with `sslmode`
    /// and `sslrootcert` in its query if wanted, see [`crate::pg_tls`]), with the password
    /// `password` finds for it, and creates keyhold's schema there if it has none. A URL that
    /// carries a password is refused: passwords travel in files or the environment, never in
    /// a command line.
    pub(crate) fn connect(
        url: &str,
        password: impl FnOnce(&Target) -> Result<Credential, StoreError>,
        pool_size: usize,
        create: bool,
    ) -> Result<Self, StoreError> {
        let refused = |detail: &str| StoreError::Postgres {
            location: "the PostgreSQL URL".to_owned(),
            detail: detail.to_owned(),
        };
        let (url, params) = pg_tls::take_params(url);
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|_| refused("not a PostgreSQL URL (postgres://USER@HOST:PORT/DB)"))?;
        if config.get_password().is_some() {
            return Err(refused(
                "the URL carries a password: give it in PGPASSWORD, a PGPASSFILE or \
                 KEYHOLD_STORE_PASSWORD_FILE instead",
            ));
        }
        // The password is looked up for one host, and TLS names one server: a URL naming
        // several (libpq's `h1,h2` failover lists) could send one host's password to another.
        if config.get_hosts().len() > 1 || config.get_ports().len() > 1 {
            return Err(refused(
                "the URL names several hosts or ports: name one, the address that follows the \
                 primary (a DNS name, a virtual IP, a proxy or the managed service's endpoint)",
            ));
        }
        let tls = Tls::settle(params, |name| std::env::var(name).ok(), &config)?;
        let connector = tls.apply(&mut config)?;
        let credential = password(&target(&config))?;
        if let Some(p) = &credential.password {
            config.password(p);
        }
        config.application_name("keyhold");
        // A database that does not answer (a failover under way, a dead host) is an error
        // in seconds, not after the operating system's minutes.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A connection the network silently dropped (a failover, a black hole) fails within
        // about a minute rather than the operating system's two hours: it may be the one a
        // node's writers wait behind. The URL's own settings win.
        if !url.contains("keepalives_idle=") {
            config.keepalives_idle(KEEPALIVE_IDLE);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(UNACKNOWLEDGED);
        }
        let location = PathBuf::from(describe(&config));
        let pool =
            PgPool::new(config, connector, pool_size).map_err(|e| StoreError::io(&location, &e))?;
        let store = Self {
            pool,
            location,
            tls,
            standing: crate::coalesce::Coalesced::default(),
            writer: crate::turn::Turn::default(),
        };
        store.migrate(create).map_err(|e| credential.explain(e))?;
        Ok(store)
    }

    /// Where the store is, for errors: `postgres://USER@HOST:PORT/DB`.
    pub(crate) fn location(&self) -> &Path {
        &self.location
    }

    fn failure(&self, f: Failure) -> StoreError {
        match f {
            Failure::Db(e) => self.pg(&e),
            Failure::Gone => StoreError::Postgres {
                location: self.location.display().to_string(),
                detail: "the connection task ended".to_owned(),
            },
            Failure::Busy => StoreError::Busy(self.location.clone()),
        }
    }

    /// A connection of the pool, waited for at most `wait`.
    fn connection(&self, wait: std::time::Duration) -> Result<crate::pg::Taken<'_>, StoreError> {
        self.pool.take(wait).map_err(|f| self.failure(f))
    }

    fn pg(&self, e: &tokio_postgres::Error) -> StoreError {
        let location = self.location.to_string_lossy();
        let Some(why) = pg_tls::refused_certificate(e) else {
            return StoreError::from_pg(&location, e);
        };
        let hint = if self.tls.mode == SslMode::Prefer {
            "; sslmode=prefer verifies a certificate the server offers: name the authority \
             that signed it in sslrootcert, or choose sslmode=disable for plain TCP"
        } else {
            ""
        };
        StoreError::Postgres {
            location: location.into_owned(),
            detail: format!(
                "the server's certificate was refused ({}): {why}{hint}",
                self.tls
            ),
        }
    }

    /// Creates the schema if the database has none and `create` says to (else the database
    /// holds no store: `Missing`, and nothing is written), under the migration lock; refuses
    /// a schema of another version than this build's.
    fn migrate(&self, create: bool) -> Result<(), StoreError> {
        let conn = self.connection(crate::BUSY_TIMEOUT)?;
        let run = |sql: &str| conn.batch(sql).map_err(|e| self.pg(&e));
        run(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
        let created = (|| {
            let found = conn
                .rows("SELECT to_regclass('keyhold_schema') IS NOT NULL", &[])
                .map_err(|e| self.pg(&e))?;
            let exists = found.first().and_then(|r| r.get::<bool>(0).ok());
            if exists != Some(true) {
                if !create {
                    return Err(StoreError::Missing(self.location.clone()));
                }
                run(&format!(
                    "BEGIN; {} INSERT INTO keyhold_schema (id, version) VALUES (0, {}); COMMIT;",
                    pg_schema::SCHEMA,
                    migrations::LATEST
                ))?;
            }
            let found = self.version_on(&conn)?;
            if found > migrations::LATEST {
                return Err(StoreError::NewerSchema {
                    path: self.location.clone(),
                    found,
                    supported: migrations::LATEST,
                });
            }
            // Every PostgreSQL store starts at the schema of the first build that has the
            // backend: an older version there is not one this build can upgrade.
            if found < migrations::LATEST {
                return Err(StoreError::Postgres {
                    location: self.location.display().to_string(),
                    detail: format!(
                        "schema version {found} is older than this build's ({}), and this \
                         build cannot upgrade a PostgreSQL store from it",
                        migrations::LATEST
                    ),
                });
            }
            Ok(())
        })();
        let unlocked = run(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
        created.and(unlocked)
    }

    fn version_on(&self, conn: &crate::pg::PgConn) -> Result<u32, StoreError> {
        let rows = conn
            .rows("SELECT version FROM keyhold_schema WHERE id = 0", &[])
            .map_err(|e| self.pg(&e))?;
        let version = rows.first().and_then(|r| r.get::<u32>(0).ok());
        version.ok_or_else(|| StoreError::BadValue {
            path: self.location.clone(),
            column: "keyhold_schema.version",
        })
    }

    /// The schema version.
    pub(crate) fn schema_version(&self) -> Result<u32, StoreError> {
        let conn = self.connection(crate::BUSY_TIMEOUT)?;
        self.version_on(&conn)
    }

    /// Runs `f` in a transaction: a write holds the write lock from its first statement to
    /// its commit and moves the change mark; a read sees one snapshot. It commits if `f`
    /// returns `Ok` and rolls back, leaving nothing behind, if `f` returns `Err` or panics.
    pub(crate) fn transaction<T, E: From<StoreError>>(
        &self,
        write: bool,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        /// Unless the transaction committed (an error, or a panic in `f`), has the pool roll
        /// it back when the connection is given back, as after any failed statement.
        struct Open<'c>(&'c crate::pg::PgConn, bool);
        impl Drop for Open<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    self.0.reset_on_return();
                }
            }
        }
        // A write waits, all told, as long as a write waits on SQLite: first for this
        // process's turn (holding no connection), then for a connection, then for the lock
        // every node's writers share.
        let deadline = std::time::Instant::now() + crate::BUSY_TIMEOUT;
        let left = || deadline.saturating_duration_since(std::time::Instant::now());
        let busy = || StoreError::Busy(self.location.clone());
        let _turn = if write {
            Some(self.writer.take(deadline).ok_or_else(busy)?)
        } else {
            None
        };
        let conn = self.connection(left())?;
        let begin = if write {
            // lock_timeout 0 would mean no limit at all.
            let ms = left().as_millis().max(1);
            format!(
                "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = '{ms}ms'; \
                 SELECT pg_advisory_xact_lock({WRITE_LOCK})"
            )
        } else {
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY".to_owned()
        };
        // In place before BEGIN: a BEGIN that fails part-way (the lock not had in time)
        // leaves an aborted transaction, rolled back before the connection serves again.
        let mut open = Open(&conn, false);
        conn.batch(&begin).map_err(|e| self.pg(&e))?;
        let tx = Tx::postgres(&conn, &self.location);
        let out = f(&tx)?;
        // PostgreSQL answers COMMIT in a failed transaction by rolling it back, without an
        // error: a closure that went on past a failed statement must not look committed.
        if conn.failed() {
            return Err(StoreError::Postgres {
                location: self.location.display().to_string(),
                detail: "a statement of the transaction failed; nothing of it was kept".to_owned(),
            }
            .into());
        }
        if write {
            tx.exec("UPDATE writes SET version = version + 1 WHERE id = 0", &[])?;
        }
        conn.batch("COMMIT").map_err(|e| self.pg(&e))?;
        open.1 = true;
        Ok(out)
    }

    /// One statement outside any transaction, its first row read by `f`.
    fn first<T>(
        &self,
        sql: &str,
        params: &[crate::sql::Value],
        f: impl FnOnce(Option<&Row>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.connection(crate::BUSY_TIMEOUT)?;
        let rows = conn.rows(sql, params).map_err(|e| self.pg(&e))?;
        f(rows.first())
    }

    /// The change mark now: the `writes` counter, which every committed write moves.
    pub(crate) fn changes(&self) -> Result<ChangeMark, StoreError> {
        let version = self.counter("SELECT version FROM writes WHERE id = 0", "writes.version")?;
        Ok(ChangeMark {
            data_version: version,
            own_writes: 0,
        })
    }

    /// The standing counter now.
    /// Concurrent callers share one reading (never one that began before they called): see
    /// [`crate::coalesce`].
    pub(crate) fn standing_now(&self) -> Result<Standing, StoreError> {
        let version = self.standing.read(
            || {
                self.counter(
                    "SELECT version FROM standing WHERE id = 0",
                    "standing.version",
                )
            },
            |detail| StoreError::Postgres {
                location: self.location.display().to_string(),
                detail,
            },
        )?;
        Ok(Standing(version))
    }

    fn counter(&self, sql: &str, column: &'static str) -> Result<i64, StoreError> {
        let bad = || StoreError::BadValue {
            path: self.location.clone(),
            column,
        };
        self.first(sql, &[], |r| {
            r.and_then(|r| r.get::<i64>(0).ok()).ok_or_else(bad)
        })
    }

    /// The facts verification needs about key `jti`, and the standing they were read at, in
    /// one statement, the same as on SQLite.
    pub(crate) fn key_standing<T>(
        &self,
        jti: &str,
        f: impl FnOnce(Standing, Option<KeyStanding<'_>>) -> T,
    ) -> Result<T, StoreError> {
        let bad = |m: crate::sql::Mismatch| StoreError::BadValue {
            path: self.location.clone(),
            column: m.0,
        };
        self.first(KEY_STANDING, values![jti], |row| {
            let row = row.ok_or(bad(crate::sql::Mismatch("standing.version")))?;
            let standing = Standing(row.get(0).map_err(bad)?);
            Ok(f(
                standing,
                crate::key_rows::standing_of(row, 1).map_err(bad)?,
            ))
        })
    }
}
