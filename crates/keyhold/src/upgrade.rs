//! The one-time upgrade of a store from before authenticated rows (schema 5): it authenticates
//! only what the audit chain vouches for, and refuses a store whose schema version was put
//! back to have forged rows blessed. What it decides about rows is `keyhold-integrity`'s
//! (`keyhold_integrity::upgrade`); here the chain is asked and the upgrade recorded in it.

use keyhold_crypto::MasterKey;
use keyhold_integrity::upgrade as plan;
use keyhold_store::{SigningKeyRow, Tx};

use crate::audit::EventDraft;
use crate::{Caller, Keyhold, Result, Upgrade};

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
        plan::refuse_leftovers(tx)?;
        let chain = self.fold_chain(tx, None)?;
        plan::refuse_earlier_upgrade(chain.reconciler.rows_authenticated())?;
        let (keys, workspaces, signing) =
            (tx.all_api_keys()?, tx.workspaces()?, tx.signing_keys()?);
        chain.check_rows(&keys, &workspaces, &signing)?;
        let signing = plan::settle_unnamed_signing_keys(
            signing,
            |kid| chain.reconciler.names_signing_key(kid),
            &upgrade.accept_signing_keys,
            &upgrade.drop_signing_keys,
        )?;
        for kid in &signing.delete {
            tx.delete_signing_key(kid)?;
        }
        self.create_row_key(tx)?;
        self.authenticate_signing_keys(tx, signing.keep)?;
        self.rows
            .authenticate_keys_and_workspaces(tx, keys, workspaces)?;
        self.rows.write_identity(tx, master)?;
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
        let ordered = plan::signing_keys_in_order(signing)?;
        self.ensure_audit_keys(tx)?;
        for mut row in ordered {
            self.rows.mac_signing_key(&mut row)?;
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
}
