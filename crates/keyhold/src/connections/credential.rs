//! Handing a connection's credential to a consumer: the active one, decrypted, and every read
//! recorded as `credential.read` before the credential is returned — through group commit,
//! like key uses.

use keyhold_audit::Action;
use keyhold_rotation::RotationError;
use keyhold_token::Scope;

use crate::{Caller, Error, Keyhold, Result, api};

impl Keyhold {
    /// The connection's active credential, for a consumer. Recorded as `credential.read`
    /// (actor, key, source; never the value) before it is returned. A key caller needs
    /// `connections:use`.
    pub fn active_credential(
        &self,
        caller: &Caller,
        workspace: &str,
        name: &str,
    ) -> Result<api::ActiveCredential> {
        let (credential, event) = self.store.read(|tx| -> Result<_> {
            let c = self.load_connection(tx, caller, Scope::ConnectionsUse, workspace, name)?;
            let (slot, version) = c.machine.active().ok_or(RotationError::NoActiveSlot)?;
            let secret = self.open_record(tx, &c.record(slot, version))?;
            let text = keyhold_connect::wire::secret_text(&secret)
                .ok_or(Error::Internal("a stored credential is not text"))?;
            let credential = c.target.credential(&c.row.name, slot, version, text);
            Ok((
                credential,
                c.event(Action::CredentialRead, Some((slot, version)))?,
            ))
        })?;
        let ticket = self.uses.enqueue(crate::audit::event_by(event, caller)?);
        crate::Deferred::new(self, Ok(credential), Some(ticket)).wait()
    }
}
