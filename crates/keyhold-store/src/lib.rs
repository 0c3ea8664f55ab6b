//! keyhold's storage layer: one SQLite file in WAL mode (the embedded default) or a
//! PostgreSQL database several processes share, versioned schemas, and a narrow, typed
//! interface whose statements are written once for both. Every public operation runs inside one transaction; SQL appears nowhere
//! else in keyhold, and neither does any SQLite mechanism: whether anything changed since a
//! moment is told by opaque marks ([`Store::changes`], [`Store::standing_now`]).
//!
//! The store holds only public metadata and ciphertext (envelopes); it never sees a key or a
//! plaintext secret, and it depends on no other keyhold crate.
#![forbid(unsafe_code)]

mod audit;
mod changes;
mod coalesce;
mod confirmations;
mod connection_rows;
mod copy;
mod datadir;
mod error;
mod key_rows;
mod lease;
mod migrations;
mod people;
mod pg;
mod pg_schema;
mod pg_tls;
mod pgpass;
mod postgres;
mod sessions;
mod sql;
mod sqlite;
mod turn;
mod tx;

use std::path::Path;
use std::time::Duration;

use postgres::Postgres;
use sqlite::Sqlite;

pub use audit::{AUDIT_STREAM_PAGE, AuditFilter, AuditRow, AuditRowView};
pub use changes::{ChangeMark, Standing};
pub use confirmations::{ConfirmationRow, Taken};
pub use connection_rows::ConnectionRow;
pub use copy::Copied;
pub use datadir::{DATABASE_FILE, DataDir, DataDirError};
pub use error::StoreError;
pub use key_rows::{ApiKeyRow, KeyStanding, SigningKeyRow, SigningKeyState};
pub use people::{EnrolmentRow, MemberRow, PersonRow, PolicyRow, SessionRow};
pub use tx::{KekRow, KekState, RecordKey, RecordRow, Tx, WorkspaceRow};

/// `PRAGMA application_id` of a keyhold database ("KHLD").
pub const APPLICATION_ID: i32 = 0x4B48_4C44;
/// How long a writer waits for another process's write transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An open keyhold store: one SQLite file (the embedded default), or a PostgreSQL database
/// that several keyhold processes share.
pub struct Store {
    backend: Backend,
}

enum Backend {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("at", &self.path())
            .finish_non_exhaustive()
    }
}

/// How many connections a process keeps to a PostgreSQL store at most.
pub const POSTGRES_POOL: usize = 8;

impl Store {
    /// Creates a new database file (mode 0600) at `path` and applies every migration.
    /// Refuses if the file exists.
    pub fn create(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            backend: Backend::Sqlite(Sqlite::create(path)?),
        })
    }

    /// Opens an existing keyhold database file, applying the pending migrations it can apply
    /// by itself; see [`Store::pending_upgrade`] for the rest.
    ///
    /// A missing file, a file that is not SQLite, a SQLite file of another application, a
    /// damaged file or a schema newer than this build each yield their own error.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            backend: Backend::Sqlite(Sqlite::open(path)?),
        })
    }

    /// Connects to the PostgreSQL database `url` names (`postgres://USER@HOST:PORT/DB`, no
    /// password in it), with `password` if one is given, creating keyhold's schema there if
    /// the database has none (once, however many processes start together).
    ///
    /// TLS is as libpq's `sslmode` and `sslrootcert` say, in the URL's query
    /// (`?sslmode=verify-full&sslrootcert=/etc/keyhold/pg-ca.pem`) or in `PGSSLMODE` and
    /// `PGSSLROOTCERT`; without them, `verify-full` against the system's root certificates,
    /// or `prefer` on a loopback host. The certificate chain is always verified.
    pub fn connect(url: &str, password: Option<&str>) -> Result<Self, StoreError> {
        let given = pgpass::Credential::given(password);
        Self::postgres(url, |_| Ok(given), true)
    }

    /// Connects to the PostgreSQL database `url` names, as [`Store::connect`] does, with the
    /// password from the first of: `KEYHOLD_STORE_PASSWORD_FILE` (a file holding only the
    /// password, refused if its group or others may read it), `PGPASSWORD`, then libpq's
    /// password file (`PGPASSFILE`, else `~/.pgpass`; ignored, as libpq ignores it, if its
    /// group or others may read it).
    pub fn connect_url(url: &str) -> Result<Self, StoreError> {
        Self::connect_env(url, true)
    }

    /// Connects to the PostgreSQL database `url` names, as [`Store::connect_url`] does, if it
    /// holds a keyhold store: `Missing` if it holds none, and nothing is created there.
    pub fn open_url(url: &str) -> Result<Self, StoreError> {
        Self::connect_env(url, false)
    }

    fn connect_env(url: &str, create: bool) -> Result<Self, StoreError> {
        let given = match std::env::var_os("KEYHOLD_STORE_PASSWORD_FILE") {
            Some(file) => Some(pgpass::password_file(Path::new(&file))?),
            None => std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()),
        };
        if let Some(password) = given {
            let given = pgpass::Credential::given(Some(&password));
            return Self::postgres(url, |_| Ok(given), create);
        }
        let env = |name: &str| std::env::var(name).ok();
        let from_file = |target: &_| pgpass::Credential::from_file(env, target);
        Self::postgres(url, from_file, create)
    }

    fn postgres(
        url: &str,
        password: impl FnOnce(&pgpass::Target) -> Result<pgpass::Credential, StoreError>,
        create: bool,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            backend: Backend::Postgres(Postgres::connect(url, password, POSTGRES_POOL, create)?),
        })
    }

    /// Where the store is: the database file, or `postgres://USER@HOST:PORT/DB`.
    pub fn path(&self) -> &Path {
        match &self.backend {
            Backend::Sqlite(s) => s.path(),
            Backend::Postgres(p) => p.location(),
        }
    }

    /// Runs `f` in a read transaction (a consistent snapshot).
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.backend {
            Backend::Sqlite(s) => s.read(f),
            Backend::Postgres(p) => p.transaction(false, f),
        }
    }

    /// Runs `f` in a write transaction (one writer at a time, in every process): it commits
    /// if `f` returns `Ok` and rolls back, leaving nothing behind, if `f` returns `Err` or
    /// panics.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.backend {
            Backend::Sqlite(s) => s.write(f),
            Backend::Postgres(p) => p.transaction(true, f),
        }
    }

    /// Like [`Store::write`], on a connection of its own: reads and writes on the main one go
    /// on while this transaction waits for its commit to be durable (the audit log's group
    /// commit).
    pub fn write_aside<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.backend {
            Backend::Sqlite(s) => s.write_aside(f),
            Backend::Postgres(p) => p.transaction(true, f),
        }
    }

    /// The schema version.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.schema_version(),
            Backend::Postgres(p) => p.schema_version(),
        }
    }

    /// SQLite's `quick_check` (O(size of the database)): `Ok` or `Corrupt`. PostgreSQL keeps
    /// its own pages' checksums: nothing to do here.
    pub fn quick_check(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.quick_check(),
            Backend::Postgres(_) => Ok(()),
        }
    }

    /// The schema version an upgrade would start from, if the schema is older than this
    /// build's and the next step needs the caller's work in its transaction (see
    /// [`Store::upgrade`]). A PostgreSQL store starts at the latest version.
    pub fn pending_upgrade(&self) -> Result<Option<u32>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.pending_upgrade(),
            Backend::Postgres(_) => Ok(None),
        }
    }

    /// Applies the migration from version `from` and runs `f` in the same write transaction:
    /// both commit, or neither; the later steps then apply by themselves. `Ok(false)` if the
    /// schema is not at `from` any more (another process upgraded it meanwhile).
    pub fn upgrade<E: From<StoreError>>(
        &self,
        from: u32,
        f: impl FnOnce(&Tx<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        match &self.backend {
            Backend::Sqlite(s) => s.upgrade(from, f),
            Backend::Postgres(_) => Ok(false),
        }
    }

    /// The change mark now: two marks are equal only if nothing was committed between their
    /// readings, by any process.
    pub fn changes(&self) -> Result<ChangeMark, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.changes(),
            Backend::Postgres(p) => p.changes(),
        }
    }

    /// The standing counter now.
    pub fn standing_now(&self) -> Result<Standing, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.standing_now(),
            Backend::Postgres(p) => p.standing_now(),
        }
    }

    /// The facts verification needs about key `jti` — and the standing they were read at —
    /// in one statement, handed to `f`: the hot path of every token verification.
    pub fn key_standing<T>(
        &self,
        jti: &str,
        f: impl FnOnce(Standing, Option<KeyStanding<'_>>) -> T,
    ) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.key_standing(jti, f),
            Backend::Postgres(p) => p.key_standing(jti, f),
        }
    }

    /// The SQLite backend, for the tests of its own mechanisms.
    #[cfg(test)]
    pub(crate) fn sqlite(&self) -> Option<&Sqlite> {
        match &self.backend {
            Backend::Sqlite(s) => Some(s),
            Backend::Postgres(_) => None,
        }
    }
}
