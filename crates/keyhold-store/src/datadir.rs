//! The data directory on disk: mode 0700, holding the database file (0600, with SQLite's
//! sidecar files beside it) and, by default, the master key file.

use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "keyhold.db";

/// Files SQLite may keep beside the database: its WAL, shared-memory and rollback journal.
const SIDECAR_SUFFIXES: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Why a data directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The path exists and is not a directory.
    #[error("{} exists and is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The directory holds no database file.
    #[error("no keyhold database in {}", .0.display())]
    NoDatabase(PathBuf),
    /// Creating the directory, or tightening its mode, failed.
    #[error("{}: {kind}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// What failed.
        kind: std::io::ErrorKind,
    },
}

/// The data directory: mode 0700, holding `keyhold.db` (0600) and, by default, `master.key`.
#[derive(Debug, Clone)]
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// Creates the directory (and missing parents) with mode 0700, or tightens an existing
    /// one to 0700.
    pub fn create(path: &Path) -> Result<Self, DataDirError> {
        let io = |e: std::io::Error| DataDirError::Io {
            path: path.to_path_buf(),
            kind: e.kind(),
        };
        match fs::metadata(path) {
            Ok(m) if !m.is_dir() => return Err(DataDirError::NotADirectory(path.to_path_buf())),
            Ok(m) => {
                if m.permissions().mode() & 0o077 != 0 {
                    fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(io)?;
                }
            }
            Err(_) => DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(io)?,
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// An existing data directory holding a database file.
    pub fn existing(path: &Path) -> Result<Self, DataDirError> {
        let dir = Self {
            path: path.to_path_buf(),
        };
        if !dir.database().is_file() {
            return Err(DataDirError::NoDatabase(path.to_path_buf()));
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

    /// Removes the database and its sidecar files (cleanup after a failed `init`).
    pub fn remove_database_files(&self) {
        let db = self.database();
        for suffix in std::iter::once("").chain(SIDECAR_SUFFIXES) {
            let mut p = db.clone().into_os_string();
            p.push(suffix);
            // Best effort: the files may not exist.
            let _ = fs::remove_file(PathBuf::from(p));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn a_data_dir_is_made_or_tightened_to_0700() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let fresh = tmp.path().join("a/b");
        DataDir::create(&fresh).expect("create");
        assert_eq!(mode(&fresh), 0o700);
        let loose = tmp.path().join("loose");
        DirBuilder::new().mode(0o755).create(&loose).expect("mkdir");
        DataDir::create(&loose).expect("tighten");
        assert_eq!(mode(&loose), 0o700);
        let file = tmp.path().join("file");
        fs::write(&file, b"x").expect("write");
        assert!(matches!(
            DataDir::create(&file),
            Err(DataDirError::NotADirectory(p)) if p == file
        ));
    }

    #[test]
    fn a_failed_init_leaves_no_database_file_behind() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = DataDir::create(tmp.path()).expect("create");
        assert!(matches!(
            DataDir::existing(tmp.path()),
            Err(DataDirError::NoDatabase(_))
        ));
        let names = [
            "keyhold.db",
            "keyhold.db-wal",
            "keyhold.db-shm",
            "keyhold.db-journal",
        ];
        for name in names {
            fs::write(tmp.path().join(name), b"x").expect("write");
        }
        DataDir::existing(tmp.path()).expect("existing");
        dir.remove_database_files();
        for name in names {
            assert!(!tmp.path().join(name).exists(), "{name}");
        }
    }
}
