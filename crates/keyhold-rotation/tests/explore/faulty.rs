//! The transitions as the explorer calls them — through the real machine, or through one of
//! the deliberately broken variants of [`Fault`] — and the ghost's bookkeeping.

use keyhold_rotation::{FailReason, RotationError, SlotName, SlotState, Verdict, Version};

use crate::world::{Fault, GRACE, World, ix};

impl World {
    /// Forced work on a slot waives the promises of its standby: consumers holding it were
    /// told it could be cut short.
    fn waive(&mut self, slot: SlotName) {
        self.ghost
            .promises
            .retain(|(s, _, until)| *s != slot || until.is_none());
    }

    pub(crate) fn update(
        &mut self,
        slot: SlotName,
        good: bool,
        force: bool,
        fault: Fault,
    ) -> Result<(), RotationError> {
        let was_tested = matches!(self.conn.slot(slot), SlotState::Tested { .. });
        let v = self
            .conn
            .update(slot, self.now(), force || fault == Fault::SkipGrace)?;
        if force {
            self.waive(slot);
        }
        self.ghost.latest[ix(slot)] = Some(v);
        if good {
            // The operator changed the login at the target to the credential supplied.
            self.target[ix(slot)] = Some(v);
        }
        if fault == Fault::UpdateKeepsTest && was_tested {
            self.conn.test(slot, v, Verdict::Pass, self.now())?;
        }
        Ok(())
    }

    pub(crate) fn regenerate(
        &mut self,
        slot: SlotName,
        seen: Option<Version>,
        force: bool,
        fault: Fault,
    ) -> Result<(), RotationError> {
        let forced = force || fault == Fault::SkipGrace;
        let effect = self.conn.begin_regenerate(slot, seen, self.now(), forced)?;
        let keyhold_rotation::Effect::SetAtTarget { version, .. } = effect;
        if force {
            self.waive(slot);
        }
        self.ghost.latest[ix(slot)] = Some(version);
        Ok(())
    }

    pub(crate) fn abandon(
        &mut self,
        slot: SlotName,
        version: Version,
        fault: Fault,
    ) -> Result<(), RotationError> {
        self.conn
            .abandon_regenerate(slot, version, FailReason::Unreachable, self.now())?;
        if fault == Fault::AbandonAsTested {
            self.conn.test(slot, version, Verdict::Pass, self.now())?;
        }
        Ok(())
    }

    pub(crate) fn test(
        &mut self,
        slot: SlotName,
        version: Version,
        pass: bool,
        fault: Fault,
    ) -> Result<(), RotationError> {
        let verdict = if pass || fault == Fault::PassAnyway {
            Verdict::Pass
        } else {
            Verdict::Fail(FailReason::Rejected)
        };
        self.conn.test(slot, version, verdict, self.now())?;
        if pass {
            self.ghost.passed.insert((slot, version));
        }
        Ok(())
    }

    pub(crate) fn save(
        &mut self,
        slot: SlotName,
        version: Version,
        fault: Fault,
    ) -> Result<(), RotationError> {
        let old = self.conn.slot(slot.other());
        self.conn.save(slot, version, self.now())?;
        if fault == Fault::NoDemote && matches!(old, SlotState::Active { .. }) {
            self.lingering = Some((slot.other(), old));
        } else if self.lingering.is_some_and(|(l, _)| l == slot) {
            self.lingering = None;
        }
        Ok(())
    }

    /// After every step: what consumers now hold, and whether a slot became active without
    /// a passing test of exactly its newest version (invariant e, recorded as a broken
    /// promise the checks report).
    pub(crate) fn observe(&mut self) {
        let now = self.now();
        if let Some((l, _)) = self.lingering
            && !matches!(self.conn.slot(l), SlotState::Standby { .. })
        {
            self.lingering = None;
        }
        let mut active = Vec::new();
        for s in SlotName::BOTH {
            if let SlotState::Active { version, .. } = self.slot(s) {
                active.push((s, version));
            }
        }
        let promises = std::mem::take(&mut self.ghost.promises);
        for (s, v, until) in promises {
            let until = match until {
                None if !active.contains(&(s, v)) => Some(now + GRACE),
                other => other,
            };
            if until.is_none_or(|u| now < u) {
                self.ghost.promises.insert((s, v, until));
            }
        }
        for (s, v) in active {
            if !self.ghost.promises.contains(&(s, v, None)) {
                let tested =
                    self.ghost.passed.contains(&(s, v)) && self.ghost.latest[ix(s)] == Some(v);
                if !tested {
                    self.ghost.untested_promotion = true;
                }
                self.ghost.promises.insert((s, v, None));
                self.ghost.saved = true;
            }
        }
    }

    /// The invariants this state breaks, by letter.
    pub fn broken(&self) -> Vec<char> {
        let mut out = Vec::new();
        let active: Vec<(SlotName, Version)> = SlotName::BOTH
            .into_iter()
            .filter_map(|s| match self.slot(s) {
                SlotState::Active { version, .. } => Some((s, version)),
                _ => None,
            })
            .collect();
        let accepted = |(s, v): (SlotName, Version)| self.target[ix(s)] == Some(v);
        // (a) once saved, the target accepts a credential the store hands out as active.
        if self.ghost.saved && !active.iter().any(|a| accepted(*a)) {
            out.push('a');
        }
        // (b) the active credential is accepted.
        if !active.iter().all(|a| accepted(*a)) {
            out.push('b');
        }
        // (c) nothing handed out is invalidated before its grace ends (unless forced).
        if !self
            .ghost
            .promises
            .iter()
            .all(|(s, v, _)| accepted((*s, *v)))
        {
            out.push('c');
        }
        // (d) never two active slots.
        if active.len() > 1 {
            out.push('d');
        }
        // (e) nothing became active without a passing test of exactly its current version.
        if self.ghost.untested_promotion {
            out.push('e');
        }
        // (f) store and target agree on what the store vouches for: a tested credential is one
        // the target accepts. A regenerating or failed slot vouches for nothing: after an
        // abandoned regeneration the target may or may not hold its version, so the check
        // claims nothing about those states.
        for s in SlotName::BOTH {
            if let SlotState::Tested { version, .. } = self.slot(s)
                && !accepted((s, version))
            {
                out.push('f');
            }
        }
        out
    }
}
