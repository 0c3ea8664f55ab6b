//! The transitions that change a connection's slots: each applies whole or is refused with a
//! [`RotationError`] and changes nothing.

use crate::{
    Connection, Effect, FailReason, Origin, RotationError, SlotName, SlotState, Verdict, Version,
    index,
};

impl Connection {
    fn set(&mut self, slot: SlotName, state: SlotState) {
        self.slots[index(slot)] = state;
    }

    fn next_version(&mut self) -> Version {
        self.last_version += 1;
        Version(self.last_version)
    }

    /// May the slot's credential be replaced at `now`? Not the active one, not one being
    /// regenerated, and not the standby within its grace unless `force`.
    fn replaceable(&self, slot: SlotName, now: u64, force: bool) -> Result<(), RotationError> {
        match self.slot(slot) {
            SlotState::Active { .. } => Err(RotationError::SlotActive(slot)),
            SlotState::Regenerating { version } => Err(RotationError::InProgress { slot, version }),
            SlotState::Standby { until, .. } if now < until && !force => {
                Err(RotationError::GracePeriod { slot, until })
            }
            _ => Ok(()),
        }
    }

    /// Stage an operator's credential into `slot` (not the active one): it gets the next
    /// version and must pass a test before it can be saved. Replacing the standby within its
    /// grace needs `force`.
    pub fn update(
        &mut self,
        slot: SlotName,
        now: u64,
        force: bool,
    ) -> Result<Version, RotationError> {
        self.replaceable(slot, now, force)?;
        let version = self.next_version();
        self.set(
            slot,
            SlotState::Staged {
                version,
                origin: Origin::Update,
            },
        );
        Ok(version)
    }

    /// Record the intent to regenerate `slot`, whose version the caller read as `seen`: the
    /// slot takes the next version, which the facade commits with the new credential, and the
    /// caller then performs the returned effect and confirms. Replacing the standby within
    /// its grace needs `force`.
    pub fn begin_regenerate(
        &mut self,
        slot: SlotName,
        seen: Option<Version>,
        now: u64,
        force: bool,
    ) -> Result<Effect, RotationError> {
        self.replaceable(slot, now, force)?;
        let found = self.slot(slot).version();
        if found != seen {
            return Err(RotationError::VersionMismatch {
                slot,
                expected: seen,
                found,
            });
        }
        let version = self.next_version();
        self.set(slot, SlotState::Regenerating { version });
        Ok(Effect::SetAtTarget { slot, version })
    }

    /// The connector set `version` at the target: the regenerated credential is staged for
    /// its test. Confirming a version the slot already holds changes nothing.
    pub fn confirm_regenerated(
        &mut self,
        slot: SlotName,
        version: Version,
    ) -> Result<(), RotationError> {
        match self.slot(slot) {
            SlotState::Regenerating { version: v } if v == version => {
                self.set(
                    slot,
                    SlotState::Staged {
                        version,
                        origin: Origin::Regenerate,
                    },
                );
                Ok(())
            }
            s if s.version() == Some(version) => Ok(()),
            s => Err(RotationError::VersionMismatch {
                slot,
                expected: Some(version),
                found: s.version(),
            }),
        }
    }

    /// Setting `version` at the target failed (unreachable, or the target refused the
    /// change): the regeneration is given up and the slot is [`SlotState::Failed`] with
    /// `reason`, so it no longer blocks rotations. Whether the target took the version is not
    /// known; a failed credential is never handed out nor promoted without a new passing
    /// test, and the next rotation regenerates the slot again. Only the slot's intent of
    /// exactly `version` can be abandoned: another version is a
    /// [`RotationError::VersionMismatch`], the active slot [`RotationError::SlotActive`], and
    /// a slot whose regeneration of `version` was already confirmed or abandoned
    /// [`RotationError::NotStaged`] (no intent is left to abandon).
    pub fn abandon_regenerate(
        &mut self,
        slot: SlotName,
        version: Version,
        reason: FailReason,
        now: u64,
    ) -> Result<(), RotationError> {
        match self.slot(slot) {
            SlotState::Active { .. } => Err(RotationError::SlotActive(slot)),
            SlotState::Regenerating { version: v } if v == version => {
                self.set(
                    slot,
                    SlotState::Failed {
                        version,
                        origin: Origin::Regenerate,
                        at: now,
                        reason,
                    },
                );
                Ok(())
            }
            s if s.version() != Some(version) => Err(RotationError::VersionMismatch {
                slot,
                expected: Some(version),
                found: s.version(),
            }),
            _ => Err(RotationError::NotStaged(slot)),
        }
    }

    /// Record the target's verdict on exactly `version`, the slot's staged credential.
    pub fn test(
        &mut self,
        slot: SlotName,
        version: Version,
        verdict: Verdict,
        now: u64,
    ) -> Result<(), RotationError> {
        let origin = match self.slot(slot) {
            SlotState::Active { .. } => return Err(RotationError::SlotActive(slot)),
            SlotState::Regenerating { version } => {
                return Err(RotationError::InProgress { slot, version });
            }
            SlotState::Empty | SlotState::Standby { .. } => {
                return Err(RotationError::NotStaged(slot));
            }
            SlotState::Staged { origin, .. }
            | SlotState::Tested { origin, .. }
            | SlotState::Failed { origin, .. } => origin,
        };
        self.check_version(slot, version)?;
        let state = match verdict {
            Verdict::Pass => SlotState::Tested {
                version,
                origin,
                at: now,
            },
            Verdict::Fail(reason) => SlotState::Failed {
                version,
                origin,
                at: now,
                reason,
            },
        };
        self.set(slot, state);
        Ok(())
    }

    fn check_version(&self, slot: SlotName, version: Version) -> Result<(), RotationError> {
        let found = self.slot(slot).version();
        if found == Some(version) {
            Ok(())
        } else {
            Err(RotationError::VersionMismatch {
                slot,
                expected: Some(version),
                found,
            })
        }
    }

    /// Promote `slot`, whose credential `version` passed a test since it was staged: it
    /// becomes active, and the credential that was active becomes the standby until
    /// `now` + the grace period.
    pub fn save(
        &mut self,
        slot: SlotName,
        version: Version,
        now: u64,
    ) -> Result<(), RotationError> {
        let tested = match self.slot(slot) {
            SlotState::Active { .. } => return Err(RotationError::SlotActive(slot)),
            SlotState::Regenerating { version } => {
                return Err(RotationError::InProgress { slot, version });
            }
            SlotState::Empty | SlotState::Standby { .. } => {
                return Err(RotationError::NotTested(slot));
            }
            SlotState::Staged { .. } | SlotState::Failed { .. } => {
                self.check_version(slot, version)?;
                return Err(RotationError::NotTested(slot));
            }
            SlotState::Tested { at, .. } => {
                self.check_version(slot, version)?;
                at
            }
        };
        let other = slot.other();
        if let SlotState::Active { version: old, .. } = self.slot(other) {
            let until = now.saturating_add(self.grace);
            self.set(
                other,
                SlotState::Standby {
                    version: old,
                    until,
                },
            );
        }
        self.set(
            slot,
            SlotState::Active {
                version,
                since: now,
                tested,
            },
        );
        Ok(())
    }
}
