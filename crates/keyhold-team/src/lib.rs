//! keyhold's team access, persisted. Every function here works inside a transaction the
//! facade opened (`Tx`), on rows it authenticates with the store's row key (`RowAuth`), by the
//! rules of `keyhold-access`; it returns what happened and the audit events to record
//! ([`Drafted`]), which the facade appends as its caller — so no change is made without its
//! event, and this crate never writes the audit chain itself.
//!
//! What it never does: decide who the caller is (the facade hands in the changer's role, or
//! `None` for the operator and `admin` keys), hash a password inside a transaction (the
//! facade hashes first: Argon2id is slow), or keep a secret: enrolment codes and session
//! tokens are made here, returned once and stored as digests.
#![forbid(unsafe_code)]

mod error;
mod members;
mod sessions;

pub use error::TeamError;
pub use members::{
    DEFAULT_DEVELOPER_SCOPES, Manager, add_member, enrolment, members, policy_row, remove_member,
    set_password, set_policy, update_member,
};
pub use sessions::{
    Recognised, SessionFacts, SessionToken, credentials_ok, csrf_of, described, open_session,
    record_failure, session, sign_in_facts, totp_enrolled, touch, workspace_id, workspaces,
};

use keyhold_audit::EventDraft;
use keyhold_crypto::secrecy::zeroize::Zeroizing;

/// A result and the audit events that record it.
pub type Drafted<T> = Result<(T, Vec<EventDraft>), TeamError>;

/// A secret made here and shown once (an enrolment code, a session or CSRF token), with the
/// digest the store keeps in its place.
pub fn secret(prefix: &str) -> Result<(Zeroizing<String>, String), TeamError> {
    let value = Zeroizing::new(keyhold_crypto::random::identifier(prefix, 32)?);
    let id = digest(&value);
    Ok((value, id))
}

/// The digest a secret is stored as (SHA-256, hex).
pub fn digest(value: &str) -> String {
    keyhold_crypto::sha256_hex(value.as_bytes())
}
