//! The SQLite backend: one file in WAL mode, a main connection, a second one for appends that
//! wait for their fsync (the audit log's group commit), and a query-only one for the checks
//! of every verification.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::{APPLICATION_ID, BUSY_TIMEOUT, StoreError, Tx, changes, migrations};

/// A keyhold database in one SQLite file.
pub(crate) struct Sqlite {
    pub(crate) conn: Mutex<Connection>,
    /// Write transactions committed on `conn` (which its own `data_version` does not count).
    pub(crate) own_writes: std::sync::atomic::AtomicU64,
    /// The standing counter as last read, with the change mark it was read at.
    pub(crate) standing_memo: Mutex<changes::StandingMemo>,
    /// A second connection for appends that must not hold up everything else while they wait
    /// for their fsync (the audit log's group commit). Opened on first use.
    pub(crate) aside: Mutex<Option<Connection>>,
    /// A third connection, only ever reading, for the checks on every verification
    /// (`data_version`, the standing counter, a key's standing): in WAL mode it never waits
    /// for a writer, so a write transaction waiting for the lock or its fsync on `conn` cannot
    /// stall verifications. Opened on first use.
    pub(crate) reader: Mutex<Option<Connection>>,
    pub(crate) path: PathBuf,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Sqlite {
    /// Creates a new database file (mode 0600) at `path` and applies every migration.
    /// Refuses if the file exists.
    pub(crate) fn create(path: &Path) -> Result<Self, StoreError> {
        // Create the file ourselves so it is 0600 from the first byte; SQLite then gives the
        // -wal and -shm files the same mode.
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => StoreError::AlreadyExists(path.to_path_buf()),
                _ => StoreError::io(path, &e),
            })?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::io(path, &e))?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::from_sqlite(path, e))?;
        let store = Self::configure(conn, path)?;
        store.with_conn(|c| {
            c.pragma_update(None, "application_id", APPLICATION_ID)?;
            Ok(())
        })?;
        store.migrate(migrations::LATEST)?;
        Ok(store)
    }

    /// Opens an existing keyhold database, applying the pending migrations it can apply by
    /// itself; see [`Store::pending_upgrade`] for the rest.
    ///
    /// A missing file, a file that is not SQLite, a SQLite file of another application, a
    /// damaged file or a schema newer than this build each yield their own error.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        match fs::metadata(path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(StoreError::NotADatabase(path.to_path_buf())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing(path.to_path_buf()));
            }
            Err(e) => return Err(StoreError::io(path, &e)),
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::from_sqlite(path, e))?;
        // Whose file is it? Read before anything is set: WAL mode is stored in the file, so
        // configuring first would change another application's database before refusing it.
        let app_id: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(|e| StoreError::from_sqlite(path, e))?;
        if app_id != APPLICATION_ID {
            return Err(StoreError::NotADatabase(path.to_path_buf()));
        }
        let store = Self::configure(conn, path)?;
        store.migrate(migrations::AUTOMATIC)?;
        store.migrate_past_upgrade()?;
        Ok(store)
    }

    /// The steps after the one that needs [`Store::upgrade`] apply by themselves, once the
    /// schema is past it.
    fn migrate_past_upgrade(&self) -> Result<(), StoreError> {
        if self.schema_version()? >= migrations::UPGRADED {
            self.migrate(migrations::LATEST)?;
        }
        Ok(())
    }

    fn configure(conn: Connection, path: &Path) -> Result<Self, StoreError> {
        let store = Self {
            conn: Mutex::new(conn),
            own_writes: std::sync::atomic::AtomicU64::new(0),
            standing_memo: Mutex::default(),
            aside: Mutex::new(None),
            reader: Mutex::new(None),
            path: path.to_path_buf(),
        };
        store.with_conn(Self::pragmas)?;
        Ok(store)
    }

    fn pragmas(c: &Connection) -> rusqlite::Result<()> {
        {
            c.busy_timeout(BUSY_TIMEOUT)?;
            // Reading the header here is what turns a non-database file into an error.
            let mode: String =
                c.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(rusqlite::Error::InvalidQuery);
            }
            c.pragma_update(None, "synchronous", "FULL")?;
            c.pragma_update(None, "secure_delete", "ON")?;
            c.pragma_update(None, "foreign_keys", "ON")?;
            c.pragma_update(None, "trusted_schema", "OFF")?;
            Ok(())
        }
    }

    /// Like [`Store::write`], on the second connection. Reads and writes on the main
    /// connection go on while this transaction waits for its fsync; SQLite still serialises
    /// the writers themselves (the busy timeout applies).
    pub(crate) fn write_aside<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut guard = self
            .aside
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(self.open_secondary(false)?);
        }
        let conn = guard
            .as_mut()
            .ok_or_else(|| StoreError::Busy(self.path.clone()))?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::from_sqlite(&self.path, e))?;
        let out = f(&Tx::new(&tx, &self.path))?;
        tx.commit()
            .map_err(|e| StoreError::from_sqlite(&self.path, e))?;
        Ok(out)
    }

    /// Another connection to the open database, with the same pragmas (`query_only` for the
    /// reader).
    fn open_secondary(&self, query_only: bool) -> Result<Connection, StoreError> {
        let sqlite = |e| StoreError::from_sqlite(&self.path, e);
        let c = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite)?;
        Self::pragmas(&c).map_err(sqlite)?;
        if query_only {
            c.pragma_update(None, "query_only", "ON").map_err(sqlite)?;
        }
        Ok(c)
    }

    /// The database file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open (rusqlite rolls back
        // on drop), so a poisoned lock still guards a consistent connection.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the read-only connection (see `reader`), opening it on first use.
    pub(crate) fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut guard = self
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(self.open_secondary(true)?);
        }
        let conn = guard
            .as_ref()
            .ok_or_else(|| StoreError::Busy(self.path.clone()))?;
        f(conn).map_err(|e| StoreError::from_sqlite(&self.path, e))
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = self.lock();
        f(&conn).map_err(|e| StoreError::from_sqlite(&self.path, e))
    }

    /// Runs `f` in a read transaction (a consistent snapshot).
    pub(crate) fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.transaction(TransactionBehavior::Deferred, f)
    }

    /// Runs `f` in a write transaction (`BEGIN IMMEDIATE`): it commits if `f` returns `Ok`
    /// and rolls back, leaving nothing behind, if `f` returns `Err` or panics.
    pub(crate) fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.transaction(TransactionBehavior::Immediate, f)
    }

    fn transaction<T, E: From<StoreError>>(
        &self,
        behavior: TransactionBehavior,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let writes = matches!(behavior, TransactionBehavior::Immediate);
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(behavior)
            .map_err(|e| StoreError::from_sqlite(&self.path, e))?;
        let wrapped = Tx::new(&tx, &self.path);
        let out = f(&wrapped)?;
        tx.commit()
            .map_err(|e| StoreError::from_sqlite(&self.path, e))?;
        if writes {
            self.count_own_write();
        }
        Ok(out)
    }

    /// The schema version (`PRAGMA user_version`).
    pub(crate) fn schema_version(&self) -> Result<u32, StoreError> {
        self.with_conn(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
    }

    /// Runs SQLite's `quick_check` (O(size of the database)): `Ok` or `Corrupt`.
    pub(crate) fn quick_check(&self) -> Result<(), StoreError> {
        let result: String =
            self.with_conn(|c| c.pragma_query_value(None, "quick_check", |r| r.get(0)))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: "integrity check failed".into(),
            })
        }
    }

    /// The schema version an upgrade would start from, if the schema is older than this
    /// build's and the next step needs the caller's work in its transaction (see
    /// [`Store::upgrade`]).
    pub(crate) fn pending_upgrade(&self) -> Result<Option<u32>, StoreError> {
        let v = self.schema_version()?;
        Ok((v < migrations::UPGRADED).then_some(v))
    }

    /// Applies the migration from version `from` and runs `f` in the same write transaction:
    /// both commit, or neither; the later steps then apply by themselves. `Ok(false)` if the schema is not at `from` any more (another
    /// process upgraded it meanwhile).
    pub(crate) fn upgrade<E: From<StoreError>>(
        &self,
        from: u32,
        f: impl FnOnce(&Tx<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        let mut conn = self.lock();
        let done = migrations::upgrade(&mut conn, &self.path, from, f)?;
        drop(conn);
        if done {
            self.count_own_write();
        }
        self.migrate_past_upgrade()?;
        Ok(done)
    }

    fn migrate(&self, up_to: u32) -> Result<(), StoreError> {
        let mut conn = self.lock();
        migrations::apply(&mut conn, up_to).map_err(|e| match e {
            migrations::MigrateError::Newer(found) => StoreError::NewerSchema {
                path: self.path.clone(),
                found,
                supported: migrations::LATEST,
            },
            migrations::MigrateError::Sqlite(e) => StoreError::from_sqlite(&self.path, e),
        })
    }
}
