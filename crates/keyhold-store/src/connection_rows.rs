//! Connection statements: a connection's public settings, its two slots' rotation states and
//! its rotation schedule. The credentials themselves are envelope records (`records`); this
//! table holds none.

use crate::sql::{Mismatch, Row, values};
use crate::{StoreError, Tx};

/// A connection as stored. Every column but the informational ones (`last_used_at`, the
/// schedule) is covered by `mac`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionRow {
    /// Random id (credential records are named after it).
    pub id: String,
    /// Workspace id.
    pub workspace: String,
    /// Name, unique within the workspace.
    pub name: String,
    /// The target's kind (`postgres`, `http`, `generic`).
    pub kind: String,
    /// The target's public settings, as the facade encoded them (never a secret).
    pub settings: String,
    /// Grace period of a credential that stopped being active, in seconds.
    pub grace_secs: i64,
    /// Rotate this often (seconds), if regular rotation is on.
    pub rotate_every_secs: Option<i64>,
    /// The last credential version numbered.
    pub last_version: i64,
    /// The primary slot's state, encoded.
    pub primary_state: String,
    /// The secondary slot's state, encoded.
    pub secondary_state: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Who created it.
    pub created_by: String,
    /// Unix seconds of the last transition.
    pub updated_at: i64,
    /// The row's MAC (empty if the row has none).
    pub mac: Vec<u8>,
    /// Unix seconds a consumer last read its credential (informational).
    pub last_used_at: Option<i64>,
    /// When the next regular rotation is due (informational: decides when, not who gets in).
    pub next_rotation_at: Option<i64>,
    /// Regular rotations failed in a row since the last success.
    pub rotation_failures: i64,
}

const COLUMNS: &str = "id, workspace, name, kind, settings, grace_secs, rotate_every_secs, \
     last_version, primary_state, secondary_state, created_at, created_by, updated_at, mac, \
     last_used_at, next_rotation_at, rotation_failures";

fn from_row(r: &Row) -> Result<ConnectionRow, Mismatch> {
    Ok(ConnectionRow {
        id: r.get(0)?,
        workspace: r.get(1)?,
        name: r.get(2)?,
        kind: r.get(3)?,
        settings: r.get(4)?,
        grace_secs: r.get(5)?,
        rotate_every_secs: r.get(6)?,
        last_version: r.get(7)?,
        primary_state: r.get(8)?,
        secondary_state: r.get(9)?,
        created_at: r.get(10)?,
        created_by: r.get(11)?,
        updated_at: r.get(12)?,
        mac: r.get(13)?,
        last_used_at: r.get(14)?,
        next_rotation_at: r.get(15)?,
        rotation_failures: r.get(16)?,
    })
}

impl Tx<'_> {
    /// Adds a connection; `Ok(false)` if the workspace already has one of that name.
    pub fn insert_connection(&self, row: &ConnectionRow) -> Result<bool, StoreError> {
        self.exec(
            &format!(
                "INSERT INTO connections ({COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) \
                 ON CONFLICT (workspace, name) DO NOTHING"
            ),
            values![
                &row.id,
                &row.workspace,
                &row.name,
                &row.kind,
                &row.settings,
                row.grace_secs,
                row.rotate_every_secs,
                row.last_version,
                &row.primary_state,
                &row.secondary_state,
                row.created_at,
                &row.created_by,
                row.updated_at,
                &row.mac,
                row.last_used_at,
                row.next_rotation_at,
                row.rotation_failures,
            ],
        )
        .map(|n| n == 1)
    }

    /// The connection named `name` in `workspace`.
    pub fn connection(
        &self,
        workspace: &str,
        name: &str,
    ) -> Result<Option<ConnectionRow>, StoreError> {
        self.row(
            &format!("SELECT {COLUMNS} FROM connections WHERE workspace = ?1 AND name = ?2"),
            values![workspace, name],
            from_row,
        )
    }

    /// The workspace's connections (every workspace's with `None`), by name.
    pub fn connections(&self, workspace: Option<&str>) -> Result<Vec<ConnectionRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {COLUMNS} FROM connections WHERE CAST(?1 AS TEXT) IS NULL OR workspace = ?1 \
                 ORDER BY workspace, name"
            ),
            values![workspace],
            from_row,
        )
    }

    /// Connections with a regular rotation due at `now` (every workspace), soonest first.
    pub fn connections_due(&self, now: i64) -> Result<Vec<ConnectionRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {COLUMNS} FROM connections WHERE next_rotation_at <= ?1 \
                 AND rotate_every_secs IS NOT NULL ORDER BY next_rotation_at, id"
            ),
            values![now],
            from_row,
        )
    }

    /// Rewrites the connection's authenticated columns (everything but its id, workspace,
    /// name, creation and the informational columns): a transition. `Ok(false)` if it is
    /// gone.
    pub fn update_connection(&self, row: &ConnectionRow) -> Result<bool, StoreError> {
        self.exec(
            "UPDATE connections SET settings = ?2, grace_secs = ?3, rotate_every_secs = ?4, \
             last_version = ?5, primary_state = ?6, secondary_state = ?7, updated_at = ?8, \
             mac = ?9, next_rotation_at = ?10, rotation_failures = ?11 WHERE id = ?1",
            values![
                &row.id,
                &row.settings,
                row.grace_secs,
                row.rotate_every_secs,
                row.last_version,
                &row.primary_state,
                &row.secondary_state,
                row.updated_at,
                &row.mac,
                row.next_rotation_at,
                row.rotation_failures,
            ],
        )
        .map(|n| n == 1)
    }

    /// Claims a due rotation of connection `id`, whose schedule was read as `seen`: moves its
    /// schedule to `next` with `failures` — only if nobody changed it since (so two runners
    /// never both take it). Whether it was claimed.
    pub fn claim_rotation(
        &self,
        id: &str,
        seen: Option<i64>,
        next: Option<i64>,
        failures: i64,
    ) -> Result<bool, StoreError> {
        self.exec(
            "UPDATE connections SET next_rotation_at = ?3, rotation_failures = ?4 \
             WHERE id = ?1 AND next_rotation_at IS NOT DISTINCT FROM ?2",
            values![id, seen, next, failures],
        )
        .map(|n| n == 1)
    }

    /// Deletes the connection's row; `Ok(false)` if it was gone.
    pub fn delete_connection(&self, id: &str) -> Result<bool, StoreError> {
        self.exec("DELETE FROM connections WHERE id = ?1", values![id])
            .map(|n| n == 1)
    }

    /// Deletes every record of `kind` in `workspace` whose id starts with `prefix` (a
    /// connection's credentials, all versions); how many were deleted.
    pub fn delete_records_prefixed(
        &self,
        workspace: &str,
        kind: &str,
        prefix: &str,
    ) -> Result<usize, StoreError> {
        self.exec(
            "DELETE FROM records WHERE workspace = ?1 AND kind = ?2 \
             AND substr(id, 1, length(?3)) = ?3",
            values![workspace, kind, prefix],
        )
    }

    /// Takes the connection's lease for `owner` (of this process) until `until`: the right
    /// to act at its target. `Ok(false)` while another owner holds an unexpired lease — unless
    /// that owner's process is known to be gone — or if the connection is gone.
    pub fn take_connection_lease(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let owner = crate::lease::tagged(owner);
        // A lease that would end later than one taken now is none this code wrote (leases
        // last the same time): it is not honoured, so an edited row cannot hold one forever.
        let holder = self
            .row(
                "SELECT lease_owner FROM connections WHERE id = ?1 AND lease_until > ?2 \
                 AND lease_until <= ?3",
                values![id, now, until],
                |r| r.get::<Option<String>>(0),
            )?
            .flatten();
        // A dead holder's lease is taken over as it stands, not any other.
        let dead = holder.filter(|h| *h != owner && crate::lease::holder_gone(h));
        self.exec(
            "UPDATE connections SET lease_owner = ?2, lease_until = ?4 WHERE id = ?1 \
             AND (lease_owner IS NULL OR lease_owner = ?2 OR lease_until <= ?3 \
                  OR lease_until > ?4 OR lease_owner = ?5)",
            values![id, &owner, now, until, dead],
        )
        .map(|n| n == 1)
    }

    /// Gives the lease back, if `owner` still holds it.
    pub fn release_connection_lease(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE connections SET lease_owner = NULL, lease_until = NULL \
             WHERE id = ?1 AND lease_owner = ?2",
            values![id, crate::lease::tagged(owner)],
        )
        .map(drop)
    }

    /// The ids of the records of `kind` in `workspace` whose id starts with `prefix`.
    pub fn record_ids_prefixed(
        &self,
        workspace: &str,
        kind: &str,
        prefix: &str,
    ) -> Result<Vec<String>, StoreError> {
        self.rows(
            "SELECT id FROM records WHERE workspace = ?1 AND kind = ?2 \
             AND substr(id, 1, length(?3)) = ?3 ORDER BY id",
            values![workspace, kind, prefix],
            |r| r.get(0),
        )
    }

    /// Records that a consumer read connection `name`'s credential at `at` (informational).
    pub fn touch_connection_named(
        &self,
        workspace: &str,
        name: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "UPDATE connections SET last_used_at = ?3 WHERE workspace = ?1 AND name = ?2 \
             AND (last_used_at IS NULL OR last_used_at < ?3)",
            values![workspace, name, at],
        )
        .map(drop)
    }
}
