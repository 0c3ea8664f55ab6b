//! A rotation (regenerate the slot that is not active, test it, promote it) as a plan of the
//! machine's own transitions, read from the stored state one step at a time: each step is one
//! persisted transition, so a rotation interrupted anywhere is resumed by asking again.

use crate::{Connection, Effect, Origin, RotationError, SlotName, SlotState, Version};

/// The next step of a rotation. A rotation is over when its `Save` succeeds, or when a test
/// fails or setting the credential at the target does
/// ([`Connection::abandon_regenerate`]): the slot is then [`SlotState::Failed`], and the next
/// rotation regenerates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RotateStep {
    /// [`Connection::begin_regenerate`] the slot, which the plan read at `seen`.
    Regenerate {
        /// The slot that is not active.
        slot: SlotName,
        /// Its version as read.
        seen: Option<Version>,
        /// Whether the standby's grace may be cut short.
        force: bool,
    },
    /// Perform the effect (again, if it was already performed), then
    /// [`Connection::confirm_regenerated`] its version, or, if the target could not be made
    /// to take it, [`Connection::abandon_regenerate`] it.
    SetAndConfirm(Effect),
    /// Test the regenerated credential at the target and [`Connection::test`] the verdict.
    Test {
        /// The slot.
        slot: SlotName,
        /// The credential to test.
        version: Version,
    },
    /// [`Connection::save`] the tested credential.
    Save {
        /// The slot.
        slot: SlotName,
        /// The credential that passed.
        version: Version,
    },
}

impl Connection {
    /// The next step of a rotation at `now`, from the stored state: resume a regeneration
    /// begun, test or promote a regenerated credential, or else regenerate the slot that is
    /// not active — refused while it is the standby within its grace, unless `force`.
    pub fn next_rotate_step(&self, now: u64, force: bool) -> Result<RotateStep, RotationError> {
        let (active, _) = self.active().ok_or(RotationError::NoActiveSlot)?;
        let slot = active.other();
        let step = match self.slot(slot) {
            SlotState::Regenerating { version } => {
                RotateStep::SetAndConfirm(Effect::SetAtTarget { slot, version })
            }
            SlotState::Staged {
                version,
                origin: Origin::Regenerate,
            } => RotateStep::Test { slot, version },
            SlotState::Tested {
                version,
                origin: Origin::Regenerate,
                ..
            } => RotateStep::Save { slot, version },
            SlotState::Standby { until, .. } if now < until && !force => {
                return Err(RotationError::GracePeriod { slot, until });
            }
            other => RotateStep::Regenerate {
                slot,
                seen: other.version(),
                force,
            },
        };
        Ok(step)
    }
}
