//! Master key sources and the two rotations: master key (re-wraps KEKs only) and KEK
//! (re-wraps data keys in batches; resumable after a crash).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use keyhold_crypto::secrecy::zeroize::Zeroizing;
use keyhold_crypto::{
    CryptoError, KeyFileProblem, MasterCheck, MasterKey, MasterKeyFile, UnlockedMaster, WrappedKek,
};
use keyhold_store::{KekRow, KekState};

use crate::datadir::DataDir;
use crate::{Error, Keyhold, META_MASTER_CHECK, Result, now, read, write};

/// Name of the environment variable holding the master key (base64url, 32 bytes).
pub const MASTER_KEY_ENV: &str = "KEYHOLD_MASTER_KEY";

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
        Self::File(MasterKeyFile::new(DataDir::default_key_file(
            data_dir.as_ref(),
        )))
    }

    /// Where the key comes from, for status output (never the key).
    pub fn describe(&self) -> String {
        match self {
            Self::Text(_) => format!("environment ({MASTER_KEY_ENV})"),
            Self::File(f) => f.path().display().to_string(),
        }
    }

    /// The key as the source holds it now (the key file, or a staged one that a finished
    /// rotation left: see [`staging_file`]).
    pub(crate) fn load_current(&self) -> Result<MasterKey> {
        match (self, self.load()) {
            (Self::File(f), Err(e)) => {
                let staged = staging_file(f);
                if staged.exists() {
                    Ok(staged.read()?)
                } else {
                    Err(e)
                }
            }
            (_, r) => r,
        }
    }

    fn load(&self) -> Result<MasterKey> {
        match self {
            Self::Text(t) => Ok(MasterKey::from_base64url(t)?),
            Self::File(f) => Ok(f.read()?),
        }
    }

    /// Loads the key, generating and writing a new key file if the source is a file that does
    /// not exist yet. Returns whether a file was created.
    pub(crate) fn load_or_create(&self) -> Result<(MasterKey, bool)> {
        match self {
            Self::File(f) if !f.exists() => {
                let key = MasterKey::generate()?;
                f.create(&key)?;
                Ok((key, true))
            }
            other => Ok((other.load()?, false)),
        }
    }

    pub(crate) fn remove_created_file(&self) {
        if let Self::File(f) = self {
            // Best effort cleanup of a key file this process just created.
            let _ = f.remove();
        }
    }

    /// Loads the key and checks it against the store; finishes an interrupted master-key
    /// rotation (see [`staging_file`]) if the committed key is the staged one.
    pub(crate) fn unlock(
        &self,
        store_id: &[u8],
        check: &MasterCheck,
        dir: &Path,
    ) -> Result<UnlockedMaster> {
        let wrong = || Error::WrongMasterKey(dir.to_path_buf());
        let try_key = |key: &MasterKey| -> Result<Option<UnlockedMaster>> {
            let m = UnlockedMaster::derive(key, store_id)?;
            Ok(m.verify(check).is_ok().then_some(m))
        };
        match self {
            Self::Text(_) => try_key(&self.load()?)?.ok_or_else(wrong),
            Self::File(file) => {
                let primary = match file.read() {
                    Ok(key) => try_key(&key)?,
                    Err(CryptoError::KeyFile {
                        problem: KeyFileProblem::Missing,
                        ..
                    }) => None,
                    Err(e) => return Err(e.into()),
                };
                if let Some(m) = primary {
                    return Ok(m);
                }
                let staged = staging_file(file);
                if staged.exists()
                    && let Some(m) = try_key(&staged.read()?)?
                {
                    // The database already uses the staged key: finish the rotation.
                    staged.rename_to(file)?;
                    return Ok(m);
                }
                if !file.exists() {
                    return Err(CryptoError::KeyFile {
                        path: file.path().to_path_buf(),
                        problem: KeyFileProblem::Missing,
                    }
                    .into());
                }
                Err(wrong())
            }
        }
    }
}

/// During a master-key rotation the new key is first written durably to `<key file>.next`;
/// once the database commits it is renamed over the key file. A crash in between leaves the
/// database using the staged key, and the next open completes the rename.
fn staging_file(file: &MasterKeyFile) -> MasterKeyFile {
    let mut p = file.path().as_os_str().to_owned();
    p.push(".next");
    MasterKeyFile::new(PathBuf::from(p))
}

/// Result of a master-key rotation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MasterKeyRotation {
    /// Number of KEKs re-wrapped.
    pub keks_rewrapped: usize,
    /// The key file that now holds the new key, if the key comes from a file.
    pub key_file: Option<PathBuf>,
}

/// Progress and result of a KEK rotation.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct KekRotation {
    /// The active KEK (the new one).
    pub active_kek: u32,
    /// Whether this call resumed a rotation an earlier run left unfinished.
    pub resumed: bool,
    /// Records re-wrapped by this call so far.
    pub rewrapped: u64,
    /// Batches committed by this call so far.
    pub batches: u64,
    /// KEKs deleted once no record used them any more.
    pub retired: Vec<u32>,
    /// Whether the rotation is complete.
    pub complete: bool,
}

/// Records re-wrapped per transaction during KEK rotation.
pub const KEK_ROTATION_BATCH: usize = 256;

impl Keyhold {
    /// Replaces the master key: every KEK is re-wrapped under `new_key` in one transaction
    /// (data is never re-encrypted). If the key comes from a file, the file is replaced
    /// crash-safely; if it comes from `KEYHOLD_MASTER_KEY`, the caller must update it.
    ///
    /// Recorded as `master_key.rotated`. Only the operator may do this.
    pub fn rotate_master_key(
        &self,
        caller: &crate::Caller,
        new_key: &MasterKey,
    ) -> Result<MasterKeyRotation> {
        if caller.principal().is_some() {
            return Err(Error::Token(keyhold_token::TokenError::InsufficientScope {
                required: keyhold_token::Scope::Admin,
            }));
        }
        let new_master = UnlockedMaster::derive(new_key, &self.store_id)?;
        let key_file = match &self.key_source {
            KeySource::File(f) => Some(f.clone()),
            KeySource::Text(_) => None,
        };
        let staged = key_file.as_ref().map(staging_file);
        // Whether this call wrote the staging file: only then may it remove it on failure.
        let created_staging = std::cell::Cell::new(false);
        let result = self.store.write(|tx| {
            // Under the write lock: make sure nobody rotated the master key since we opened.
            let check = tx
                .meta(META_MASTER_CHECK)?
                .ok_or(Error::Internal("the store has no master key check value"))?;
            let check = MasterCheck(
                check
                    .try_into()
                    .map_err(|_| Error::Internal("malformed master key check value"))?,
            );
            read(&self.master)
                .verify(&check)
                .map_err(|_| Error::WrongMasterKey(self.dir.path().to_path_buf()))?;
            if let (Some(staged), Some(file)) = (&staged, &key_file) {
                if staged.exists() {
                    // Either a rotation that committed but has not renamed its staged key yet
                    // (the staged key opens the store as it is now: finish its rename), or one
                    // that never committed (it does not: nobody needs it).
                    let committed = staged.read().ok().is_some_and(|k| {
                        UnlockedMaster::derive(&k, &self.store_id)
                            .is_ok_and(|m| m.verify(&check).is_ok())
                    });
                    if committed {
                        staged.rename_to(file)?;
                    } else {
                        staged.remove()?;
                    }
                }
                staged.create(new_key)?;
                created_staging.set(true);
            }
            self.load_keks(tx)?;
            let rows = tx.keks()?;
            let ring = read(&self.ring);
            for row in &rows {
                let wrapped = ring
                    .rewrap_for(&new_master, row.id)
                    .ok_or(Error::Internal("a stored KEK is missing from the ring"))??;
                tx.set_kek_wrapped(row.id, &wrapped.0)?;
            }
            tx.set_meta(META_MASTER_CHECK, &new_master.check_value().0)?;
            self.write_identity(tx, new_key)?;
            let record = crate::audit::EventDraft::new(keyhold_audit::Action::MasterKeyRotated)
                .detail(
                    "keks_rewrapped",
                    i64::try_from(rows.len()).unwrap_or(i64::MAX),
                );
            self.audit(tx, caller, record)?;
            Ok::<_, Error>(rows.len())
        });
        let keks_rewrapped = match result {
            Ok(n) => n,
            Err(e) => {
                // The database did not commit, so the staged key (ours) is not needed; a
                // staging file of somebody else's is never touched here.
                if let Some(staged) = staged.as_ref().filter(|_| created_staging.get()) {
                    let _ = staged.remove();
                }
                return Err(e);
            }
        };
        let check = new_master.check_value();
        *write(&self.master) = new_master;
        if let (Some(staged), Some(file)) = (&staged, &key_file)
            && let Err(e) = staged.rename_to(file)
        {
            // Another process opening the store in between may have finished the rename;
            // believe that only if the key file now holds the new key.
            let saved = file.read().ok().is_some_and(|k| {
                UnlockedMaster::derive(&k, &self.store_id).is_ok_and(|m| m.verify(&check).is_ok())
            });
            if !saved {
                return Err(e.into());
            }
        }
        Ok(MasterKeyRotation {
            keks_rewrapped,
            key_file: key_file.map(|f| f.path().to_path_buf()),
        })
    }

    /// First step of a KEK rotation: a new active KEK, or the unfinished rotation's.
    fn start_kek_rotation(&self, tx: &keyhold_store::Tx<'_>) -> Result<KekRotation> {
        let keks = tx.keks()?;
        let active = keks
            .iter()
            .find(|k| k.state == KekState::Active)
            .ok_or(Error::Internal(
                "the store has no active key-encryption key",
            ))?;
        if keks.iter().any(|k| k.state == KekState::Retiring) {
            return Ok(KekRotation {
                active_kek: active.id,
                resumed: true,
                ..KekRotation::default()
            });
        }
        let id = tx.next_kek_id()?;
        let wrapped: WrappedKek = {
            // Generated outside the handle's ring: it enters the ring only once loaded from
            // the committed store, so a rolled-back rotation leaves no ghost KEK behind.
            let master = read(&self.master);
            keyhold_crypto::KekRing::new().generate(&master, id)?
        };
        tx.set_kek_state(active.id, KekState::Retiring)?;
        tx.insert_kek(&KekRow {
            id,
            wrapped: wrapped.0,
            state: KekState::Active,
            created_at: now(),
        })?;
        Ok(KekRotation {
            active_kek: id,
            ..KekRotation::default()
        })
    }

    /// Rotates the KEK to completion: see [`Keyhold::rotate_kek_with`].
    pub fn rotate_kek(&self, caller: &crate::Caller) -> Result<KekRotation> {
        self.rotate_kek_with(caller, KEK_ROTATION_BATCH, |_| ControlFlow::Continue(()))
    }

    /// Starts a KEK rotation (or resumes an unfinished one): a new KEK becomes active for all
    /// new writes, then existing data keys are re-wrapped `batch` records per transaction.
    /// After each committed batch `progress` may stop the run (`ControlFlow::Break`); a later
    /// call resumes where it stopped, as it does after a crash. When no record uses an old
    /// KEK any more, the old KEKs are deleted.
    ///
    /// Each call is recorded once, as `kek.rotated`, in the transaction that starts (or
    /// resumes) the rotation. Only the operator may do this.
    pub fn rotate_kek_with(
        &self,
        caller: &crate::Caller,
        batch: usize,
        mut progress: impl FnMut(&KekRotation) -> ControlFlow<()>,
    ) -> Result<KekRotation> {
        if caller.principal().is_some() {
            return Err(Error::Token(keyhold_token::TokenError::InsufficientScope {
                required: keyhold_token::Scope::Admin,
            }));
        }
        let batch = batch.max(1);
        let mut state = self.store.write(|tx| {
            let started = self.start_kek_rotation(tx)?;
            let record = crate::audit::EventDraft::new(keyhold_audit::Action::KekRotated)
                .detail("active_kek", i64::from(started.active_kek))
                .detail("resumed", started.resumed);
            self.audit(tx, caller, record)?;
            Ok::<_, Error>(started)
        })?;
        loop {
            let done = self.store.write(|tx| {
                self.load_keks(tx)?;
                let rows = tx.records_not_under_kek(state.active_kek, batch)?;
                let ring = read(&self.ring);
                for row in &rows {
                    let aad = keyhold_crypto::RecordAad {
                        kind: &row.key.kind,
                        workspace: &row.key.workspace,
                        id: &row.key.id,
                        version: row.version,
                    };
                    let env = ring
                        .rewrap(
                            &aad,
                            &keyhold_crypto::Envelope(row.envelope.clone()),
                            state.active_kek,
                        )
                        .map_err(|e| {
                            Error::integrity(
                                format!(
                                    "record {}/{}/{} version {}",
                                    row.key.workspace, row.key.kind, row.key.id, row.version
                                ),
                                e,
                            )
                        })?;
                    tx.rewrap_record(&row.key, row.version, state.active_kek, &env.0)?;
                }
                Ok::<_, Error>((rows.len() as u64, rows.len() < batch))
            })?;
            state.rewrapped += done.0;
            if done.0 > 0 {
                state.batches += 1;
            }
            if done.1 {
                break;
            }
            if progress(&state).is_break() {
                return Ok(state);
            }
        }
        state.retired = self.store.write(|tx| {
            let (_, pending) = tx.record_counts(state.active_kek)?;
            if pending > 0 {
                // A concurrent writer raced us with an old KEK; a later call finishes the job.
                return Ok::<_, Error>(Vec::new());
            }
            let retiring: Vec<u32> = tx
                .keks()?
                .into_iter()
                .filter(|k| k.state == KekState::Retiring)
                .map(|k| k.id)
                .collect();
            for id in &retiring {
                tx.delete_kek(*id)?;
            }
            Ok(retiring)
        })?;
        {
            let mut ring = write(&self.ring);
            for id in &state.retired {
                ring.remove(*id);
            }
        }
        state.complete = self
            .store
            .read(|tx| Ok::<_, Error>(!tx.keks()?.iter().any(|k| k.state == KekState::Retiring)))?;
        Ok(state)
    }
}
