//! Listing audit records: each row returned is checked against the chain and decoded.

use keyhold_api::AuditQuery;
pub use keyhold_audit::AuditEntry;
use keyhold_audit::canonical::{ValueView, View};
use keyhold_audit::{Columns, StoredAuditRow};
use keyhold_store::{AuditFilter, AuditRow, AuditRowView};

use crate::{Caller, Error, Keyhold, Result, read};

/// Reads a row's event (borrowed, no allocation) and checks that every filter column still
/// says what the chained event says: a row whose columns were edited (to hide it from a
/// filter or to show it under another actor) is an integrity error naming it. Each detail
/// goes to `detail`.
pub(super) fn checked_view<'a>(
    row: &AuditRowView<'a>,
    detail: impl FnMut(&'a str, ValueView<'a>),
) -> Result<View<'a>> {
    let v = keyhold_audit::canonical::view(row.event, detail).map_err(|_| Error::Integrity {
        what: format!("audit record {}", row.seq),
        detail: "undecodable event".into(),
    })?;
    keyhold_audit::fold::check_columns(row.seq, &stored(row).columns, &v)
        .map_err(|e| super::verify::row_error(&e))?;
    Ok(v)
}

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

fn entry(row: &AuditRow) -> Result<AuditEntry> {
    AuditEntry::decode(row.seq, &row.event, &row.hash).map_err(|_| Error::Integrity {
        what: format!("audit record {}", row.seq),
        detail: "undecodable event".into(),
    })
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
        let own = caller.principal().map(|p| p.workspace.as_str());
        if let Some(ws) = own {
            caller.require(keyhold_token::Scope::AuditRead, ws)?;
        }
        let filter = store_filter(query, own);
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
}
