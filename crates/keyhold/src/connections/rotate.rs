//! Regeneration and rotation: a fresh credential made here, written ahead into the store,
//! set at the target under the connection's lease, tested, promoted. Each step is one
//! persisted transition of the machine; a rotation interrupted anywhere is resumed by asking
//! again (`Connection::next_rotate_step` reads where it stopped).

use std::ops::ControlFlow;

use keyhold_audit::Action;
use keyhold_connect::wire;
use keyhold_connect::{Change, SetError};
use keyhold_rotation::{Effect, RotateStep, RotationError, SlotName, Version};
use keyhold_store::Tx;
use keyhold_token::Scope;

use super::{Loaded, crash_point};
use crate::{Caller, Error, Keyhold, Result, api, now};

/// How long a lease on a connection's target lasts: longer than any one connector call
/// (their timeouts are seconds), so only a holder that died loses it.
const LEASE_SECS: i64 = 60;
/// A rotation does at most this many steps (regenerate, set, test, save, with room for a
/// resumed one): it never loops.
const MAX_STEPS: usize = 8;
/// What regenerating and rotating need.
const ROTATE: Scope = Scope::ConnectionsRotate;

impl Keyhold {
    /// Regenerates `slot` (not the active one): a fresh credential, stored first, set at the
    /// target, then tested. Replacing the standby within its grace needs `force`. Recorded as
    /// `connection.regenerating`, `connection.regenerated` and `connection.tested`. A key
    /// caller needs `connections:rotate`.
    pub fn regenerate_credential(
        &self,
        caller: &Caller,
        workspace: &str,
        name: &str,
        slot: api::SlotName,
        force: bool,
    ) -> Result<api::TestOutcome> {
        let (slot, at) = (wire::slot(slot), (workspace, name));
        let seen = self.store.read(|tx| -> Result<_> {
            let c = self.load_connection(tx, caller, ROTATE, workspace, name)?;
            Ok(c.machine.slot(slot).version())
        })?;
        let effect = self.begin_regenerate(caller, at, slot, seen, force)?;
        self.apply_effect(caller, at, effect)?;
        self.test_slot(caller, ROTATE, at, slot)
    }

    /// Rotates the connection: regenerates the slot that is not active, tests it and
    /// promotes it — or resumes a rotation that stopped on the way. Refused while the standby
    /// is within its grace, unless `force`. A key caller needs `connections:rotate`.
    pub fn rotate_connection(
        &self,
        caller: &Caller,
        workspace: &str,
        name: &str,
        force: bool,
    ) -> Result<api::TestOutcome> {
        let at = (workspace, name);
        // The slot this rotation promotes (the one not active when it began), and the refusal
        // of a step another caller overtook, if one was.
        let mut promoting: Option<SlotName> = None;
        let mut overtaken: Option<Error> = None;
        for _ in 0..MAX_STEPS {
            let step = self.store.read(|tx| -> Result<_> {
                let c = self.load_connection(tx, caller, ROTATE, workspace, name)?;
                let active = c.machine.active().map(|(slot, _)| slot);
                let target = *promoting
                    .get_or_insert_with(|| active.map_or(SlotName::Primary, SlotName::other));
                if overtaken.is_some() && active == Some(target) {
                    // Another caller (another node) finished the very rotation this one
                    // joined: it is done, and no second one is started.
                    let pass = keyhold_rotation::Verdict::Pass;
                    return Ok(ControlFlow::Break(wire::outcome(c.view(), pass, None)));
                }
                let next = c.machine.next_rotate_step(super::to_secs(now()), force)?;
                Ok(ControlFlow::Continue(next))
            })?;
            let step = match step {
                ControlFlow::Continue(step) => step,
                ControlFlow::Break(done) => return Ok(done),
            };
            if matches!(step, RotateStep::Regenerate { .. })
                && let Some(e) = overtaken.take()
            {
                // Overtaken, and the rotation did not end in this slot's promotion: starting
                // a fresh one would be a second rotation nobody asked for.
                return Err(e);
            }
            match self.rotate_step(caller, at, step) {
                Ok(Some(outcome)) => return Ok(outcome),
                Ok(None) => {}
                // The slot was promoted, or took another version, between the step read
                // above and its write: go on from where the connection stands now.
                Err(e) if moved_on(&e) => overtaken = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(overtaken.unwrap_or(Error::Internal(
            "a rotation did not finish in its bounded number of steps",
        )))
    }

    /// One step of a rotation: the outcome if it ended the rotation (promoted, or failed
    /// its test).
    fn rotate_step(
        &self,
        caller: &Caller,
        at: (&str, &str),
        step: RotateStep,
    ) -> Result<Option<api::TestOutcome>> {
        match step {
            RotateStep::Regenerate { slot, seen, force } => {
                self.begin_regenerate(caller, at, slot, seen, force)?;
            }
            RotateStep::SetAndConfirm(effect) => self.apply_effect(caller, at, effect)?,
            RotateStep::Test { slot, .. } => {
                let tested = self.test_slot(caller, ROTATE, at, slot)?;
                crash_point("tested");
                if !tested.passed {
                    return Ok(Some(tested));
                }
            }
            RotateStep::Save { slot, .. } => {
                let connection = self.save_slot(caller, ROTATE, at, slot, false)?;
                crash_point("saved");
                let pass = keyhold_rotation::Verdict::Pass;
                return Ok(Some(wire::outcome(connection, pass, None)));
            }
        }
        Ok(None)
    }

    /// The write-ahead of a regeneration: the slot takes the next version, whose fresh
    /// credential is sealed in the same transaction.
    fn begin_regenerate(
        &self,
        caller: &Caller,
        at: (&str, &str),
        slot: SlotName,
        seen: Option<Version>,
        force: bool,
    ) -> Result<Effect> {
        let effect = self.transition(caller, ROTATE, at, |tx, c, now| {
            c.target.regenerator()?;
            let effect = c
                .machine
                .begin_regenerate(slot, seen, super::to_secs(now), force)?;
            let Effect::SetAtTarget { version, .. } = effect;
            self.seal_record(
                tx,
                c.record(slot, version),
                &keyhold_connect::new_password()?,
            )?;
            let event = c.event(Action::RegenerationBegun, Some((slot, version)))?;
            Ok((effect, event.detail("forced", force)))
        })?;
        crash_point("regenerate_begun");
        Ok(effect)
    }

    /// Sets the regenerated credential at the target under the connection's lease, then
    /// confirms it — or, if the target could not take it, abandons the regeneration (the
    /// slot is failed; the active credential keeps serving) and reports why.
    fn apply_effect(&self, caller: &Caller, at: (&str, &str), effect: Effect) -> Result<()> {
        let Effect::SetAtTarget { slot, version } = effect;
        let owner = keyhold_crypto::random::identifier("lease_", 12)?;
        let work = self.store.write(|tx| -> Result<_> {
            let c = self.load_connection(tx, caller, ROTATE, at.0, at.1)?;
            // Under the lease, and only if the slot still waits for exactly this version:
            // another caller may have set it, confirmed it and moved on meanwhile.
            if !c.machine.pending().contains(&effect) {
                return Ok(None);
            }
            let now = now();
            if !tx.take_connection_lease(&c.row.id, &owner, now, now + LEASE_SECS)? {
                return Err(RotationError::InProgress { slot, version }.into());
            }
            // Credentials that cannot be read fail the regeneration (it is abandoned below)
            // rather than leave the slot waiting for an effect nobody can perform.
            let work = self
                .set_work(tx, &c, slot, version)
                .map_err(|e| SetError::Rejected {
                    detail: format!(
                        "the credentials to set it with cannot be read ({})",
                        e.code()
                    ),
                });
            Ok(Some((c.row.id.clone(), work)))
        })?;
        let Some((id, work)) = work else {
            return Ok(());
        };
        crash_point("lease_taken");
        let outcome = work.and_then(|w| w.apply());
        if outcome.is_ok() {
            crash_point("target_set");
        }
        let failure = self.transition(caller, ROTATE, at, |tx, c, now| {
            c.same_as(&id, slot)?;
            tx.release_connection_lease(&id, &owner)?;
            let (action, failure) = match &outcome {
                Ok(()) => {
                    c.machine.confirm_regenerated(slot, version)?;
                    (Action::RegenerationConfirmed, None)
                }
                Err(e) => {
                    c.machine
                        .abandon_regenerate(slot, version, e.reason(), super::to_secs(now))?;
                    (Action::RegenerationAbandoned, Some(e))
                }
            };
            let event = c.event(action, Some((slot, version)))?;
            let event = failure.map_or(event.clone(), |e| event.failed(e.code()));
            Ok((
                failure.map(|e| Error::connection(e.code(), e.to_string())),
                event,
            ))
        })?;
        if failure.is_none() {
            crash_point("regeneration_confirmed");
        }
        failure.map_or(Ok(()), Err)
    }

    /// What setting `slot`'s credential `version` takes. The authority is the admin login if
    /// the connection has one, else the slot's own login with a credential it held before,
    /// newest first (a login may change its own password), and last with the new one: a
    /// process that died after setting it left the login with that one only.
    fn set_work(
        &self,
        tx: &Tx<'_>,
        c: &Loaded,
        slot: SlotName,
        version: Version,
    ) -> Result<Change> {
        let mut authorities = Vec::new();
        if let Some(admin) = c.target.admin_user() {
            authorities.push((
                Some(admin.to_owned()),
                self.open_record(tx, &c.admin_record())?,
            ));
        } else {
            let mut stored = self.stored_versions(tx, c, slot)?;
            stored.sort_unstable_by_key(|v| (*v == version.get(), std::cmp::Reverse(*v)));
            for v in stored {
                authorities.push((
                    None,
                    self.open_record(tx, &c.record(slot, Version::new(v)))?,
                ));
            }
        }
        Ok(Change {
            connector: c.target.connector(),
            user: c.user(slot).map(str::to_owned),
            new: self.open_record(tx, &c.record(slot, version))?,
            authorities,
        })
    }
}

/// Whether `e` says the slot a step was read for is no longer where the step left it: it
/// became the active one, or took another version, through another caller's rotation.
fn moved_on(e: &Error) -> bool {
    matches!(
        e.code(),
        "rotation_slot_active" | "rotation_version_mismatch"
    )
}
