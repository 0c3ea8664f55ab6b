use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// One transaction's typed view of the database. Obtained from [`crate::Store::read`] or
/// [`crate::Store::write`]; every method is a single statement inside that transaction.
pub struct Tx<'a> {
    conn: &'a Connection,
    path: &'a Path,
}

/// A workspace row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkspaceRow {
    /// Stable random id (`ws_…`).
    pub id: String,
    /// Unique, human-chosen name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// When all its keys were last revoked (ms), if ever (for display; the decision is by
    /// `revoked_all_seq`).
    pub revoked_all_at_ms: Option<i64>,
    /// Every key whose mint sequence number is at or below this one is revoked.
    pub revoked_all_seq: Option<i64>,
    /// The row's MAC (empty if the row has none).
    pub mac: Vec<u8>,
}

const WORKSPACE_COLUMNS: &str = "id, name, created_at, revoked_all_at_ms, revoked_all_seq, mac";

fn workspace_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WorkspaceRow> {
    Ok(WorkspaceRow {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at: r.get(2)?,
        revoked_all_at_ms: r.get(3)?,
        revoked_all_seq: r.get(4)?,
        mac: r.get::<_, Option<Vec<u8>>>(5)?.unwrap_or_default(),
    })
}

/// Lifecycle of a key-encryption key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KekState {
    /// Wraps every new data key. Exactly one KEK is active.
    Active,
    /// Kept only to unwrap data keys not yet re-wrapped; deleted when none remain.
    Retiring,
}

impl KekState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Retiring => "retiring",
        }
    }
}

/// A stored (wrapped) key-encryption key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KekRow {
    /// KEK id, as named in envelope headers.
    pub id: u32,
    /// The KEK wrapped under the master wrap key.
    pub wrapped: Vec<u8>,
    /// Active or retiring.
    pub state: KekState,
    /// Unix seconds.
    pub created_at: i64,
}

/// The identity of an encrypted record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordKey {
    /// Workspace id; empty for store-level records.
    pub workspace: String,
    /// Record kind.
    pub kind: String,
    /// Id within kind and workspace.
    pub id: String,
}

/// An encrypted record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    /// Which record.
    pub key: RecordKey,
    /// Incremented by every write; bound into the envelope's AAD.
    pub version: u64,
    /// The KEK that wraps this record's data key (mirrors the envelope header, for rotation).
    pub kek_id: u32,
    /// The envelope bytes.
    pub envelope: Vec<u8>,
    /// Unix seconds.
    pub updated_at: i64,
}

fn version_from_sql(v: i64) -> u64 {
    // The schema's CHECK (version > 0) keeps this non-negative.
    u64::try_from(v).unwrap_or(0)
}

fn version_to_sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn record_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok(RecordRow {
        key: RecordKey {
            workspace: r.get(0)?,
            kind: r.get(1)?,
            id: r.get(2)?,
        },
        version: version_from_sql(r.get(3)?),
        kek_id: r.get(4)?,
        envelope: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

const RECORD_COLUMNS: &str = "workspace, kind, id, version, kek_id, envelope, updated_at";

impl<'a> Tx<'a> {
    pub(crate) fn new(conn: &'a Connection, path: &'a Path) -> Self {
        Self { conn, path }
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(self.path, e)
    }

    pub(crate) fn conn(&self) -> &Connection {
        self.conn
    }

    pub(crate) fn bad_value(&self, column: &'static str) -> StoreError {
        StoreError::BadValue {
            path: self.path.to_path_buf(),
            column,
        }
    }

    /// `PRAGMA data_version` as seen by this transaction (see `Store::data_version`).
    #[cfg(test)]
    pub(crate) fn data_version(&self) -> Result<i64, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("PRAGMA data_version")
            .map_err(|e| self.err(e))?;
        stmt.query_row([], |r| r.get(0)).map_err(|e| self.err(e))
    }

    // --- meta ---------------------------------------------------------------------------

    /// A store-level metadata value.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets a metadata value.
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Removes a metadata value (no error if absent).
    pub fn delete_meta(&self, key: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM meta WHERE key = ?1", [key])
            .map(drop)
            .map_err(|e| self.err(e))
    }

    // --- key-encryption keys ------------------------------------------------------------

    /// All KEKs, by id.
    pub fn keks(&self) -> Result<Vec<KekRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, wrapped, state, created_at FROM keks ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get(1)?,
                    r.get::<_, String>(2)?,
                    r.get(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, wrapped, state, created_at) = row.map_err(|e| self.err(e))?;
            let state = match state.as_str() {
                "active" => KekState::Active,
                "retiring" => KekState::Retiring,
                _ => {
                    return Err(StoreError::BadValue {
                        path: self.path.to_path_buf(),
                        column: "keks.state",
                    });
                }
            };
            out.push(KekRow {
                id,
                wrapped,
                state,
                created_at,
            });
        }
        Ok(out)
    }

    /// Id of the active KEK.
    pub fn active_kek_id(&self) -> Result<Option<u32>, StoreError> {
        self.conn
            .query_row("SELECT id FROM keks WHERE state = 'active'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The next unused KEK id.
    pub fn next_kek_id(&self) -> Result<u32, StoreError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM keks", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Adds a KEK.
    pub fn insert_kek(&self, row: &KekRow) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO keks (id, wrapped, state, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![row.id, row.wrapped, row.state.as_str(), row.created_at],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Changes a KEK's state.
    pub fn set_kek_state(&self, id: u32, state: KekState) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE keks SET state = ?2 WHERE id = ?1",
                params![id, state.as_str()],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Replaces a KEK's wrapped form (master-key rotation).
    pub fn set_kek_wrapped(&self, id: u32, wrapped: &[u8]) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE keks SET wrapped = ?2 WHERE id = ?1",
                params![id, wrapped],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Deletes a KEK (the schema refuses while a record still references it).
    pub fn delete_kek(&self, id: u32) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM keks WHERE id = ?1", [id])
            .map(drop)
            .map_err(|e| self.err(e))
    }

    // --- workspaces ---------------------------------------------------------------------

    /// Adds a workspace; a taken name is a `Constraint` error.
    pub fn insert_workspace(&self, row: &WorkspaceRow) -> Result<(), StoreError> {
        self.conn
            .execute(
                &format!(
                    "INSERT INTO workspaces ({WORKSPACE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![
                    row.id,
                    row.name,
                    row.created_at,
                    row.revoked_all_at_ms,
                    row.revoked_all_seq,
                    row.mac
                ],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// All workspaces, by name.
    pub fn workspaces(&self) -> Result<Vec<WorkspaceRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY name"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], workspace_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The workspace whose id or name is `ident`.
    pub fn workspace(&self, ident: &str) -> Result<Option<WorkspaceRow>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1"),
                [ident],
                workspace_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets a workspace's revoke-all mark and its row's new MAC. `false` if it does not exist.
    pub fn set_workspace_revoke_all(
        &self,
        id: &str,
        at_ms: i64,
        seq: i64,
        mac: &[u8],
    ) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "UPDATE workspaces SET revoked_all_at_ms = ?2, revoked_all_seq = ?3, mac = ?4 WHERE id = ?1",
                params![id, at_ms, seq, mac],
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// Replaces a workspace row's revoke-all sequence number and MAC (schema upgrade).
    pub fn set_workspace_auth(
        &self,
        id: &str,
        seq: Option<i64>,
        mac: &[u8],
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE workspaces SET revoked_all_seq = ?2, mac = ?3 WHERE id = ?1",
                params![id, seq, mac],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Moves the standing counter explicitly (the triggers move it too; this covers a
    /// database whose triggers were dropped).
    pub fn bump_standing(&self) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE standing SET version = version + 1 WHERE id = 0")
            .and_then(|mut st| st.execute([]))
            .map(drop)
            .map_err(|e| self.err(e))
    }

    // --- records ------------------------------------------------------------------------

    /// One record.
    pub fn record(&self, key: &RecordKey) -> Result<Option<RecordRow>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {RECORD_COLUMNS} FROM records WHERE workspace = ?1 AND kind = ?2 AND id = ?3"),
                params![key.workspace, key.kind, key.id],
                record_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Current version of a record (0 if absent).
    pub fn record_version(&self, key: &RecordKey) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT version FROM records WHERE workspace = ?1 AND kind = ?2 AND id = ?3",
                params![key.workspace, key.kind, key.id],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|v| v.map_or(0, version_from_sql))
            .map_err(|e| self.err(e))
    }

    /// Inserts or replaces a record.
    pub fn put_record(&self, row: &RecordRow) -> Result<(), StoreError> {
        self.conn
            .execute(
                &format!(
                    "INSERT INTO records ({RECORD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (workspace, kind, id) DO UPDATE SET
                       version = excluded.version, kek_id = excluded.kek_id,
                       envelope = excluded.envelope, updated_at = excluded.updated_at"
                ),
                params![
                    row.key.workspace,
                    row.key.kind,
                    row.key.id,
                    version_to_sql(row.version),
                    row.kek_id,
                    row.envelope,
                    row.updated_at
                ],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Deletes a record; `true` if it existed.
    pub fn delete_record(&self, key: &RecordKey) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "DELETE FROM records WHERE workspace = ?1 AND kind = ?2 AND id = ?3",
                params![key.workspace, key.kind, key.id],
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// Up to `limit` records whose data key is not wrapped by KEK `kek_id`.
    pub fn records_not_under_kek(
        &self,
        kek_id: u32,
        limit: usize,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE kek_id <> ?1 ORDER BY workspace, kind, id LIMIT ?2"
            ))
            .map_err(|e| self.err(e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![kek_id, limit], record_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Replaces a record's envelope and KEK id if its version is still `version`
    /// (KEK rotation: the plaintext and version are unchanged). `true` if replaced.
    pub fn rewrap_record(
        &self,
        key: &RecordKey,
        version: u64,
        kek_id: u32,
        envelope: &[u8],
    ) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "UPDATE records SET kek_id = ?5, envelope = ?6
                 WHERE workspace = ?1 AND kind = ?2 AND id = ?3 AND version = ?4",
                params![
                    key.workspace,
                    key.kind,
                    key.id,
                    version_to_sql(version),
                    kek_id,
                    envelope
                ],
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// Number of records, and of those not under KEK `kek_id`.
    pub fn record_counts(&self, kek_id: u32) -> Result<(u64, u64), StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE kek_id <> ?1) FROM records",
                [kek_id],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .map(|(a, b)| (version_from_sql(a), version_from_sql(b)))
            .map_err(|e| self.err(e))
    }
}
