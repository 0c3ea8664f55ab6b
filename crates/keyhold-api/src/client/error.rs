//! [`ApiError`]: why a call of API v1 failed.

/// A failed call: refused by the client before sending, the server unreachable or not
/// speaking API v1, or the server's error envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// An argument of the client (the URL, the key, the CA file) is not acceptable.
    Invalid {
        /// Which argument.
        field: &'static str,
        /// What is wrong and what is accepted (never the argument's secret part).
        reason: String,
    },
    /// The server could not be reached, or answered something that is not API v1.
    Unreachable {
        /// The server's base URL (it never carries a credential: such URLs are refused).
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered with its error envelope.
    Refused {
        /// The HTTP status of the answer.
        status: u16,
        /// The envelope's code (one of [`crate::CODES`], unless the server is newer).
        code: String,
        /// The server's message (never a secret: the server's errors carry none).
        message: String,
        /// The request's id, to find it in the server's logs and audit trail.
        request_id: String,
    },
    /// The client itself failed (e.g. a body it could not encode).
    Internal(&'static str),
}

impl ApiError {
    /// The documented error code this failure has on the CLI and in API v1's table:
    /// `invalid_input`, `server_error`, the envelope's own, or `internal_error`.
    pub fn code(&self) -> &str {
        match self {
            Self::Invalid { .. } => "invalid_input",
            Self::Unreachable { .. } => "server_error",
            Self::Refused { code, .. } => code,
            Self::Internal(_) => "internal_error",
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid { field, reason } => write!(f, "invalid {field}: {reason}"),
            Self::Unreachable { url, reason } => write!(f, "server {url}: {reason}"),
            Self::Refused { code, message, .. } => write!(f, "{code}: {message}"),
            Self::Internal(what) => write!(f, "internal error: {what}"),
        }
    }
}

impl std::error::Error for ApiError {}
