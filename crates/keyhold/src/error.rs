use std::path::PathBuf;

use keyhold_crypto::{CryptoError, OpenError};
use keyhold_store::StoreError;

/// Every failure a keyhold operation can report.
///
/// Each variant has a stable [`Error::code`] (the `code` of the HTTP error envelope and the key
/// the CLI maps to an exit status) and an [`Error::http_status`]. Messages name files, records
/// and workspaces; they never contain a secret, a key or ciphertext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// There is no keyhold store in the data directory.
    #[error("no keyhold store in {0}; run `keyhold init` first")]
    NotInitialized(PathBuf),
    /// `init` found a store already there.
    #[error("a keyhold store already exists in {0}; refusing to initialise it again")]
    AlreadyInitialized(PathBuf),
    /// The master key does not unlock this store. Nothing was written.
    #[error("wrong master key: it does not unlock the store in {0}")]
    WrongMasterKey(PathBuf),
    /// The master key could not be obtained (missing, unsafe or malformed key file, bad text).
    #[error("{0}")]
    MasterKey(CryptoError),
    /// A stored envelope or key failed its integrity check.
    #[error("integrity check failed for {what}: {detail}")]
    Integrity {
        /// Which record or key (kind, workspace, id, version), never its content.
        what: String,
        /// Which part failed.
        detail: String,
    },
    /// The database file is unusable or refused the operation.
    #[error(transparent)]
    Store(StoreError),
    /// An argument is not acceptable.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which argument.
        field: &'static str,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The change conflicts with what exists.
    #[error("{0} already exists")]
    Conflict(String),
    /// A filesystem operation on the data directory failed.
    #[error("{path}: {kind}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// What failed.
        kind: std::io::ErrorKind,
    },
    /// A token was refused, or an API-key operation was not allowed; the inner error has
    /// the precise code (`token_expired`, `key_revoked`, `insufficient_scope`, ...).
    #[error("{0}")]
    Token(keyhold_token::TokenError),
    /// A state this build cannot handle, described without data.
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// A keyhold server refused the request with one of the documented codes (see
    /// [`Error::known_codes`]); its message is passed on as the server wrote it.
    #[error("{message}")]
    Remote {
        /// The envelope's code, one of [`Error::known_codes`].
        code: &'static str,
        /// The HTTP status the code maps to.
        status: u16,
        /// The server's message (never a secret: the server's errors carry none).
        message: String,
    },
    /// The server could not be reached, or answered something that is not keyhold's API.
    #[error("server {url}: {reason}")]
    Server {
        /// The server's base URL (it never carries a credential: such URLs are refused).
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// Every documented error code with its HTTP status: the table of
/// `docs/auth-and-tokens.md`, which a test keeps equal to this list.
const KNOWN_CODES: &[(&str, u16)] = &[
    ("token_malformed", 401),
    ("token_crit_unsupported", 401),
    ("token_wrong_type", 401),
    ("token_alg_not_allowed", 401),
    ("token_unknown_kid", 401),
    ("token_bad_signature", 401),
    ("token_invalid_claims", 401),
    ("token_wrong_issuer", 401),
    ("token_expired", 401),
    ("token_not_yet_valid", 401),
    ("token_issued_in_future", 401),
    ("workspace_mismatch", 401),
    ("workspace_unknown", 401),
    ("key_unknown", 401),
    ("key_revoked", 401),
    ("key_revoked_all", 401),
    ("insufficient_scope", 403),
    ("scope_escalation", 403),
    ("scope_malformed", 400),
    ("scope_unknown", 400),
    ("invalid_expiry", 400),
    ("claim_out_of_range", 400),
    ("missing_token", 401),
    ("invalid_json", 400),
    ("body_too_large", 413),
    ("request_timeout", 408),
    ("bad_request", 400),
    ("method_not_allowed", 405),
    ("invalid_input", 400),
    ("not_found", 404),
    ("not_initialized", 500),
    ("conflict", 409),
    ("already_initialized", 409),
    ("wrong_master_key", 500),
    ("master_key_invalid", 400),
    ("master_key_unavailable", 500),
    ("integrity_error", 500),
    ("store_corrupt", 500),
    ("store_version_unsupported", 500),
    ("store_busy", 503),
    ("store_error", 500),
    ("io_error", 500),
    ("internal_error", 500),
    ("invalid_key", 500),
    ("rng_failed", 500),
    ("signing_failed", 500),
    ("server_error", 502),
];

impl Error {
    /// The stable error code (`snake_case`), as documented in `docs/auth-and-tokens.md`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotInitialized(_) => "not_initialized",
            Self::AlreadyInitialized(_) => "already_initialized",
            Self::WrongMasterKey(_) => "wrong_master_key",
            Self::MasterKey(CryptoError::MasterKeyEncoding(_)) => "master_key_invalid",
            Self::MasterKey(CryptoError::WrongMasterKey) => "wrong_master_key",
            Self::MasterKey(_) => "master_key_unavailable",
            Self::Integrity { .. } => "integrity_error",
            Self::Store(StoreError::Corrupt { .. } | StoreError::NotADatabase(_)) => {
                "store_corrupt"
            }
            Self::Store(StoreError::NewerSchema { .. }) => "store_version_unsupported",
            Self::Store(StoreError::Busy(_)) => "store_busy",
            Self::Store(StoreError::Missing(_)) => "not_initialized",
            Self::Store(_) => "store_error",
            Self::InvalidInput { .. } => "invalid_input",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Io { .. } => "io_error",
            Self::Token(e) => e.code(),
            Self::Internal(_) => "internal_error",
            Self::Remote { code, .. } => code,
            Self::Server { .. } => "server_error",
        }
    }

    /// Every error code keyhold documents, with the HTTP status it maps to.
    pub fn known_codes() -> &'static [(&'static str, u16)] {
        KNOWN_CODES
    }

    /// The error a server's envelope (`code`, `message`) stands for. A code this build does not
    /// know (a newer server) is reported as `server_error`, with the code in the message.
    pub fn from_envelope(url: &str, code: &str, message: &str) -> Self {
        match KNOWN_CODES.iter().find(|(c, _)| *c == code) {
            Some((code, status)) => Self::Remote {
                code,
                status: *status,
                message: message.to_owned(),
            },
            None => Self::Server {
                url: url.to_owned(),
                reason: format!("unknown error code {code:?}: {message}"),
            },
        }
    }

    /// The HTTP status this error maps to.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Token(e) => return status_of(e.code()),
            Self::Remote { status, .. } => return *status,
            _ => {}
        }
        match self.code() {
            "invalid_input" | "master_key_invalid" => 400,
            "not_found" => 404,
            "conflict" | "already_initialized" => 409,
            "store_busy" => 503,
            "server_error" => 502,
            _ => 500,
        }
    }

    pub(crate) fn integrity(what: impl Into<String>, e: OpenError) -> Self {
        Self::Integrity {
            what: what.into(),
            detail: e.to_string(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, e: &std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            kind: e.kind(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::KekIntegrity(id) => Self::Integrity {
                what: format!("key-encryption key {id}"),
                detail: "wrapped key failed authentication".into(),
            },
            CryptoError::Rng => {
                Self::Internal("the operating system random number generator failed")
            }
            other => Self::MasterKey(other),
        }
    }
}

/// The HTTP status of a documented code (500 for one that is not: none is left out).
fn status_of(code: &str) -> u16 {
    KNOWN_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(500, |(_, status)| *status)
}

/// Shorthand for keyhold results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use keyhold_token::TokenError;

    use super::*;

    /// Failures no test can provoke on demand (a failing OS random source, a signing error,
    /// SQLite refusing in an unexpected way, a writer holding the lock for 10 s): their code
    /// and status are pinned here, where they are decided.
    #[test]
    fn codes_and_statuses_of_server_side_failures() {
        let p = PathBuf::from("/data/keyhold.db");
        let cases: Vec<(Error, &str, u16)> = vec![
            (Error::Internal("x"), "internal_error", 500),
            (
                Error::Io {
                    path: p.clone(),
                    kind: std::io::ErrorKind::PermissionDenied,
                },
                "io_error",
                500,
            ),
            (Error::Store(StoreError::Busy(p.clone())), "store_busy", 503),
            (
                Error::Store(StoreError::Sqlite {
                    path: p.clone(),
                    detail: "disk I/O error".into(),
                }),
                "store_error",
                500,
            ),
            (
                Error::Store(StoreError::NotADatabase(p.clone())),
                "store_corrupt",
                500,
            ),
            (Error::Token(TokenError::Rng), "rng_failed", 500),
            (Error::Token(TokenError::Signing), "signing_failed", 500),
            (
                Error::Token(TokenError::InsufficientScope {
                    required: keyhold_token::Scope::Admin,
                }),
                "insufficient_scope",
                403,
            ),
            (Error::Token(TokenError::Expired), "token_expired", 401),
            (Error::from(CryptoError::Rng), "internal_error", 500),
            (
                Error::from(CryptoError::KekIntegrity(3)),
                "integrity_error",
                500,
            ),
        ];
        for (e, code, status) in cases {
            assert_eq!((e.code(), e.http_status()), (code, status), "{e:?}");
            assert!(!e.to_string().is_empty());
        }
    }

    /// The token crate's codes carry no status: each is answered with its row of the table,
    /// 401 for a problem with the presented token, 403 for a good token not allowed to do
    /// this, 400 for bad input to minting, 500 for a server-side failure.
    #[test]
    fn every_token_code_takes_its_status_from_the_table() {
        use TokenError as T;
        let groups: [(u16, Vec<TokenError>); 4] = [
            (
                401,
                vec![
                    T::Malformed,
                    T::CritUnsupported,
                    T::WrongType,
                    T::AlgNotAllowed,
                    T::UnknownKid,
                    T::BadSignature,
                    T::InvalidClaims { claim: "exp" },
                    T::WrongIssuer,
                    T::Expired,
                    T::NotYetValid,
                    T::IssuedInFuture,
                    T::WorkspaceMismatch,
                    T::WorkspaceUnknown,
                    T::KeyUnknown,
                    T::KeyRevoked,
                    T::KeyRevokedAll,
                ],
            ),
            (
                403,
                vec![
                    T::InsufficientScope {
                        required: keyhold_token::Scope::Admin,
                    },
                    T::ScopeEscalation,
                ],
            ),
            (
                400,
                vec![
                    T::ScopeMalformed,
                    T::ScopeUnknown {
                        scope: "keys:delete".into(),
                    },
                    T::InvalidExpiry,
                    T::ClaimOutOfRange { claim: "sub" },
                ],
            ),
            (
                500,
                vec![T::InvalidKey { what: "public key" }, T::Rng, T::Signing],
            ),
        ];
        for (status, errors) in groups {
            for e in errors {
                let code = e.code();
                assert_eq!(Error::Token(e).http_status(), status, "{code}");
            }
        }
    }
}
