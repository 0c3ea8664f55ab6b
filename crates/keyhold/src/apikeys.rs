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
    key.workspace == ws.id && ws.revoked_all_seq.is_some_and(|mark| key.mint_seq <= mark)
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

/// Successful verifications, keyed by the token itself.
///
/// The token is the key (held in a zeroizing buffer, wiped on eviction) rather than a digest
/// of it: hashing a 500-byte token with SHA-256 cost more than everything else on a hit, and
/// a full-string comparison leaves no collision to reason about. The process that holds this
/// cache also holds the unwrapped KEKs and the signing key, so keeping recently verified
/// tokens adds no exposure that a memory dump would not already have.
///
/// A hit skips parsing and the signature check only. Expiry is re-checked against the clock on
/// every hit, and the key's standing (revoked, revoke-all) is reused only while the store is
/// provably unchanged since it was read: this process's own revocations bump `local_epoch`,
/// and any other connection's commit changes SQLite's `data_version`. Otherwise the standing
/// is read again — so revocation stays exact, in every process.
pub(crate) struct VerifyCache {
    entries: std::collections::HashMap<CacheKey, Cached, TailHash>,
    capacity: usize,
}

/// Hashes only the last 32 bytes it is given, mixed with a per-process random seed: for a
/// token that is the end of its Ed25519 signature, already uniformly random. Equality is still
/// decided on the whole token, and only tokens that verified are ever inserted, so nobody can
/// fill a bucket with chosen keys.
#[derive(Clone)]
pub(crate) struct TailHash(u64);

impl Default for TailHash {
    fn default() -> Self {
        let seed = keyhold_crypto::random::array::<8>()
            .map(u64::from_le_bytes)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Self(seed)
    }
}

impl std::hash::BuildHasher for TailHash {
    type Hasher = TailHasher;
    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0)
    }
}

/// See [`TailHash`].
pub(crate) struct TailHasher(u64);

impl std::hash::Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        let tail = &bytes[bytes.len().saturating_sub(32)..];
        for chunk in tail.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0 ^ u64::from_le_bytes(word))
                .wrapping_mul(0x0000_0100_0000_01b3)
                .rotate_left(29);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A cached token: hashed and compared as a `str`, zeroized when dropped.
struct CacheKey(Zeroizing<String>);

impl PartialEq for CacheKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for CacheKey {}

impl std::hash::Hash for CacheKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Must hash exactly as `str` does, for lookups by `&str` (Borrow contract).
        self.0.as_str().hash(state);
    }
}

impl std::borrow::Borrow<str> for CacheKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

struct Cached {
    principal: Principal,
    claims: Claims,
    facts: KeyFacts,
    /// The standing counter and this handle's revocation epoch when `facts` were read.
    seen: (i64, u64),
    /// When `facts` were read: they are read again after [`STANDING_MAX_AGE`] even if the
    /// counter says nothing changed (an attacker who can write the database could put the
    /// counter back; this bounds what that buys them).
    read_at: std::time::Instant,
}

/// The longest a cached standing is trusted without reading it again.
pub const STANDING_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// See `Keyhold::validated`.
pub(crate) struct Validated {
    data_version: i64,
    own_writes: u64,
    standing: i64,
}

impl Default for Validated {
    fn default() -> Self {
        // A data_version SQLite never reports: the first check reads the counter.
        Self {
            data_version: i64::MIN,
            own_writes: 0,
            standing: 0,
        }
    }
}

/// Default number of verified tokens remembered per process.
pub const VERIFY_CACHE_CAPACITY: usize = 4096;

impl Default for VerifyCache {
    fn default() -> Self {
        Self {
            entries: std::collections::HashMap::default(),
            capacity: VERIFY_CACHE_CAPACITY,
        }
    }
}

/// The time rules of `keyhold_token::verify`, re-applied to a cached token on every hit.
fn within_lifetime(c: &Claims, now: i64) -> bool {
    let l = i64::try_from(DEFAULT_LEEWAY).unwrap_or(0);
    now <= c.exp().saturating_add(l)
        && c.nbf().is_none_or(|n| n <= now.saturating_add(l))
        && c.iat() <= now.saturating_add(l)
}

/// In-memory signing state: the active private key and every public key that may verify.
#[derive(Default)]
pub(crate) struct Signing {
    active: Option<SigningKey>,
    verifiers: BTreeMap<String, VerifyingKey>,
    /// `data_version` when `verifiers` was last loaded: an unknown `kid` triggers a reload
    /// only if some other connection has committed since (junk tokens cost no reload).
    loaded_at: Option<i64>,
}

fn signing_record(kid: &str) -> RecordKey {
    RecordKey {
        workspace: String::new(),
        kind: SIGNING_KEY_KIND.to_owned(),
        id: kid.to_owned(),
    }
}

fn key_name(name: &str) -> Result<()> {
    crate::names::key_name(name)
}

impl Keyhold {
    /// The issuer (`iss`) of this store's tokens: unique per store.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Creates the first signing key if the store has none (new stores and stores created
    /// before API keys existed).
    /// Returns the id of the key it created, for the operation's audit event to name (detail
    /// `signing_key`): the chain names every signing key the store ever had.
    pub(crate) fn ensure_signing_key(&self, tx: &Tx<'_>) -> Result<Option<String>> {
        if tx
            .signing_keys()?
            .iter()
            .any(|k| k.state == SigningKeyState::Active)
        {
            return Ok(None);
        }
        self.add_signing_key(tx).map(Some)
    }

    fn add_signing_key(&self, tx: &Tx<'_>) -> Result<String> {
        let key = SigningKey::generate().map_err(Error::Token)?;
        let kid = key.kid().to_owned();
        self.seal_record(tx, signing_record(&kid), &key.to_pkcs8_der())?;
        let mut row = SigningKeyRow {
            kid: kid.clone(),
            public_key: key.verifying_key().as_bytes().to_vec(),
            state: SigningKeyState::Active,
            created_at: now(),
            retired_at: None,
            mac: Vec::new(),
        };
        self.mac_signing_key(&mut row)?;
        tx.insert_signing_key(&row)?;
        Ok(kid)
    }

    /// Loads the public keys into memory (all of them, replacing what was there). A row that
    /// does not authenticate fails the whole load, naming it: nothing is replaced, and a token
    /// of an unknown key is refused with that integrity error.
    fn load_verifiers(&self, tx: &Tx<'_>) -> Result<()> {
        let rows = tx.signing_keys()?;
        let mut map = BTreeMap::new();
        for row in rows {
            self.check_signing_key(&row)?;
            let vk = VerifyingKey::from_bytes(&row.public_key).map_err(|_| Error::Integrity {
                what: format!("signing key {}", row.kid),
                detail: "bad public key".into(),
            })?;
            if vk.kid() != row.kid {
                return Err(Error::Integrity {
                    what: format!("signing key {}", row.kid),
                    detail: "public key does not match its id".into(),
                });
            }
            map.insert(row.kid, vk);
        }
        let mut signing = write(&self.signing);
        signing.verifiers = map;
        // Unknown until `reload_verifiers` says which change it saw.
        signing.loaded_at = None;
        Ok(())
    }

    /// [`Keyhold::load_verifiers`] in a read transaction of its own, remembering the reading
    /// connection's `data_version` from before it (so no commit can slip in unseen).
    fn reload_verifiers(&self) -> Result<()> {
        let version = self.store.data_version()?;
        self.store.read(|tx| self.load_verifiers(tx))?;
        write(&self.signing).loaded_at = Some(version);
        Ok(())
    }

    /// The active signing key, loaded (and decrypted) if this process does not hold it or
    /// another process rotated it.
    pub(crate) fn active_signing_key(&self, tx: &Tx<'_>) -> Result<()> {
        let rows = tx.signing_keys()?;
        let active = rows
            .iter()
            .find(|k| k.state == SigningKeyState::Active)
            .ok_or(Error::Internal("the store has no active signing key"))?;
        self.check_signing_key(active)?;
        if read(&self.signing)
            .active
            .as_ref()
            .is_some_and(|k| k.kid() == active.kid)
        {
            return Ok(());
        }
        let der = self.open_record(tx, &signing_record(&active.kid))?;
        let key = SigningKey::from_pkcs8_der(der.expose()).map_err(|_| Error::Integrity {
            what: format!("signing key {}", active.kid),
            detail: "private key does not decode".into(),
        })?;
        if key.kid() != active.kid {
            return Err(Error::Integrity {
                what: format!("signing key {}", active.kid),
                detail: "private key does not match its id".into(),
            });
        }
        write(&self.signing).active = Some(key);
        Ok(())
    }

    /// Deletes retiring signing keys whose every token has expired.
    fn prune_signing_keys(&self, tx: &Tx<'_>, now: i64) -> Result<Vec<String>> {
        let mut retired = Vec::new();
        for row in tx.signing_keys()? {
            if row.state != SigningKeyState::Retiring {
                continue;
            }
            let last = tx.last_expiry_signed_by(&row.kid)?;
            if last.is_none_or(|exp| exp + i64::try_from(DEFAULT_LEEWAY).unwrap_or(0) < now) {
                tx.delete_signing_key(&row.kid)?;
                tx.delete_record(&signing_record(&row.kid))?;
                retired.push(row.kid);
            }
        }
        Ok(retired)
    }

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
            let record = crate::audit::Record::new(keyhold_audit::Action::KeyCreated)
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
                    self.keep_whole_mac(&mut row, &old);
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
            let record = crate::audit::Record::new(keyhold_audit::Action::KeyRevoked)
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
            let record = crate::audit::Record::new(keyhold_audit::Action::KeysRevokedAll)
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

    /// Verifies a token completely: signature, claims and leeway, then — read fresh from the
    /// store — workspace, key status and revoke-all, then that its scopes cover `required`.
    ///
    /// Repeated verifications of the same token are served from a cache that keeps
    /// revocation and expiry exact (see `VerifyCache`).
    ///
    /// Every verification is recorded — `key.used`, or `key.rejected` with the reason code and
    /// the key id when the token's signature was good enough to know it — and a success is
    /// returned only once its record is durable (group commit). The token is never recorded.
    pub fn verify_token(&self, token: &str, required: Option<Scope>) -> Result<Principal> {
        self.verify_token_from(
            token,
            required,
            &crate::Origin::new(crate::Surface::Library),
        )
    }

    /// [`Keyhold::verify_token`] for a request that arrived from `origin`.
    pub fn verify_token_from(
        &self,
        token: &str,
        required: Option<Scope>,
        origin: &crate::Origin,
    ) -> Result<Principal> {
        self.verify_token_deferred(token, required, origin).wait()
    }

    /// [`Keyhold::verify_token_from`], returning as soon as the token is checked: the outcome
    /// is given by the [`Deferred`](crate::Deferred) once its use record is durable (`.await`
    /// it, or `wait()`). The check itself is CPU work and, on a cache miss, one indexed read.
    pub fn verify_token_deferred(
        &self,
        token: &str,
        required: Option<Scope>,
        origin: &crate::Origin,
    ) -> crate::Deferred<'_, Principal> {
        match self.check_token(token, required) {
            Ok(p) => self.accept(p, None, origin),
            Err(rejection) => self.reject(*rejection, None, origin),
        }
    }

    /// Records a verified token's use (`key.used`, naming the introspecting service's key if
    /// any); the principal is given once the row is durable.
    fn accept(
        &self,
        p: Principal,
        introspector: Option<&Principal>,
        origin: &crate::Origin,
    ) -> crate::Deferred<'_, Principal> {
        if !self.record_uses.load(std::sync::atomic::Ordering::Relaxed) {
            return crate::Deferred::new(self, Ok(p), None);
        }
        let mut record = crate::audit::Record::new(keyhold_audit::Action::KeyUsed)
            .workspace(&p.workspace)
            .target(&p.key_id);
        if let Some(by) = introspector {
            record = record.introspected_by(&by.key_id);
        }
        match record.event(&p.sub, Some(&p.key_id), origin) {
            Ok(event) => {
                let ticket = self.uses.enqueue(event);
                crate::Deferred::new(self, Ok(p), Some(ticket))
            }
            Err(e) => crate::Deferred::new(self, Err(e), None),
        }
    }

    /// Records a rejected token (`key.rejected`, with the key when its signature told it).
    /// The rejection stands whether or not its record could be written; waiting for the
    /// record still paces a flood of bad tokens to the disk's speed.
    fn reject(
        &self,
        (e, known): (Error, Option<Principal>),
        introspector: Option<&Principal>,
        origin: &crate::Origin,
    ) -> crate::Deferred<'_, Principal> {
        if !self.record_uses.load(std::sync::atomic::Ordering::Relaxed) {
            return crate::Deferred::new(self, Err(e), None);
        }
        let mut record =
            crate::audit::Record::new(keyhold_audit::Action::KeyRejected).failed(e.code());
        if introspector.is_none() {
            // Bounded: a flood of refused tokens is counted, not written row by row. (An
            // introspection's row is also the asking service's use: always written.)
            let key = known.as_ref().map(|k| k.key_id.as_str());
            let at = std::time::Instant::now();
            let (admit, evicted) =
                self.rejections
                    .admit(origin.source.as_deref(), e.code(), key, at);
            self.write_rejection_counts(evicted.into_iter().chain(self.rejections.take_due(at)));
            match admit {
                crate::rejections::Admit::Count => {
                    return crate::Deferred::new(self, Err(e), None);
                }
                crate::rejections::Admit::Write { suppressed: 0 } => {}
                crate::rejections::Admit::Write { suppressed } => {
                    record =
                        record.detail("suppressed", i64::try_from(suppressed).unwrap_or(i64::MAX));
                }
            }
        }
        let (sub, key) = match &known {
            Some(k) => {
                record = record.workspace(&k.workspace).target(&k.key_id);
                (k.sub.as_str(), Some(k.key_id.as_str()))
            }
            None => ("anonymous", None),
        };
        if let Some(by) = introspector {
            record = record.introspected_by(&by.key_id);
        }
        let ticket = record
            .event(sub, key, origin)
            .ok()
            .map(|event| self.uses.enqueue(event));
        let refused = crate::Deferred::new(self, Err(e), ticket);
        // For an introspection the row is also the record of the asking service's use: no
        // answer without it.
        if introspector.is_some() {
            refused.strict()
        } else {
            refused
        }
    }

    /// Token introspection on behalf of another service, in one step and one audit record.
    ///
    /// `caller_token` is the service's own key and must hold `keys:read`; if it is refused,
    /// that refusal is recorded and returned as `Err`. Otherwise `token` is verified like
    /// [`Keyhold::verify_token`] (with `required`, if given) and one event is recorded for
    /// it — `key.used` or `key.rejected` — naming the service's key as `introspected_by`: the
    /// use of both keys in one row, and one commit to wait for. The verdict (claims, or why
    /// not) is given by the `Deferred` once that row is durable.
    pub fn introspect_deferred(
        &self,
        caller_token: &str,
        token: &str,
        required: Option<Scope>,
        origin: &crate::Origin,
    ) -> Introspection<'_> {
        // One reading of the standing counter for both tokens (the epoch is read per token).
        let standing = match self.current_standing() {
            Ok(s) => Some(s),
            Err(e) => return Introspection::Refused(self.reject((e, None), None, origin)),
        };
        let caller = match self.check_token_at(caller_token, Some(Scope::KeysRead), standing) {
            Ok(p) => p,
            Err(rejection) => return Introspection::Refused(self.reject(*rejection, None, origin)),
        };
        // A token that says it is another workspace's is not looked up at all (no cache, no
        // standing): one signature check decides whether its workspace is told, and the
        // answer is workspace_mismatch either way — so neither the answer nor its timing
        // says whether it is active, revoked, expired or cached.
        if keyhold_token::claimed_workspace(token).is_some_and(|ws| ws != caller.workspace) {
            let theirs = self.foreign_signed(token, &caller.workspace);
            let verdict = self.refuse_foreign(theirs.as_ref(), &caller, origin);
            return Introspection::Verdict { caller, verdict };
        }
        let verdict = match self.check_token_at(token, required, standing) {
            Ok(p) if p.workspace != caller.workspace => {
                self.refuse_foreign(Some(&p), &caller, origin)
            }
            Ok(p) => self.accept(p, Some(&caller), origin),
            // A token of another workspace says nothing about itself to this service, not even
            // that it is revoked or expired.
            Err(rejection) => match &*rejection {
                (_, Some(p)) if p.workspace != caller.workspace => {
                    self.refuse_foreign(Some(p), &caller, origin)
                }
                // Refused before its principal was known (expired, not yet valid, its rows
                // failed authentication...): if its signature is good, it still names a
                // workspace, and a foreign one is told nothing.
                (_, None) => match self.foreign_signed(token, &caller.workspace) {
                    Some(p) => self.refuse_foreign(Some(&p), &caller, origin),
                    None => self.reject(*rejection, Some(&caller), origin),
                },
                _ => self.reject(*rejection, Some(&caller), origin),
            },
        };
        Introspection::Verdict { caller, verdict }
    }

    /// Who a refused token names, if its signature verifies and it belongs to a workspace
    /// other than `ours`.
    fn foreign_signed(&self, token: &str, ours: &str) -> Option<Principal> {
        let id = keyhold_token::signed_identity(token, &read(&self.signing).verifiers)?;
        (id.workspace != ours).then(|| Principal {
            sub: id.sub,
            workspace: id.workspace,
            key_id: id.jti,
            scopes: ScopeSet::default(),
            iat: 0,
            exp: 0,
            kid: String::new(),
        })
    }

    /// A service asked about a token of another workspace: refused as `workspace_mismatch`
    /// with nothing of the token's claims, and recorded twice — in the token's workspace
    /// (whose key was shown to an outsider) and in the asking service's own, naming only its
    /// own key. Both rows must be durable before the answer.
    fn refuse_foreign(
        &self,
        token: Option<&Principal>,
        caller: &Principal,
        origin: &crate::Origin,
    ) -> crate::Deferred<'_, Principal> {
        let e = Error::Token(TokenError::WorkspaceMismatch);
        if !self.record_uses.load(std::sync::atomic::Ordering::Relaxed) {
            return crate::Deferred::new(self, Err(e), None);
        }
        // The token's workspace hears of it only when its signature says it is theirs (an
        // unverified claim must not write into another tenant's log).
        let theirs = token.map(|token| {
            crate::audit::Record::new(keyhold_audit::Action::KeyRejected)
                .failed(e.code())
                .workspace(&token.workspace)
                .target(&token.key_id)
                .introspected_by(&caller.key_id)
                .event(&token.sub, Some(&token.key_id), origin)
        });
        let ours = crate::audit::Record::new(keyhold_audit::Action::KeyRejected)
            .failed(e.code())
            .workspace(&caller.workspace)
            .detail("introspection", true)
            .event(&caller.sub, Some(&caller.key_id), origin);
        match (theirs.transpose(), ours) {
            (Ok(theirs), Ok(ours)) => {
                if let Some(theirs) = theirs {
                    self.uses.enqueue(theirs);
                }
                let ticket = self.uses.enqueue(ours);
                crate::Deferred::new(self, Err(e), Some(ticket)).strict()
            }
            (Err(err), _) | (_, Err(err)) => crate::Deferred::new(self, Err(err), None),
        }
    }

    /// Turns recording of key uses and rejections on or off for this handle (on by default).
    /// Off is for benchmarks and offline tools that verify without serving anyone: nothing
    /// that serves requests turns it off.
    pub fn record_key_uses(&self, on: bool) {
        self.record_uses
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The verification itself; on failure, who the token claimed to be if its signature
    /// verified.
    fn check_token(
        &self,
        token: &str,
        required: Option<Scope>,
    ) -> std::result::Result<Principal, Rejection> {
        self.check_token_at(token, required, None)
    }

    /// [`Keyhold::check_token`] with the standing counter already read for this request
    /// (an introspection checks two tokens against one reading).
    fn check_token_at(
        &self,
        token: &str,
        required: Option<Scope>,
        standing: Option<i64>,
    ) -> std::result::Result<Principal, Rejection> {
        let now = now();
        if read(&self.verify_cache).capacity == 0 {
            return self.verify_fresh(token, required, now, false);
        }
        let standing = match standing {
            Some(s) => s,
            None => self.current_standing().map_err(|e| Box::new((e, None)))?,
        };
        // The epoch after the standing: a revocation of this handle that the standing reading
        // predates has bumped it (before its commit) by now, or comes after this check.
        let epoch = self
            .revocation_epoch
            .load(std::sync::atomic::Ordering::Acquire);
        // Fast path: a cached token whose standing is provably current.
        let (hit, present) = {
            let cache = read(&self.verify_cache);
            match cache.entries.get(token) {
                Some(c)
                    if within_lifetime(&c.claims, now)
                        && c.seen == (standing, epoch)
                        && c.read_at.elapsed() < STANDING_MAX_AGE =>
                {
                    (
                        Some(
                            keyhold_token::check_state(
                                &c.claims,
                                &c.facts,
                                c.claims.workspace(),
                                required,
                            )
                            .map(|()| c.principal.clone())
                            .map_err(|e| (e, c.principal.clone())),
                        ),
                        true,
                    )
                }
                Some(_) => (None, true),
                None => (None, false),
            }
        };
        match hit {
            Some(Ok(principal)) => return Ok(principal),
            Some(Err((e @ TokenError::InsufficientScope { .. }, p))) => {
                return Err(Box::new((Error::Token(e), Some(p))));
            }
            _ => {}
        }
        if present {
            // Stale or refused: verified again from scratch, never from this entry.
            write(&self.verify_cache).entries.remove(token);
        }
        self.verify_fresh(token, required, now, true)
    }

    /// The standing counter now. Reading `data_version` is enough while it and the main
    /// connection's own write count are where they were at the last read of the counter
    /// (commits of audit rows and last-used times move `data_version` but not the counter:
    /// then one more small read, and cached standings stay valid).
    fn current_standing(&self) -> Result<i64> {
        // data_version before own_writes: a commit this reading missed has not counted yet.
        let data_version = self.store.data_version()?;
        let own_writes = self.store.own_writes();
        {
            let v = self
                .validated
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if v.data_version == data_version && v.own_writes == own_writes {
                return Ok(v.standing);
            }
        }
        let now = self.store.versions()?;
        *self
            .validated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Validated {
            data_version: now.data,
            own_writes,
            standing: now.standing,
        };
        Ok(now.standing)
    }

    /// The full path: parse, signature, claims, then the standing read from the store.
    fn verify_fresh(
        &self,
        token: &str,
        required: Option<Scope>,
        now: i64,
        cache: bool,
    ) -> std::result::Result<Principal, Rejection> {
        let verified = {
            let first = {
                let signing = read(&self.signing);
                keyhold_token::verify(token, &signing.verifiers, &self.issuer, now, DEFAULT_LEEWAY)
            };
            match first {
                // Another process may have rotated the signing key since we loaded ours.
                Err(TokenError::UnknownKid)
                    if self.store.data_version().ok() != read(&self.signing).loaded_at =>
                {
                    self.reload_verifiers().map_err(|e| (e, None))?;
                    let signing = read(&self.signing);
                    keyhold_token::verify(
                        token,
                        &signing.verifiers,
                        &self.issuer,
                        now,
                        DEFAULT_LEEWAY,
                    )
                }
                other => other,
            }
        }
        .map_err(|e| Box::new((Error::Token(e), None)))?;
        let claims = verified.claims();
        let epoch = self
            .revocation_epoch
            .load(std::sync::atomic::Ordering::Acquire);
        let read_at = std::time::Instant::now();
        let (version, facts, _last_used) = self
            .standing(claims.jti(), claims.workspace(), claims.iat())
            .map_err(|e| (e, None))?;
        let principal = Principal {
            sub: claims.sub().to_owned(),
            workspace: claims.workspace().to_owned(),
            key_id: claims.jti().to_owned(),
            scopes: claims.scopes().clone(),
            iat: claims.iat(),
            exp: claims.exp(),
            kid: verified.kid().to_owned(),
        };
        if let Err(e) = keyhold_token::check_state(claims, &facts, claims.workspace(), None) {
            return Err(Box::new((Error::Token(e), Some(principal))));
        }
        if let Some(required) = required
            && !claims.scopes().covers(required)
        {
            return Err(Box::new((
                Error::Token(TokenError::InsufficientScope { required }),
                Some(principal),
            )));
        }
        if cache {
            let mut cache = write(&self.verify_cache);
            if cache.entries.len() >= cache.capacity {
                // Evict an arbitrary entry: a miss only costs one full verification.
                let victim = cache
                    .entries
                    .keys()
                    .next()
                    .map(|k| String::from(k.0.as_str()));
                if let Some(k) = victim {
                    cache.entries.remove(k.as_str());
                }
            }
            cache.entries.insert(
                CacheKey(Zeroizing::new(token.to_owned())),
                Cached {
                    principal: principal.clone(),
                    claims: verified.into_claims(),
                    facts,
                    seen: (version, epoch),
                    read_at,
                },
            );
        }
        Ok(principal)
    }

    /// What the store says about key `jti` of `workspace`, with the `data_version` it was read
    /// at (one statement on the hot path; a second only when the key is unknown).
    fn standing(
        &self,
        jti: &str,
        workspace: &str,
        iat: i64,
    ) -> Result<(i64, KeyFacts, Option<i64>)> {
        let (version, found) = self.store.key_standing(jti, |versions, found| {
            let facts = match found {
                Some(st) if st.workspace == workspace => {
                    // Both must authenticate: an edited, inserted or moved row is an integrity
                    // error, never a grant. (Checked on the borrowed row: nothing is copied.)
                    self.check_standing(jti, &st).map(|()| {
                        let by_all = st.revoked_all_seq.is_some_and(|mark| st.mint_seq <= mark);
                        Some((
                            KeyFacts {
                                workspace_known: true,
                                key_status: if st.revoked_at_ms.is_some() {
                                    KeyStatus::Revoked
                                } else {
                                    KeyStatus::Active
                                },
                                workspace_revoked_all_at: by_all.then_some(iat),
                            },
                            st.last_used_at,
                        ))
                    })
                }
                _ => Ok(None),
            };
            (versions.standing, facts)
        })?;
        Ok(match found? {
            Some((facts, last_used)) => (version, facts, last_used),
            None => {
                let workspace_known = self
                    .store
                    .read(|tx| Ok::<_, Error>(tx.workspace(workspace)?.is_some()))?;
                let facts = KeyFacts {
                    workspace_known,
                    key_status: KeyStatus::Unknown,
                    workspace_revoked_all_at: None,
                };
                (version, facts, None)
            }
        })
    }

    /// Sets how many verified tokens this handle remembers (0 disables the cache).
    pub fn set_verify_cache_capacity(&self, capacity: usize) {
        let mut cache = write(&self.verify_cache);
        cache.capacity = capacity;
        cache.entries.clear();
    }

    /// The public keys that verify this store's tokens, as an RFC 7517 JWKS.
    pub fn jwks(&self) -> Result<Jwks> {
        self.store.read(|tx| self.load_verifiers(tx))?;
        Ok(Jwks::new(read(&self.signing).verifiers.values().cloned()))
    }

    /// Rotates the signing key (`admin`): new tokens are signed by a new key; the old one only
    /// verifies until the last token it signed expires, then it is deleted. Its private half
    /// is deleted at once.
    ///
    /// Store-wide, so beyond the operator only an `admin` key of the store's home workspace
    /// (`default`, created by `init`) may do it; an `admin` key of any other workspace is
    /// refused with `workspace_mismatch`.
    pub fn rotate_signing_key(&self, caller: &Caller) -> Result<SigningKeyRotation> {
        let out = self.store.write(|tx| {
            if let Some(p) = caller.principal() {
                // The scope first (as `require_store_admin`): a key without `admin` is told
                // so, whichever workspace it belongs to.
                caller.require(Scope::Admin, &p.workspace)?;
                let home = self.resolve(tx, crate::DEFAULT_WORKSPACE)?;
                caller.require(Scope::Admin, &home.id)?;
            }
            let now = now();
            let created_key = self.ensure_signing_key(tx)?;
            let mut old = Vec::new();
            for mut row in tx.signing_keys()? {
                if row.state != SigningKeyState::Active {
                    continue;
                }
                self.check_signing_key(&row)?;
                row.state = SigningKeyState::Retiring;
                row.retired_at = Some(now);
                self.mac_signing_key(&mut row)?;
                tx.update_signing_key(&row)?;
                old.push(row.kid);
            }
            for kid in &old {
                tx.delete_record(&signing_record(kid))?;
            }
            let kid = self.add_signing_key(tx)?;
            let retired = self.prune_signing_keys(tx, now)?;
            self.audit(
                tx,
                caller,
                crate::audit::Record::new(keyhold_audit::Action::SigningKeyRotated)
                    .target(&kid)
                    .signing_key_created(created_key.as_deref())?
                    .signing_keys_deleted(&retired)?,
            )?;
            let mut retiring = Vec::new();
            for row in tx.signing_keys()? {
                if row.state == SigningKeyState::Retiring {
                    retiring.push((row.kid.clone(), tx.last_expiry_signed_by(&row.kid)?));
                }
            }
            self.load_verifiers(tx)?;
            Ok::<_, Error>(SigningKeyRotation {
                kid,
                retiring,
                retired,
            })
        })?;
        write(&self.signing).active = None;
        Ok(out)
    }

    /// Loads signing state at open.
    pub(crate) fn load_signing(&self) -> Result<()> {
        self.reload_verifiers()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(iat: i64, preset: ExpiryPreset) -> Claims {
        let scopes: ScopeSet = [Scope::ReadQueries].into_iter().collect();
        Claims::new("urn:keyhold:t", "s", "ws_1", scopes, iat, preset, "key_1").expect("claims")
    }

    #[test]
    fn cached_tokens_expire_exactly_with_the_same_leeway_as_verify() {
        let l = i64::try_from(DEFAULT_LEEWAY).expect("small");
        let c = claims(1_000_000, ExpiryPreset::FifteenMinutes);
        let exp = c.exp();
        assert!(within_lifetime(&c, exp));
        assert!(
            within_lifetime(&c, exp + l),
            "edge of the leeway is still valid"
        );
        assert!(
            !within_lifetime(&c, exp + l + 1),
            "one second past it is not"
        );
        assert!(within_lifetime(&c, 1_000_000 - l), "iat at the leeway edge");
        assert!(
            !within_lifetime(&c, 1_000_000 - l - 1),
            "iat further in the future"
        );
        let nbf = claims(1_000_000, ExpiryPreset::OneHour).with_not_before(1_000_100);
        assert!(within_lifetime(&nbf, 1_000_100 - l));
        assert!(!within_lifetime(&nbf, 1_000_100 - l - 1));
    }
}
