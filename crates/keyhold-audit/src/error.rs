//! The crate's error type (the verifier's findings are [`ChainError`](crate::ChainError)).

/// Everything that can go wrong building, encoding, decoding, chaining or checkpointing events.
///
/// Every variant has a stable snake_case [`code`](AuditError::code). No message ever contains
/// key bytes, and none echoes the rejected input (it might be a secret pasted by mistake).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A [`PublicText`](crate::PublicText) was empty, longer than
    /// [`PublicText::MAX_LEN`](crate::PublicText::MAX_LEN) bytes, or contained a control or
    /// bidirectional-formatting character.
    #[error("audit text is invalid: {reason}")]
    InvalidText {
        /// What is wrong (never the text itself).
        reason: &'static str,
    },
    /// A [`ReasonCode`](crate::ReasonCode) or [`DetailName`](crate::DetailName) is not
    /// `[a-z][a-z0-9_]*` of at most 64 bytes.
    #[error("audit code or detail name is not snake_case (at most 64 bytes)")]
    InvalidName,
    /// An event would have more than [`Details::MAX_ENTRIES`](crate::Details::MAX_ENTRIES)
    /// details.
    #[error("too many audit details")]
    TooManyDetails,
    /// An action name is not one of the [`Action`](crate::Action) names.
    #[error("unknown audit action")]
    UnknownAction,
    /// A surface name is not one of the [`Surface`](crate::Surface) names.
    #[error("unknown audit surface")]
    UnknownSurface,
    /// Bytes are not a canonical v1 event encoding.
    #[error("audit event encoding is malformed: {what}")]
    Malformed {
        /// Which part failed to decode.
        what: &'static str,
    },
    /// The OS random source failed.
    #[error("the OS random source failed")]
    Rng,
    /// Key material has the wrong length or format.
    #[error("invalid {what}")]
    InvalidKey {
        /// Which key (`audit key`, `PKCS#8 v2 Ed25519 key`, ...).
        what: &'static str,
    },
    /// The chain's sequence number would overflow `u64`.
    #[error("audit chain sequence number exhausted")]
    SeqExhausted,
    /// A checkpoint document is not valid JSON of the expected shape, or a field is malformed.
    #[error("checkpoint is malformed: {what}")]
    CheckpointMalformed {
        /// Which field or part failed.
        what: &'static str,
    },
    /// The checkpoint's `kid` does not name the public key it is being verified with.
    #[error("checkpoint was signed by another key (kid mismatch)")]
    CheckpointWrongKey,
    /// The checkpoint's signature does not verify: it was altered or forged.
    #[error("checkpoint signature is invalid")]
    CheckpointBadSignature,
    /// The checkpoint is for another store.
    #[error("checkpoint is for another store")]
    CheckpointWrongStore,
}

impl AuditError {
    /// A stable snake_case code for logs and API bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidText { .. } => "audit_invalid_text",
            Self::InvalidName => "audit_invalid_name",
            Self::TooManyDetails => "audit_too_many_details",
            Self::UnknownAction => "audit_unknown_action",
            Self::UnknownSurface => "audit_unknown_surface",
            Self::Malformed { .. } => "audit_malformed",
            Self::Rng => "rng_failed",
            Self::InvalidKey { .. } => "audit_invalid_key",
            Self::SeqExhausted => "audit_seq_exhausted",
            Self::CheckpointMalformed { .. } => "checkpoint_malformed",
            Self::CheckpointWrongKey => "checkpoint_wrong_key",
            Self::CheckpointBadSignature => "checkpoint_bad_signature",
            Self::CheckpointWrongStore => "checkpoint_wrong_store",
        }
    }
}
