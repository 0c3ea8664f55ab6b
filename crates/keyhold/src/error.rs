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
    /// A token was refused, or an API-key operation was not allowed; the inner failure has
    /// the precise code (`token_expired`, `key_revoked`, `insufficient_scope`, ...).
    #[error("{0}")]
    Token(TokenFailure),
    /// A connection operation was refused or failed at its target: `code` is one of the
    /// documented `connection_*`, `rotation_*`, `target_*` codes; the message names
    /// connections, slots and versions, never a credential.
    #[error("{message}")]
    Connection {
        /// The stable code.
        code: &'static str,
        /// What happened.
        message: String,
    },
    /// Team access refused: a role that may not, a failed or throttled sign-in, a password the
    /// policy refuses, an invalid session or enrolment code, the last owner.
    #[error("{0}")]
    Access(keyhold_access::AccessError),
    /// An assistant confirmation that does not confirm this request (`confirmation_invalid`):
    /// unknown, used already, expired, or given to another caller or for another request.
    #[error("the confirmation {0}: ask again")]
    Confirmation(&'static str),
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
            Self::Confirmation(_) => "confirmation_invalid",
            Self::Access(e) => e.code(),
            Self::Connection { code, .. } => code,
            Self::Remote { code, .. } => code,
            Self::Server { .. } => "server_error",
        }
    }

    /// Every error code keyhold documents, with the HTTP status and CLI exit status it maps
    /// to: API v1's one table ([`keyhold_api::CODES`]).
    pub fn known_codes() -> &'static [keyhold_api::ErrorCode] {
        keyhold_api::CODES
    }

    /// The error a server's envelope (`code`, `message`) stands for. A code this build does not
    /// know (a newer server) is reported as `server_error`, with the code in the message.
    pub fn from_envelope(url: &str, code: &str, message: &str) -> Self {
        match keyhold_api::lookup(code) {
            Some(known) => Self::Remote {
                code: known.code,
                status: known.status,
                message: message.to_owned(),
            },
            None => Self::Server {
                url: url.to_owned(),
                reason: format!("unknown error code {code:?}: {message}"),
            },
        }
    }

    /// The HTTP status this error maps to: its code's, in API v1's table.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Remote { status, .. } => *status,
            _ => keyhold_api::http_status(self.code()),
        }
    }

    /// The exit status of the `keyhold` CLI for this error: its code's, in API v1's table.
    pub fn exit_status(&self) -> u8 {
        keyhold_api::exit_status(self.code())
    }

    /// Whether this error is a refusal of the request (a 4xx status: the caller can fix it),
    /// rather than a failure of the store or the server.
    pub fn is_refusal(&self) -> bool {
        (400..500).contains(&self.http_status())
    }

    /// The target refused a credential in a test (`credential_rejected`): what a command
    /// that asked for the test reports, with the test's secret-free words.
    pub fn rejected_by_target(message: impl Into<String>) -> Self {
        Error::connection("credential_rejected", message)
    }

    pub(crate) fn connection(code: &'static str, message: impl Into<String>) -> Self {
        Self::Connection {
            code,
            message: message.into(),
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

/// Why a token was refused or an API-key operation was not allowed: a stable code
/// ([`code`](Self::code)) and a message that never holds the token. Only keyhold makes one.
#[derive(Debug)]
pub struct TokenFailure(keyhold_token::TokenError);

impl TokenFailure {
    /// The stable error code (`token_expired`, `insufficient_scope`, ...).
    pub fn code(&self) -> &'static str {
        self.0.code()
    }
}

impl std::fmt::Display for TokenFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for TokenFailure {}

impl From<keyhold_token::TokenError> for Error {
    fn from(e: keyhold_token::TokenError) -> Self {
        Self::Token(TokenFailure(e))
    }
}

impl From<keyhold_access::AccessError> for Error {
    fn from(e: keyhold_access::AccessError) -> Self {
        Self::Access(e)
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

impl From<keyhold_store::DataDirError> for Error {
    fn from(e: keyhold_store::DataDirError) -> Self {
        use keyhold_store::DataDirError as E;
        match e {
            E::NotADirectory(_) => Self::InvalidInput {
                field: "data dir",
                reason: e.to_string(),
            },
            E::NoDatabase(path) => Self::NotInitialized(path),
            E::Io { path, kind } => Self::Io { path, kind },
        }
    }
}

impl From<keyhold_api::BadStoreAt> for Error {
    fn from(e: keyhold_api::BadStoreAt) -> Self {
        Self::InvalidInput {
            field: "store",
            reason: e.to_string(),
        }
    }
}

impl From<keyhold_api::names::NameError> for Error {
    fn from(e: keyhold_api::names::NameError) -> Self {
        Self::InvalidInput {
            field: e.field,
            reason: e.reason,
        }
    }
}

impl From<keyhold_integrity::IntegrityError> for Error {
    fn from(e: keyhold_integrity::IntegrityError) -> Self {
        use keyhold_integrity::IntegrityError as E;
        match e {
            E::Row { what, detail } => Self::Integrity { what, detail },
            E::KeyNotLoaded => Self::Internal("the row key is not loaded"),
            E::Store(e) => Self::Store(e),
            E::Crypto(e) => e.into(),
        }
    }
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
            (Error::from(TokenError::Rng), "rng_failed", 500),
            (Error::from(TokenError::Signing), "signing_failed", 500),
            (
                Error::from(TokenError::InsufficientScope {
                    required: keyhold_token::Scope::Admin,
                }),
                "insufficient_scope",
                403,
            ),
            (Error::from(TokenError::Expired), "token_expired", 401),
            (Error::from(CryptoError::Rng), "internal_error", 500),
            (
                Error::from(keyhold_api::names::workspace("ws_1").unwrap_err()),
                "invalid_input",
                400,
            ),
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
                assert_eq!(Error::from(e).http_status(), status, "{code}");
            }
        }
    }
}
