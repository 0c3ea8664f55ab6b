use std::path::Path;

use rusqlite::Connection;

use crate::StoreError;
use crate::pg::PgConn;
use crate::sql::{Mismatch, Row, values};

/// One transaction's typed view of the database. Obtained from [`crate::Store::read`] or
/// [`crate::Store::write`]; every method is a single statement inside that transaction.
pub struct Tx<'a> {
    pub(crate) db: Db<'a>,
    pub(crate) path: &'a Path,
}

/// The database a transaction runs on.
pub(crate) enum Db<'a> {
    Sqlite(&'a Connection),
    Postgres(&'a PgConn),
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

fn workspace_from_row(r: &Row) -> Result<WorkspaceRow, Mismatch> {
    Ok(WorkspaceRow {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at: r.get(2)?,
        revoked_all_at_ms: r.get(3)?,
        revoked_all_seq: r.get(4)?,
        mac: r.get::<Option<Vec<u8>>>(5)?.unwrap_or_default(),
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

fn record_from_row(r: &Row) -> Result<RecordRow, Mismatch> {
    Ok(RecordRow {
        key: RecordKey {
            workspace: r.get(0)?,
            kind: r.get(1)?,
            id: r.get(2)?,
        },
        version: r.get(3)?,
        kek_id: r.get(4)?,
        envelope: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

const RECORD_COLUMNS: &str = "workspace, kind, id, version, kek_id, envelope, updated_at";

impl<'a> Tx<'a> {
    pub(crate) fn new(conn: &'a Connection, path: &'a Path) -> Self {
        Self {
            db: Db::Sqlite(conn),
            path,
        }
    }

    /// A transaction on a PostgreSQL connection; `location` names the database in errors.
    pub(crate) fn postgres(conn: &'a PgConn, location: &'a Path) -> Self {
        Self {
            db: Db::Postgres(conn),
            path: location,
        }
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
        let version = self.row("PRAGMA data_version", &[], |r| r.get(0))?;
        Ok(version.unwrap_or_default())
    }

    // --- meta ---------------------------------------------------------------------------

    /// A store-level metadata value.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.row("SELECT value FROM meta WHERE key = ?1", values![key], |r| {
            r.get(0)
        })
    }

    /// Sets a metadata value.
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            values![key, value],
        )
        .map(drop)
    }

    /// Removes a metadata value (no error if absent).
    pub fn delete_meta(&self, key: &str) -> Result<(), StoreError> {
        self.exec("DELETE FROM meta WHERE key = ?1", values![key])
            .map(drop)
    }

    // --- key-encryption keys ------------------------------------------------------------

    /// All KEKs, by id.
    pub fn keks(&self) -> Result<Vec<KekRow>, StoreError> {
        self.rows(
            "SELECT id, wrapped, state, created_at FROM keks ORDER BY id",
            &[],
            |r| {
                let state = match r.get::<String>(2)?.as_str() {
                    "active" => KekState::Active,
                    "retiring" => KekState::Retiring,
                    _ => return Err(Mismatch("keks.state")),
                };
                Ok(KekRow {
                    id: r.get(0)?,
                    wrapped: r.get(1)?,
                    state,
                    created_at: r.get(3)?,
                })
            },
        )
    }

    /// Id of the active KEK.
    pub fn active_kek_id(&self) -> Result<Option<u32>, StoreError> {
        self.row("SELECT id FROM keks WHERE state = 'active'", &[], |r| {
            r.get(0)
        })
    }

    /// The next unused KEK id.
    pub fn next_kek_id(&self) -> Result<u32, StoreError> {
        let next = self.row("SELECT COALESCE(MAX(id), 0) + 1 FROM keks", &[], |r| {
            r.get(0)
        })?;
        Ok(next.unwrap_or(1))
    }

    /// Adds a KEK.
    pub fn insert_kek(&self, row: &KekRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO keks (id, wrapped, state, created_at) VALUES (?1, ?2, ?3, ?4)",
            values![row.id, &row.wrapped, row.state.as_str(), row.created_at],
        )
        .map(drop)
    }

    /// Changes a KEK's state.
    pub fn set_kek_state(&self, id: u32, state: KekState) -> Result<(), StoreError> {
        self.exec(
            "UPDATE keks SET state = ?2 WHERE id = ?1",
            values![id, state.as_str()],
        )
        .map(drop)
    }

    /// Replaces a KEK's wrapped form (master-key rotation).
    pub fn set_kek_wrapped(&self, id: u32, wrapped: &[u8]) -> Result<(), StoreError> {
        self.exec(
            "UPDATE keks SET wrapped = ?2 WHERE id = ?1",
            values![id, wrapped],
        )
        .map(drop)
    }

    /// Deletes a KEK (the schema refuses while a record still references it).
    pub fn delete_kek(&self, id: u32) -> Result<(), StoreError> {
        self.exec("DELETE FROM keks WHERE id = ?1", values![id])
            .map(drop)
    }

    // --- workspaces ---------------------------------------------------------------------

    /// Adds a workspace; a taken name is a `Constraint` error.
    pub fn insert_workspace(&self, row: &WorkspaceRow) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO workspaces ({WORKSPACE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ),
            values![
                &row.id,
                &row.name,
                row.created_at,
                row.revoked_all_at_ms,
                row.revoked_all_seq,
                &row.mac
            ],
        )
        .map(drop)
    }

    /// All workspaces, by name.
    pub fn workspaces(&self) -> Result<Vec<WorkspaceRow>, StoreError> {
        self.rows(
            &format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY name"),
            &[],
            workspace_from_row,
        )
    }

    /// The workspace whose id or name is `ident`.
    pub fn workspace(&self, ident: &str) -> Result<Option<WorkspaceRow>, StoreError> {
        self.row(
            &format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1"),
            values![ident],
            workspace_from_row,
        )
    }

    /// Sets a workspace's revoke-all mark and its row's new MAC. `false` if it does not exist.
    pub fn set_workspace_revoke_all(
        &self,
        id: &str,
        at_ms: i64,
        seq: i64,
        mac: &[u8],
    ) -> Result<bool, StoreError> {
        self.exec(
            "UPDATE workspaces SET revoked_all_at_ms = ?2, revoked_all_seq = ?3, mac = ?4 WHERE id = ?1",
            values![id, at_ms, seq, mac],
        )
        .map(|n| n > 0)
    }

    /// Replaces a workspace row's revoke-all sequence number and MAC (schema upgrade).
    pub fn set_workspace_auth(
        &self,
        id: &str,
        seq: Option<i64>,
        mac: &[u8],
    ) -> Result<(), StoreError> {
        self.exec(
            "UPDATE workspaces SET revoked_all_seq = ?2, mac = ?3 WHERE id = ?1",
            values![id, seq, mac],
        )
        .map(drop)
    }

    /// Moves the standing counter explicitly (the triggers move it too; this covers a
    /// database whose triggers were dropped).
    pub fn bump_standing(&self) -> Result<(), StoreError> {
        self.exec(
            "UPDATE standing SET version = version + 1 WHERE id = 0",
            &[],
        )
        .map(drop)
    }

    // --- records ------------------------------------------------------------------------

    /// One record.
    pub fn record(&self, key: &RecordKey) -> Result<Option<RecordRow>, StoreError> {
        self.row(
            &format!("SELECT {RECORD_COLUMNS} FROM records WHERE workspace = ?1 AND kind = ?2 AND id = ?3"),
            values![&key.workspace, &key.kind, &key.id],
            record_from_row,
        )
    }

    /// Current version of a record (0 if absent).
    pub fn record_version(&self, key: &RecordKey) -> Result<u64, StoreError> {
        let version = self.row(
            "SELECT version FROM records WHERE workspace = ?1 AND kind = ?2 AND id = ?3",
            values![&key.workspace, &key.kind, &key.id],
            |r| r.get::<u64>(0),
        )?;
        Ok(version.unwrap_or(0))
    }

    /// Inserts or replaces a record.
    pub fn put_record(&self, row: &RecordRow) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO records ({RECORD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (workspace, kind, id) DO UPDATE SET
                   version = excluded.version, kek_id = excluded.kek_id,
                   envelope = excluded.envelope, updated_at = excluded.updated_at"
            ),
            values![
                &row.key.workspace,
                &row.key.kind,
                &row.key.id,
                row.version,
                row.kek_id,
                &row.envelope,
                row.updated_at
            ],
        )
        .map(drop)
    }

    /// Deletes a record; `true` if it existed.
    pub fn delete_record(&self, key: &RecordKey) -> Result<bool, StoreError> {
        self.exec(
            "DELETE FROM records WHERE workspace = ?1 AND kind = ?2 AND id = ?3",
            values![&key.workspace, &key.kind, &key.id],
        )
        .map(|n| n > 0)
    }

    /// Up to `limit` records whose data key is not wrapped by KEK `kek_id`.
    pub fn records_not_under_kek(
        &self,
        kek_id: u32,
        limit: usize,
    ) -> Result<Vec<RecordRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE kek_id <> ?1 ORDER BY workspace, kind, id LIMIT ?2"
            ),
            values![kek_id, limit],
            record_from_row,
        )
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
        self.exec(
            "UPDATE records SET kek_id = ?5, envelope = ?6
             WHERE workspace = ?1 AND kind = ?2 AND id = ?3 AND version = ?4",
            values![
                &key.workspace,
                &key.kind,
                &key.id,
                version,
                kek_id,
                envelope
            ],
        )
        .map(|n| n > 0)
    }

    /// Number of records, and of those not under KEK `kek_id`.
    pub fn record_counts(&self, kek_id: u32) -> Result<(u64, u64), StoreError> {
        let counts = self.row(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE kek_id <> ?1) FROM records",
            values![kek_id],
            |r| Ok((r.get::<u64>(0)?, r.get::<u64>(1)?)),
        )?;
        Ok(counts.unwrap_or((0, 0)))
    }
}
