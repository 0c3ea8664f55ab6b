//! Why team access refused something: a stable code for each.

/// A refusal of the team access rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The member's role does not allow the operation (`insufficient_role`).
    #[error("a {role} may not {what}")]
    InsufficientRole {
        /// The member's role.
        role: &'static str,
        /// What was attempted, in words.
        what: String,
    },
    /// A sign-in did not succeed (`sign_in_failed`): the same words for every reason, so the
    /// answer never says whether the email exists, the password was wrong or a code is missing.
    #[error("sign-in failed: check the email, password and code")]
    SignInFailed,
    /// Too many failed sign-ins; try again later (`sign_in_throttled`).
    #[error("too many failed sign-ins: try again in {retry_after} s")]
    Throttled {
        /// Seconds to wait.
        retry_after: i64,
    },
    /// A password the policy refuses (`password_rejected`).
    #[error("password rejected: {0}")]
    PasswordRejected(&'static str),
    /// The session is unknown, expired or signed out, or its member was disabled
    /// (`session_invalid`).
    #[error("the session is not valid: sign in again")]
    SessionInvalid,
    /// A request that changes something with a session but without its CSRF token
    /// (`csrf_failed`).
    #[error("send the session's CSRF token as X-CSRF-Token")]
    CsrfFailed,
    /// An enrolment code that is unknown, used or expired (`enrolment_invalid`).
    #[error("the enrolment code is not valid: ask for a new one")]
    EnrolmentInvalid,
    /// The change would leave the workspace without an active owner (`last_owner`).
    #[error("a workspace keeps at least one active owner")]
    LastOwner,
    /// Not an email address (`invalid_input`).
    #[error("invalid email: {0}")]
    Email(&'static str),
    /// Another value that is not acceptable (`invalid_input`).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which.
        field: &'static str,
        /// What is accepted.
        reason: &'static str,
    },
}

impl AccessError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InsufficientRole { .. } => "insufficient_role",
            Self::SignInFailed => "sign_in_failed",
            Self::Throttled { .. } => "sign_in_throttled",
            Self::PasswordRejected(_) => "password_rejected",
            Self::SessionInvalid => "session_invalid",
            Self::EnrolmentInvalid => "enrolment_invalid",
            Self::CsrfFailed => "csrf_failed",
            Self::LastOwner => "last_owner",
            Self::Email(_) | Self::Invalid { .. } => "invalid_input",
        }
    }
}
