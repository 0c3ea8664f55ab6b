//! The crate's one error type.

use crate::scope::Scope;

/// Everything that can go wrong minting, verifying or authorizing a token.
///
/// Every variant has a stable snake_case [`code`](TokenError::code) for logs and API bodies;
/// what a transport answers with is the caller's mapping of that code. No message ever
/// contains the token, its signature or any key bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    // ---- stateless verification, in the order the checks run ----
    /// Not three base64url parts, a part is not canonical base64url, the header or payload is
    /// not a JSON object (or repeats a member name), or the token is longer than
    /// [`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN).
    #[error("token is malformed")]
    Malformed,
    /// The header has a `crit` parameter; no critical extension is supported.
    #[error("token header has a `crit` parameter; no critical extension is supported")]
    CritUnsupported,
    /// The header's `typ` is missing or is not `at+jwt`.
    #[error("token header `typ` is not `at+jwt`")]
    WrongType,
    /// The header's `alg` is missing or is not `EdDSA` (this covers `none`, `HS256`, ...).
    #[error("token header `alg` is not `EdDSA`")]
    AlgNotAllowed,
    /// The header's `kid` is missing, not a string, or names no key the verifier knows.
    #[error("token is signed with an unknown key id")]
    UnknownKid,
    /// The Ed25519 signature does not verify under the key named by `kid`.
    #[error("token signature is invalid")]
    BadSignature,
    /// A required claim is missing, or a claim has the wrong JSON type or an invalid value.
    #[error("token claim `{claim}` is missing, mistyped or invalid")]
    InvalidClaims {
        /// The claim's name (`iss`, `exp`, `scopes`, ...).
        claim: &'static str,
    },
    /// `iss` is not the expected issuer.
    #[error("token issuer is not the expected issuer")]
    WrongIssuer,
    /// `now > exp + leeway`.
    #[error("token has expired")]
    Expired,
    /// `nbf > now + leeway`.
    #[error("token is not yet valid")]
    NotYetValid,
    /// `iat > now + leeway`.
    #[error("token was issued in the future")]
    IssuedInFuture,

    // ---- stateful checks (`check_state`), in the order they run ----
    /// The token's workspace is not the workspace the request is for.
    #[error("token is for another workspace")]
    WorkspaceMismatch,
    /// The token's workspace does not exist.
    #[error("token's workspace is unknown")]
    WorkspaceUnknown,
    /// The access key the token was issued as is not on record.
    #[error("token's access key is unknown")]
    KeyUnknown,
    /// The access key the token was issued as has been revoked.
    #[error("token's access key has been revoked")]
    KeyRevoked,
    /// The token was issued at or before the workspace's revoke-all instant.
    #[error("token was issued before its workspace revoked all tokens")]
    KeyRevokedAll,
    /// The token's scopes do not cover the scope the operation requires.
    #[error("token lacks the scope `{required}`")]
    InsufficientScope {
        /// The scope the operation required.
        required: Scope,
    },

    // ---- minting and input errors ----
    /// A token may only mint tokens whose scopes it covers.
    #[error("requested scopes exceed the scopes of the minting token")]
    ScopeEscalation,
    /// A scope string does not follow the `action:resource` grammar (lowercase ASCII letters).
    #[error("scope is not of the form `action:resource` (lowercase ascii letters) or `admin`")]
    ScopeMalformed,
    /// A well-formed scope that is not in the catalog.
    #[error("unknown scope `{scope}`")]
    ScopeUnknown {
        /// The unknown scope (well-formed, so at most 65 lowercase ASCII letters and a colon).
        scope: String,
    },
    /// An expiry spelling that is not one of the presets.
    #[error("unknown expiry; choose one of 15m, 1h, 8h, 24h (or 1d), 7d, 30d")]
    InvalidExpiry,
    /// A claim value given to [`Claims::new`](crate::Claims::new) is out of range (empty
    /// string, over-long string, or a time that overflows).
    #[error("claim `{claim}` is out of range for minting")]
    ClaimOutOfRange {
        /// The claim's name.
        claim: &'static str,
    },
    /// A stored signing key or public key could not be parsed.
    #[error("key is not a valid Ed25519 {what}")]
    InvalidKey {
        /// What was expected (`PKCS#8 v2 private key`, `public key`, `JWK`, ...).
        what: &'static str,
    },
    /// The OS random source failed.
    #[error("the OS random source failed")]
    Rng,
    /// Signing or encoding the token failed.
    #[error("signing the token failed")]
    Signing,
}

impl TokenError {
    /// A stable snake_case code for logs, metrics and API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "token_malformed",
            Self::CritUnsupported => "token_crit_unsupported",
            Self::WrongType => "token_wrong_type",
            Self::AlgNotAllowed => "token_alg_not_allowed",
            Self::UnknownKid => "token_unknown_kid",
            Self::BadSignature => "token_bad_signature",
            Self::InvalidClaims { .. } => "token_invalid_claims",
            Self::WrongIssuer => "token_wrong_issuer",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::IssuedInFuture => "token_issued_in_future",
            Self::WorkspaceMismatch => "workspace_mismatch",
            Self::WorkspaceUnknown => "workspace_unknown",
            Self::KeyUnknown => "key_unknown",
            Self::KeyRevoked => "key_revoked",
            Self::KeyRevokedAll => "key_revoked_all",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::ScopeEscalation => "scope_escalation",
            Self::ScopeMalformed => "scope_malformed",
            Self::ScopeUnknown { .. } => "scope_unknown",
            Self::InvalidExpiry => "invalid_expiry",
            Self::ClaimOutOfRange { .. } => "claim_out_of_range",
            Self::InvalidKey { .. } => "invalid_key",
            Self::Rng => "rng_failed",
            Self::Signing => "signing_failed",
        }
    }
}
