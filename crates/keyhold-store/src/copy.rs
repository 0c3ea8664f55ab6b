//! Moving a store: every row of one store into another, empty one of the same schema — from
//! SQLite to a shared PostgreSQL database as a team grows, or back, for a copy of it. Rows
//! move as they are stored (ciphertext, wrapped keys, MACs): nothing is decrypted and every
//! MAC and the audit chain stay valid, because they bind the store's id, which moves too.

use crate::sql::Value;
use crate::{Store, StoreError, Tx};

/// Every table a copy moves, parents before children, with its columns. (`keyhold_schema`
/// and `writes` belong to the target; `standing`'s one row is carried over by value.)
const TABLES: &[(&str, &str)] = &[
    ("meta", "key, value"),
    ("keks", "id, wrapped, state, created_at"),
    (
        "workspaces",
        "id, name, created_at, revoked_all_at_ms, revoked_all_seq, mac",
    ),
    (
        "records",
        "workspace, kind, id, version, kek_id, envelope, updated_at",
    ),
    (
        "signing_keys",
        "kid, public_key, state, created_at, retired_at, mac",
    ),
    (
        "api_keys",
        "jti, workspace, name, sub, scopes, kid, fingerprint, created_at_ms, created_by, \
         expires_at, revoked_at_ms, revoked_by, last_used_at, mint_seq, mac",
    ),
    (
        "audit_log",
        "seq, time_ms, workspace, action, actor, key_id, outcome, event, prev, hash",
    ),
    (
        "connections",
        "id, workspace, name, kind, settings, grace_secs, rotate_every_secs, last_version, \
         primary_state, secondary_state, created_at, created_by, updated_at, mac, last_used_at, \
         next_rotation_at, rotation_failures, lease_owner, lease_until",
    ),
    (
        "confirmations",
        "id, workspace, caller, intent, expires_at, mac",
    ),
    (
        "people",
        "email, display_name, password_hash, totp, created_at, updated_at, mac, totp_step, \
         last_sign_in",
    ),
    (
        "members",
        "workspace, email, role, state, created_by, created_at, updated_at, mac",
    ),
    (
        "sessions",
        "id, email, workspace, csrf, created_at, idle_secs, absolute_secs, mac, last_seen",
    ),
    ("enrolments", "id, email, workspace, expires_at, mac"),
    ("sign_in_failures", "subject, failures, last_at"),
    (
        "workspace_policies",
        "workspace, require_totp, developer_scopes, updated_at, mac",
    ),
];

/// Audit rows read per statement (the log is the one table that grows without bound).
const AUDIT_PAGE: usize = 1000;

/// What a copy moved: rows per table, in copy order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied(pub Vec<(&'static str, u64)>);

impl Store {
    /// Copies every row of this store into `target`, which must be empty and at this store's
    /// schema version: one read snapshot here, one write transaction there, so the target
    /// ends up with all of it or, on any error, nothing.
    pub fn copy_into(&self, target: &Store) -> Result<Copied, StoreError> {
        let (from, to) = (self.schema_version()?, target.schema_version()?);
        if from != to {
            return Err(StoreError::NewerSchema {
                path: if from > to { target } else { self }.path().to_path_buf(),
                found: from.min(to),
                supported: from.max(to),
            });
        }
        self.read(|src| {
            target.write(|dst| {
                refuse_nonempty(dst, target)?;
                let mut copied = Vec::with_capacity(TABLES.len());
                for &(table, columns) in TABLES {
                    copied.push((table, copy_table(src, dst, table, columns)?));
                }
                let standing = src.row("SELECT version FROM standing WHERE id = 0", &[], |r| {
                    r.get::<i64>(0)
                })?;
                dst.exec(
                    "UPDATE standing SET version = ?1 WHERE id = 0",
                    &[Value::from(standing.unwrap_or(0))],
                )?;
                Ok(Copied(copied))
            })
        })
    }
}

/// Refuses a target that holds any row of a copied table.
fn refuse_nonempty(dst: &Tx<'_>, target: &Store) -> Result<(), StoreError> {
    for &(table, _) in TABLES {
        let any = dst.row(&format!("SELECT 1 FROM {table} LIMIT 1"), &[], |_| Ok(()))?;
        if any.is_some() {
            return Err(StoreError::AlreadyExists(target.path().to_path_buf()));
        }
    }
    Ok(())
}

/// Copies one table; how many rows.
fn copy_table(src: &Tx<'_>, dst: &Tx<'_>, table: &str, columns: &str) -> Result<u64, StoreError> {
    let width = columns.split(',').count();
    let params: Vec<String> = (1..=width).map(|i| format!("?{i}")).collect();
    let insert = format!(
        "INSERT INTO {table} ({columns}) VALUES ({})",
        params.join(", ")
    );
    let mut n = 0;
    if table == "audit_log" {
        let page = format!("SELECT {columns} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2");
        let mut after = 0_i64;
        loop {
            let rows = src.fetch(&page, &[Value::from(after), Value::from(AUDIT_PAGE)], None)?;
            for row in &rows {
                dst.exec(&insert, &row.0)?;
                // seq is the first column: one that does not read as an integer would
                // have the next page start over, for ever.
                after = row.get(0).map_err(|_| src.bad_value("audit_log.seq"))?;
            }
            n += rows.len() as u64;
            if rows.len() < AUDIT_PAGE {
                return Ok(n);
            }
        }
    }
    for row in src.fetch(&format!("SELECT {columns} FROM {table}"), &[], None)? {
        dst.exec(&insert, &row.0)?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::TABLES;
    use crate::Store;

    /// A table added to the schema, or a column added to a table, is one the copy moves: or
    /// this fails (against SQLite's schema; the contract tests run the same statements on
    /// PostgreSQL's).
    #[test]
    fn the_copy_moves_every_table_and_column_of_the_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::create(&dir.path().join("keyhold.db")).expect("create");
        let own = ["keyhold_schema", "writes", "standing", "sqlite_sequence"];
        store
            .read(|tx| {
                let tables = tx.fetch(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                    &[],
                    None,
                )?;
                let mut names: Vec<String> = tables
                    .iter()
                    .filter_map(|r| r.get::<String>(0).ok())
                    .filter(|t| !own.contains(&t.as_str()))
                    .collect();
                let mut copied: Vec<String> = TABLES.iter().map(|(t, _)| (*t).to_owned()).collect();
                names.sort();
                copied.sort();
                assert_eq!(names, copied);
                for (table, columns) in TABLES {
                    let info = tx.fetch(&format!("PRAGMA table_info({table})"), &[], None)?;
                    let mut actual: Vec<String> = info
                        .iter()
                        .filter_map(|r| r.get::<String>(1).ok())
                        .collect();
                    let mut listed: Vec<String> =
                        columns.split(',').map(|c| c.trim().to_owned()).collect();
                    actual.sort();
                    listed.sort();
                    assert_eq!(actual, listed, "{table}");
                }
                Ok::<_, crate::StoreError>(())
            })
            .expect("read");
    }
}
