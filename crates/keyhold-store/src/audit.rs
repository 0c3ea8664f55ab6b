//! Audit-log statements. Rows are appended in the same transaction as the change they record
//! (fail-closed) and never updated or deleted by keyhold.

use rusqlite::{OptionalExtension, params};

use crate::{StoreError, Tx};

/// One stored audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// Unix milliseconds.
    pub time_ms: i64,
    /// Workspace id, if the event concerns one.
    pub workspace: Option<String>,
    /// Dotted action name (`key.created`, ...).
    pub action: String,
    /// Who acted (`sub`).
    pub actor: String,
    /// The API key the actor acted with, or the key acted on, if any.
    pub key_id: Option<String>,
    /// `success` or a failure code.
    pub outcome: String,
    /// The canonical encoding of the event (what the chain hashes).
    pub event: Vec<u8>,
    /// Hash of the previous row (zeros for the first).
    pub prev: Vec<u8>,
    /// This row's chain hash.
    pub hash: Vec<u8>,
}

/// One stored audit row, borrowed (see [`Tx::for_each_audit_row`]).
#[derive(Debug, Clone, Copy)]
pub struct AuditRowView<'a> {
    /// Position in the chain.
    pub seq: u64,
    /// The `time_ms` column.
    pub time_ms: i64,
    /// The `workspace` column.
    pub workspace: Option<&'a str>,
    /// The `action` column.
    pub action: &'a str,
    /// The `actor` column.
    pub actor: &'a str,
    /// The `key_id` column.
    pub key_id: Option<&'a str>,
    /// The `outcome` column.
    pub outcome: &'a str,
    /// The canonical event.
    pub event: &'a [u8],
    /// The previous row's hash, as stored.
    pub prev: &'a [u8],
    /// This row's hash.
    pub hash: &'a [u8],
}

impl AuditRow {
    /// This row, borrowed.
    pub fn view(&self) -> AuditRowView<'_> {
        AuditRowView {
            seq: self.seq,
            time_ms: self.time_ms,
            workspace: self.workspace.as_deref(),
            action: &self.action,
            actor: &self.actor,
            key_id: self.key_id.as_deref(),
            outcome: &self.outcome,
            event: &self.event,
            prev: &self.prev,
            hash: &self.hash,
        }
    }
}

fn view_of<'a>(r: &'a rusqlite::Row<'a>) -> rusqlite::Result<AuditRowView<'a>> {
    let text =
        |i: usize| -> rusqlite::Result<&'a str> { r.get_ref(i)?.as_str().map_err(Into::into) };
    let opt_text = |i: usize| -> rusqlite::Result<Option<&'a str>> {
        r.get_ref(i)?.as_str_or_null().map_err(Into::into)
    };
    let blob =
        |i: usize| -> rusqlite::Result<&'a [u8]> { r.get_ref(i)?.as_blob().map_err(Into::into) };
    Ok(AuditRowView {
        seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
        time_ms: r.get(1)?,
        workspace: opt_text(2)?,
        action: text(3)?,
        actor: text(4)?,
        key_id: opt_text(5)?,
        outcome: text(6)?,
        event: blob(7)?,
        prev: blob(8)?,
        hash: blob(9)?,
    })
}

/// Filters for [`Tx::audit_rows`]; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only rows at or after this time (ms).
    pub since_ms: Option<i64>,
    /// Only this action.
    pub action: Option<String>,
    /// Only rows about this key id.
    pub key_id: Option<String>,
    /// Only this actor (`sub`).
    pub actor: Option<String>,
    /// Only this workspace id.
    pub workspace: Option<String>,
    /// At most this many rows (newest last).
    pub limit: Option<u64>,
}

fn seq_to_sql(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn row_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
        time_ms: r.get(1)?,
        workspace: r.get(2)?,
        action: r.get(3)?,
        actor: r.get(4)?,
        key_id: r.get(5)?,
        outcome: r.get(6)?,
        event: r.get(7)?,
        prev: r.get(8)?,
        hash: r.get(9)?,
    })
}

const COLUMNS: &str = "seq, time_ms, workspace, action, actor, key_id, outcome, event, prev, hash";

impl Tx<'_> {
    /// The newest row's `(seq, hash)`, or `None` for an empty log.
    pub fn audit_head(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        // Cached: the use-record committer reads the head once per batch.
        self.conn()
            .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .and_then(|mut st| {
                st.query_row([], |r| {
                    Ok((u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0), r.get(1)?))
                })
                .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// Appends rows (their `seq`s must continue the chain; the primary key refuses reuse).
    pub fn append_audit(&self, rows: &[AuditRow]) -> Result<(), StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "INSERT INTO audit_log ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ))
            .map_err(|e| self.err(e))?;
        for row in rows {
            stmt.execute(params![
                seq_to_sql(row.seq),
                row.time_ms,
                row.workspace,
                row.action,
                row.actor,
                row.key_id,
                row.outcome,
                row.event,
                row.prev,
                row.hash
            ])
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Rows matching `filter`, oldest first.
    pub fn audit_rows(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(t) = filter.since_ms {
            args.push(t.into());
            sql.push_str(&format!(" AND time_ms >= ?{}", args.len()));
        }
        for (column, value) in [
            ("action", &filter.action),
            ("key_id", &filter.key_id),
            ("actor", &filter.actor),
            ("workspace", &filter.workspace),
        ] {
            if let Some(v) = value {
                args.push(v.clone().into());
                sql.push_str(&format!(" AND {column} = ?{}", args.len()));
            }
        }
        match filter.limit {
            // The newest `limit` rows, returned oldest first.
            Some(n) => {
                args.push(seq_to_sql(n).into());
                sql = format!(
                    "SELECT * FROM ({sql} ORDER BY seq DESC LIMIT ?{}) ORDER BY seq",
                    args.len()
                );
            }
            None => sql.push_str(" ORDER BY seq"),
        }
        let mut stmt = self.conn().prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), row_from)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Streams every row in `seq` order to `f` (for verification: no row is kept in memory
    /// longer than `f` keeps it). `f` returns `false` to stop.
    pub fn for_each_audit_row(
        &self,
        mut f: impl FnMut(&AuditRowView<'_>) -> bool,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let view = view_of(r).map_err(|e| self.err(e))?;
            if !f(&view) {
                break;
            }
        }
        Ok(())
    }

    /// Number of rows.
    pub fn audit_count(&self) -> Result<u64, StoreError> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| self.err(e))
    }
}
