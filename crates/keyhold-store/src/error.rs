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
