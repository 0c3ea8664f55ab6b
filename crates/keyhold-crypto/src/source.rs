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

/// Whether `key` is the master key of store `store_id` whose check value is `check`.
fn opens(key: &MasterKey, store_id: &[u8], check: &MasterCheck) -> bool {
    UnlockedMaster::derive(key, store_id).is_ok_and(|m| m.verify(check).is_ok())
}

/// A master-key rotation's new key, written durably to the staging file (see
/// [`staging_file`]) and waiting there for the database to commit the rotation.
#[derive(Debug)]
pub struct StagedKey {
    staged: MasterKeyFile,
    file: MasterKeyFile,
}

impl StagedKey {
    /// The database did not commit: the staged key (this rotation's own) is not needed.
    /// Best effort: a leftover is settled by the next rotation.
    pub fn abandon(self) {
        let _ = self.staged.remove();
    }

    /// The database committed the rotation, whose key has check value `check`: renames the
    /// staged key over the key file. Another process opening the store in between may have
    /// finished the rename already; that is believed only if the key file holds the new key.
    pub fn hand_over(self, store_id: &[u8], check: &MasterCheck) -> Result<(), CryptoError> {
        match self.staged.rename_to(&self.file) {
            Err(e) if !self.file.read().is_ok_and(|k| opens(&k, store_id, check)) => Err(e),
            _ => Ok(()),
        }
    }
}

impl KeySource {
    /// Stages `new_key` for a master-key rotation of store `store_id`, whose key has check
    /// value `check` until the rotation commits; `None` if the key does not come from a file
    /// (the caller then updates `KEYHOLD_MASTER_KEY` itself). Call it under the store's write
    /// lock. A staging file an earlier rotation left is settled first: one that committed but
    /// has not renamed its staged key yet (the staged key opens the store as it is now) gets
    /// its rename finished; one that never committed (it does not) is removed.
    pub fn stage(
        &self,
        new_key: &MasterKey,
        store_id: &[u8],
        check: &MasterCheck,
    ) -> Result<Option<StagedKey>, CryptoError> {
        let Self::File(file) = self else {
            return Ok(None);
        };
        let staged = staging_file(file);
        if staged.exists() {
            if staged.read().is_ok_and(|k| opens(&k, store_id, check)) {
                staged.rename_to(file)?;
            } else {
                staged.remove()?;
            }
        }
        staged.create(new_key)?;
        Ok(Some(StagedKey {
            staged,
            file: file.clone(),
        }))
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    const STORE: &[u8] = b"store-id";

    fn check_of(key: &MasterKey) -> MasterCheck {
        UnlockedMaster::derive(key, STORE)
            .expect("derive")
            .check_value()
    }

    #[test]
    fn a_staged_key_is_handed_over_or_abandoned() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = MasterKeyFile::new(tmp.path().join("master.key"));
        let (old, new) = (
            MasterKey::generate().expect("old"),
            MasterKey::generate().expect("new"),
        );
        file.create(&old).expect("create");
        let source = KeySource::File(file.clone());
        let staged = source.stage(&new, STORE, &check_of(&old)).expect("stage");
        staged.expect("a file source stages").abandon();
        assert!(!staging_file(&file).exists());
        let staged = source.stage(&new, STORE, &check_of(&old)).expect("stage");
        staged
            .expect("staged")
            .hand_over(STORE, &check_of(&new))
            .expect("hand over");
        assert!(!staging_file(&file).exists());
        assert_eq!(
            file.read().expect("read").to_base64url(),
            new.to_base64url()
        );
        let text = KeySource::Text(new.to_base64url());
        assert!(
            text.stage(&old, STORE, &check_of(&new))
                .expect("text")
                .is_none()
        );
    }

    #[test]
    fn a_leftover_staging_file_is_settled_before_staging() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = MasterKeyFile::new(tmp.path().join("master.key"));
        let keys: Vec<MasterKey> = (0..3)
            .map(|_| MasterKey::generate().expect("key"))
            .collect();
        file.create(&keys[0]).expect("create");
        let source = KeySource::File(file.clone());
        // A rotation that never committed: its key does not open the store; it is removed.
        staging_file(&file).create(&keys[1]).expect("leftover");
        let staged = source
            .stage(&keys[2], STORE, &check_of(&keys[0]))
            .expect("stage");
        assert_eq!(
            file.read().expect("read").to_base64url(),
            keys[0].to_base64url()
        );
        staged.expect("staged").abandon();
        // A rotation that committed but did not rename: the staged key opens the store now.
        staging_file(&file).create(&keys[1]).expect("leftover");
        let staged = source
            .stage(&keys[2], STORE, &check_of(&keys[1]))
            .expect("stage");
        assert_eq!(
            file.read().expect("read").to_base64url(),
            keys[1].to_base64url()
        );
        staged.expect("staged").abandon();
    }
}
