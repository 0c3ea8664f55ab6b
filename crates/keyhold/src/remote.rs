//! [`Remote`]: the [`Operations`] of a `keyhold-server`, over its HTTP API v1.
//!
//! The transport — the server URL's checks, TLS, requests, the error envelope — is API v1's
//! own client ([`keyhold_api::Client`]); this module maps each operation onto a route and a
//! failed call back onto the [`Error`] the store would have given locally ([`Error::Remote`]),
//! so a command gives the same code in both modes.

use std::path::Path;

use keyhold_api::{
    ApiError, AuditQuery, Client, KeyList, Minted, Op, Params, Records, Verdict, VerifyBody,
};
use keyhold_crypto::secrecy::zeroize::Zeroizing;
use keyhold_token::{Jwks, Scope};

use crate::apikeys::Token;
use crate::ops::Operations;
use crate::ops::{Asked, Outcome, Ws};
use crate::{
    ApiKey, AuditEntry, AuditVerification, Error, MintRequest, MintedKey, Principal, Result,
    RevokeAll, SigningKeyRotation, api,
};
use keyhold_api::{
    Connection, CreateConnection, Rotate, SaveCredential as Save, SlotName as Slot,
    UpdateCredential as Update,
};

/// A `keyhold-server` reached over HTTP(S), acting as one API key.
///
/// The key travels only in the `Authorization` header; nothing secret is ever put in a URL.
/// Plain `http://` is accepted only for a loopback address; `https://` verifies the server
/// with the platform's trust store, or with the CA certificates given. Redirects are not
/// followed, so the key cannot be carried to another host.
pub struct Remote {
    client: Client,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("base", &self.client.url())
            .finish_non_exhaustive()
    }
}

impl Remote {
    /// A client of the server at `url` (e.g. `https://keyhold.internal:8200`), authenticating
    /// with `token`. `ca_pem`, if given, replaces the platform's trust store with these CA
    /// certificates (PEM) for `https`.
    pub fn new(url: &str, token: &str, ca_pem: Option<&[u8]>) -> Result<Self> {
        let client = Client::new(url, token, ca_pem).map_err(|e| error(url, e))?;
        Ok(Self { client })
    }

    /// Operations through the server at `url` as the person signed in with `session` (the
    /// session cookie's value) and its `csrf` token (`keyhold login`).
    pub fn with_session(
        url: &str,
        session: &str,
        csrf: &str,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self> {
        let client = Client::with_session(url, session, csrf, ca_pem).map_err(|e| error(url, e))?;
        Ok(Self { client })
    }

    /// Signs in at the server at `url`: the session (the cookie's value) and the answer with
    /// its CSRF token.
    pub fn sign_in(
        url: &str,
        body: &api::SignIn,
        ca_pem: Option<&[u8]>,
    ) -> Result<(Zeroizing<String>, api::Session)> {
        Client::sign_in(url, body, ca_pem).map_err(|e| error(url, e))
    }

    /// Ends this client's session at the server (`keyhold logout`).
    pub fn sign_out(&self) -> Result<()> {
        let _: serde_json::Value = self
            .client
            .call(Op::SignOut, &Params::default(), None::<&()>)
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        self.client.url()
    }

    /// The identity of the key this client acts as (`GET /v1/whoami`).
    pub fn whoami(&self) -> Result<Principal> {
        self.get(Op::WhoAmI)
    }

    /// `op` with no parameters and no body.
    fn get<T: serde::de::DeserializeOwned>(&self, op: Op) -> Result<T> {
        self.client.get(op).map_err(|e| self.error(e))
    }

    fn error(&self, e: ApiError) -> Error {
        error(self.client.url(), e)
    }

    /// A call on a route of one key, `ident` in its path.
    fn on_key(&self, op: Op, ident: &str) -> Result<ApiKey> {
        self.client
            .call(op, &Params::id(ident), None::<&()>)
            .map_err(|e| self.error(e))
    }

    /// A call in the key's own workspace (any other named is refused before asking).
    fn on<T>(
        &self,
        ws: Ws,
        call: impl FnOnce(&Client) -> std::result::Result<T, ApiError>,
    ) -> Result<T> {
        Self::own_workspace(ws)?;
        call(&self.client).map_err(|e| self.error(e))
    }

    /// A key acts in its own workspace: any other named here is refused before asking.
    fn own_workspace(workspace: Option<&str>) -> Result<()> {
        match workspace {
            None => Ok(()),
            Some(_) => Err(Error::InvalidInput {
                field: "workspace",
                reason: "through a server, commands act in the workspace of the key in KEYHOLD_TOKEN; drop --workspace".into(),
            }),
        }
    }
}

/// The [`Error`] a failed call of the server at `url` stands for: the envelope's code as the
/// store would have given it, `server_error` for a server not reached or not understood.
fn error(url: &str, e: ApiError) -> Error {
    match e {
        ApiError::Invalid { field, reason } => Error::InvalidInput { field, reason },
        ApiError::Refused { code, message, .. } => Error::from_envelope(url, &code, &message),
        ApiError::Internal(what) => Error::Internal(what),
        ApiError::Unreachable { reason, .. } => Error::Server {
            url: url.to_owned(),
            reason,
        },
        // A failure a newer client tells apart: still the server's, by its own words.
        other => Error::Server {
            url: url.to_owned(),
            reason: other.to_string(),
        },
    }
}

impl Operations for Remote {
    fn mint_key(&self, req: &MintRequest) -> Result<MintedKey> {
        Self::own_workspace(Some(req.workspace.as_str()).filter(|w| !w.is_empty()))?;
        let m: Minted<String> = self
            .client
            .call(Op::MintKey, &Params::default(), Some(&req.to_body()))
            .map_err(|e| self.error(e))?;
        Ok(MintedKey {
            token: Token::new(Zeroizing::new(m.token)),
            key: m.key,
        })
    }

    fn keys(&self, workspace: Option<&str>) -> Result<Vec<ApiKey>> {
        Self::own_workspace(workspace)?;
        let list: KeyList = self.get(Op::ListKeys)?;
        Ok(list.keys)
    }

    fn key(&self, workspace: Option<&str>, ident: &str) -> Result<ApiKey> {
        Self::own_workspace(workspace)?;
        self.on_key(Op::GetKey, ident)
    }

    fn revoke_key(&self, workspace: Option<&str>, ident: &str) -> Result<ApiKey> {
        Self::own_workspace(workspace)?;
        self.on_key(Op::RevokeKey, ident)
    }

    fn revoke_all_keys(&self, workspace: Option<&str>) -> Result<RevokeAll> {
        Self::own_workspace(workspace)?;
        self.get(Op::RevokeAllKeys)
    }

    fn verify_token(&self, token: &str, scope: Option<Scope>) -> Result<Principal> {
        let ask = VerifyBody {
            scope: scope.map(Scope::as_str),
            token,
        };
        let v: Verdict<Principal> = self
            .client
            .call(Op::VerifyToken, &Params::default(), Some(&ask))
            .map_err(|e| self.error(e))?;
        match (v.valid, v.claims, v.error) {
            (true, Some(p), _) => Ok(p),
            (false, _, Some(e)) => Err(Error::from_envelope(self.url(), &e.code, &e.message)),
            _ => Err(self.error(
                self.client
                    .unreachable("a verification answer without claims or error"),
            )),
        }
    }

    fn jwks(&self) -> Result<Jwks> {
        self.get(Op::Jwks)
    }

    fn rotate_signing_key(&self) -> Result<SigningKeyRotation> {
        self.get(Op::RotateSigningKey)
    }

    fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        if query.workspace.is_some() {
            return Err(Error::InvalidInput {
                field: "workspace",
                reason: "through a server, the audit log is read in the key's own workspace".into(),
            });
        }
        let records: Records<AuditEntry> = self
            .client
            .call(Op::ListAudit, &Params::audit(query), None::<&()>)
            .map_err(|e| self.error(e))?;
        Ok(records.records)
    }

    fn verify_audit(&self, checkpoint: Option<&Path>) -> Result<AuditVerification> {
        if checkpoint.is_some() {
            return Err(Error::InvalidInput {
                field: "checkpoint",
                reason:
                    "a checkpoint is checked against the store itself; run this where the store is"
                        .into(),
            });
        }
        self.get(Op::VerifyAudit)
    }

    fn connections(&self, workspace: Option<&str>) -> Result<Vec<api::Connection>> {
        self.on(workspace, |c| Ok(c.list_connections()?.connections))
    }

    fn connection(&self, workspace: Option<&str>, name: &str) -> Result<api::Connection> {
        self.on(workspace, |c| c.connection(name))
    }

    fn create_connection(&self, ws: Option<&str>, req: &CreateConnection) -> Result<Connection> {
        self.on(ws, |c| c.create_connection(req))
    }

    fn delete_connection(&self, workspace: Option<&str>, name: &str) -> Result<Connection> {
        self.on(workspace, |c| c.delete_connection(name))
    }

    fn update_credential(
        &self,
        ws: Ws,
        name: &str,
        slot: Slot,
        req: &Update,
    ) -> Result<Connection> {
        self.on(ws, |c| c.update_credential(name, slot, req))
    }

    fn test_credential(&self, ws: Ws, name: &str, slot: Slot) -> Result<api::TestOutcome> {
        self.on(ws, |c| c.test_credential(name, slot))
    }

    fn save_credential(&self, ws: Ws, name: &str, slot: Slot, req: &Save) -> Result<Connection> {
        self.on(ws, |c| c.save_credential(name, slot, req))
    }

    fn regenerate_credential(&self, ws: Ws, name: &str, slot: Slot, req: &Rotate) -> Outcome {
        self.on(ws, |c| c.regenerate_credential(name, slot, req))
    }

    fn rotate_connection(&self, ws: Ws, name: &str, req: &Rotate) -> Outcome {
        self.on(ws, |c| c.rotate_connection(name, req))
    }

    fn active_credential(&self, ws: Ws, name: &str) -> Result<api::ActiveCredential> {
        self.on(ws, |c| c.active_credential(name))
    }

    fn ask(&self, ws: Ws, sentence: &str, confirmation: Option<&str>) -> Asked {
        let body = api::AskBody {
            sentence: sentence.to_owned(),
            confirmation: confirmation.map(str::to_owned),
        };
        let reply: api::AskReply<String> =
            self.on(ws, |c| c.call(Op::Ask, &Params::default(), Some(&body)))?;
        Ok(reply.map(|t| Token::new(Zeroizing::new(t))))
    }

    fn members(&self, ws: Ws) -> Result<Vec<api::Member>> {
        let list: api::MemberList = self.on(ws, |c| c.get(Op::ListMembers))?;
        Ok(list.members)
    }

    fn add_member(&self, ws: Ws, req: &api::AddMember) -> Result<api::Added> {
        self.on(ws, |c| c.call(Op::AddMember, &Params::default(), Some(req)))
    }

    fn update_member(&self, ws: Ws, email: &str, req: &api::UpdateMember) -> Result<api::Member> {
        self.on(ws, |c| {
            c.call(Op::UpdateMember, &Params::id(email), Some(req))
        })
    }

    fn remove_member(&self, ws: Ws, email: &str, revoke_keys: bool) -> Result<api::Member> {
        let revoke = revoke_keys.then(|| "true".to_owned());
        let params = Params::id(email).query("revoke_keys", revoke);
        self.on(ws, |c| c.call(Op::RemoveMember, &params, None::<&()>))
    }

    fn set_policy(&self, ws: Ws, policy: &api::Policy) -> Result<api::Policy> {
        self.on(ws, |c| {
            c.call(Op::SetPolicy, &Params::default(), Some(policy))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_refusals_keep_their_field_and_words() {
        let e = Remote::new("http://10.0.0.5:8200", "k", None).unwrap_err();
        assert_eq!(e.code(), "invalid_input");
        assert!(
            e.to_string()
                .contains("invalid server: plain http is only for a loopback"),
            "{e}"
        );
        let e = Remote::new("http://127.0.0.1:8200", "  ", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid KEYHOLD_TOKEN: empty: set it to an API key"
        );
        let e = Remote::new("https://127.0.0.1:8200", "k", Some(b"nothing")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid ca-cert: no PEM certificate in the file"
        );
    }

    #[test]
    fn server_failures_map_onto_the_local_codes() {
        let url = "http://127.0.0.1:8200";
        let refused = ApiError::Refused {
            status: 404,
            code: "not_found".into(),
            message: "no key x".into(),
            request_id: "req_1".into(),
        };
        let e = error(url, refused);
        assert_eq!((e.code(), e.http_status()), ("not_found", 404));
        let unreachable = ApiError::Unreachable {
            url: url.into(),
            reason: "connection refused".into(),
        };
        let e = error(url, unreachable);
        assert_eq!(e.code(), "server_error");
        assert_eq!(
            e.to_string(),
            "server http://127.0.0.1:8200: connection refused"
        );
    }
}
