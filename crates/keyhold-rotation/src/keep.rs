//! Which stored credentials a connection still needs, and which version a test or a save is
//! about: the machine's answers about versions, so that whoever keeps the credentials
//! (encrypted, one per slot and version) deletes exactly the ones nothing can use any more.

use crate::{Connection, Origin, RotationError, SlotName, SlotState, Verdict, Version};

impl Connection {
    /// The version a test of `slot` is about: its staged, tested or failed credential.
    pub fn testable(&self, slot: SlotName) -> Result<Version, RotationError> {
        match self.slot(slot) {
            SlotState::Staged { version, .. }
            | SlotState::Tested { version, .. }
            | SlotState::Failed { version, .. } => Ok(version),
            SlotState::Active { .. } => Err(RotationError::SlotActive(slot)),
            SlotState::Regenerating { version } => Err(RotationError::InProgress { slot, version }),
            SlotState::Empty | SlotState::Standby { .. } => Err(RotationError::NotStaged(slot)),
        }
    }

    /// The newest of `stored` (versions kept for `slot`) below the slot's own: the credential
    /// the slot held before, with which its login may set its next one.
    pub fn previous(&self, slot: SlotName, stored: &[u32]) -> Option<Version> {
        let current = self.slot(slot).version().map_or(u32::MAX, Version::get);
        stored
            .iter()
            .copied()
            .filter(|v| *v < current)
            .max()
            .map(Version)
    }

    /// Refused (`InProgress`) while a regeneration may be landing at the target: nothing that
    /// would lose its credential (deleting the connection) may happen meanwhile.
    pub fn settled(&self) -> Result<(), RotationError> {
        match self.pending().first() {
            Some(crate::Effect::SetAtTarget { slot, version }) => Err(RotationError::InProgress {
                slot: *slot,
                version: *version,
            }),
            None => Ok(()),
        }
    }

    /// The versions of `stored` (kept for `slot`) that nothing needs any more: every one but
    /// the slot's own and — until the slot's own has passed a test — the newest earlier one,
    /// the last the target is known to have taken (a login may need it to set its next). While
    /// a regeneration is unsettled (being set, or failed to set), whether the target took the
    /// new one is not known: every earlier one is kept.
    pub fn stale(&self, slot: SlotName, stored: &[u32]) -> Vec<Version> {
        let state = self.slot(slot);
        let unsettled = matches!(
            state,
            SlotState::Regenerating { .. }
                | SlotState::Failed {
                    origin: Origin::Regenerate,
                    ..
                }
        );
        if unsettled {
            return Vec::new();
        }
        let proven = matches!(
            state,
            SlotState::Tested { .. } | SlotState::Active { .. } | SlotState::Standby { .. }
        );
        let keep = [
            state.version(),
            (!proven).then(|| self.previous(slot, stored)).flatten(),
        ];
        stored
            .iter()
            .copied()
            .map(Version)
            .filter(|v| !keep.contains(&Some(*v)))
            .collect()
    }

    /// Promote `slot`'s credential (whichever version it holds) for a target that can or
    /// cannot test: like [`Connection::save`] where the target is `testable`; where it is not,
    /// a credential that did not pass a test counts as passed at `now` only on the caller's
    /// explicit acknowledgement, and is refused (`Unacknowledged`) without. Returns the
    /// version saved and whether the acknowledgement was used.
    pub fn save_current(
        &mut self,
        slot: SlotName,
        now: u64,
        testable: bool,
        acknowledged: bool,
    ) -> Result<(Version, bool), RotationError> {
        let state = self.slot(slot);
        let version = state.version().ok_or(RotationError::NotTested(slot))?;
        let untested = !testable && !matches!(state, SlotState::Tested { .. });
        if untested && !acknowledged && !matches!(state, SlotState::Active { .. }) {
            return Err(RotationError::Unacknowledged(slot));
        }
        let mut next = self.clone();
        if untested {
            next.test(slot, version, Verdict::Pass, now)?;
        }
        next.save(slot, version, now)?;
        *self = next;
        Ok((version, untested))
    }
}
