//! The bodies of API v1's key routes that are plain data: a key's metadata and the results
//! of a revoke-all and of a signing-key rotation. (The token of a minted key travels in
//! [`Minted`](crate::Minted), generic over its string type so the secret keeps its own.)

use serde::{Deserialize, Serialize};

/// The status of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Usable.
    Active,
    /// Revoked individually or by a revoke-all.
    Revoked,
    /// Past its expiry.
    Expired,
}

/// An API key's metadata (never the token): `GET /v1/keys/{id}` and the items of the lists.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKey {
    /// Key id (the token's `jti`).
    pub id: String,
    /// Name, unique within its workspace.
    pub name: String,
    /// Workspace id.
    pub workspace: String,
    /// Subject.
    pub sub: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Status now.
    pub status: KeyState,
    /// Short fingerprint of the token: identifies it, cannot be used as it.
    pub fingerprint: String,
    /// Signing key id.
    pub kid: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Who minted it.
    pub created_by: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds, if revoked.
    pub revoked_at: Option<i64>,
    /// Who revoked it (or `revoke-all`).
    pub revoked_by: Option<String>,
    /// Unix seconds of the last successful verification, at most a minute behind (it is
    /// written at most once a minute per key; every use is in the audit log).
    pub last_used_at: Option<i64>,
}

/// Result of a revoke-all (`POST /v1/keys/revoke-all`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeAll {
    /// Workspace id.
    pub workspace: String,
    /// When the revoke-all committed (Unix ms). Every key that existed then is revoked,
    /// whatever the clocks said when it was minted; keys minted afterwards work.
    pub revoked_at_ms: i64,
    /// Keys that were active and are now revoked (counted, not touched).
    pub keys_revoked: usize,
}

/// Result of a signing-key rotation (`POST /v1/signing-keys/rotate`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningKeyRotation {
    /// The new signing key's id.
    pub kid: String,
    /// Keys that now only verify, with the last expiry of a token they signed.
    pub retiring: Vec<(String, Option<i64>)>,
    /// Keys deleted because every token they signed has expired.
    pub retired: Vec<String>,
}
