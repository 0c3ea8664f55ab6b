//! Regeneration and rotation: a fresh credential made here, written ahead into the store,
//! set at the target under the connection's lease, tested, promoted. Each step is one
//! persisted transition of the machine; a rotation interrupted anywhere is resumed by asking
//! again (`Connection::next_rotate_step` reads where it stopped).

use keyhold_audit::Action;
use keyhold_connect::{Login, SetError};
use keyhold_rotation::{Effect, FailReason, RotateStep, SlotName, Version};
use keyhold_token::Scope;

use super::Loaded;
use super::view::slot as machine_slot;
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
        let slot = machine_slot(slot);
        let seen = self.store.read(|tx| -> Result<_> {
            let c = self.load_connection(tx, caller, ROTATE, workspace, name)?;
            Ok(c.machine.slot(slot).version())
        })?;
        let effect = self.begin_regenerate(caller, workspace, name, slot, seen, force)?;
        self.apply_effect(caller, workspace, name, effect)?;
        let Effect::SetAtTarget { slot, .. } = effect;
        self.test_slot(caller, ROTATE, workspace, name, slot)
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
        for _ in 0..MAX_STEPS {
            let step = self.store.read(|tx| -> Result<_> {
                let c =
                    self.load_connection(tx, caller, ROTATE, workspace, name)?;
                Ok(c.machine.next_rotate_step(super::to_secs(now()), force)?)
            })?;
            match step {
                RotateStep::Regenerate { slot, seen, force } => {
                    self.begin_regenerate(caller, workspace, name, slot, seen, force)?;
                }
                RotateStep::SetAndConfirm(effect) => {
                    self.apply_effect(caller, workspace, name, effect)?;
                }
                RotateStep::Test { slot, .. } => {
                    let tested = self.test_slot(caller, ROTATE, workspace, name, slot)?;
                    if !tested.passed {
                        return Ok(tested);
                    }
                }
                RotateStep::Save { slot, .. } => {
                    let connection = self.save_slot(caller, ROTATE, workspace, name, slot, false)?;
                    return Ok(api::TestOutcome {
                        connection,
                        detail: None,
                        failure: None,
                        passed: true,
                    });
                }
            }
        }
        Err(Error::Internal("a rotation did not finish in its bounded number of steps"))
    }

    /// The write-ahead of a regeneration: the slot takes the next version, whose fresh
    /// credential is sealed in the same transaction.
    fn begin_regenerate(
        &self,
        caller: &Caller,
        workspace: &str,
        name: &str,
        slot: SlotName,
        seen: Option<Version>,
        force: bool,
    ) -> Result<Effect> {
        self.store.write(|tx| -> Result<_> {
            let mut c =
                self.load_connection(tx, caller, ROTATE, workspace, name)?;
            if !c.target.connector().is_some_and(|k| k.regenerates()) {
                return Err(Error::connection(
                    "regeneration_unsupported",
                    format!("a {} connection cannot make its own credentials", c.target.kind()),
                ));
            }
            let at = now();
            let effect = c
                .machine
                .begin_regenerate(slot, seen, super::to_secs(at), force)?;
            let Effect::SetAtTarget { version, .. } = effect;
            self.seal_record(tx, c.record(slot, version), &keyhold_connect::new_password()?)?;
            self.persist_connection(tx, &mut c, at)?;
            self.audit_connection(
                tx,
                caller,
                &c,
                Action::RegenerationBegun,
                Some((slot, version)),
                |d| d.detail("forced", force),
            )?;
            Ok(effect)
        })
    }

    /// Sets the regenerated credential at the target under the connection's lease, then
    /// confirms it — or, if the target could not take it, abandons the regeneration (the
    /// slot is failed; the active credential keeps serving) and reports why.
    fn apply_effect(
        &self,
        caller: &Caller,
        workspace: &str,
        name: &str,
        effect: Effect,
    ) -> Result<()> {
        let Effect::SetAtTarget { slot, version } = effect;
        let owner = keyhold_crypto::random::identifier("lease_", 12)?;
        let work = self.store.write(|tx| -> Result<_> {
            let c = self.load_connection(tx, caller, ROTATE, workspace, name)?;
            // Under the lease, and only if the slot still waits for exactly this version:
            // another caller may have set it, confirmed it and moved on meanwhile.
            if !c.machine.pending().contains(&effect) {
                return Ok(None);
            }
            let at = now();
            if !tx.take_connection_lease(&c.row.id, &owner, at, at + LEASE_SECS)? {
                return Err(keyhold_rotation::RotationError::InProgress { slot, version }.into());
            }
            let new = self.open_record(tx, &c.record(slot, version))?;
            let authority = self.authority(tx, &c, slot)?;
            let connector = c.target.connector();
            Ok(Some((c.row.id.clone(), c.user(slot).map(str::to_owned), new, authority, connector)))
        })?;
        let Some((id, user, new, (admin_user, admin_secret), connector)) = work else {
            return Ok(());
        };
        let outcome = match (connector, user) {
            (Some(k), Some(user)) => {
                let authority = Login {
                    user: admin_user.as_deref().unwrap_or(&user),
                    password: &admin_secret,
                };
                k.set_password(&user, &new, &authority)
            }
            _ => Err(SetError::Unsupported),
        };
        self.settle_effect(caller, workspace, name, &id, &owner, slot, version, outcome)
    }

    /// Who sets `slot`'s new credential: the admin login if the connection has one, else the
    /// slot's own login with the credential it held before (a login may change its own).
    fn authority(
        &self,
        tx: &keyhold_store::Tx<'_>,
        c: &Loaded,
        slot: SlotName,
    ) -> Result<(Option<String>, keyhold_crypto::SecretBytes)> {
        if let Some(admin) = c.target.admin_user() {
            return Ok((Some(admin.to_owned()), self.open_record(tx, &c.admin_record())?));
        }
        let prefix = format!("{}.{slot}.v", c.row.id);
        let current = c.machine.slot(slot).version().map(Version::get);
        let previous = tx
            .record_ids_prefixed(&c.row.workspace, super::CREDENTIAL, &prefix)?
            .iter()
            .filter_map(|id| id.strip_prefix(&prefix)?.parse::<u32>().ok())
            .filter(|v| Some(*v) != current)
            .max()
            .ok_or_else(|| {
                Error::connection(
                    "target_refused",
                    format!("the {slot} slot has no earlier credential to change its own password with, and the connection has no admin login"),
                )
            })?;
        Ok((None, self.open_record(tx, &c.record(slot, Version::new(previous)))?))
    }

    #[allow(clippy::too_many_arguments)]
    fn settle_effect(
        &self,
        caller: &Caller,
        workspace: &str,
        name: &str,
        id: &str,
        owner: &str,
        slot: SlotName,
        version: Version,
        outcome: std::result::Result<(), SetError>,
    ) -> Result<()> {
        let failure = self.store.write(|tx| -> Result<_> {
            let mut c =
                self.load_connection(tx, caller, ROTATE, workspace, name)?;
            tx.release_connection_lease(id, owner)?;
            let at = now();
            let (action, failure) = match &outcome {
                Ok(()) => {
                    c.machine.confirm_regenerated(slot, version)?;
                    (Action::RegenerationConfirmed, None)
                }
                Err(e) => {
                    let reason = match e {
                        SetError::Unreachable { .. } => FailReason::Unreachable,
                        _ => FailReason::Rejected,
                    };
                    c.machine
                        .abandon_regenerate(slot, version, reason, super::to_secs(at))?;
                    (Action::RegenerationAbandoned, Some(super::set_error(e)))
                }
            };
            self.persist_connection(tx, &mut c, at)?;
            let code = failure.as_ref().map(Error::code);
            self.audit_connection(tx, caller, &c, action, Some((slot, version)), |d| match code {
                Some(code) => d.failed(code),
                None => d,
            })?;
            Ok(failure)
        })?;
        failure.map_or(Ok(()), Err)
    }
}
