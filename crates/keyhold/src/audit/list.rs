//! Listing audit records: each row returned is checked against the chain and decoded.

use keyhold_api::AuditQuery;
pub use keyhold_audit::AuditEntry;
use keyhold_audit::{Columns, StoredAuditRow};
use keyhold_store::{AuditFilter, AuditRowView};

use crate::{Caller, Error, Keyhold, Result, read};

/// A stored row as `keyhold-audit` checks it (plain values).
pub(super) fn stored<'a>(row: &AuditRowView<'a>) -> StoredAuditRow<'a> {
    StoredAuditRow {
        seq: row.seq,
        prev: row.prev,
        hash: row.hash,
        event: row.event,
        columns: Columns {
            time_ms: row.time_ms,
            workspace: row.workspace,
            action: row.action,
            actor: row.actor,
            key_id: row.key_id,
            outcome: row.outcome,
        },
    }
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The store's filter for `q`, in `workspace` if given (a key's own) or else in `q`'s.
fn store_filter(q: &AuditQuery, workspace: Option<&str>) -> AuditFilter {
    AuditFilter {
        since_ms: q.since_ms,
        action: q.action.clone(),
        key_id: q.key.clone(),
        actor: q.actor.clone(),
        workspace: workspace.map(str::to_owned).or_else(|| q.workspace.clone()),
        limit: q.limit,
    }
}

impl Keyhold {
    /// Audit records matching `query`, oldest first (`audit:read`; a key sees only its own
    /// workspace).
    ///
    /// Every row returned is checked first: its chain hash against its event (under the audit
    /// key) and its filter columns against the event, so a row cannot appear under another
    /// actor, key, workspace or time. (A row hidden from a filter by an edited column is not
    /// returned: `audit verify` names it.)
    pub fn audit_entries(&self, caller: &Caller, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let own = caller.confined_to();
        if let Some(ws) = own {
            caller.require(keyhold_token::Scope::AuditRead, ws)?;
        }
        let mut filter = store_filter(query, own);
        if caller.own_only(keyhold_token::Scope::AuditRead) {
            // A developer reads the records of their own actions only.
            filter.actor = Some(caller.sub());
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
                AuditEntry::checked(key, &stored(&row.view()))
                    .map_err(|e| super::verify::row_error(&e))
            })
            .collect()
    }
}
