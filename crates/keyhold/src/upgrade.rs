//! The one-time upgrade of a store from before authenticated rows (schema 5): it authenticates
//! only what the audit chain vouches for, and refuses a store whose schema version was put
//! back to have forged rows blessed.

use keyhold_crypto::MasterKey;
use keyhold_store::{ApiKeyRow, SigningKeyRow, SigningKeyState, Tx, WorkspaceRow};

use crate::audit::EventDraft;
use crate::integrity::{META_IDENTITY_MAC, META_MINT_COUNTER, META_WITNESS, row_key_record};
use crate::{Caller, Error, Keyhold, Result, Upgrade};

fn downgraded(detail: &str) -> Error {
    Error::Integrity {
        what: "schema version".into(),
        detail: format!(
            "the store says its rows are not authenticated yet, but {detail}: its schema \
             version was put back; refusing to authenticate its rows"
        ),
    }
}

impl Keyhold {
    /// The upgrade to authenticated rows (schema 5), in the migration's own transaction: a
    /// row key, mint sequence numbers in creation order, revoke-all marks translated from
    /// their instants, a MAC on every row, the mint counter, the master-key witness and the
    /// identity MAC — and, in the chain, every signing key and the upgrade itself.
    ///
    /// It authenticates only what the chain vouches for. Refused (an integrity error, and the
    /// store does not open) when the store carries anything an upgrade would have made (a row
    /// key, a witness, an identity MAC, a mint counter) or the chain records an earlier
    /// upgrade — someone put the schema version back to have forged rows blessed — and when
    /// the rows disagree with the chain: a key it never created or that it revoked, more than
    /// one signing key it never named, an active signing key whose private half does not open.
    pub(crate) fn authenticate_existing_rows(
        &self,
        tx: &Tx<'_>,
        master: &MasterKey,
        upgrade: &Upgrade,
    ) -> Result<()> {
        if tx.record_version(&row_key_record())? > 0 {
            return Err(downgraded("it has a row key"));
        }
        for name in [META_WITNESS, META_IDENTITY_MAC, META_MINT_COUNTER] {
            if tx.meta(name)?.is_some() {
                return Err(downgraded(&format!("it has meta {name}")));
            }
        }
        let chain = self.fold_chain(tx, None)?;
        if chain.reconciler.rows_authenticated() {
            return Err(downgraded("its audit chain records an earlier upgrade"));
        }
        let (keys, workspaces, mut signing) =
            (tx.all_api_keys()?, tx.workspaces()?, tx.signing_keys()?);
        chain.check_rows(&keys, &workspaces, &signing)?;
        let unnamed: Vec<String> = signing
            .iter()
            .filter(|k| !chain.reconciler.names_signing_key(&k.kid))
            .map(|k| k.kid.clone())
            .collect();
        settle_unnamed_signing_keys(tx, &signing, &unnamed, upgrade)?;
        signing
            .retain(|k| !(unnamed.contains(&k.kid) && upgrade.drop_signing_keys.contains(&k.kid)));
        self.create_row_key(tx)?;
        self.authenticate_signing_keys(tx, signing)?;
        self.authenticate_keys_and_workspaces(tx, keys, workspaces)?;
        self.write_identity(tx, master)?;
        self.audit(
            tx,
            &Caller::operator(),
            EventDraft::new(keyhold_audit::Action::RowsAuthenticated).detail("upgraded", true),
        )?;
        Ok(())
    }

    /// MACs the signing keys (the active one last) and names each in the chain. The active
    /// key must be the store's own: its private half opens under the KEKs.
    fn authenticate_signing_keys(&self, tx: &Tx<'_>, signing: Vec<SigningKeyRow>) -> Result<()> {
        let mut active = signing
            .iter()
            .filter(|k| k.state == SigningKeyState::Active);
        match (active.next(), active.next()) {
            (Some(_), None) => {}
            _ => {
                return Err(Error::Integrity {
                    what: "signing keys".into(),
                    detail: "a store has exactly one active signing key".into(),
                });
            }
        }
        self.ensure_audit_keys(tx)?;
        let mut ordered = signing;
        ordered.sort_by_key(|k| (k.state == SigningKeyState::Active, k.created_at));
        for mut row in ordered {
            self.mac_signing_key(&mut row)?;
            tx.update_signing_key(&row)?;
            self.audit(
                tx,
                &Caller::operator(),
                EventDraft::new(keyhold_audit::Action::SigningKeyCreated)
                    .target(&row.kid)
                    .detail("recorded_by_upgrade", true),
            )?;
        }
        self.active_signing_key(tx)?;
        Ok(())
    }

    /// Mint sequence numbers in creation order, the mint counter, and revoke-all marks
    /// translated from their instants; a MAC on every key and workspace row.
    fn authenticate_keys_and_workspaces(
        &self,
        tx: &Tx<'_>,
        keys: Vec<ApiKeyRow>,
        workspaces: Vec<WorkspaceRow>,
    ) -> Result<()> {
        let mut seqs: Vec<(String, i64, i64)> = Vec::with_capacity(keys.len());
        let mut last = 0;
        for (i, mut row) in keys.into_iter().enumerate() {
            row.mint_seq = i64::try_from(i).unwrap_or(i64::MAX - 1) + 1;
            last = row.mint_seq;
            self.mac_api_key(&mut row)?;
            tx.set_api_key_auth(&row.jti, row.mint_seq, &row.mac)?;
            seqs.push((row.workspace, row.created_at_ms, row.mint_seq));
        }
        self.set_mint_counter(tx, last)?;
        for mut ws in workspaces {
            // The old rule: keys minted at or before the instant are revoked.
            ws.revoked_all_seq = ws.revoked_all_at_ms.map(|at| {
                seqs.iter()
                    .filter(|(w, created, _)| *w == ws.id && *created <= at)
                    .map(|(_, _, s)| *s)
                    .max()
                    .unwrap_or(0)
            });
            self.mac_workspace(&mut ws)?;
            tx.set_workspace_auth(&ws.id, ws.revoked_all_seq, &ws.mac)?;
        }
        Ok(())
    }
}

/// Signing keys the chain never names: a store has one at most (its first). A retiring one is
/// the store's first key only on the operator's word (an attacker could have put one there):
/// accepted or dropped by id.
fn settle_unnamed_signing_keys(
    tx: &Tx<'_>,
    signing: &[SigningKeyRow],
    unnamed: &[String],
    upgrade: &Upgrade,
) -> Result<()> {
    if unnamed.len() > 1 {
        return Err(Error::Integrity {
            what: format!("signing key {}", unnamed.join(", ")),
            detail: "the audit chain names none of these signing keys (a store has one \
                     unnamed key at most: its first)"
                .into(),
        });
    }
    for kid in unnamed {
        let retiring = signing
            .iter()
            .any(|k| k.kid == *kid && k.state == SigningKeyState::Retiring);
        if !retiring {
            continue;
        }
        if upgrade.drop_signing_keys.iter().any(|k| k == kid) {
            tx.delete_signing_key(kid)?;
        } else if !upgrade.accept_signing_keys.iter().any(|k| k == kid) {
            return Err(Error::Integrity {
                what: format!("signing key {kid}"),
                detail: format!(
                    "upgrading this store to authenticated rows needs your word on this \
                     retiring signing key, which its audit chain does not name: run \
                     `keyhold upgrade --accept-signing-key {kid}` if it is a key this store \
                     signed with (compare it with a JWKS you published), or \
                     `keyhold upgrade --drop-signing-key {kid}` (the tokens it signed are \
                     then refused)"
                ),
            });
        }
    }
    Ok(())
}
