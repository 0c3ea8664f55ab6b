//! Where the master key comes from: the `KEYHOLD_MASTER_KEY` environment variable or a key
//! file, and the crash-safe hand-over of a staged key file that a master-key rotation leaves.

use std::path::{Path, PathBuf};

use secrecy::zeroize::Zeroizing;

use crate::{CryptoError, KeyFileProblem, MasterCheck, MasterKey, MasterKeyFile, UnlockedMaster};

/// Name of the environment variable holding the master key (base64url, 32 bytes).
pub const MASTER_KEY_ENV: &str = "KEYHOLD_MASTER_KEY";

/// File name of the default master key file inside a data directory.
pub const DEFAULT_KEY_FILE: &str = "master.key";

/// The default master key file of a data directory (`<data_dir>/master.key`).
pub fn default_key_file(data_dir: impl AsRef<Path>) -> PathBuf {
    data_dir.as_ref().join(DEFAULT_KEY_FILE)
}

/// Where the master key comes from.
pub enum KeySource {
    /// The base64url text of the key (typically the value of `KEYHOLD_MASTER_KEY`).
    Text(Zeroizing<String>),
    /// A key file (mode 0600, owned by the user).
    File(MasterKeyFile),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Clone for KeySource {
    fn clone(&self) -> Self {
        match self {
            Self::Text(t) => Self::Text(Zeroizing::new(String::clone(t))),
            Self::File(f) => Self::File(f.clone()),
        }
    }
}

/// During a master-key rotation the new key is first written durably to `<key file>.next`;
/// once the database commits it is renamed over the key file. A crash in between leaves the
/// database using the staged key, and the next open completes the rename.
pub fn staging_file(file: &MasterKeyFile) -> MasterKeyFile {
    let mut p = file.path().as_os_str().to_owned();
    p.push(".next");
    MasterKeyFile::new(PathBuf::from(p))
}

impl KeySource {
    /// `KEYHOLD_MASTER_KEY` if it is set, otherwise the key file at `file`.
    pub fn from_env_or_file(file: impl Into<PathBuf>) -> Self {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(text) => Self::Text(Zeroizing::new(text)),
            Err(_) => Self::File(MasterKeyFile::new(file)),
        }
    }

    /// The default key file of a data directory (`<data_dir>/master.key`).
    pub fn default_file(data_dir: impl AsRef<Path>) -> Self {
        Self::File(MasterKeyFile::new(default_key_file(data_dir)))
    }

    /// Where the key comes from, for status output (never the key).
    pub fn describe(&self) -> String {
        match self {
            Self::Text(_) => format!("environment ({MASTER_KEY_ENV})"),
            Self::File(f) => f.path().display().to_string(),
        }
    }

    /// The key file, if the key comes from one.
    pub fn file(&self) -> Option<&MasterKeyFile> {
        match self {
            Self::File(f) => Some(f),
            Self::Text(_) => None,
        }
    }

    /// The key as the source holds it now (the key file, or a staged one that a finished
    /// rotation left: see [`staging_file`]).
    pub fn load_current(&self) -> Result<MasterKey, CryptoError> {
        match (self, self.load()) {
            (Self::File(f), Err(e)) => {
                let staged = staging_file(f);
                if staged.exists() {
                    staged.read()
                } else {
                    Err(e)
                }
            }
            (_, r) => r,
        }
    }

    fn load(&self) -> Result<MasterKey, CryptoError> {
        match self {
            Self::Text(t) => MasterKey::from_base64url(t),
            Self::File(f) => f.read(),
        }
    }

    /// Loads the key, generating and writing a new key file if the source is a file that does
    /// not exist yet. Returns whether a file was created.
    pub fn load_or_create(&self) -> Result<(MasterKey, bool), CryptoError> {
        match self {
            Self::File(f) if !f.exists() => {
                let key = MasterKey::generate()?;
                f.create(&key)?;
                Ok((key, true))
            }
            other => Ok((other.load()?, false)),
        }
    }

    /// Removes the key file this process just created (best effort, after a failed start).
    pub fn remove_created_file(&self) {
        if let Self::File(f) = self {
            let _ = f.remove();
        }
    }

    /// Loads the key and checks it against a store's identity; finishes an interrupted
    /// master-key rotation (see [`staging_file`]) if the committed key is the staged one.
    /// `Ok(None)`: the key loads but is not this store's.
    pub fn unlock(
        &self,
        store_id: &[u8],
        check: &MasterCheck,
    ) -> Result<Option<UnlockedMaster>, CryptoError> {
        let try_key = |key: &MasterKey| -> Result<Option<UnlockedMaster>, CryptoError> {
            let m = UnlockedMaster::derive(key, store_id)?;
            Ok(m.verify(check).is_ok().then_some(m))
        };
        let file = match self {
            Self::Text(_) => return try_key(&self.load()?),
            Self::File(file) => file,
        };
        let primary = match file.read() {
            Ok(key) => try_key(&key)?,
            Err(CryptoError::KeyFile {
                problem: KeyFileProblem::Missing,
                ..
            }) => None,
            Err(e) => return Err(e),
        };
        if primary.is_some() {
            return Ok(primary);
        }
        let staged = staging_file(file);
        if staged.exists()
            && let Some(m) = try_key(&staged.read()?)?
        {
            // The database already uses the staged key: finish the rotation.
            staged.rename_to(file)?;
            return Ok(Some(m));
        }
        if !file.exists() {
            return Err(CryptoError::KeyFile {
                path: file.path().to_path_buf(),
                problem: KeyFileProblem::Missing,
            });
        }
        Ok(None)
    }
}
