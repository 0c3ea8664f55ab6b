use std::path::{Path, PathBuf};

/// Storage failures. Messages name the database file and what is wrong with it; they never
/// carry stored values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No database at the path.
    #[error("no keyhold database at {0}")]
    Missing(PathBuf),
    /// A database already exists where a new one was to be created.
    #[error("a keyhold database already exists at {0}")]
    AlreadyExists(PathBuf),
    /// The file is not a keyhold database (not SQLite, or another application's).
    #[error("{0} is not a keyhold database")]
    NotADatabase(PathBuf),
    /// SQLite reports the file damaged (truncated, overwritten, ...).
    #[error("keyhold database {path} is damaged: {detail}; restore it from a backup")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// SQLite's description of the damage.
        detail: String,
    },
    /// The schema is newer than this build understands.
    #[error(
        "keyhold database {path} has schema version {found}, newer than this build supports ({supported}); upgrade keyhold"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Version found in the file.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// Another process held the write lock for longer than the busy timeout.
    #[error("keyhold database {0} is busy (another process is writing); try again")]
    Busy(PathBuf),
    /// A uniqueness or foreign-key rule of the schema refused the change.
    #[error("the change conflicts with existing data ({0})")]
    Constraint(String),
    /// Any other SQLite failure.
    #[error("keyhold database {path}: {detail}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error text (never includes bound values).
        detail: String,
    },
    /// A PostgreSQL failure (the location names the server and database, never a password).
    #[error("keyhold database {location}: {detail}")]
    Postgres {
        /// `postgres://USER@HOST:PORT/DB`.
        location: String,
        /// The server's or the driver's description (never includes bound values).
        detail: String,
    },
    /// A filesystem failure around the database file.
    #[error("keyhold database {path}: {kind}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        kind: std::io::ErrorKind,
    },
    /// A stored value has a shape the schema does not allow (e.g. an unknown state string).
    #[error("keyhold database {path}: unexpected stored value in {column}")]
    BadValue {
        /// The database file.
        path: PathBuf,
        /// Which column.
        column: &'static str,
    },
}

impl StoreError {
    /// A PostgreSQL error at `location`, as the store reports it: a uniqueness, foreign-key or
    /// check violation is a `Constraint`, a lock or serialization conflict is `Busy`.
    pub(crate) fn from_pg(location: &str, e: &tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        let detail = e.as_db_error().map_or_else(|| causes(e), constraint_detail);
        match e.code() {
            Some(c)
                if *c == SqlState::UNIQUE_VIOLATION
                    || *c == SqlState::FOREIGN_KEY_VIOLATION
                    || *c == SqlState::CHECK_VIOLATION
                    || *c == SqlState::NOT_NULL_VIOLATION =>
            {
                Self::Constraint(detail)
            }
            Some(c)
                if *c == SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::LOCK_NOT_AVAILABLE =>
            {
                Self::Busy(std::path::PathBuf::from(location))
            }
            _ => Self::Postgres {
                location: location.to_owned(),
                detail,
            },
        }
    }

    pub(crate) fn io(path: &Path, e: &std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            kind: e.kind(),
        }
    }

    pub(crate) fn from_sqlite(path: &Path, e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        let path = path.to_path_buf();
        match &e {
            rusqlite::Error::SqliteFailure(f, msg) => match f.code {
                ErrorCode::NotADatabase => Self::NotADatabase(path),
                ErrorCode::DatabaseCorrupt => Self::Corrupt {
                    path,
                    detail: msg
                        .clone()
                        .unwrap_or_else(|| "database disk image is malformed".into()),
                },
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Self::Busy(path),
                ErrorCode::ConstraintViolation => {
                    Self::Constraint(msg.clone().unwrap_or_else(|| "constraint failed".into()))
                }
                _ => Self::Sqlite {
                    path,
                    detail: e.to_string(),
                },
            },
            _ => Self::Sqlite {
                path,
                detail: e.to_string(),
            },
        }
    }
}

/// `e` and what caused it: the driver's own text is only its kind ("error connecting to
/// server"), the cause says what happened ("Connection refused", "password missing"). None of
/// them carries a password.
fn causes(e: &tokio_postgres::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// A violated constraint named as SQLite names it (`workspaces.name`, from PostgreSQL's
/// `workspaces_name_key`), with PostgreSQL's message; never the row's values.
fn constraint_detail(d: &tokio_postgres::error::DbError) -> String {
    let (Some(table), Some(name)) = (d.table(), d.constraint()) else {
        return d.message().to_owned();
    };
    let columns = name
        .strip_prefix(table)
        .and_then(|n| n.strip_prefix('_'))
        .map(|n| {
            ["_pkey", "_key", "_fkey", "_check"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(n)
        })
        .unwrap_or(name);
    format!("{}: {table}.{columns}", d.message())
}
