//! keyhold's connectors: how keyhold reaches the target a credential is for, to *test* a login
//! (a real login there, nothing simulated) and, where the target allows it, to *set* a login's
//! password.
//!
//! A keyhold connection has two slots, primary and secondary, each a login of its own at the
//! target (for PostgreSQL, "alternating users": roles such as `app_a` and `app_b` with the same
//! grants). The facade stores the credentials encrypted and drives the rotation state machine;
//! it calls a [`Connector`] here to test a login and to set a login's password.
//!
//! - [`Postgres`]: tests with a login and `SELECT 1`; sets a password with `ALTER ROLE`, sending
//!   only a SCRAM-SHA-256 verifier computed here, never the password (see [`Postgres`]).
//!   Connections are plain TCP for now (`NoTls`): TLS to PostgreSQL comes with a later piece
//!   of work, so use it only on a trusted network or loopback until then.
//! - [`Http`]: tests with a `GET` carrying a Bearer or Basic `Authorization` header; cannot set.
//! - [`Generic`]: a credential keyhold stores but cannot reach: neither tests nor sets.
//!
//! Nothing here logs, prints or echoes a credential: every error is one of this crate's own
//! secret-free messages ([`Refusal`], [`SetError`]), never a server's text passed on, and the
//! passwords stay in [`SecretBytes`] (zeroized on drop) except for the copies the client
//! libraries make while connecting. [`new_password`] makes the strong random passwords a
//! regenerating rotation sets.
#![forbid(unsafe_code)]

mod change;
mod generic;
mod http;
mod ident;
mod password;
mod pg;
mod target;
pub mod wire;

use std::fmt;

pub use change::Change;
pub use generic::Generic;
pub use http::{Http, HttpAuth, HttpConfigError};
pub use ident::{MAX_IDENT_BYTES, QuoteError, quote_ident, quote_literal};
pub use keyhold_crypto::SecretBytes;
pub use password::{PASSWORD_ALPHABET, PASSWORD_LEN, new_password};
pub use pg::{CONNECT_TIMEOUT, Postgres, PostgresConfigError};
pub use target::{Scheme, Target, Unsupported};

/// A login at a target: a user name and its password.
#[derive(Clone, Copy)]
pub struct Login<'a> {
    /// The login's user (a PostgreSQL role; the Basic-auth user; unused by Bearer).
    pub user: &'a str,
    /// The login's password (or token).
    pub password: &'a SecretBytes,
}

impl fmt::Debug for Login<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Why a [`Connector::test`] did not pass. Every `detail` is a one-line message written by this
/// crate: it names the target and what happened, never a credential or a server's own text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The target answered, and its answer was no: the credential is wrong, expired, or the
    /// login may not sign in.
    #[error("the target refused the login: {detail}")]
    Rejected {
        /// What the target said, in this crate's words.
        detail: String,
    },
    /// The target could not be reached, or its answer was not a yes or a no (a network
    /// failure, a timeout, an unexpected HTTP status, a server error).
    #[error("the target could not be reached: {detail}")]
    Unreachable {
        /// What went wrong, in this crate's words.
        detail: String,
    },
    /// This connector has no way to test a login ([`Connector::testable`] is false). Never a
    /// pass: a credential keyhold cannot check is not a checked credential.
    #[error("this kind of connection cannot be tested")]
    NotTestable,
}

/// Why a [`Connector::set_password`] did not happen. Display is secret-free, as for [`Refusal`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    /// The target could not be reached or did not answer as expected; nothing is known to have
    /// changed (retrying is safe: setting a password is idempotent).
    #[error("the target could not be reached: {detail}")]
    Unreachable {
        /// What went wrong, in this crate's words.
        detail: String,
    },
    /// The authority logged in but may not change this login's password.
    #[error("not permitted: {detail}")]
    NotPermitted {
        /// What the target said, in this crate's words.
        detail: String,
    },
    /// The target refused the authority's login, or refused the change itself (for example,
    /// the user does not exist or its name cannot be used).
    #[error("refused: {detail}")]
    Rejected {
        /// What the target said, in this crate's words.
        detail: String,
    },
    /// This connector cannot set passwords ([`Connector::regenerates`] is false).
    #[error("this kind of connection cannot set passwords")]
    Unsupported,
}

/// A way to reach one target: test a login there and, if it can, set a login's password.
///
/// Implementations make real network calls and block; they are cheap to build (no connection
/// is kept) and safe to share between threads.
pub trait Connector: Send + Sync {
    /// Whether [`Connector::test`] can check a login at all. When false, `test` always answers
    /// [`Refusal::NotTestable`]: the caller can ask this up front (to say "cannot be verified"
    /// instead of trying), and can never mistake an untestable credential for a tested one.
    fn testable(&self) -> bool;

    /// A real login at the target with this credential (for PostgreSQL, a connection and
    /// `SELECT 1`). `Ok` means the target accepted it just now.
    fn test(&self, login: &Login<'_>) -> Result<(), Refusal>;

    /// Whether [`Connector::set_password`] is supported (PostgreSQL: yes; HTTP and generic:
    /// no, the default).
    fn regenerates(&self) -> bool {
        false
    }

    /// Makes `user` accept `new` (and only it) at the target, acting as `authority`: an
    /// administrator's login, or the user's own current login (a PostgreSQL role may change its
    /// own password). Idempotent: doing it twice does no harm, so a crashed rotation may simply
    /// do it again.
    /// A connector that does not regenerate answers [`SetError::Unsupported`] (the default).
    fn set_password(
        &self,
        _user: &str,
        _new: &SecretBytes,
        _authority: &Login<'_>,
    ) -> Result<(), SetError> {
        Err(SetError::Unsupported)
    }
}
