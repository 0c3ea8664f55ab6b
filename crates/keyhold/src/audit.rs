//! The audit log, from the facade's side: every operation records exactly one event, in the
//! same transaction as its change (fail-closed); key uses are recorded through group commit;
//! the chain is verified and checkpointed here.

use std::path::Path;

use keyhold_audit::reconcile::{Details, Disagreement, Reconciler};
use keyhold_audit::{
    Action, Anchor, AuditChain, AuditKey, ChainHead, Checkpoint, CheckpointSigner, DetailValue,
    DraftError, Event, Outcome, Provenance, PublicText, RowRef, Verifier,
};
use keyhold_store::{AuditFilter, AuditRow, AuditRowView, RecordKey, Tx};

use crate::{Caller, Error, Keyhold, Origin, Result, Surface, read, write};

const AUDIT_KEY_KIND: &str = "audit-key";
const CHECKPOINT_KEY_KIND: &str = "audit-checkpoint-key";
pub(crate) const META_CHECKPOINT_PUBLIC: &str = "audit_checkpoint_public";

pub use keyhold_audit::ChainError;

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

pub(crate) use keyhold_audit::EventDraft;

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

/// The event of `draft`, by `caller` (the key it acted with, if any, and its origin).
fn event_by(draft: EventDraft, caller: &Caller) -> Result<Event> {
    let key = caller.principal().map(|p| p.key_id.as_str());
    draft.event(&caller.sub(), key, caller.origin())
}

/// The chain, verified and folded (see `Keyhold::fold_chain`).
pub(crate) struct Chain {
    pub(crate) reconciler: Reconciler,
    pub(crate) summary: keyhold_audit::Summary,
}

/// Verification result of the whole chain.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AuditVerification {
    /// Rows checked.
    pub rows: u64,
    /// The newest row's seq.
    pub head_seq: u64,
    /// The newest row's chain hash (hex).
    pub head: String,
    /// Whether a checkpoint was checked too.
    pub checkpoint_seq: Option<u64>,
}

/// One audit record, decoded for display or export (no secret can be in it: see
/// `keyhold-audit`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Position in the chain.
    pub seq: u64,
    /// Unix milliseconds.
    pub time_ms: i64,
    /// Dotted action.
    pub action: String,
    /// Workspace id.
    pub workspace: Option<String>,
    /// Who.
    pub actor: String,
    /// With which key.
    pub key_id: Option<String>,
    /// Through which surface.
    pub surface: String,
    /// From where.
    pub source: Option<String>,
    /// On what.
    pub target: Option<String>,
    /// `success` or the failure code.
    pub outcome: String,
    /// Request id.
    pub request_id: String,
    /// Extra public facts.
    pub details: serde_json::Map<String, serde_json::Value>,
    /// Chain hash (hex).
    pub hash: String,
}

/// The indexed columns of an event's row: `(time_ms, workspace, action, actor, key_id,
/// outcome)`, derived from the event alone (what is written, and what a row must still say).
fn columns_of(e: &Event) -> (i64, Option<&str>, &'static str, &str, Option<&str>, &str) {
    (
        e.time_ms,
        e.workspace.as_ref().map(PublicText::as_str),
        e.action.as_str(),
        e.actor.sub.as_str(),
        e.actor.key_id.as_ref().map(PublicText::as_str),
        match &e.outcome {
            Outcome::Success => "success",
            Outcome::Failure(c) => c.as_str(),
            _ => "unknown",
        },
    )
}

/// Reads a row's event (borrowed, no allocation) and checks that every filter column still
/// says what the chained event says: a row whose columns were edited (to hide it from a
/// filter or to show it under another actor) is an integrity error naming it. Each detail
/// goes to `detail`.
fn checked_view<'a>(
    row: &AuditRowView<'a>,
    detail: impl FnMut(&'a str, keyhold_audit::canonical::ValueView<'a>),
) -> Result<keyhold_audit::canonical::View<'a>> {
    let v = keyhold_audit::canonical::view(row.event, detail).map_err(|_| Error::Integrity {
        what: format!("audit record {}", row.seq),
        detail: "undecodable event".into(),
    })?;
    check_columns(row, &v)?;
    Ok(v)
}

/// See `checked_view`.
fn check_columns(row: &AuditRowView<'_>, v: &keyhold_audit::canonical::View<'_>) -> Result<()> {
    let stored = (
        row.time_ms,
        row.workspace,
        row.action,
        row.actor,
        row.key_id,
        row.outcome,
    );
    let chained = (
        v.time_ms,
        v.workspace,
        v.action.as_str(),
        v.sub,
        v.key_id,
        v.failure.unwrap_or("success"),
    );
    if stored != chained {
        return Err(Error::Integrity {
            what: format!("audit record {}", row.seq),
            detail: "its filter columns disagree with the chained event (edited)".into(),
        });
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn entry(row: &AuditRow) -> Result<AuditEntry> {
    let e = Event::from_canonical(&row.event).map_err(|_| Error::Integrity {
        what: format!("audit record {}", row.seq),
        detail: "undecodable event".into(),
    })?;
    let details = e
        .details
        .iter()
        .map(|(k, v)| {
            let v = match v {
                DetailValue::Text(t) => serde_json::Value::from(t.as_str()),
                DetailValue::Int(i) => serde_json::Value::from(*i),
                DetailValue::Bool(b) => serde_json::Value::from(*b),
                _ => serde_json::Value::Null,
            };
            (k.as_str().to_owned(), v)
        })
        .collect();
    Ok(AuditEntry {
        seq: row.seq,
        time_ms: e.time_ms,
        action: e.action.as_str().to_owned(),
        workspace: e.workspace.map(|w| w.as_str().to_owned()),
        actor: e.actor.sub.as_str().to_owned(),
        key_id: e.actor.key_id.map(|k| k.as_str().to_owned()),
        surface: e.actor.surface.as_str().to_owned(),
        source: e.actor.source.map(|s| s.as_str().to_owned()),
        target: e.target.map(|t| t.as_str().to_owned()),
        outcome: match &e.outcome {
            Outcome::Success => "success".to_owned(),
            Outcome::Failure(code) => code.as_str().to_owned(),
            _ => "unknown".to_owned(),
        },
        request_id: e.request_id.as_str().to_owned(),
        details,
        hash: hex(&row.hash),
    })
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
                let (time_ms, workspace, action, actor, key_id, outcome) = columns_of(e);
                AuditRow {
                    seq: s.link.seq,
                    time_ms,
                    workspace: workspace.map(str::to_owned),
                    action: action.to_owned(),
                    actor: actor.to_owned(),
                    key_id: key_id.map(str::to_owned),
                    outcome: outcome.to_owned(),
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

    /// One batch of use records in one transaction on the second connection.
    pub(crate) fn commit_uses(&self, batch: Vec<Event>) -> Result<()> {
        self.store.write_aside(|tx| {
            self.append_audit(tx, &batch)?;
            // Last-used time from the use records, one update per key per batch.
            let mut last: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
            for e in &batch {
                if e.action == Action::KeyUsed
                    && let Some(k) = &e.actor.key_id
                {
                    let t = last.entry(k.as_str()).or_insert(0);
                    *t = (*t).max(e.time_ms / 1000);
                }
                // The service that introspected a token used its own key in the same row.
                if let Some(DetailValue::Text(k)) = e.details.get("introspected_by") {
                    let t = last.entry(k.as_str()).or_insert(0);
                    *t = (*t).max(e.time_ms / 1000);
                }
            }
            for (key, at) in last {
                tx.touch_api_key(key, at)?;
            }
            Ok(())
        })
    }

    /// Commits key-use records on this thread, in batches as they arrive, until
    /// [`Keyhold::stop_use_committer`]; then commits what is pending and returns.
    ///
    /// A server runs this on a thread of its own: its requests then wait for their records
    /// as futures ([`Deferred`]) and no request thread is held through an fsync. Without a
    /// committer, the first waiter of each batch commits it.
    pub fn run_use_committer(&self) {
        self.uses.run(&|batch| self.commit_uses(batch));
    }

    /// Asks [`Keyhold::run_use_committer`] to finish: it commits what is pending and returns.
    pub fn stop_use_committer(&self) {
        self.flush_rejection_counts();
        self.uses.stop();
    }

    /// Writes the refusals that were counted but not yet carried by a row (see
    /// `rejections`): one `key.rejected` row per bucket with its `suppressed` count.
    pub fn flush_rejection_counts(&self) {
        self.write_rejection_counts(self.rejections.drain());
    }

    /// Queues one `key.rejected` row per bucket count (see `rejections`).
    pub(crate) fn write_rejection_counts(
        &self,
        counts: impl IntoIterator<Item = crate::rejections::Pending>,
    ) {
        for p in counts {
            let mut record = EventDraft::new(Action::KeyRejected).failed(p.code).detail(
                "suppressed",
                i64::try_from(p.suppressed).unwrap_or(i64::MAX),
            );
            let mut origin = Origin::new(Surface::Library);
            origin.source = p.source;
            if let Some(k) = &p.key {
                record = record.target(k);
            }
            if let Ok(event) = record.event("anonymous", p.key.as_deref(), &origin) {
                self.uses.enqueue(event);
            }
        }
    }

    /// Use records waiting for their durable transaction (the audit queue depth).
    pub fn audit_queue_depth(&self) -> usize {
        self.uses.queued()
    }

    /// Audit records matching `filter`, oldest first (`audit:read`; a key sees only its own
    /// workspace).
    ///
    /// Every row returned is checked first: its chain hash against its event (under the audit
    /// key) and its filter columns against the event, so a row cannot appear under another
    /// actor, key, workspace or time. (A row hidden from a filter by an edited column is not
    /// returned: `audit verify` names it.)
    pub fn audit_entries(&self, caller: &Caller, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut filter = filter.clone();
        if let Some(p) = caller.principal() {
            caller.require(keyhold_token::Scope::AuditRead, &p.workspace)?;
            filter.workspace = Some(p.workspace.clone());
        }
        let rows = self.store.read(|tx| {
            self.load_audit_key(tx)?;
            tx.audit_rows(&filter).map_err(Error::from)
        })?;
        let audit = read(&self.audit);
        let key = audit
            .key
            .as_ref()
            .ok_or(Error::Internal("audit key not loaded"))?;
        rows.iter()
            .map(|row| {
                let view = row.view();
                let linked = <&[u8; 32]>::try_from(view.prev).is_ok_and(|prev| {
                    key.link_hash(view.seq, prev, view.event).as_slice() == view.hash
                });
                if !linked {
                    return Err(Error::Integrity {
                        what: format!("audit record {}", view.seq),
                        detail: "its hash does not match its event".into(),
                    });
                }
                checked_view(&view, |_, _| {})?;
                entry(row)
            })
            .collect()
    }

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
                self.check_api_key(row)?;
            }
            for row in &workspaces {
                self.check_workspace(row)?;
            }
            for row in &signing_keys {
                self.check_signing_key(row)?;
            }
            self.check_identity(tx)?;
            chain
                .reconciler
                .check_mint_counter(self.mint_counter(tx)?)
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
    /// key, workspace and signing key.
    pub(crate) fn fold_chain(&self, tx: &Tx<'_>, anchor: Option<Anchor>) -> Result<Chain> {
        // An empty log (a head lookup, not a count of every row).
        if tx.audit_head()?.is_none() && anchor.is_none() {
            return Ok(Chain {
                reconciler: Reconciler::default(),
                summary: keyhold_audit::Summary {
                    rows: 0,
                    head_seq: 0,
                    head_hash: [0; 32],
                },
            });
        }
        self.load_audit_key(tx)?;
        let audit = read(&self.audit);
        let key = audit
            .key
            .as_ref()
            .ok_or(Error::Internal("audit key not loaded"))?;
        let mut verifier = Verifier::new(key, anchor);
        let mut reconciler = Reconciler::default();
        let mut bad: Option<Error> = None;
        tx.for_each_audit_row(|row| {
            let seq = row.seq;
            let (Ok(prev), Ok(hash)) = (
                <&[u8; 32]>::try_from(row.prev),
                <&[u8; 32]>::try_from(row.hash),
            ) else {
                bad = Some(Error::Integrity {
                    what: format!("audit record {seq}"),
                    detail: "malformed hash".into(),
                });
                return false;
            };
            let link = RowRef {
                seq,
                prev,
                hash,
                canonical: row.event,
            };
            // One pass over the event: the chain's check, the columns and the fold.
            let mut details = Details::default();
            let event = match verifier.push_viewed(&link, |name, value| details.note(name, value)) {
                Ok(v) => v,
                Err(e) => {
                    bad = Some(chain_error(&e));
                    return false;
                }
            };
            if let Err(e) = check_columns(row, &event) {
                bad = Some(e);
                return false;
            }
            reconciler.push(seq, &event, &details);
            true
        })?;
        if let Some(e) = bad {
            return Err(e);
        }
        let summary = verifier.finish().map_err(|e| chain_error(&e))?;
        Ok(Chain {
            reconciler,
            summary,
        })
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

fn chain_error(e: &ChainError) -> Error {
    Error::Integrity {
        what: format!("audit record {}", e.seq()),
        detail: e.to_string(),
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

/// The outcome of an operation whose audit record is on its way to disk: resolve it with
/// `wait()` (blocking) or `.await` it (any executor). Either way the outcome is given only
/// once the record is durable; a success whose record could not be written becomes an error.
/// Dropping it gives up waiting; the record is still written.
pub type Deferred<'a, T> = keyhold_audit::Deferred<'a, T, Keyhold>;

/// What a [`Deferred`] waits on: the handle's use-record queue, committed by `commit_uses`.
/// (Its methods take a token only `keyhold-audit` can make: nobody calls them from outside.)
impl keyhold_audit::Batches for Keyhold {
    type Item = Event;
    type Error = Error;
    fn queue(&self, _: keyhold_audit::commit::Token) -> &keyhold_audit::GroupCommit<Event> {
        &self.uses
    }
    fn commit(&self, batch: Vec<Event>, _: keyhold_audit::commit::Token) -> Result<()> {
        self.commit_uses(batch)
    }
}

/// A use record that did not become durable fails its operation.
impl From<keyhold_audit::CommitError> for Error {
    fn from(e: keyhold_audit::CommitError) -> Self {
        match e {
            keyhold_audit::CommitError::OutcomeTaken => Error::Internal("outcome taken twice"),
            _ => Error::Internal("the audit record of this operation could not be written"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_record_that_did_not_commit_fails_as_an_internal_error() {
        let e = Error::from(keyhold_audit::CommitError::BatchFailed);
        assert_eq!(e.code(), "internal_error");
        assert!(e.to_string().contains("could not be written"), "{e}");
        assert_eq!(Error::from(DraftError::Text).code(), "internal_error");
    }
}
