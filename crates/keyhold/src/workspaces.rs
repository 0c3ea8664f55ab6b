use keyhold_store::{StoreError, Tx, WorkspaceRow};

use crate::{Error, Keyhold, Result, names, now};

/// A workspace: the unit that owns API keys, connections and records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Workspace {
    /// Stable id (`ws_` + 20 hex digits).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<WorkspaceRow> for Workspace {
    fn from(r: WorkspaceRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
        }
    }
}

impl Keyhold {
    pub(crate) fn insert_workspace(&self, tx: &Tx<'_>, name: &str, now: i64) -> Result<Workspace> {
        names::workspace(name)?;
        let mut row = WorkspaceRow {
            id: keyhold_crypto::random::identifier("ws_", 10)?,
            name: name.to_owned(),
            created_at: now,
            revoked_all_at_ms: None,
            revoked_all_seq: None,
            mac: Vec::new(),
        };
        self.rows.mac_workspace(&mut row)?;
        tx.insert_workspace(&row).map_err(|e| match e {
            StoreError::Constraint(_) => Error::Conflict(format!("workspace \"{name}\"")),
            other => Error::Store(other),
        })?;
        Ok(row.into())
    }

    /// The workspace row with this id or name, authenticated.
    pub(crate) fn workspace_row(&self, tx: &Tx<'_>, ident: &str) -> Result<WorkspaceRow> {
        let row = tx
            .workspace(ident)?
            .ok_or_else(|| Error::NotFound(format!("workspace {}", crate::names::quoted(ident))))?;
        self.rows.check_workspace(&row)?;
        Ok(row)
    }

    /// The workspace row for a revocation, and whether the whole row authenticates (an edited
    /// row named by its id still serves while its revoke-all mark authenticates:
    /// `keyhold_integrity`'s revocation rule).
    pub(crate) fn workspace_row_for_revocation(
        &self,
        tx: &Tx<'_>,
        ident: &str,
    ) -> Result<(WorkspaceRow, bool)> {
        let row = tx
            .workspace(ident)?
            .ok_or_else(|| Error::NotFound(format!("workspace {}", crate::names::quoted(ident))))?;
        let whole_ok = self.rows.check_workspace_for_revocation(&row, ident)?;
        Ok((row, whole_ok))
    }

    /// The workspace with this id or name (its row authenticated).
    pub(crate) fn resolve(&self, tx: &Tx<'_>, ident: &str) -> Result<Workspace> {
        self.workspace_row(tx, ident).map(Workspace::from)
    }

    /// Creates a workspace. Names are `[a-z0-9][a-z0-9-]{0,62}` and unique.
    /// Only the operator may (a key is confined to its own workspace). Recorded as
    /// `workspace.created`.
    pub fn create_workspace(&self, caller: &crate::Caller, name: &str) -> Result<Workspace> {
        if !caller.is_operator() {
            return Err(Error::from(keyhold_token::TokenError::InsufficientScope {
                required: keyhold_token::Scope::Admin,
            }));
        }
        self.store.write(|tx| {
            let ws = self.insert_workspace(tx, name, now())?;
            let record = keyhold_audit::events::workspace_created(&ws.id, &ws.name);
            self.audit(tx, caller, record)?;
            Ok(ws)
        })
    }

    /// All workspaces, by name.
    pub fn workspaces(&self) -> Result<Vec<Workspace>> {
        self.store.read(|tx| {
            let rows = tx.workspaces()?;
            for row in &rows {
                self.rows.check_workspace(row)?;
            }
            Ok(rows.into_iter().map(Workspace::from).collect())
        })
    }

    /// The workspace with this id or name.
    pub fn workspace(&self, ident: &str) -> Result<Workspace> {
        self.store.read(|tx| self.resolve(tx, ident))
    }

    /// Refuses unless `caller` administers the whole store: the operator, or a key with
    /// `admin` in the home workspace ([`crate::DEFAULT_WORKSPACE`], the one `init` creates),
    /// the rule signing-key rotation follows. Store-wide data (every workspace's counters, the
    /// whole audit chain) is shown only to them. A key without `admin` gets
    /// `insufficient_scope`; an `admin` key of another workspace gets `workspace_mismatch`.
    pub fn require_store_admin(&self, caller: &crate::Caller) -> Result<()> {
        if caller.is_operator() {
            return Ok(());
        }
        // The scope first, in the caller's own workspace: a key without `admin` (a member who
        // is not an owner) is told so whichever workspace it belongs to.
        let own = caller.confined_to().unwrap_or_default();
        caller.require(keyhold_token::Scope::Admin, own)?;
        self.store.read(|tx| {
            let home = self.resolve(tx, crate::DEFAULT_WORKSPACE)?;
            caller.require(keyhold_token::Scope::Admin, &home.id)
        })
    }
}
