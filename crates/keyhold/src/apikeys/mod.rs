//! API keys: mint, list, show, revoke, revoke-all, verify; signing keys and the JWKS.
//!
//! A key *is* a JWT (see `keyhold-token`). The store keeps its id (`jti`), a short fingerprint
//! and its metadata — never the token. Verification reads the key's standing from the
//! database on every call, so a revocation committed by any process sharing the store is seen
//! by the very next verification in every other process.

use std::collections::BTreeMap;
use std::fmt;

use keyhold_crypto::secrecy::zeroize::Zeroizing;
use keyhold_store::{
    ApiKeyRow, RecordKey, SigningKeyRow, SigningKeyState, StoreError, Tx, WorkspaceRow,
};
use keyhold_token::{
    Claims, DEFAULT_LEEWAY, ExpiryPreset, Jwks, KeyFacts, KeyStatus, Scope, ScopeSet, SigningKey,
    TokenError, VerifyingKey,
};

use crate::{Caller, Error, Keyhold, Result, now, read, write};

mod cache;
mod signing;
mod verify;

use cache::{CacheKey, Cached, within_lifetime};
pub use cache::{STANDING_MAX_AGE, VERIFY_CACHE_CAPACITY};
pub(crate) use cache::{Validated, VerifyCache};
pub(crate) use signing::Signing;

/// Record kind under which signing keys' private halves are stored (store-level records).
const SIGNING_KEY_KIND: &str = "signing-key";

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The identity behind a verified API key.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Principal {
    /// Subject (`sub`).
    pub sub: String,
    /// Workspace id.
    pub workspace: String,
    /// The key's id (`jti`).
    pub key_id: String,
    /// Granted scopes.
    pub scopes: ScopeSet,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// The signing key's id.
    pub kid: String,
}

/// A freshly minted token: shown once, never stored. `Debug` prints nothing of it, it cannot
/// be cloned or serialized, and it is zeroized on drop.
pub struct Token(Zeroizing<String>);

impl Token {
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn new(text: Zeroizing<String>) -> Self {
        Self(text)
    }

    /// The token text, to hand to its holder exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// What [`Keyhold::introspect_deferred`] found.
#[derive(Debug)]
pub enum Introspection<'a> {
    /// The asking service's own key was refused; resolves to that refusal once recorded.
    Refused(crate::Deferred<'a, Principal>),
    /// The service was authenticated as `caller`; `verdict` resolves to the token's
    /// principal, or to why the token is refused, once the one record is durable.
    Verdict {
        /// The service that asked.
        caller: Principal,
        /// The token's verdict.
        verdict: crate::Deferred<'a, Principal>,
    },
}

/// The status of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Usable.
    Active,
    /// Revoked individually or by a revoke-all.
    Revoked,
    /// Past its expiry.
    Expired,
}

/// An API key's metadata (never the token).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ApiKey {
    /// Key id (the token's `jti`).
    pub id: String,
    /// Name, unique within its workspace.
    pub name: String,
    /// Workspace id.
    pub workspace: String,
    /// Subject.
    pub sub: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Status now.
    pub status: KeyState,
    /// Short fingerprint of the token: identifies it, cannot be used as it.
    pub fingerprint: String,
    /// Signing key id.
    pub kid: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Who minted it.
    pub created_by: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds, if revoked.
    pub revoked_at: Option<i64>,
    /// Who revoked it (or `revoke-all`).
    pub revoked_by: Option<String>,
    /// Unix seconds of the last successful verification, at most a minute behind (it is
    /// written at most once a minute per key; every use is in the audit log).
    pub last_used_at: Option<i64>,
}

impl ApiKey {
    fn from_row(row: ApiKeyRow, ws: &WorkspaceRow, now: i64) -> Self {
        let by_all = revoked_by_all(&row, ws).then_some(ws.revoked_all_at_ms.unwrap_or(0));
        let (revoked_at, revoked_by) = match (row.revoked_at_ms, by_all) {
            (Some(at), _) => (Some(at / 1000), row.revoked_by),
            (None, Some(at)) => (Some(at / 1000), Some("revoke-all".to_owned())),
            (None, None) => (None, None),
        };
        let status = if revoked_at.is_some() {
            KeyState::Revoked
        } else if row.expires_at < now {
            KeyState::Expired
        } else {
            KeyState::Active
        };
        Self {
            id: row.jti,
            name: row.name,
            workspace: row.workspace,
            sub: row.sub,
            scopes: row
                .scopes
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            status,
            fingerprint: row.fingerprint,
            kid: row.kid,
            created_at: row.created_at_ms / 1000,
            created_by: row.created_by,
            expires_at: row.expires_at,
            revoked_at,
            revoked_by,
            last_used_at: row.last_used_at,
        }
    }
}

/// Whether a revoke-all of `ws` covers `key`: decided by mint order (the mark is the highest
/// mint sequence number when the revoke-all committed), never by clocks.
fn revoked_by_all(key: &ApiKeyRow, ws: &WorkspaceRow) -> bool {
    key.workspace == ws.id && under_mark(key.mint_seq, ws.revoked_all_seq)
}

/// The revoke-all rule itself: a key whose mint number is at or below its workspace's mark.
fn under_mark(mint_seq: i64, revoked_all_seq: Option<i64>) -> bool {
    revoked_all_seq.is_some_and(|mark| mint_seq <= mark)
}

/// What to mint.
#[derive(Debug, Clone)]
pub struct MintRequest {
    /// Workspace (id or name).
    pub workspace: String,
    /// Name, unique within the workspace: `[a-z0-9][a-z0-9._-]{0,63}`.
    pub name: String,
    /// Expiry preset.
    pub expires: ExpiryPreset,
    /// Scopes; `None` gives the key the caller's own scopes.
    pub scopes: Option<ScopeSet>,
    /// Subject; `None` uses the caller's identity.
    pub sub: Option<String>,
}

/// A minted key: the token (shown once) and its stored metadata.
#[derive(Debug)]
pub struct MintedKey {
    /// The token. Hand it over once; keyhold cannot show it again.
    pub token: Token,
    /// What keyhold stores about it.
    pub key: ApiKey,
}

/// Result of a revoke-all.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RevokeAll {
    /// Workspace id.
    pub workspace: String,
    /// When the revoke-all committed (Unix ms). Every key that existed then is revoked,
    /// whatever the clocks said when it was minted; keys minted afterwards work.
    pub revoked_at_ms: i64,
    /// Keys that were active and are now revoked (counted, not touched).
    pub keys_revoked: usize,
}

/// Result of a signing-key rotation.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SigningKeyRotation {
    /// The new signing key's id.
    pub kid: String,
    /// Keys that now only verify, with the last expiry of a token they signed.
    pub retiring: Vec<(String, Option<i64>)>,
    /// Keys deleted because every token they signed has expired.
    pub retired: Vec<String>,
}

/// A failed verification, with who the token claimed to be when its signature verified.
type Rejection = Box<(Error, Option<Principal>)>;

fn key_name(name: &str) -> Result<()> {
    crate::names::key_name(name)
}

impl Keyhold {
    /// Mints an API key. The caller needs `keys:write` in the workspace, and may grant only
    /// scopes it holds itself (no escalation). The token is returned once and never stored.
    pub fn mint_key(&self, caller: &Caller, req: &MintRequest) -> Result<MintedKey> {
        key_name(&req.name)?;
        let caller_scopes = caller.scopes();
        let scopes = req.scopes.clone().unwrap_or_else(|| caller_scopes.clone());
        if scopes.is_empty() {
            return Err(Error::InvalidInput {
                field: "scopes",
                reason: "a key needs at least one scope".into(),
            });
        }
        scopes
            .ensure_no_escalation(&caller_scopes)
            .map_err(Error::Token)?;
        if let Some(parent) = caller.principal() {
            // Authorization first, so a key without keys:write learns only that.
            if !parent.scopes.covers(Scope::KeysWrite) {
                return Err(Error::Token(TokenError::InsufficientScope {
                    required: Scope::KeysWrite,
                }));
            }
            // A key mints only for its own subject, and nothing that outlives it.
            if req.sub.as_deref().is_some_and(|s| s != parent.sub) {
                return Err(Error::InvalidInput {
                    field: "sub",
                    reason: "a key can mint keys only for its own subject".into(),
                });
            }
            let exp =
                now().saturating_add(i64::try_from(req.expires.seconds()).unwrap_or(i64::MAX));
            if exp > parent.exp {
                return Err(Error::InvalidInput {
                    field: "expires",
                    reason: format!(
                        "a key cannot outlive the key that mints it (this one expires in {} s)",
                        parent.exp - now()
                    ),
                });
            }
        }
        let sub = req.sub.clone().unwrap_or_else(|| caller.sub());
        let jti = keyhold_token::new_jti().map_err(Error::Token)?;
        let issuer = self.issuer();
        self.store.write(|tx| {
            let ws = self.resolve(tx, &req.workspace)?;
            caller.require(Scope::KeysWrite, &ws.id)?;
            if tx.api_key_by_name(&ws.id, &req.name)?.is_some() {
                // (Authenticated or not, the name is taken: refused either way.)
                return Err(Error::Conflict(format!(
                    "key \"{}\" in workspace \"{}\"",
                    req.name, ws.name
                )));
            }
            let created_key = self.ensure_signing_key(tx)?;
            self.active_signing_key(tx)?;
            let created_at_ms = now_ms();
            let iat = created_at_ms / 1000;
            let claims = Claims::new(issuer, &sub, &ws.id, scopes.clone(), iat, req.expires, &jti)
                .map_err(|e| match e {
                    TokenError::ClaimOutOfRange { claim } => Error::InvalidInput {
                        field: claim,
                        reason: "must be 1 to 256 characters".into(),
                    },
                    other => Error::Token(other),
                })?;
            let signing = read(&self.signing);
            let key = signing
                .active
                .as_ref()
                .ok_or(Error::Internal("signing key not loaded"))?;
            let token = Token(Zeroizing::new(
                keyhold_token::mint(key, &claims).map_err(Error::Token)?,
            ));
            let mut row = ApiKeyRow {
                jti: jti.clone(),
                workspace: ws.id.clone(),
                name: req.name.clone(),
                sub: sub.clone(),
                scopes: scopes
                    .iter()
                    .map(Scope::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                kid: key.kid().to_owned(),
                fingerprint: keyhold_token::fingerprint(token.expose()),
                created_at_ms,
                created_by: caller.name(),
                expires_at: claims.exp(),
                revoked_at_ms: None,
                revoked_by: None,
                last_used_at: None,
                mint_seq: self
                    .mint_counter(tx)?
                    .checked_add(1)
                    .ok_or(Error::Internal("mint sequence exhausted"))?,
                mac: Vec::new(),
            };
            drop(signing);
            self.set_mint_counter(tx, row.mint_seq)?;
            self.mac_api_key(&mut row)?;
            tx.insert_api_key(&row).map_err(|e| match e {
                // The name was free (checked above) and ids are random: the mint number is
                // taken, so the counter is behind the keys — it was put back.
                StoreError::Constraint(_) => Error::Integrity {
                    what: "meta mint_counter".into(),
                    detail: format!(
                        "mint number {} is already taken: the counter was put back",
                        row.mint_seq
                    ),
                },
                other => Error::Store(other),
            })?;
            let pruned = self.prune_signing_keys(tx, iat)?;
            let record = crate::audit::EventDraft::new(keyhold_audit::Action::KeyCreated)
                .workspace(&ws.id)
                .target(&row.jti)
                .detail(
                    "name",
                    keyhold_audit::PublicText::new(&row.name)
                        .map_err(|_| Error::Internal("unrecordable key name"))?,
                )
                .detail("expires_at", row.expires_at)
                .detail("mint_seq", row.mint_seq)
                .signing_key_created(created_key.as_deref())?
                .signing_keys_deleted(&pruned)?
                .detail(
                    "scopes",
                    keyhold_audit::PublicText::new(&row.scopes)
                        .map_err(|_| Error::Internal("unrecordable scopes"))?,
                );
            self.audit(tx, caller, record)?;
            let ws_row = self.workspace_row(tx, &ws.id)?;
            Ok(MintedKey {
                token,
                key: ApiKey::from_row(row, &ws_row, iat),
            })
        })
    }

    fn find_key(&self, tx: &Tx<'_>, workspace_id: &str, ident: &str) -> Result<ApiKeyRow> {
        let row = self.find_key_unchecked(tx, workspace_id, ident)?;
        self.check_api_key(&row)?;
        Ok(row)
    }

    fn find_key_unchecked(
        &self,
        tx: &Tx<'_>,
        workspace_id: &str,
        ident: &str,
    ) -> Result<ApiKeyRow> {
        let row = match tx.api_key(ident)? {
            Some(r) if r.workspace == workspace_id => Some(r),
            _ => tx.api_key_by_name(workspace_id, ident)?,
        };
        row.ok_or_else(|| Error::NotFound(format!("key {}", crate::names::quoted(ident))))
    }

    /// The keys of a workspace, newest first (`keys:read`). Never a token.
    pub fn keys(&self, caller: &Caller, workspace: &str) -> Result<Vec<ApiKey>> {
        self.store.read(|tx| {
            let ws = self.workspace_row(tx, workspace)?;
            caller.require(Scope::KeysRead, &ws.id)?;
            let now = now();
            let rows = tx.api_keys(&ws.id)?;
            for row in &rows {
                self.check_api_key(row)?;
            }
            Ok(rows
                .into_iter()
                .map(|r| ApiKey::from_row(r, &ws, now))
                .collect())
        })
    }

    /// One key, by id or name (`keys:read`).
    pub fn key(&self, caller: &Caller, workspace: &str, ident: &str) -> Result<ApiKey> {
        self.store.read(|tx| {
            let ws = self.workspace_row(tx, workspace)?;
            caller.require(Scope::KeysRead, &ws.id)?;
            let row = self.find_key(tx, &ws.id, ident)?;
            Ok(ApiKey::from_row(row, &ws, now()))
        })
    }

    /// Invalidates this handle's cached standings after a revocation has committed (other
    /// handles and processes see it through SQLite's `data_version`). Bumped after the commit,
    /// so a verification that read the old standing meanwhile cannot keep it.
    fn revocations_committed(&self) {
        self.revocation_epoch
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Revokes one key, by id or name (`keys:revoke`). Takes effect on the next verification
    /// in every process. Revoking a revoked key is not an error; it changes nothing.
    pub fn revoke_key(&self, caller: &Caller, workspace: &str, ident: &str) -> Result<ApiKey> {
        let out = self.store.write(|tx| {
            let (ws, _) = self.workspace_row_for_revocation(tx, workspace)?;
            caller.require(Scope::KeysRevoke, &ws.id)?;
            let mut row = self.find_key_unchecked(tx, &ws.id, ident)?;
            // A row whose informational columns (name, scopes, ...) were edited can still be
            // revoked — an emergency must not wait on forensics — as long as the part that
            // decides access (its standing) is authentic. Its whole-row MAC is left failing,
            // so the edit stays visible to listings and `audit verify`.
            let whole_ok = self.check_api_key(&row).is_ok();
            self.check_api_key_standing(&row)?;
            if !whole_ok && row.jti != ident {
                // Found by a name that is not authenticated (names could have been swapped):
                // only its id can be trusted to say which key this is.
                return Err(Error::Integrity {
                    what: format!("api key {}", row.jti),
                    detail: "the row does not authenticate, and was found by name: revoke it \
                             by its id, or revoke all keys of the workspace"
                        .into(),
                });
            }
            let changed = row.revoked_at_ms.is_none();
            if changed {
                row.revoked_at_ms = Some(now_ms());
                row.revoked_by = Some(caller.name());
                let old = std::mem::take(&mut row.mac);
                self.mac_api_key(&mut row)?;
                if !whole_ok {
                    crate::integrity::keep_whole(&mut row.mac, &old);
                }
                tx.revoke_api_key(
                    &row.jti,
                    row.revoked_at_ms.unwrap_or(0),
                    &caller.name(),
                    &row.mac,
                )?;
                tx.bump_standing()?;
            }
            // Bumped before the commit as well as after: a cache hit racing the commit either
            // sees the new epoch or reads the committed revocation.
            self.revocations_committed();
            let record = crate::audit::EventDraft::new(keyhold_audit::Action::KeyRevoked)
                .workspace(&ws.id)
                .target(&row.jti)
                .detail("already_revoked", !changed)
                .detail("row_authentic", whole_ok);
            self.audit(tx, caller, record)?;
            Ok(ApiKey::from_row(row, &ws, now()))
        });
        self.revocations_committed();
        out
    }

    /// Revokes every key of a workspace at once (`keys:revoke`): one row is written, however
    /// many keys there are; every key minted up to this instant is refused from the next
    /// verification on. Keys minted afterwards work.
    pub fn revoke_all_keys(&self, caller: &Caller, workspace: &str) -> Result<RevokeAll> {
        let out = self.store.write(|tx| {
            let (mut ws, ws_whole_ok) = self.workspace_row_for_revocation(tx, workspace)?;
            caller.require(Scope::KeysRevoke, &ws.id)?;
            let now_s = now();
            // Every key minted so far (in commit order: the write lock serialises mints and
            // this) is at or below the mark, whatever its creation time says. The mark comes
            // from the authenticated mint counter, never from the rows left visible — and is
            // never below an authenticated key of the workspace (a counter put back).
            let mut mark = self.mint_counter(tx)?;
            let mut keys_revoked = 0usize;
            for row in tx.api_keys(&ws.id)? {
                // A row whose standing does not authenticate is refused anyway: it is not
                // counted, and it cannot hold up an emergency revocation.
                if self.check_api_key_standing(&row).is_err() {
                    continue;
                }
                mark = mark.max(row.mint_seq);
                let active = ApiKey::from_row(row.clone(), &ws, now_s).status == KeyState::Active;
                if active && row.mint_seq <= mark {
                    keys_revoked += 1;
                }
            }
            let at = now_ms();
            ws.revoked_all_at_ms = Some(at);
            ws.revoked_all_seq = Some(mark.max(ws.revoked_all_seq.unwrap_or(0)));
            let old = std::mem::take(&mut ws.mac);
            self.mac_workspace(&mut ws)?;
            if !ws_whole_ok {
                crate::integrity::keep_whole(&mut ws.mac, &old);
            }
            tx.set_workspace_revoke_all(&ws.id, at, ws.revoked_all_seq.unwrap_or(mark), &ws.mac)?;
            tx.bump_standing()?;
            self.revocations_committed();
            let record = crate::audit::EventDraft::new(keyhold_audit::Action::KeysRevokedAll)
                .workspace(&ws.id)
                .target(&ws.id)
                .detail(
                    "keys_revoked",
                    i64::try_from(keys_revoked).unwrap_or(i64::MAX),
                )
                .detail("revoked_through", ws.revoked_all_seq.unwrap_or(mark))
                .detail("row_authentic", ws_whole_ok);
            self.audit(tx, caller, record)?;
            Ok(RevokeAll {
                workspace: ws.id,
                revoked_at_ms: at,
                keys_revoked,
            })
        });
        self.revocations_committed();
        out
    }
}
