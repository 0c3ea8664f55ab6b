//! The refusals of the rotation machine: each illegal transition is its own variant with a
//! stable code. Messages name slots and versions only, never a credential.

use crate::{SlotName, Version};

/// Why a transition was refused. The connection is left as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RotationError {
    /// The slot holds the active credential: it may not be updated, regenerated or tested
    /// in place, and saving it again changes nothing.
    #[error("the {0} slot holds the active credential")]
    SlotActive(SlotName),
    /// The slot is the standby whose credential consumers may still hold until its grace
    /// period ends; only a forced operation may replace it before then.
    #[error("the {slot} slot's previous credential is within its grace period until {until}")]
    GracePeriod {
        /// The standby slot.
        slot: SlotName,
        /// When its grace ends (the caller's clock, seconds).
        until: u64,
    },
    /// A regeneration of the slot was begun and not confirmed: it must be resumed first.
    #[error("a regeneration of the {slot} slot (version {version}) is in progress")]
    InProgress {
        /// The slot being regenerated.
        slot: SlotName,
        /// The version the intent recorded.
        version: Version,
    },
    /// The caller acted on a version the slot no longer holds (another caller moved first,
    /// or the read is stale).
    #[error("the {slot} slot no longer holds the version the caller named")]
    VersionMismatch {
        /// The slot named.
        slot: SlotName,
        /// The version the caller named, if any.
        expected: Option<Version>,
        /// The version the slot holds, if any.
        found: Option<Version>,
    },
    /// Only a staged, tested or failed credential can be tested, and only a regeneration
    /// still in progress abandoned: the slot holds none.
    #[error("the {0} slot holds no staged credential to test")]
    NotStaged(SlotName),
    /// Save promotes only a credential that passed a test since it was last updated.
    #[error("the {0} slot's credential has not passed a test")]
    NotTested(SlotName),
    /// The target cannot test credentials: promoting one needs the caller's explicit
    /// acknowledgement that it is untested.
    #[error(
        "the {0} slot's credential cannot be tested: saving it needs an acknowledgement that it is untested"
    )]
    Unacknowledged(SlotName),
    /// A rotation needs an active credential to rotate away from.
    #[error("the connection has no active credential yet")]
    NoActiveSlot,
    /// Stored slot states no transition of this machine could have produced (both slots
    /// active, or a version never numbered).
    #[error("the stored rotation state is inconsistent")]
    Inconsistent,
}

impl RotationError {
    /// The stable, snake_case code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            RotationError::SlotActive(_) => "rotation_slot_active",
            RotationError::GracePeriod { .. } => "rotation_grace_period",
            RotationError::InProgress { .. } => "rotation_in_progress",
            RotationError::VersionMismatch { .. } => "rotation_version_mismatch",
            RotationError::NotStaged(_) => "rotation_not_staged",
            RotationError::NotTested(_) => "rotation_not_tested",
            RotationError::Unacknowledged(_) => "acknowledgement_required",
            RotationError::NoActiveSlot => "rotation_no_active_slot",
            RotationError::Inconsistent => "rotation_state_inconsistent",
        }
    }
}
