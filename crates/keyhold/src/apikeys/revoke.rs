//! Revocation: one key, or every key of a workspace at once; both take effect on the next
//! verification in every process.

use keyhold_audit::events;
use keyhold_token::RevokeAllMark;

use super::*;

impl Keyhold {
    /// Invalidates this handle's cached standings after a revocation has committed (other
    /// handles and processes see it through the store's standing). Bumped after the commit,
    /// so a verification that read the old standing meanwhile cannot keep it.
    fn revocations_committed(&self) {
        self.revocation_epoch
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Revokes one key, by id or name (`keys:revoke`). Takes effect on the next verification
    /// in every process. Revoking a revoked key is not an error; it changes nothing.
    pub fn revoke_key(&self, caller: &Caller, workspace: &str, ident: &str) -> Result<ApiKey> {
        let out = self.store.write(|tx| {
            let (ws, _) = self.workspace_row_for_revocation(tx, workspace)?;
            caller.require(Scope::KeysRevoke, &ws.id)?;
            let mut row = self.find_key_unchecked(tx, &ws.id, ident)?;
            caller.require_own(Scope::KeysRevoke, &row.created_by)?;
            // An edited row can still be revoked by its id while its standing authenticates
            // (`keyhold_integrity`'s revocation rule); its edit stays visible.
            let whole_ok = self.rows.check_api_key_for_revocation(&row, ident)?;
            let changed = row.revoked_at_ms.is_none();
            if changed {
                row.revoked_at_ms = Some(now_ms());
                row.revoked_by = Some(caller.name());
                self.rows.mac_revoked_api_key(&mut row, whole_ok)?;
                tx.revoke_api_key(
                    &row.jti,
                    row.revoked_at_ms.unwrap_or(0),
                    &caller.name(),
                    &row.mac,
                )?;
                tx.bump_standing()?;
            }
            // Bumped before the commit as well as after: a cache hit racing the commit either
            // sees the new epoch or reads the committed revocation.
            self.revocations_committed();
            let record = events::key_revoked(&ws.id, &row.jti, !changed, whole_ok);
            self.audit(tx, caller, record)?;
            Ok(api_key(row, &ws, now()))
        });
        self.revocations_committed();
        out
    }

    /// Revokes every key of a workspace at once (`keys:revoke`): one row is written, however
    /// many keys there are; every key minted up to this instant is refused from the next
    /// verification on. Keys minted afterwards work.
    pub fn revoke_all_keys(&self, caller: &Caller, workspace: &str) -> Result<RevokeAll> {
        let out = self.store.write(|tx| {
            let (mut ws, ws_whole_ok) = self.workspace_row_for_revocation(tx, workspace)?;
            caller.require_all(Scope::KeysRevoke, &ws.id)?;
            let now_s = now();
            // The mark covers every key minted so far (`keyhold_token::RevokeAllMark`).
            let mut mark = RevokeAllMark::from_counter(self.rows.mint_counter(tx)?);
            for row in tx.api_keys(&ws.id)? {
                // A row whose standing does not authenticate is refused anyway: it is not
                // counted, and it cannot hold up an emergency revocation.
                if self.rows.check_api_key_standing(&row).is_err() {
                    continue;
                }
                let active = api_key(row.clone(), &ws, now_s).status == KeyState::Active;
                mark.cover(row.mint_seq, active);
            }
            let (through, keys_revoked) = (mark.through(ws.revoked_all_seq), mark.keys_revoked());
            let at = now_ms();
            ws.revoked_all_at_ms = Some(at);
            ws.revoked_all_seq = Some(through);
            self.rows.mac_revoked_workspace(&mut ws, ws_whole_ok)?;
            tx.set_workspace_revoke_all(&ws.id, at, through, &ws.mac)?;
            tx.bump_standing()?;
            self.revocations_committed();
            let record = events::keys_revoked_all(&ws.id, keys_revoked, through, ws_whole_ok);
            self.audit(tx, caller, record)?;
            Ok(RevokeAll {
                workspace: ws.id,
                revoked_at_ms: at,
                keys_revoked,
            })
        });
        self.revocations_committed();
        out
    }
}
