//! The two key rotations: master key (re-wraps KEKs only; the new key file is staged and
//! handed over crash-safely) and KEK (re-wraps data keys in batches; resumable after a crash).

use std::ops::ControlFlow;
use std::path::PathBuf;

use keyhold_crypto::{MasterCheck, MasterKey, UnlockedMaster, WrappedKek};
use keyhold_store::{KekRow, KekState, Tx};

use crate::{Caller, Error, Keyhold, META_MASTER_CHECK, Result, now, read, write};

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
        caller: &Caller,
        new_key: &MasterKey,
    ) -> Result<MasterKeyRotation> {
        operator_only(caller)?;
        let new_master = UnlockedMaster::derive(new_key, &self.store_id)?;
        // Set only once this call has written the staging file: only then may it remove it.
        let mut staged = None;
        let result = self.store.write(|tx| {
            let check = self.unchanged_master_check(tx)?;
            staged = self.key_source.stage(new_key, &self.store_id, &check)?;
            self.rewrap_keks(tx, caller, new_key, &new_master)
        });
        let keks_rewrapped = match result {
            Ok(n) => n,
            Err(e) => {
                // The database did not commit, so the staged key (ours) is not needed; a
                // staging file of somebody else's is never touched here.
                if let Some(staged) = staged {
                    staged.abandon();
                }
                return Err(e);
            }
        };
        let check = new_master.check_value();
        *write(&self.master) = new_master;
        if let Some(staged) = staged {
            staged.hand_over(&self.store_id, &check)?;
        }
        Ok(MasterKeyRotation {
            keks_rewrapped,
            key_file: self.key_source.file().map(|f| f.path().to_path_buf()),
        })
    }

    /// The stored check value, under the write lock, after making sure nobody rotated the
    /// master key since this handle opened the store.
    fn unchanged_master_check(&self, tx: &Tx<'_>) -> Result<MasterCheck> {
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
            .map_err(|_| Error::WrongMasterKey(self.home.clone()))?;
        Ok(check)
    }

    /// Re-wraps every KEK under `new_master`, stores its check value and identity, and
    /// records `master_key.rotated`; returns the number of KEKs re-wrapped.
    fn rewrap_keks(
        &self,
        tx: &Tx<'_>,
        caller: &Caller,
        new_key: &MasterKey,
        new_master: &UnlockedMaster,
    ) -> Result<usize> {
        self.load_keks(tx)?;
        let rows = tx.keks()?;
        let ring = read(&self.ring);
        for row in &rows {
            let wrapped = ring
                .rewrap_for(new_master, row.id)
                .ok_or(Error::Internal("a stored KEK is missing from the ring"))??;
            tx.set_kek_wrapped(row.id, &wrapped.0)?;
        }
        tx.set_meta(META_MASTER_CHECK, &new_master.check_value().0)?;
        self.rows.write_identity(tx, new_key)?;
        let record = crate::audit::EventDraft::new(keyhold_audit::Action::MasterKeyRotated).detail(
            "keks_rewrapped",
            i64::try_from(rows.len()).unwrap_or(i64::MAX),
        );
        self.audit(tx, caller, record)?;
        Ok(rows.len())
    }

    /// First step of a KEK rotation: a new active KEK, or the unfinished rotation's.
    fn start_kek_rotation(&self, tx: &Tx<'_>) -> Result<KekRotation> {
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
    pub fn rotate_kek(&self, caller: &Caller) -> Result<KekRotation> {
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
        caller: &Caller,
        batch: usize,
        mut progress: impl FnMut(&KekRotation) -> ControlFlow<()>,
    ) -> Result<KekRotation> {
        operator_only(caller)?;
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
            let (rewrapped, last) = self
                .store
                .write(|tx| self.rewrap_batch(tx, state.active_kek, batch))?;
            state.rewrapped += rewrapped;
            if rewrapped > 0 {
                state.batches += 1;
            }
            if last {
                break;
            }
            if progress(&state).is_break() {
                return Ok(state);
            }
        }
        state.retired = self
            .store
            .write(|tx| retire_old_keks(tx, state.active_kek))?;
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

    /// Re-wraps up to `batch` data keys not yet under `active`; returns how many, and whether
    /// that was the last batch.
    fn rewrap_batch(&self, tx: &Tx<'_>, active: u32, batch: usize) -> Result<(u64, bool)> {
        self.load_keks(tx)?;
        let rows = tx.records_not_under_kek(active, batch)?;
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
                    active,
                )
                .map_err(|e| Error::integrity(aad.to_string(), e))?;
            tx.rewrap_record(&row.key, row.version, active, &env.0)?;
        }
        Ok((rows.len() as u64, rows.len() < batch))
    }
}

/// Key rotations are the operator's alone: no API key or member may start one.
fn operator_only(caller: &Caller) -> Result<()> {
    if !caller.is_operator() {
        return Err(Error::from(keyhold_token::TokenError::InsufficientScope {
            required: keyhold_token::Scope::Admin,
        }));
    }
    Ok(())
}

/// Deletes the retiring KEKs once no record uses them; returns their ids.
fn retire_old_keks(tx: &Tx<'_>, active: u32) -> Result<Vec<u32>> {
    let (_, pending) = tx.record_counts(active)?;
    if pending > 0 {
        // A concurrent writer raced us with an old KEK; a later call finishes the job.
        return Ok(Vec::new());
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
}
