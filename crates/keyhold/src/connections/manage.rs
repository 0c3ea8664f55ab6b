//! Creating, listing, showing and deleting connections, and the operator's own transitions:
//! stage a credential, test it at the target, save it.

use keyhold_audit::Action;
use keyhold_connect::Login;
use keyhold_connect::wire::{self, Creation, secret_bytes};
use keyhold_rotation::SlotName;
use keyhold_store::ConnectionRow;
use keyhold_token::Scope;

use super::Loaded;
use crate::{Caller, Error, Keyhold, Result, api, names, now};

fn invalid(message: impl Into<String>) -> Error {
    Error::connection("invalid_connection", message)
}

impl Keyhold {
    /// Creates a connection with two empty slots (and keeps its admin credential, if it has
    /// one). Recorded as `connection.created`. A key caller needs `connections:write`.
    pub fn create_connection(
        &self,
        caller: &Caller,
        workspace: &str,
        req: &api::CreateConnection,
    ) -> Result<api::Connection> {
        names::connection_name(&req.name)?;
        let new = Creation::from_request(req).map_err(invalid)?;
        let by_key = !caller.is_operator();
        new.target
            .reachable_by(by_key, self.local_targets())
            .map_err(invalid)?;
        self.store.write(|tx| -> Result<_> {
            let ws = self.resolve(tx, workspace)?;
            caller.require(Scope::ConnectionsWrite, &ws.id)?;
            let at = now();
            let (primary_state, secondary_state, _) =
                keyhold_rotation::Connection::new(0).encoded();
            let mut row = ConnectionRow {
                id: keyhold_crypto::random::identifier("con_", 16)?,
                workspace: ws.id,
                name: req.name.clone(),
                kind: new.target.kind().to_owned(),
                settings: new.target.encode(),
                grace_secs: new.grace_secs,
                rotate_every_secs: new.rotate_every_secs,
                primary_state,
                secondary_state,
                created_at: at,
                created_by: caller.name(),
                updated_at: at,
                ..ConnectionRow::default()
            };
            self.rows.mac_connection(&mut row)?;
            if !tx.insert_connection(&row)? {
                let message = format!("connection {} already exists", req.name);
                return Err(Error::connection("connection_exists", message));
            }
            let c = Loaded::new(row)?;
            if let Some(pw) = &new.admin_password {
                self.seal_record(tx, c.admin_record(), pw)?;
            }
            let kind = new.target.kind();
            let event =
                keyhold_audit::events::connection_created(&c.row.workspace, &c.row.name, kind)?;
            self.audit(tx, caller, event)?;
            Ok(c.view())
        })
    }

    /// The workspace's connections, by name. A key caller needs `connections:read`.
    pub fn connections(&self, caller: &Caller, workspace: &str) -> Result<Vec<api::Connection>> {
        self.store.read(|tx| -> Result<_> {
            let ws = self.resolve(tx, workspace)?;
            caller.require(Scope::ConnectionsRead, &ws.id)?;
            let rows = tx.connections(Some(&ws.id))?;
            rows.into_iter()
                .map(|row| {
                    self.rows.check_connection(&row)?;
                    Ok(Loaded::new(row)?.view())
                })
                .collect()
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
            let scope = Scope::ConnectionsRead;
            Ok(self
                .load_connection(tx, caller, scope, workspace, name)?
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
            c.machine.settled()?;
            let prefix = format!("{}.", c.row.id);
            tx.delete_records_prefixed(&c.row.workspace, super::CREDENTIAL, &prefix)?;
            tx.delete_record(&c.admin_record())?;
            tx.delete_connection(&c.row.id)?;
            self.audit(tx, caller, c.event(Action::ConnectionDeleted, None)?)?;
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
        let (slot, secret) = (wire::slot(slot), secret_bytes(secret).map_err(invalid)?);
        let scope = Scope::ConnectionsWrite;
        self.transition(caller, scope, (workspace, name), |tx, c, at| {
            let version = c.machine.update(slot, super::to_secs(at), force)?;
            self.seal_record(tx, c.record(slot, version), &secret)?;
            let event = c.event(Action::CredentialUpdated, Some((slot, version)))?;
            Ok((c.view(), event.detail("forced", force)))
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
        let scope = Scope::ConnectionsWrite;
        self.test_slot(caller, scope, (workspace, name), wire::slot(slot))
    }

    /// [`Keyhold::test_credential`] for a caller who needs `scope`.
    pub(crate) fn test_slot(
        &self,
        caller: &Caller,
        scope: Scope,
        (workspace, name): (&str, &str),
        slot: SlotName,
    ) -> Result<api::TestOutcome> {
        let (id, version, connector, user, secret) = self.store.read(|tx| -> Result<_> {
            let c = self.load_connection(tx, caller, scope, workspace, name)?;
            let version = c.machine.testable(slot)?;
            let connector = c.target.tester()?;
            let secret = self.open_record(tx, &c.record(slot, version))?;
            let user = c.user(slot).map(str::to_owned);
            Ok((c.row.id, version, connector, user, secret))
        })?;
        let user = user.as_deref().unwrap_or_default();
        let tried = connector.test(&Login {
            user,
            password: &secret,
        });
        let (verdict, detail) = wire::verdict(tried);
        self.transition(caller, scope, (workspace, name), |_, c, at| {
            c.same_as(&id, slot)?;
            c.machine.test(slot, version, verdict, super::to_secs(at))?;
            let event = c.event(Action::CredentialTested, Some((slot, version)))?;
            let event = match verdict {
                keyhold_rotation::Verdict::Pass => event,
                keyhold_rotation::Verdict::Fail(reason) => event.failed(reason.code()),
            };
            Ok((wire::outcome(c.view(), verdict, detail), event))
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
        let (scope, slot) = (Scope::ConnectionsWrite, wire::slot(slot));
        self.save_slot(caller, scope, (workspace, name), slot, acknowledge_untested)
    }

    /// [`Keyhold::save_credential`] for a caller who needs `scope`.
    pub(crate) fn save_slot(
        &self,
        caller: &Caller,
        scope: Scope,
        at: (&str, &str),
        slot: SlotName,
        acknowledge: bool,
    ) -> Result<api::Connection> {
        self.transition(caller, scope, at, |_, c, now| {
            let testable = c.target.connector().is_some();
            let secs = super::to_secs(now);
            let (version, acked) = c.machine.save_current(slot, secs, testable, acknowledge)?;
            let next = c
                .row
                .rotate_every_secs
                .map(|every| now.saturating_add(every));
            (c.row.next_rotation_at, c.row.rotation_failures) = (next, 0);
            let event = c.event(Action::CredentialSaved, Some((slot, version)))?;
            Ok((c.view(), event.detail("acknowledged_untested", acked)))
        })
    }
}
