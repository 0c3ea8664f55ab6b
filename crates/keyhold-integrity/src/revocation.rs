//! Revoking under a row that partly fails to authenticate: an emergency must not wait on
//! forensics. A key or workspace row whose informational columns were edited can still be
//! revoked as long as the part that decides access (a key's standing, a workspace's revoke-all
//! mark) authenticates and the row was named by its id — a name that does not authenticate
//! could have been swapped with another row's. The revoked row's whole-row MAC is left
//! failing, so the edit stays visible to listings and `audit verify`.

use keyhold_store::{ApiKeyRow, WorkspaceRow};

use crate::{IntegrityError, RowAuth, keep_whole};

impl RowAuth {
    /// Checks a key row found by `ident` (its id or name) before revoking it: whether its whole
    /// row authenticates, or an error if even its standing does not, or if it does not
    /// authenticate and was found by name.
    pub fn check_api_key_for_revocation(
        &self,
        row: &ApiKeyRow,
        ident: &str,
    ) -> Result<bool, IntegrityError> {
        let whole_ok = self.check_api_key(row).is_ok();
        self.check_api_key_standing(row)?;
        if !whole_ok && row.jti != ident {
            // Found by a name that is not authenticated: only its id can be trusted to say
            // which key this is.
            return Err(IntegrityError::row(
                format!("api key {}", row.jti),
                "the row does not authenticate, and was found by name: revoke it by its id, \
                 or revoke all keys of the workspace",
            ));
        }
        Ok(whole_ok)
    }

    /// Checks a workspace row found by `ident` (its id or name) before a revocation in it:
    /// whether its whole row authenticates, or an error if it does not and either its revoke-all
    /// mark does not either or it was found by name.
    pub fn check_workspace_for_revocation(
        &self,
        row: &WorkspaceRow,
        ident: &str,
    ) -> Result<bool, IntegrityError> {
        match self.check_workspace(row) {
            Ok(()) => Ok(true),
            Err(e) if row.id != ident => Err(e),
            Err(_) => {
                self.check_workspace_mark(row)?;
                Ok(false)
            }
        }
    }

    /// MACs a key row just revoked; if its whole row did not authenticate (`whole_ok` false),
    /// its whole-row MAC is kept failing.
    pub fn mac_revoked_api_key(
        &self,
        row: &mut ApiKeyRow,
        whole_ok: bool,
    ) -> Result<(), IntegrityError> {
        let old = std::mem::take(&mut row.mac);
        self.mac_api_key(row)?;
        if !whole_ok {
            keep_whole(&mut row.mac, &old);
        }
        Ok(())
    }

    /// MACs a workspace row whose revoke-all mark was just set; if its whole row did not
    /// authenticate (`whole_ok` false), its whole-row MAC is kept failing.
    pub fn mac_revoked_workspace(
        &self,
        row: &mut WorkspaceRow,
        whole_ok: bool,
    ) -> Result<(), IntegrityError> {
        let old = std::mem::take(&mut row.mac);
        self.mac_workspace(row)?;
        if !whole_ok {
            keep_whole(&mut row.mac, &old);
        }
        Ok(())
    }
}
