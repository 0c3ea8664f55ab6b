//! Handing a connection's credential to a consumer: the active one (or, while the active slot
//! cannot be read, nothing), decrypted, and every read recorded as `credential.read` before
//! the credential is returned — through group commit, like key uses.

use keyhold_audit::Action;
use keyhold_rotation::RotationError;
use keyhold_token::Scope;

use crate::{Caller, Keyhold, Result};

use crate::api::ActiveCredential;

impl Keyhold {
    /// The connection's active credential, for a consumer. Recorded as `credential.read`
    /// (actor, key, source; never the value) before it is returned. A key caller needs
    /// `connections:use`.
    pub fn active_credential(
        &self,
        caller: &Caller,
        workspace: &str,
        name: &str,
    ) -> Result<ActiveCredential> {
        let (credential, draft) = self.store.read(|tx| -> Result<_> {
            let c = self.load_connection(tx, caller, Scope::ConnectionsUse, workspace, name)?;
            let (slot, version) = c.machine.active().ok_or(RotationError::NoActiveSlot)?;
            let secret = super::secret_text(&self.open_record(tx, &c.record(slot, version))?)?;
            let draft = keyhold_audit::events::connection(
                Action::CredentialRead,
                &c.row.workspace,
                &c.row.name,
                Some((slot.as_str(), version.get())),
            )?;
            Ok((c.credential(slot, version, secret, None), draft))
        })?;
        let event = crate::audit::event_by(draft, caller)?;
        let ticket = self.uses.enqueue(event);
        crate::Deferred::new(self, Ok(credential), Some(ticket))
            .wait()
    }
}
