//! The connector for a credential keyhold stores but cannot reach.

use crate::{Connector, Login, Refusal};

/// A credential keyhold only stores: an API key for a service without a test endpoint, a
/// licence key, a password for a system keyhold has no connector for. It is never tested
/// ([`Refusal::NotTestable`]) and never set ([`SetError::Unsupported`]); its rotation is staged
/// and promoted by hand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Generic;

impl Connector for Generic {
    fn testable(&self) -> bool {
        false
    }

    fn test(&self, _login: &Login<'_>) -> Result<(), Refusal> {
        Err(Refusal::NotTestable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SecretBytes, SetError};

    #[test]
    fn neither_tests_nor_sets() {
        let pw = SecretBytes::copy_from(b"whatever");
        let login = Login {
            user: "u",
            password: &pw,
        };
        assert!(!Generic.testable());
        assert!(!Generic.regenerates());
        assert_eq!(Generic.test(&login), Err(Refusal::NotTestable));
        assert_eq!(
            Generic.set_password("u", &pw, &login),
            Err(SetError::Unsupported)
        );
    }
}
