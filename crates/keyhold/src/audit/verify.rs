//! `audit verify` and `audit checkpoint`: the whole chain recomputed, every row's columns
//! checked, and the chain reconciled (by `keyhold-audit`) with the access rows as they stand.

use std::path::Path;

use keyhold_api::AuditVerification;
use keyhold_audit::reconcile::{Disagreement, Reconciler};
use keyhold_audit::{
    Action, Anchor, ChainAudit, ChainHead, Checkpoint, CheckpointSigner, EventDraft, FoldedChain,
    RowError,
};
use keyhold_store::Tx;

use super::list::{hex, stored};
use super::{CHECKPOINT_KEY_KIND, META_CHECKPOINT_PUBLIC, store_record};
use crate::{Caller, Error, Keyhold, Result, read};

/// The chain, verified and folded (see `Keyhold::fold_chain`).
pub(crate) struct Chain {
    pub(crate) reconciler: Reconciler,
    pub(crate) summary: keyhold_audit::Summary,
}

impl Keyhold {
    /// Recomputes the whole chain with the audit key; with a checkpoint, also proves that the
    /// chain still reaches the checkpoint's row with the same hash. Checks every row's filter
    /// columns against its event, then reconciles what the chain says last happened to every
    /// key, workspace and signing key with their rows as they stand (an older copy of a row
    /// put back is caught here). Names the first bad row.
    pub fn verify_audit(&self, checkpoint: Option<&Path>) -> Result<AuditVerification> {
        let anchor = match checkpoint {
            None => None,
            Some(path) => Some(self.read_checkpoint(path)?),
        };
        self.store.read(|tx| {
            let chain = self.fold_chain(tx, anchor)?;
            let (keys, workspaces, signing_keys) =
                (tx.all_api_keys()?, tx.workspaces()?, tx.signing_keys()?);
            for row in &keys {
                self.rows.check_api_key(row)?;
            }
            for row in &workspaces {
                self.rows.check_workspace(row)?;
            }
            for row in &signing_keys {
                self.rows.check_signing_key(row)?;
            }
            self.rows.check_identity(tx)?;
            chain
                .reconciler
                .check_mint_counter(self.rows.mint_counter(tx)?)
                .map_err(disagreement)?;
            chain.check_rows(&keys, &workspaces, &signing_keys)?;
            let s = chain.summary;
            Ok(AuditVerification {
                rows: s.rows,
                head_seq: s.head_seq,
                head: hex(&s.head_hash),
                checkpoint_seq: anchor.map(|a| a.seq),
            })
        })
    }

    /// Verifies the whole chain (every link, every row's filter columns; with `anchor`, that
    /// it still reaches the checkpoint) and folds it into what it says last happened to every
    /// key, workspace and signing key (`keyhold-audit`'s `ChainAudit`, fed the stored rows).
    pub(crate) fn fold_chain(&self, tx: &Tx<'_>, anchor: Option<Anchor>) -> Result<Chain> {
        // An empty log (a head lookup, not a count of every row).
        if tx.audit_head()?.is_none() && anchor.is_none() {
            return Ok(Chain::from(FoldedChain::empty()));
        }
        self.load_audit_key(tx)?;
        let audit = read(&self.audit);
        let key = audit
            .key
            .as_ref()
            .ok_or(Error::Internal("audit key not loaded"))?;
        let mut run = ChainAudit::new(key, anchor);
        let mut bad: Option<RowError> = None;
        tx.for_each_audit_row(|row| match run.push(&stored(row)) {
            Ok(()) => true,
            Err(e) => {
                bad = Some(e);
                false
            }
        })?;
        if let Some(e) = bad {
            return Err(row_error(&e));
        }
        run.finish().map(Chain::from).map_err(|e| row_error(&e))
    }

    fn read_checkpoint(&self, path: &Path) -> Result<Anchor> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, &e))?;
        let cp = Checkpoint::from_json(&text).map_err(|_| Error::InvalidInput {
            field: "checkpoint",
            reason: format!("{} is not a keyhold checkpoint", path.display()),
        })?;
        let public = self
            .store
            .read(|tx| tx.meta(META_CHECKPOINT_PUBLIC).map_err(Error::from))?
            .ok_or(Error::Internal("the store has no checkpoint key"))?;
        cp.verify_for_store(&public, &self.store_id)
            .map_err(|_| Error::Integrity {
                what: format!("checkpoint {}", path.display()),
                detail: "its signature does not verify for this store".into(),
            })
    }

    /// Signs the chain's current head and writes the checkpoint to `out` (outside the
    /// database), so that deleting the newest rows is detected later.
    pub fn audit_checkpoint(&self, caller: &Caller, out: &Path) -> Result<AuditVerification> {
        let verified = self.verify_audit(None)?;
        let checkpoint = self.store.write(|tx| {
            let signer_bytes = self.open_record(tx, &store_record(CHECKPOINT_KEY_KIND))?;
            let signer = CheckpointSigner::from_pkcs8(signer_bytes.expose()).map_err(|_| {
                Error::Integrity {
                    what: "checkpoint key".into(),
                    detail: "does not decode".into(),
                }
            })?;
            let head = match tx.audit_head()? {
                None => ChainHead::GENESIS,
                Some((seq, hash)) => ChainHead {
                    seq,
                    hash: hash
                        .try_into()
                        .map_err(|_| Error::Internal("malformed head"))?,
                },
            };
            let cp = signer
                .sign(&self.store_id, head, crate::apikeys::now_ms())
                .map_err(|_| Error::Internal("could not sign the checkpoint"))?;
            self.audit(
                tx,
                caller,
                EventDraft::new(Action::AuditCheckpointed)
                    .detail("seq", i64::try_from(head.seq).unwrap_or(i64::MAX)),
            )?;
            Ok::<_, Error>(cp)
        })?;
        std::fs::write(out, checkpoint.to_json()).map_err(|e| Error::io(out, &e))?;
        Ok(AuditVerification {
            checkpoint_seq: Some(checkpoint.seq),
            ..verified
        })
    }
}

/// A bad stored row, as the integrity error naming it.
pub(super) fn row_error(e: &RowError) -> Error {
    Error::Integrity {
        what: format!("audit record {}", e.seq()),
        detail: e.to_string(),
    }
}

impl From<FoldedChain> for Chain {
    fn from(f: FoldedChain) -> Self {
        Self {
            reconciler: f.reconciler,
            summary: f.summary,
        }
    }
}

/// The first disagreement between the chain and the rows, as the integrity error naming it.
fn disagreement(d: Disagreement) -> Error {
    Error::Integrity {
        what: d.what,
        detail: d.detail,
    }
}

impl Chain {
    /// Reconciles the chain with the access rows as they stand (their facts, as plain
    /// values): the first disagreement, as an integrity error.
    pub(crate) fn check_rows(
        &self,
        keys: &[keyhold_store::ApiKeyRow],
        workspaces: &[keyhold_store::WorkspaceRow],
        signing_keys: &[keyhold_store::SigningKeyRow],
    ) -> Result<()> {
        use keyhold_audit::reconcile::{KeyRow, SigningKeyRow, WorkspaceRow};
        let keys: Vec<KeyRow<'_>> = keys
            .iter()
            .map(|r| KeyRow {
                jti: &r.jti,
                mint_seq: r.mint_seq,
                revoked: r.revoked_at_ms.is_some(),
            })
            .collect();
        let workspaces: Vec<WorkspaceRow<'_>> = workspaces
            .iter()
            .map(|w| WorkspaceRow {
                id: &w.id,
                revoked_all_seq: w.revoked_all_seq,
            })
            .collect();
        let signing_keys: Vec<SigningKeyRow<'_>> = signing_keys
            .iter()
            .map(|k| SigningKeyRow {
                kid: &k.kid,
                active: k.state == keyhold_store::SigningKeyState::Active,
            })
            .collect();
        self.reconciler
            .check(&keys, &workspaces, &signing_keys)
            .map_err(disagreement)
    }
}
