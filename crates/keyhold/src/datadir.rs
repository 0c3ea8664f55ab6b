use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "keyhold.db";

/// The data directory: mode 0700, holding `keyhold.db` (0600) and, by default, `master.key`.
#[derive(Debug, Clone)]
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// Creates the directory (and missing parents) with mode 0700, or tightens an existing
    /// one to 0700.
    pub fn create(path: &Path) -> Result<Self> {
        match fs::metadata(path) {
            Ok(m) if !m.is_dir() => {
                return Err(Error::InvalidInput {
                    field: "data dir",
                    reason: format!("{} exists and is not a directory", path.display()),
                });
            }
            Ok(m) => {
                if m.permissions().mode() & 0o077 != 0 {
                    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
                        .map_err(|e| Error::io(path, &e))?;
                }
            }
            Err(_) => DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(|e| Error::io(path, &e))?,
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// An existing data directory holding a database; `NotInitialized` otherwise.
    pub fn existing(path: &Path) -> Result<Self> {
        let dir = Self {
            path: path.to_path_buf(),
        };
        if !dir.database().is_file() {
            return Err(Error::NotInitialized(path.to_path_buf()));
        }
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database file.
    pub fn database(&self) -> PathBuf {
        self.path.join(DATABASE_FILE)
    }

    /// The default master key file.
    pub fn default_key_file(path: &Path) -> PathBuf {
        path.join(keyhold_crypto::DEFAULT_KEY_FILE)
    }

    /// Removes the database and its WAL/SHM files (cleanup after a failed `init`).
    pub(crate) fn remove_database_files(&self) {
        let db = self.database();
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = db.clone().into_os_string();
            p.push(suffix);
            // Best effort: the files may not exist.
            let _ = fs::remove_file(PathBuf::from(p));
        }
    }
}
