//! The audit log, from the facade's side: every operation records exactly one event, in the
//! same transaction as its change (fail-closed). The events, the chain, group commit,
//! reconciliation and the rejection policy are `keyhold-audit`'s; this module holds the audit
//! keys, writes the rows, and attributes events to their caller. Key uses are recorded through
//! group commit (`uses`); records are listed in `list` and the chain verified and
//! checkpointed in `verify`.

use keyhold_audit::{
    AuditChain, AuditKey, ChainHead, CheckpointSigner, Columns, CommitError, DraftError, Event,
    Provenance,
};
use keyhold_store::{AuditRow, RecordKey, Tx};

use crate::{Caller, Error, Keyhold, Origin, Result, Surface, read, write};

mod list;
mod uses;
mod verify;

pub(crate) use keyhold_audit::EventDraft;
pub use list::AuditEntry;
pub use uses::Deferred;

const AUDIT_KEY_KIND: &str = "audit-key";
const CHECKPOINT_KEY_KIND: &str = "audit-checkpoint-key";
pub(crate) const META_CHECKPOINT_PUBLIC: &str = keyhold_integrity::meta::CHECKPOINT_PUBLIC;

/// In-memory audit keys (loaded from their encrypted records on first use).
#[derive(Default)]
pub(crate) struct AuditKeys {
    key: Option<AuditKey>,
}

fn store_record(kind: &str) -> RecordKey {
    RecordKey {
        workspace: String::new(),
        kind: kind.to_owned(),
        id: "current".to_owned(),
    }
}

/// A request's origin is where its events come from; they are stamped with the time now.
impl Provenance for Origin {
    type Error = Error;
    fn surface(&self) -> Surface {
        self.surface
    }
    fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }
    fn request_id(&self) -> &str {
        &self.request_id
    }
    fn time_ms(&self) -> i64 {
        crate::apikeys::now_ms()
    }
}

/// A value that cannot be put into an event is an internal error (the message names the kind
/// of value, never the value).
impl From<DraftError> for Error {
    fn from(e: DraftError) -> Self {
        Error::Internal(e.as_str())
    }
}

/// A use record that did not become durable fails its operation.
impl From<CommitError> for Error {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::OutcomeTaken => Error::Internal("outcome taken twice"),
            _ => Error::Internal("the audit record of this operation could not be written"),
        }
    }
}

/// The event of `draft`, by `caller` (the key it acted with, if any, and its origin).
pub(crate) fn event_by(draft: EventDraft, caller: &Caller) -> Result<Event> {
    let key = caller.principal().map(|p| p.key_id.as_str());
    let draft = match caller.intent().map(keyhold_audit::PublicText::new) {
        Some(intent) => draft.detail("assistant_intent", intent.map_err(|_| DraftError::Text)?),
        None => draft,
    };
    draft.event(&caller.sub(), key, caller.origin())
}

impl Keyhold {
    /// Creates the audit key and the checkpoint signing key if the store has none.
    ///
    /// A key created here is returned, not cached: the transaction may still roll back, and
    /// the handle must never keep a key the store does not have.
    pub(crate) fn ensure_audit_keys(&self, tx: &Tx<'_>) -> Result<Option<AuditKey>> {
        let mut created = None;
        if tx.record_version(&store_record(AUDIT_KEY_KIND))? == 0 {
            let key = AuditKey::generate()
                .map_err(|_| Error::Internal("could not generate the audit key"))?;
            self.seal_record(tx, store_record(AUDIT_KEY_KIND), &key.to_secret_bytes())?;
            created = Some(key);
        }
        if tx.meta(META_CHECKPOINT_PUBLIC)?.is_none() {
            let signer = CheckpointSigner::generate()
                .map_err(|_| Error::Internal("could not generate the checkpoint key"))?;
            self.seal_record(tx, store_record(CHECKPOINT_KEY_KIND), &signer.to_pkcs8())?;
            tx.set_meta(META_CHECKPOINT_PUBLIC, &signer.public_key())?;
        }
        Ok(created)
    }

    fn load_audit_key(&self, tx: &Tx<'_>) -> Result<()> {
        if read(&self.audit).key.is_some() {
            return Ok(());
        }
        let secret = self.open_record(tx, &store_record(AUDIT_KEY_KIND))?;
        let key = AuditKey::from_secret(&secret).map_err(|_| Error::Integrity {
            what: "audit key".into(),
            detail: "wrong length".into(),
        })?;
        write(&self.audit).key = Some(key);
        Ok(())
    }

    /// Appends `events` to the chain inside `tx` (the caller's transaction: if it rolls back,
    /// so do the rows; if the rows cannot be written, the operation fails).
    pub(crate) fn append_audit(&self, tx: &Tx<'_>, events: &[Event]) -> Result<()> {
        // A store from before the audit log gets its keys here, in this transaction; the new
        // key is used uncached until a later call loads it from the committed record.
        // (Once the key is loaded it is known to exist: no lookup on every append.)
        let fresh = if read(&self.audit).key.is_none()
            && tx.record_version(&store_record(AUDIT_KEY_KIND))? == 0
        {
            self.ensure_audit_keys(tx)?
        } else {
            None
        };
        if fresh.is_none() {
            self.load_audit_key(tx)?;
        }
        let head = match tx.audit_head()? {
            None => ChainHead::GENESIS,
            Some((seq, hash)) => ChainHead {
                seq,
                hash: hash.try_into().map_err(|_| Error::Integrity {
                    what: format!("audit record {seq}"),
                    detail: "stored hash has the wrong length".into(),
                })?,
            },
        };
        let audit = read(&self.audit);
        let key = fresh
            .as_ref()
            .or(audit.key.as_ref())
            .ok_or(Error::Internal("audit key not loaded"))?;
        let sealed = AuditChain::new(key, head)
            .append_batch(events)
            .map_err(|_| Error::Internal("an event could not be encoded for the audit log"))?;
        let rows: Vec<AuditRow> = sealed
            .into_iter()
            .zip(events)
            .map(|(s, e)| {
                let c = Columns::of(e);
                AuditRow {
                    seq: s.link.seq,
                    time_ms: c.time_ms,
                    workspace: c.workspace.map(str::to_owned),
                    action: c.action.to_owned(),
                    actor: c.actor.to_owned(),
                    key_id: c.key_id.map(str::to_owned),
                    outcome: c.outcome.to_owned(),
                    event: s.canonical,
                    prev: s.link.prev.to_vec(),
                    hash: s.link.hash.to_vec(),
                }
            })
            .collect();
        tx.append_audit(&rows)?;
        Ok(())
    }

    /// Records one event by `caller` in `tx`.
    pub(crate) fn audit(&self, tx: &Tx<'_>, caller: &Caller, record: EventDraft) -> Result<()> {
        let event = event_by(record, caller)?;
        self.append_audit(tx, std::slice::from_ref(&event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_record_that_did_not_commit_fails_as_an_internal_error() {
        let e = Error::from(CommitError::BatchFailed);
        assert_eq!(e.code(), "internal_error");
        assert!(e.to_string().contains("could not be written"), "{e}");
        assert_eq!(Error::from(DraftError::Text).code(), "internal_error");
    }
}
