//! keyhold: an embeddable secrets manager.
//!
//! [`Keyhold`] is the one door: it opens the store, unlocks the key hierarchy with the master
//! key, and performs every operation in one transaction, returning typed results and typed
//! errors ([`Error`]) that carry their stable error code. The `keyhold` CLI and the server are
//! thin adapters over this crate. It authorises, performs and records; it must never hold a
//! mechanism that belongs to the crate owning its subject (the audit log's events, chain,
//! group commit, reconciliation and rejection policy are `keyhold-audit`'s; which rows are
//! authenticated, and how, is `keyhold-integrity`'s).
//!
//! ```no_run
//! use keyhold::{Caller, Keyhold, KeySource, SecretBytes};
//!
//! # fn main() -> keyhold::Result<()> {
//! let kh = Keyhold::open("./keyhold-data", KeySource::default_file("./keyhold-data"))?;
//! let me = Caller::operator(); // who acts, for authorization and the audit log
//! kh.put_record(&me, "default", "secret", "db-password", &SecretBytes::copy_from(b"hunter2"))?;
//! let secret = kh.record(&keyhold::Caller::operator(), "default", "secret", "db-password")?;
//! assert_eq!(secret.len(), 7);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod apikeys;
mod ask;
mod audit;
mod caller;
mod connections;
mod error;
mod integrity;
mod migrate;
mod open;
mod ops;
mod records;
#[cfg(feature = "remote")]
mod remote;
mod rotation;
mod team;
mod upgrade;
mod wire;
mod workspaces;

use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use keyhold_api::names;
use keyhold_audit::rejections;
use keyhold_crypto::{KekRing, UnlockedMaster};
use keyhold_store::{Store, Tx};

pub use apikeys::{Introspection, MintRequest, MintedKey, Principal, Token};
pub use audit::{AuditEntry, Deferred};
pub use caller::{Caller, Membership, Origin, Surface, new_request_id};
pub use connections::DueRotations;
pub use error::{Error, Result, TokenFailure};
pub use keyhold_access as access;
pub use keyhold_api as api;
pub use keyhold_api::{
    ApiKey, AuditVerification, BadStoreAt, KeyState, RevokeAll, SigningKeyRotation, StoreAt,
};
pub use keyhold_assistant as assistant;
pub use keyhold_crypto::secrecy::zeroize::Zeroizing;
pub use keyhold_crypto::{KeySource, MASTER_KEY_ENV, default_key_file};
pub use keyhold_crypto::{MasterKey, MasterKeyFile, SecretBytes};
pub use keyhold_team::SessionToken;
pub use keyhold_token::{
    DEFAULT_LEEWAY, ExpiryPreset, Jwk, Jwks, MAX_TOKEN_LEN, STANDING_MAX_AGE, Scope, ScopeSet,
    VERIFY_CACHE_CAPACITY, VerifyingKey,
};
pub use migrate::Migrated;
pub use open::{FirstStart, InitReport, Upgrade};
pub use ops::{Asked, Local, Operations};
pub use records::RecordInfo;
#[cfg(feature = "remote")]
pub use remote::Remote;
pub use rotation::{KEK_ROTATION_BATCH, KekRotation, MasterKeyRotation};
pub use wire::scope_from_wire;
pub use workspaces::Workspace;

/// Name of the workspace `init` creates.
pub const DEFAULT_WORKSPACE: &str = "default";

const META_STORE_ID: &str = keyhold_integrity::meta::STORE_ID;
const META_MASTER_CHECK: &str = keyhold_integrity::meta::MASTER_CHECK;
const META_CREATED_AT: &str = keyhold_integrity::meta::CREATED_AT;

/// An open, unlocked keyhold store.
pub struct Keyhold {
    /// The data directory, or where a shared store is (`postgres://USER@HOST:PORT/DB`).
    home: PathBuf,
    store: Store,
    store_id: Vec<u8>,
    issuer: String,
    master: RwLock<UnlockedMaster>,
    ring: RwLock<KekRing>,
    /// The key that authenticates access-deciding rows, and every MAC under it.
    rows: keyhold_integrity::RowAuth,
    signing: RwLock<apikeys::Signing>,
    verify_cache: apikeys::VerifyCache,
    revocation_epoch: std::sync::atomic::AtomicU64,
    audit: RwLock<audit::AuditKeys>,
    uses: keyhold_audit::GroupCommit<keyhold_audit::Event>,
    record_uses: std::sync::atomic::AtomicBool,
    /// Whether a key may create a connection to this machine or its link (off by default).
    local_targets: std::sync::atomic::AtomicBool,
    /// Bounds rejection records per source, reason and key (`keyhold-audit`'s `rejections`).
    rejections: rejections::Limiter,
    key_source: KeySource,
}

impl std::fmt::Debug for Keyhold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyhold")
            .field("store", &self.store.path())
            .finish_non_exhaustive()
    }
}

/// A snapshot of the store's state, with no secrets in it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The database file.
    pub database: PathBuf,
    /// Where the master key comes from.
    pub master_key: String,
    /// Schema version of the database.
    pub schema_version: u32,
    /// Number of key-encryption keys (active plus retiring).
    pub kek_count: usize,
    /// Id of the active KEK.
    pub active_kek: u32,
    /// Records whose data key still waits to be re-wrapped by an unfinished KEK rotation.
    pub records_pending_rewrap: u64,
    /// Number of workspaces.
    pub workspaces: usize,
    /// Number of encrypted records.
    pub records: u64,
    /// Unix time the store was created.
    pub created_at: i64,
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // Key material behind these locks is only replaced whole; a panic elsewhere cannot leave
    // it half-written, so a poisoned lock is still safe to use.
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl Keyhold {
    /// (Re)loads into the ring every stored KEK it does not hold yet, and drops retired ones.
    fn load_keks(&self, tx: &Tx<'_>) -> Result<()> {
        let rows = tx.keks()?;
        let master = read(&self.master);
        let stored = rows.iter().map(|r| (r.id, r.wrapped.as_slice()));
        Ok(write(&self.ring).sync(&master, stored)?)
    }

    /// Makes sure KEK `id` is in the ring, reloading from the store if another process added it.
    fn ensure_kek(&self, tx: &Tx<'_>, id: u32) -> Result<()> {
        if read(&self.ring).contains(id) {
            return Ok(());
        }
        self.load_keks(tx)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.home
    }

    /// The store's state: paths, schema version, KEK and record counts. No secrets.
    pub fn status(&self) -> Result<Status> {
        let schema_version = self.store.schema_version()?;
        self.store.read(|tx| {
            let keks = tx.keks()?;
            let active = tx.active_kek_id()?.ok_or(Error::Internal(
                "the store has no active key-encryption key",
            ))?;
            let (records, pending) = tx.record_counts(active)?;
            let created_at = tx
                .meta(META_CREATED_AT)?
                .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                .map_or(0, i64::from_be_bytes);
            Ok(Status {
                data_dir: self.home.clone(),
                database: self.store.path().to_path_buf(),
                master_key: self.key_source.describe(),
                schema_version,
                kek_count: keks.len(),
                active_kek: active,
                records_pending_rewrap: pending,
                workspaces: tx.workspaces()?.len(),
                records,
                created_at,
            })
        })
    }
}
