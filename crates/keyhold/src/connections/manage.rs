//! Creating, listing, showing and deleting connections, and the operator's own transitions:
//! stage a credential, test it at the target, save it.

use keyhold_audit::Action;
use keyhold_connect::Login;
use keyhold_rotation::{SlotName, SlotState, Verdict, Version};
use keyhold_store::ConnectionRow;
use keyhold_token::Scope;

use super::view::{slot as machine_slot, target_of};
use super::{Loaded, to_stored};
use crate::{Caller, Error, Keyhold, Result, api, names, now};

impl Keyhold {
    /// Creates a connection with two empty slots. Recorded as `connection.created`. A key
    /// caller needs `connections:write`.
    pub fn create_connection(
        &self,
        caller: &Caller,
        workspace: &str,
        req: &api::CreateConnection,
    ) -> Result<api::Connection> {
        names::connection_name(&req.name)?;
        let target = target_of(req).map_err(|m| Error::connection("invalid_connection", m))?;
        if req.admin_password.is_some() != target.admin_user().is_some() {
            return Err(Error::connection(
                "invalid_connection",
                "an admin password is given exactly when the target names an admin user",
            ));
        }
        let admin_password = req.admin_password.as_ref().map(super::secret_bytes).transpose()?;
        let rotate_every = req.rotate_every_secs.map(to_stored);
        self.store.write(|tx| -> Result<_> {
            let ws = self.resolve(tx, workspace)?;
            caller.require(Scope::ConnectionsWrite, &ws.id)?;
            let at = now();
            let mut row = ConnectionRow {
                id: keyhold_crypto::random::identifier("con_", 16)?,
                workspace: ws.id.clone(),
                name: req.name.clone(),
                kind: target.kind().to_owned(),
                settings: target.encode(),
                grace_secs: to_stored(req.grace_secs),
                rotate_every_secs: rotate_every,
                primary_state: SlotState::Empty.encode(),
                secondary_state: SlotState::Empty.encode(),
                created_at: at,
                created_by: caller.name(),
                updated_at: at,
                ..ConnectionRow::default()
            };
            self.rows.mac_connection(&mut row)?;
            if !tx.insert_connection(&row)? {
                return Err(Error::connection(
                    "connection_exists",
                    format!("connection {} already exists", req.name),
                ));
            }
            let c = Loaded::new(row)?;
            if let Some(pw) = &admin_password {
                self.seal_record(tx, c.admin_record(), pw)?;
            }
            self.audit_connection(tx, caller, &c, Action::ConnectionCreated, None, |d| {
                match keyhold_audit::PublicText::new(c.target.kind()) {
                    Ok(kind) => d.detail("kind", kind),
                    Err(_) => d,
                }
            })?;
            Ok(c.view())
        })
    }

    /// The workspace's connections, by name. A key caller needs `connections:read`.
    pub fn connections(
        &self,
        caller: &Caller,
        workspace: &str,
    ) -> Result<Vec<api::Connection>> {
        self.store.read(|tx| -> Result<_> {
            let ws = self.resolve(tx, workspace)?;
            caller.require(Scope::ConnectionsRead, &ws.id)?;
            let mut out = Vec::new();
            for row in tx.connections(Some(&ws.id))? {
                self.rows.check_connection(&row)?;
                out.push(Loaded::new(row)?.view());
            }
            Ok(out)
        })
    }

    /// One connection (never a secret). A key caller needs `connections:read`.
    pub fn connection(
        &self,
        caller: &Caller,
        workspace: &str,
        name: &str,
    ) -> Result<api::Connection> {
        self.store.read(|tx| -> Result<_> {
            Ok(self
                .load_connection(tx, caller, Scope::ConnectionsRead, workspace, name)?
                .view())
        })
    }

    /// Deletes a connection and every credential it kept (`secure_delete` overwrites the
    /// freed pages). Recorded as `connection.deleted`. A key caller needs `connections:write`.
    pub fn delete_connection(
        &self,
        caller: &Caller,
        workspace: &str,
        name: &str,
    ) -> Result<api::Connection> {
        self.store.write(|tx| -> Result<_> {
            let c = self.load_connection(tx, caller, Scope::ConnectionsWrite, workspace, name)?;
            let prefix = format!("{}.", c.row.id);
            tx.delete_records_prefixed(&c.row.workspace, super::CREDENTIAL, &prefix)?;
            tx.delete_record(&c.admin_record())?;
            tx.delete_connection(&c.row.id)?;
            self.audit_connection(tx, caller, &c, Action::ConnectionDeleted, None, |d| d)?;
            Ok(c.view())
        })
    }

    /// Stages `secret` into `slot` (not the active one): the next version, to be tested
    /// before it can be saved. Replacing the standby within its grace needs `force`.
    /// Recorded as `connection.credential_updated`. A key caller needs `connections:write`.
    pub fn update_credential(
        &self,
        caller: &Caller,
        workspace: &str,
        name: &str,
        slot: api::SlotName,
        secret: &api::Secret,
        force: bool,
    ) -> Result<api::Connection> {
        let slot = machine_slot(slot);
        let secret = super::secret_bytes(secret)?;
        if secret.is_empty() {
            return Err(Error::connection("invalid_connection", "the credential is empty"));
        }
        self.store.write(|tx| -> Result<_> {
            let mut c =
                self.load_connection(tx, caller, Scope::ConnectionsWrite, workspace, name)?;
            let at = now();
            let version = c.machine.update(slot, super::to_secs(at), force)?;
            self.seal_record(tx, c.record(slot, version), &secret)?;
            self.persist_connection(tx, &mut c, at)?;
            let what = Some((slot, version));
            self.audit_connection(tx, caller, &c, Action::CredentialUpdated, what, |d| {
                d.detail("forced", force)
            })?;
            Ok(c.view())
        })
    }

    /// Tests `slot`'s staged credential at the target and records the verdict on exactly
    /// that version. Recorded as `connection.tested` (a failure's outcome says why). A key
    /// caller needs `connections:write`.
    pub fn test_credential(
        &self,
        caller: &Caller,
        workspace: &str,
        name: &str,
        slot: api::SlotName,
    ) -> Result<api::TestOutcome> {
        let slot = machine_slot(slot);
        self.test_slot(caller, Scope::ConnectionsWrite, workspace, name, slot)
    }

    /// [`Keyhold::test_credential`] for a caller who needs `scope`.
    pub(crate) fn test_slot(
        &self,
        caller: &Caller,
        scope: Scope,
        workspace: &str,
        name: &str,
        slot: SlotName,
    ) -> Result<api::TestOutcome> {
        let (version, connector, user, secret) = self.store.read(|tx| -> Result<_> {
            let c = self.load_connection(tx, caller, scope, workspace, name)?;
            let version = testable_version(&c, slot)?;
            let connector = c.target.connector().ok_or_else(|| {
                Error::connection(
                    "connection_untestable",
                    "a generic connection cannot be tested: save it with an acknowledgement",
                )
            })?;
            let secret = self.open_record(tx, &c.record(slot, version))?;
            Ok((version, connector, c.user(slot).map(str::to_owned), secret))
        })?;
        let login = Login {
            user: user.as_deref().unwrap_or_default(),
            password: &secret,
        };
        let (verdict, detail) = match connector.test(&login) {
            Ok(()) => (Verdict::Pass, None),
            Err(refusal) => (Verdict::Fail(super::fail_reason(&refusal)), Some(refusal.to_string())),
        };
        self.store.write(|tx| -> Result<_> {
            let mut c = self.load_connection(tx, caller, scope, workspace, name)?;
            let at = now();
            c.machine.test(slot, version, verdict, super::to_secs(at))?;
            self.persist_connection(tx, &mut c, at)?;
            let what = Some((slot, version));
            self.audit_connection(tx, caller, &c, Action::CredentialTested, what, |d| {
                match verdict {
                    Verdict::Pass => d,
                    Verdict::Fail(reason) => d.failed(reason.code()),
                }
            })?;
            Ok(c.outcome(verdict, detail))
        })
    }

    /// Promotes `slot`, whose credential passed a test since it was staged; the credential
    /// that was active stays valid for the grace period. A generic connection's credential,
    /// which cannot be tested, is promoted only with `acknowledge_untested` (recorded).
    /// Recorded as `connection.saved`. A key caller needs `connections:write`.
    pub fn save_credential(
        &self,
        caller: &Caller,
        workspace: &str,
        name: &str,
        slot: api::SlotName,
        acknowledge_untested: bool,
    ) -> Result<api::Connection> {
        let (scope, slot) = (Scope::ConnectionsWrite, machine_slot(slot));
        self.save_slot(caller, scope, workspace, name, slot, acknowledge_untested)
    }

    /// [`Keyhold::save_credential`] for a caller who needs `scope`.
    pub(crate) fn save_slot(
        &self,
        caller: &Caller,
        scope: Scope,
        workspace: &str,
        name: &str,
        slot: SlotName,
        acknowledge_untested: bool,
    ) -> Result<api::Connection> {
        self.store.write(|tx| -> Result<_> {
            let mut c = self.load_connection(tx, caller, scope, workspace, name)?;
            let at = now();
            let version = c.machine.slot(slot).version().ok_or(
                keyhold_rotation::RotationError::NotTested(slot),
            )?;
            let acknowledged = c.target.connector().is_none()
                && !matches!(c.machine.slot(slot), SlotState::Tested { .. });
            if acknowledged {
                if !acknowledge_untested {
                    return Err(Error::connection(
                        "acknowledgement_required",
                        "a generic connection's credential cannot be tested: saving it needs an acknowledgement that it is untested",
                    ));
                }
                c.machine
                    .test(slot, version, Verdict::Pass, super::to_secs(at))?;
            }
            c.machine.save(slot, version, super::to_secs(at))?;
            if let Some(every) = c.row.rotate_every_secs {
                c.row.next_rotation_at = Some(at.saturating_add(every));
                c.row.rotation_failures = 0;
            }
            self.persist_connection(tx, &mut c, at)?;
            let what = Some((slot, version));
            self.audit_connection(tx, caller, &c, Action::CredentialSaved, what, |d| {
                d.detail("acknowledged_untested", acknowledged)
            })?;
            Ok(c.view())
        })
    }
}

/// The version a test of `slot` is about: a staged, tested or failed credential.
fn testable_version(c: &Loaded, slot: SlotName) -> Result<Version> {
    use keyhold_rotation::RotationError as R;
    match c.machine.slot(slot) {
        SlotState::Staged { version, .. }
        | SlotState::Tested { version, .. }
        | SlotState::Failed { version, .. } => Ok(version),
        SlotState::Active { .. } => Err(R::SlotActive(slot).into()),
        SlotState::Regenerating { version } => Err(R::InProgress { slot, version }.into()),
        SlotState::Empty | SlotState::Standby { .. } => Err(R::NotStaged(slot).into()),
    }
}
