//! A change of a login's password at its target, with the logins that may make it.

use crate::{Connector, Login, SecretBytes, SetError};

/// Setting `user`'s password to `new` at a target: the connector (`None`: the target's kind
/// cannot), and the logins that may make the change, in the order to try them — an admin
/// login, or the user's own with the credentials it held before, newest first.
pub struct Change {
    /// The connector, if the target's kind can set passwords.
    pub connector: Option<Box<dyn Connector>>,
    /// The login whose password changes.
    pub user: Option<String>,
    /// The new password.
    pub new: SecretBytes,
    /// Who may make the change: an admin login (`Some(name)`), or the user itself (`None`),
    /// each with its credential.
    pub authorities: Vec<(Option<String>, SecretBytes)>,
}

impl Change {
    /// Makes the change as the first authority the target does not refuse.
    pub fn apply(&self) -> Result<(), SetError> {
        let (Some(k), Some(user)) = (&self.connector, &self.user) else {
            return Err(SetError::Unsupported);
        };
        let mut outcome = Err(SetError::NotPermitted {
            detail: "no admin login, and no earlier credential of the login to set its own with"
                .into(),
        });
        for (admin, password) in &self.authorities {
            let authority = Login {
                user: admin.as_deref().unwrap_or(user),
                password,
            };
            outcome = k.set_password(user, &self.new, &authority);
            if !matches!(outcome, Err(SetError::Rejected { .. })) {
                break;
            }
        }
        outcome
    }
}
