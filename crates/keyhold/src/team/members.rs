//! Members of a workspace and its access policy, as the caller: authorised here, persisted
//! and checked against the changer's role by `keyhold-team`, recorded here.

use keyhold_access::{Access, Role, check_password, normalise_email};
use keyhold_team as team;

use super::manager;
use crate::{Caller, Keyhold, Origin, Result, api, now};

impl Keyhold {
    /// Adds person `req.email` to `workspace` with `req.role`. With a password it is set now
    /// (checked against the policy); otherwise the answer carries an enrolment code, shown
    /// once, valid 24 hours.
    pub fn add_member(
        &self,
        caller: &Caller,
        workspace: &str,
        req: &api::AddMember,
    ) -> Result<api::Added> {
        let email = normalise_email(&req.email)?;
        let hash = req
            .password
            .as_ref()
            .map(|pw| hashed(pw.expose(), &email))
            .transpose()?;
        let code = team::secret("khe_")?;
        self.store.write(|tx| {
            let ws = self.resolve(tx, workspace)?;
            let by = manager(caller, &ws.id)?;
            let added = team::add_member(
                (&self.rows, tx),
                (&ws.id, &ws.name),
                &by,
                (req, hash.clone()),
                &code,
                now(),
            );
            self.recorded(tx, caller, added)
        })
    }

    /// Redeems an enrolment code: sets the person's password (checked against the policy)
    /// and makes their invited memberships active. A code works once, within 24 hours.
    pub fn redeem_enrolment(&self, origin: &Origin, code: &str, password: &str) -> Result<()> {
        let invalid = || crate::Error::Access(keyhold_access::AccessError::EnrolmentInvalid);
        let read = |take, tx: &keyhold_store::Tx<'_>| -> Result<_> {
            Ok(team::enrolment((&self.rows, tx), code, take, now())?)
        };
        // The password is checked before the code is used up: a weak one costs nothing.
        let (email, ws) = self.store.read(|tx| read(false, tx))?.ok_or_else(invalid)?;
        let hash = hashed(password, &email)?;
        let by = Caller::claiming(&email, origin.clone());
        self.store.write(|tx| {
            if read(true, tx)?.as_ref() != Some(&(email.clone(), ws.clone())) {
                return Err(invalid());
            }
            let set = team::set_password((&self.rows, tx), (&email, &ws), hash.clone(), now());
            self.recorded(tx, &by, set)
        })
    }

    /// The workspace's members, by email (any member may list them; a key needs `admin`).
    pub fn members(&self, caller: &Caller, workspace: &str) -> Result<Vec<api::Member>> {
        self.store.read(|tx| {
            let ws = self.resolve(tx, workspace)?;
            if caller.membership().is_none_or(|m| m.workspace != ws.id) {
                manager(caller, &ws.id)?;
            }
            Ok(team::members((&self.rows, tx), &ws.id)?)
        })
    }

    /// Changes member `email`'s role and/or state (`active` or `disabled`). Disabling ends
    /// their sessions at once; the keys they created stay (they serve machines).
    pub fn update_member(
        &self,
        caller: &Caller,
        workspace: &str,
        email: &str,
        change: (Option<Role>, Option<&str>),
    ) -> Result<api::Member> {
        self.store.write(|tx| {
            let ws = self.resolve(tx, workspace)?;
            let by = manager(caller, &ws.id)?;
            let updated = team::update_member((&self.rows, tx), &ws.id, &by, email, change, now());
            self.recorded(tx, caller, updated)
        })
    }

    /// Removes member `email` from the workspace; their sessions end at once. With
    /// `revoke_keys`, the keys they created in it are revoked too.
    pub fn remove_member(
        &self,
        caller: &Caller,
        workspace: &str,
        email: &str,
        revoke_keys: bool,
    ) -> Result<api::Member> {
        let removed = self.store.write(|tx| {
            let ws = self.resolve(tx, workspace)?;
            let by = manager(caller, &ws.id)?;
            let removed = team::remove_member((&self.rows, tx), &ws.id, &by, email, revoke_keys);
            self.recorded(tx, caller, removed)
        })?;
        let creator = format!("member:{}", removed.email);
        for k in self
            .keys(caller, workspace)?
            .iter()
            .filter(|k| revoke_keys && k.created_by == creator)
        {
            self.revoke_key(caller, workspace, &k.id)?;
        }
        Ok(removed)
    }

    /// Sets the workspace's access policy (owners only; or the operator, or an `admin` key).
    pub fn set_policy(
        &self,
        caller: &Caller,
        workspace: &str,
        policy: &api::Policy,
    ) -> Result<api::Policy> {
        let mut carried = Vec::new();
        for s in &policy.developer_scopes {
            let scope = crate::scope_from_wire(s)?;
            if !Role::Developer.may_carry(scope) {
                let reason = format!(
                    "a developer's key may not carry {}: only scopes developers hold on everything, or application scopes",
                    scope.as_str()
                );
                return Err(crate::Error::InvalidInput {
                    field: "developer_scopes",
                    reason,
                });
            }
            carried.push(scope.as_str());
        }
        let scopes = carried.join(" ");

        self.store.write(|tx| {
            let ws = self.resolve(tx, workspace)?;
            match caller.membership() {
                Some(m) if m.workspace == ws.id => {
                    m.role.require("workspace.policy", Access::Yes)?
                }
                Some(m) => return Err(crate::Error::Access(m.role.refused("workspace.policy"))),
                None => caller.require(keyhold_token::Scope::Admin, &ws.id)?,
            }
            let set = team::set_policy(
                (&self.rows, tx),
                (&ws.id, &ws.name),
                (scopes.clone(), policy.require_totp),
                now(),
            );
            self.recorded(tx, caller, set)?;
            Ok(policy.clone())
        })
    }
}

/// `password`'s hash, if the policy accepts it for `email`.
fn hashed(password: &str, email: &str) -> Result<String> {
    check_password(password, email)?;
    Ok(keyhold_crypto::password::hash_password(
        password.as_bytes(),
    )?)
}
