//! Why a team access operation failed.

use keyhold_access::AccessError;

/// A failure of a team access operation.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// The rules refused it.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// A row did not authenticate.
    #[error(transparent)]
    Integrity(#[from] keyhold_integrity::IntegrityError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] keyhold_store::StoreError),
    /// The OS random source failed.
    #[error(transparent)]
    Crypto(#[from] keyhold_crypto::CryptoError),
    /// An event could not be drafted.
    #[error(transparent)]
    Draft(#[from] keyhold_audit::DraftError),
    /// No such member.
    #[error("member {0} not found")]
    NotFound(String),
    /// The person is a member already.
    #[error("member {0} already exists")]
    Conflict(String),
    /// A stored value no code writes.
    #[error("internal error: {0}")]
    Internal(&'static str),
}
