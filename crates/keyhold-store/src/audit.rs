//! Audit-log statements. Rows are appended in the same transaction as the change they record
//! (fail-closed) and never updated or deleted by keyhold.

use crate::sql::{Mismatch, Row, Value, values};
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

fn row_from(r: &Row) -> Result<AuditRow, Mismatch> {
    Ok(AuditRow {
        seq: r.get(0)?,
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

/// How many rows [`Tx::for_each_audit_row`] reads at a time.
/// How many audit rows [`Tx::for_each_audit_row`] reads per statement.
pub const AUDIT_STREAM_PAGE: usize = 512;

/// How many audit rows one `INSERT` writes (largest first; 1 ends every batch).
const INSERT_CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// `INSERT INTO audit_log (...) VALUES (?1, ..., ?10), (?11, ...), ...` for `n` rows.
fn insert_sql(n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|r| {
            let params: Vec<String> = (1..=10).map(|c| format!("?{}", r * 10 + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO audit_log ({COLUMNS}) VALUES {}",
        rows.join(", ")
    )
}

/// A row's values, in `COLUMNS` order.
fn row_values(row: &AuditRow) -> [Value; 10] {
    [
        Value::from(row.seq),
        Value::from(row.time_ms),
        Value::from(row.workspace.clone()),
        Value::from(row.action.as_str()),
        Value::from(row.actor.as_str()),
        Value::from(row.key_id.clone()),
        Value::from(row.outcome.as_str()),
        Value::from(row.event.as_slice()),
        Value::from(row.prev.as_slice()),
        Value::from(row.hash.as_slice()),
    ]
}

impl Tx<'_> {
    /// The newest row's `(seq, hash)`, or `None` for an empty log.
    pub fn audit_head(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        // Cached (as every statement is): the use-record committer reads the head once per
        // batch.
        self.row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
            |r| Ok((r.get::<u64>(0)?, r.get(1)?)),
        )
    }

    /// Appends rows (their `seq`s must continue the chain; the primary key refuses reuse).
    pub fn append_audit(&self, rows: &[AuditRow]) -> Result<(), StoreError> {
        // Several rows per statement: a batch of use records is a few round trips to a
        // database server, not one per row. Chunks of fixed sizes keep the prepared
        // statements few.
        let mut rest = rows;
        while !rest.is_empty() {
            let n = INSERT_CHUNKS
                .iter()
                .copied()
                .find(|&n| n <= rest.len())
                .unwrap_or(1);
            let (chunk, after) = rest.split_at(n);
            let params: Vec<Value> = chunk.iter().flat_map(row_values).collect();
            self.exec(&insert_sql(n), &params)?;
            rest = after;
        }
        Ok(())
    }

    /// Rows matching `filter`, oldest first.
    pub fn audit_rows(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
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
                args.push(v.into());
                sql.push_str(&format!(" AND {column} = ?{}", args.len()));
            }
        }
        match filter.limit {
            // The newest `limit` rows, returned oldest first.
            Some(n) => {
                args.push(n.into());
                sql = format!(
                    "SELECT * FROM ({sql} ORDER BY seq DESC LIMIT ?{}) AS newest ORDER BY seq",
                    args.len()
                );
            }
            None => sql.push_str(" ORDER BY seq"),
        }
        self.rows(&sql, &args, row_from)
    }

    /// Streams every row in `seq` order to `f` (for verification: rows are read a page of 512
    /// at a time, so no more than a page is kept in memory besides what `f` keeps). `f`
    /// returns `false` to stop.
    pub fn for_each_audit_row(
        &self,
        mut f: impl FnMut(&AuditRowView<'_>) -> bool,
    ) -> Result<(), StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2");
        // Every `seq` is above 0 (the schema checks it).
        let mut after = 0_u64;
        loop {
            let page = self.rows(&sql, values![after, AUDIT_STREAM_PAGE], row_from)?;
            for row in &page {
                if !f(&row.view()) {
                    return Ok(());
                }
            }
            match page.last() {
                Some(last) if page.len() == AUDIT_STREAM_PAGE => after = last.seq,
                _ => return Ok(()),
            }
        }
    }

    /// Number of rows.
    pub fn audit_count(&self) -> Result<u64, StoreError> {
        // A count always answers one row; without one, the log is empty.
        let n = self.row("SELECT COUNT(*) FROM audit_log", &[], |r| r.get::<u64>(0))?;
        Ok(n.unwrap_or(0))
    }
}
