//! API keys: mint, list, show, revoke, revoke-all, verify; signing keys and the JWKS.
//!
//! A key *is* a JWT (see `keyhold-token`). The store keeps its id (`jti`), a short fingerprint
//! and its metadata — never the token. Verification reads the key's standing from the
//! database on every call, so a revocation committed by any process sharing the store is seen
//! by the very next verification in every other process.
//!
//! The rules — what may be minted, the time, revocation and revoke-all rules, the verify
//! cache — are keyhold-token's, and whether the store changed is keyhold-store's to say: this
//! module authorises, performs and audits.

use std::collections::BTreeMap;
use std::fmt;

use keyhold_api::{ApiKey, KeyState, RevokeAll, SigningKeyRotation};
use keyhold_crypto::secrecy::zeroize::Zeroizing;
use keyhold_store::{
    ApiKeyRow, RecordKey, SigningKeyRow, SigningKeyState, Standing, StoreError, Tx, WorkspaceRow,
};
use keyhold_token::{
    DEFAULT_LEEWAY, ExpiryPreset, Jwks, Scope, ScopeSet, SigningKey, TokenError, VerifiedToken,
    VerifyingKey,
};

use crate::{Caller, Error, Keyhold, Result, now, read, write};

mod introspect;
mod mint;
mod revoke;
mod signing;
mod verify;

pub(crate) use signing::Signing;

/// The verify cache of a handle: principals, remembered under the store's standing and this
/// handle's revocation epoch (see `Keyhold::check_token_at`).
pub(crate) type VerifyCache = keyhold_token::VerifyCache<Principal, (Standing, u64)>;

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

impl Principal {
    /// Who a verified token names.
    fn of(verified: &VerifiedToken) -> Self {
        let claims = verified.claims();
        Self {
            sub: claims.sub().to_owned(),
            workspace: claims.workspace().to_owned(),
            key_id: claims.jti().to_owned(),
            scopes: claims.scopes().clone(),
            iat: claims.iat(),
            exp: claims.exp(),
            kid: verified.kid().to_owned(),
        }
    }
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

/// What the store's row of a key says of it at `now` (Unix seconds), as API v1 shows it.
fn api_key(row: ApiKeyRow, ws: &WorkspaceRow, now: i64) -> ApiKey {
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
    ApiKey {
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

/// Whether a revoke-all of `ws` covers `key` (`keyhold_token::revoked_by_all`).
fn revoked_by_all(key: &ApiKeyRow, ws: &WorkspaceRow) -> bool {
    key.workspace == ws.id && keyhold_token::revoked_by_all(key.mint_seq, ws.revoked_all_seq)
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

/// A minted key: the token (shown once) and its stored metadata, as `POST /v1/keys`
/// answers. Its token is a [`Token`]: `Debug` shows none of it, and the whole can be neither
/// cloned nor serialized.
pub type MintedKey = keyhold_api::Minted<Token>;

/// A failed verification, with who the token claimed to be when its signature verified.
type Rejection = Box<(Error, Option<Principal>)>;

fn key_name(name: &str) -> Result<()> {
    Ok(crate::names::key_name(name)?)
}

impl Keyhold {
    fn find_key(&self, tx: &Tx<'_>, workspace_id: &str, ident: &str) -> Result<ApiKeyRow> {
        let row = self.find_key_unchecked(tx, workspace_id, ident)?;
        self.rows.check_api_key(&row)?;
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
                self.rows.check_api_key(row)?;
            }
            Ok(rows.into_iter().map(|r| api_key(r, &ws, now)).collect())
        })
    }

    /// One key, by id or name (`keys:read`).
    pub fn key(&self, caller: &Caller, workspace: &str, ident: &str) -> Result<ApiKey> {
        self.store.read(|tx| {
            let ws = self.workspace_row(tx, workspace)?;
            caller.require(Scope::KeysRead, &ws.id)?;
            let row = self.find_key(tx, &ws.id, ident)?;
            Ok(api_key(row, &ws, now()))
        })
    }
}
