//! One operations interface with two implementations: [`Local`] acts on a store opened here,
//! [`Remote`](crate::Remote) (feature `remote`) asks a `keyhold-server` over its HTTP API.
//!
//! The CLI is written once against [`Operations`], so a command gives the same answer and the
//! same error code whichever way it went: the two modes cannot drift apart. A remote caller
//! acts as its API key, in the key's workspace and within its scopes; a local caller acts as
//! whoever it was opened as (the operator, for the CLI).

use std::path::Path;

use keyhold_api::{
    AuditQuery, Connection, CreateConnection, Rotate, SaveCredential as Save, SlotName as Slot,
    UpdateCredential as Update,
};
use keyhold_token::{Jwks, Scope};

use crate::{
    ApiKey, AuditEntry, AuditVerification, Caller, Keyhold, MintRequest, MintedKey, Principal,
    Result, RevokeAll, SigningKeyRotation, api,
};

/// A workspace, by id or name (`None`: the default one locally, the key's own remotely).
pub type Ws<'a> = Option<&'a str>;
/// The outcome of a test at a connection's target.
pub type Outcome = Result<api::TestOutcome>;

/// The key, token and audit operations offered both on a local store and through a server.
///
/// `workspace` is an id or a name. Through a server it must be `None` or the key's own
/// workspace: a key acts only in its workspace.
pub trait Operations {
    /// Mints an API key; the token is in the result and nowhere else. An empty
    /// `req.workspace` means the default one (locally) or the key's own (through a server).
    fn mint_key(&self, req: &MintRequest) -> Result<MintedKey>;
    /// The workspace's keys, newest first.
    fn keys(&self, workspace: Option<&str>) -> Result<Vec<ApiKey>>;
    /// One key, by id or name.
    fn key(&self, workspace: Option<&str>, ident: &str) -> Result<ApiKey>;
    /// Revokes one key, by id or name.
    fn revoke_key(&self, workspace: Option<&str>, ident: &str) -> Result<ApiKey>;
    /// Revokes every key of the workspace.
    fn revoke_all_keys(&self, workspace: Option<&str>) -> Result<RevokeAll>;
    /// Verifies a token (and records the use), optionally requiring a scope.
    fn verify_token(&self, token: &str, scope: Option<Scope>) -> Result<Principal>;
    /// The public keys that verify this store's tokens.
    fn jwks(&self) -> Result<Jwks>;
    /// Rotates the signing key.
    fn rotate_signing_key(&self) -> Result<SigningKeyRotation>;
    /// Audit records matching `query`, newest first.
    fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>>;
    /// Recomputes the audit hash chain, and checks it against a checkpoint file if given.
    fn verify_audit(&self, checkpoint: Option<&Path>) -> Result<AuditVerification>;
    /// The workspace's connections, by name (never a secret).
    fn connections(&self, workspace: Ws) -> Result<Vec<Connection>>;
    /// One connection (never a secret).
    fn connection(&self, workspace: Ws, name: &str) -> Result<Connection>;
    /// Creates a connection with two empty slots.
    fn create_connection(&self, workspace: Ws, req: &CreateConnection) -> Result<Connection>;
    /// Deletes a connection and every credential it kept.
    fn delete_connection(&self, workspace: Ws, name: &str) -> Result<Connection>;
    /// Stages a credential into a slot that is not active.
    fn update_credential(&self, ws: Ws, name: &str, slot: Slot, req: &Update)
    -> Result<Connection>;
    /// Tests a slot's staged credential at the target.
    fn test_credential(&self, ws: Ws, name: &str, slot: Slot) -> Outcome;
    /// Promotes a slot whose credential passed a test.
    fn save_credential(&self, ws: Ws, name: &str, slot: Slot, req: &Save) -> Result<Connection>;
    /// Makes, sets and tests a new credential for a slot that is not active.
    fn regenerate_credential(&self, ws: Ws, name: &str, slot: Slot, req: &Rotate) -> Outcome;
    /// Rotates a connection (or resumes a rotation that stopped).
    fn rotate_connection(&self, ws: Ws, name: &str, req: &Rotate) -> Outcome;
    /// The credential a consumer uses now (recorded as `credential.read`).
    fn active_credential(&self, ws: Ws, name: &str) -> Result<api::ActiveCredential>;
    /// Asks Azi; a destructive request acts only when asked again with the confirmation of
    /// the first reply.
    fn ask(&self, ws: Ws, sentence: &str, confirmation: Option<&str>) -> Asked;
    /// The workspace's members.
    fn members(&self, ws: Ws) -> Result<Vec<api::Member>>;
    /// Adds a member (with a password, or an enrolment code in the answer).
    fn add_member(&self, ws: Ws, req: &api::AddMember) -> Result<api::Added>;
    /// Changes a member's role and/or state.
    fn update_member(&self, ws: Ws, email: &str, req: &api::UpdateMember) -> Result<api::Member>;
    /// Removes a member (and, with `revoke_keys`, the keys they created).
    fn remove_member(&self, ws: Ws, email: &str, revoke_keys: bool) -> Result<api::Member>;
    /// Sets the workspace's access policy.
    fn set_policy(&self, ws: Ws, policy: &api::Policy) -> Result<api::Policy>;
}

/// Azi's reply, with a created key's token.
pub type Asked = Result<api::AskReply<crate::Token>>;

/// [`Operations`] on a store opened in this process, performed as `caller`.
pub struct Local {
    kh: Keyhold,
    caller: Caller,
}

impl Local {
    /// Operations on `kh`, attributed to `caller` (e.g. `Caller::operator().via(Surface::Cli)`).
    pub fn new(kh: Keyhold, caller: Caller) -> Self {
        Self { kh, caller }
    }

    /// The store itself, for what only a local store offers (status, rotation of the master
    /// key or KEKs, workspaces, checkpoints).
    pub fn store(&self) -> &Keyhold {
        &self.kh
    }

    fn ws(workspace: Option<&str>) -> &str {
        workspace.unwrap_or(crate::DEFAULT_WORKSPACE)
    }
}

impl Operations for Local {
    fn mint_key(&self, req: &MintRequest) -> Result<MintedKey> {
        if req.workspace.is_empty() {
            let req = MintRequest {
                workspace: crate::DEFAULT_WORKSPACE.to_owned(),
                ..req.clone()
            };
            return self.kh.mint_key(&self.caller, &req);
        }
        self.kh.mint_key(&self.caller, req)
    }

    fn keys(&self, workspace: Option<&str>) -> Result<Vec<ApiKey>> {
        self.kh.keys(&self.caller, Self::ws(workspace))
    }

    fn key(&self, workspace: Option<&str>, ident: &str) -> Result<ApiKey> {
        self.kh.key(&self.caller, Self::ws(workspace), ident)
    }

    fn revoke_key(&self, workspace: Option<&str>, ident: &str) -> Result<ApiKey> {
        self.kh.revoke_key(&self.caller, Self::ws(workspace), ident)
    }

    fn revoke_all_keys(&self, workspace: Option<&str>) -> Result<RevokeAll> {
        self.kh.revoke_all_keys(&self.caller, Self::ws(workspace))
    }

    fn verify_token(&self, token: &str, scope: Option<Scope>) -> Result<Principal> {
        self.kh
            .verify_token_from(token, scope, self.caller.origin())
    }

    fn jwks(&self) -> Result<Jwks> {
        self.kh.jwks()
    }

    fn rotate_signing_key(&self) -> Result<SigningKeyRotation> {
        self.kh.rotate_signing_key(&self.caller)
    }

    fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        self.kh.audit_entries(&self.caller, query)
    }

    fn verify_audit(&self, checkpoint: Option<&Path>) -> Result<AuditVerification> {
        self.kh.verify_audit(checkpoint)
    }

    fn connections(&self, ws: Ws) -> Result<Vec<Connection>> {
        self.kh.connections(&self.caller, Self::ws(ws))
    }

    fn connection(&self, ws: Ws, name: &str) -> Result<Connection> {
        self.kh.connection(&self.caller, Self::ws(ws), name)
    }

    fn create_connection(&self, ws: Ws, req: &CreateConnection) -> Result<Connection> {
        self.kh.create_connection(&self.caller, Self::ws(ws), req)
    }

    fn delete_connection(&self, ws: Ws, name: &str) -> Result<Connection> {
        self.kh.delete_connection(&self.caller, Self::ws(ws), name)
    }

    fn update_credential(
        &self,
        ws: Ws,
        name: &str,
        slot: Slot,
        req: &Update,
    ) -> Result<Connection> {
        let (c, pw) = (&self.caller, &req.password);
        self.kh
            .update_credential(c, Self::ws(ws), name, slot, pw, false)
    }

    fn test_credential(&self, ws: Ws, name: &str, slot: Slot) -> Outcome {
        self.kh
            .test_credential(&self.caller, Self::ws(ws), name, slot)
    }

    fn save_credential(&self, ws: Ws, name: &str, slot: Slot, req: &Save) -> Result<Connection> {
        let (c, ack) = (&self.caller, req.acknowledge_untested);
        self.kh.save_credential(c, Self::ws(ws), name, slot, ack)
    }

    fn regenerate_credential(&self, ws: Ws, name: &str, slot: Slot, req: &Rotate) -> Outcome {
        let c = &self.caller;
        self.kh
            .regenerate_credential(c, Self::ws(ws), name, slot, req.force)
    }

    fn rotate_connection(&self, ws: Ws, name: &str, req: &Rotate) -> Outcome {
        self.kh
            .rotate_connection(&self.caller, Self::ws(ws), name, req.force)
    }

    fn active_credential(&self, ws: Ws, name: &str) -> Result<api::ActiveCredential> {
        self.kh.active_credential(&self.caller, Self::ws(ws), name)
    }

    fn ask(&self, ws: Ws, sentence: &str, confirmation: Option<&str>) -> Asked {
        self.kh
            .ask(&self.caller, Self::ws(ws), sentence, confirmation)
    }

    fn members(&self, ws: Ws) -> Result<Vec<api::Member>> {
        self.kh.members(&self.caller, Self::ws(ws))
    }

    fn add_member(&self, ws: Ws, req: &api::AddMember) -> Result<api::Added> {
        self.kh.add_member(&self.caller, Self::ws(ws), req)
    }

    fn update_member(&self, ws: Ws, email: &str, req: &api::UpdateMember) -> Result<api::Member> {
        let role = req
            .role
            .as_deref()
            .map(keyhold_access::Role::named)
            .transpose()?;
        let change = (role, req.state.as_deref());
        self.kh
            .update_member(&self.caller, Self::ws(ws), email, change)
    }

    fn remove_member(&self, ws: Ws, email: &str, revoke_keys: bool) -> Result<api::Member> {
        self.kh
            .remove_member(&self.caller, Self::ws(ws), email, revoke_keys)
    }

    fn set_policy(&self, ws: Ws, policy: &api::Policy) -> Result<api::Policy> {
        self.kh.set_policy(&self.caller, Self::ws(ws), policy)
    }
}
