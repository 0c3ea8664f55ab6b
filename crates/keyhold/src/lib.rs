//! keyhold: an embeddable secrets manager.
//!
//! [`Keyhold`] is the one door: it opens the store, unlocks the key hierarchy with the master
//! key, and performs every operation in one transaction, returning typed results and typed
//! errors ([`Error`]) that carry their stable error code. The `keyhold` CLI and the server are
//! thin adapters over this crate. It authorises, performs and records; it must never hold a
//! mechanism that belongs to the crate owning its subject (the audit log's events, chain,
//! group commit, reconciliation and rejection policy are `keyhold-audit`'s).
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
mod audit;
mod caller;
mod datadir;
mod error;
mod integrity;

mod keys;
mod names;
mod ops;
mod records;
#[cfg(feature = "remote")]
mod remote;
mod workspaces;

use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use keyhold_audit::rejections;
use keyhold_crypto::{KekRing, MasterCheck, UnlockedMaster, WrappedKek};
use keyhold_store::{KekRow, KekState, Store, Tx};

pub use apikeys::{
    ApiKey, Introspection, KeyState, MintRequest, MintedKey, Principal, RevokeAll,
    STANDING_MAX_AGE, SigningKeyRotation, Token, VERIFY_CACHE_CAPACITY,
};
pub use audit::{AuditEntry, AuditVerification, Deferred};
pub use caller::{Caller, Origin, Surface, new_request_id};
pub use datadir::DataDir;
pub use error::{Error, Result};
pub use keyhold_crypto::secrecy::zeroize::Zeroizing;
pub use keyhold_crypto::{MasterKey, MasterKeyFile, SecretBytes};
pub use keyhold_store::AuditFilter;
pub use keyhold_token::{
    DEFAULT_LEEWAY, ExpiryPreset, Jwk, Jwks, MAX_TOKEN_LEN, Scope, ScopeSet, TokenError,
    VerifyingKey,
};
pub use keys::{KEK_ROTATION_BATCH, KekRotation, KeySource, MASTER_KEY_ENV, MasterKeyRotation};
pub use ops::{Local, Operations};
pub use records::RecordInfo;
#[cfg(feature = "remote")]
pub use remote::Remote;
pub use workspaces::Workspace;

/// Name of the workspace `init` creates.
pub const DEFAULT_WORKSPACE: &str = "default";

const META_STORE_ID: &str = "store_id";
const META_MASTER_CHECK: &str = "master_check";
const META_CREATED_AT: &str = "created_at";

/// An open, unlocked keyhold store.
pub struct Keyhold {
    dir: DataDir,
    store: Store,
    store_id: Vec<u8>,
    issuer: String,
    master: RwLock<UnlockedMaster>,
    ring: RwLock<KekRing>,
    /// The key that authenticates access-deciding rows (see `integrity`).
    rows: RwLock<Option<keyhold_crypto::RowKey>>,
    signing: RwLock<apikeys::Signing>,
    verify_cache: RwLock<apikeys::VerifyCache>,
    revocation_epoch: std::sync::atomic::AtomicU64,
    /// The standing counter as last read, with the main connection's `data_version` and own
    /// write count at that moment: while neither moves, the counter cannot have either.
    validated: std::sync::Mutex<apikeys::Validated>,
    audit: RwLock<audit::AuditKeys>,
    uses: keyhold_audit::GroupCommit<keyhold_audit::Event>,
    record_uses: std::sync::atomic::AtomicBool,
    /// Bounds rejection records per source, reason and key (`keyhold-audit`'s `rejections`).
    rejections: rejections::Limiter,
    key_source: KeySource,
}

impl std::fmt::Debug for Keyhold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyhold")
            .field("data_dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

/// The operator's answers for the upgrade of a store written before rows were authenticated
/// (schema 4). The upgrade authenticates the rows it finds, so it vouches only for what the
/// audit chain vouches for; a *retiring* signing key the chain never named (a store's first
/// key, retired by a rotation before the upgrade — or one an attacker put there) is
/// authenticated only when the operator says so, by its id.
#[derive(Debug, Clone, Default)]
pub struct Upgrade {
    /// Retiring signing keys (ids) to keep: keys this store signed with before.
    pub accept_signing_keys: Vec<String>,
    /// Retiring signing keys (ids) to drop: the tokens they signed are refused from now on.
    pub drop_signing_keys: Vec<String>,
}

/// What [`Keyhold::open_or_create`] made on a first start: the store, and its first `admin`
/// key, whose token is to be shown exactly once.
#[derive(Debug)]
pub struct FirstStart {
    /// What `init` did.
    pub report: InitReport,
    /// The first admin key (30 days).
    pub admin: MintedKey,
}

/// What `init` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InitReport {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The database file.
    pub database: PathBuf,
    /// Where the master key comes from (a path or the environment variable's name).
    pub master_key: String,
    /// Whether `init` generated a new master key file.
    pub generated_master_key: bool,
    /// The default workspace.
    pub workspace: Workspace,
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

/// Why a master key that fails the check value is refused: if the store's untouched witness
/// (or one of its KEKs) shows the key is the store's own, the identity rows were edited — an
/// integrity error; otherwise it is a wrong master key.
fn identity_or_wrong_key(store: &Store, key: &KeySource, path: PathBuf) -> Error {
    let tampered = || Error::Integrity {
        what: "meta (store identity)".into(),
        detail: "the master key is this store's own, but the rows that identify the store were \
                 altered"
            .into(),
    };
    let Ok(master) = key.load_current() else {
        return Error::WrongMasterKey(path);
    };
    let witness = store
        .read(|tx| tx.meta(integrity::META_WITNESS))
        .ok()
        .flatten()
        .unwrap_or_default();
    if witness.len() == 48
        && keyhold_crypto::master_witness_matches(&master, &witness[..16], &witness[16..])
    {
        return tampered();
    }
    // An edited check value with an intact store id: the KEKs still unwrap.
    let kek_unwraps = store
        .read(|tx| {
            let id = tx.meta(META_STORE_ID)?.unwrap_or_default();
            Ok::<_, keyhold_store::StoreError>((id, tx.keks()?))
        })
        .ok()
        .is_some_and(|(id, keks)| {
            UnlockedMaster::derive(&master, &id).is_ok_and(|m| {
                keks.iter().any(|k| {
                    KekRing::new()
                        .insert_wrapped(&m, k.id, &WrappedKek(k.wrapped.clone()))
                        .is_ok()
                })
            })
        });
    if kek_unwraps {
        tampered()
    } else {
        Error::WrongMasterKey(path)
    }
}

/// The `iss` of a store's tokens: `urn:keyhold:` and the store's random id in hex.
fn issuer_of(store_id: &[u8]) -> String {
    let hex: String = store_id.iter().map(|b| format!("{b:02x}")).collect();
    format!("urn:keyhold:{hex}")
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
    /// Creates a new store in `data_dir` (created 0700 if missing): the database (0600), the
    /// master key file if `key` names one that does not exist yet, the first KEK and the
    /// default workspace. Refuses if a store exists there already.
    pub fn init(data_dir: impl AsRef<Path>, key: KeySource) -> Result<(Self, InitReport)> {
        Self::init_by(data_dir, key, &Caller::operator())
    }

    /// [`Keyhold::init`], attributed to `caller` in the audit log.
    pub fn init_by(
        data_dir: impl AsRef<Path>,
        key: KeySource,
        caller: &Caller,
    ) -> Result<(Self, InitReport)> {
        let dir = DataDir::create(data_dir.as_ref())?;
        if dir.database().exists() {
            return Err(Error::AlreadyInitialized(dir.path().to_path_buf()));
        }
        let (master, generated) = key.load_or_create()?;
        let created = Self::create_store(&dir, &master, &key, caller);
        match created {
            Ok(kh) => {
                let workspace = kh.workspace(DEFAULT_WORKSPACE)?;
                let report = InitReport {
                    data_dir: dir.path().to_path_buf(),
                    database: dir.database(),
                    master_key: key.describe(),
                    generated_master_key: generated,
                    workspace,
                };
                Ok((kh, report))
            }
            Err(e) => {
                // Leave nothing half-made behind: a second `init` must be able to start over.
                if !matches!(e, Error::AlreadyInitialized(_)) {
                    dir.remove_database_files();
                    if generated {
                        key.remove_created_file();
                    }
                }
                Err(e)
            }
        }
    }

    fn create_store(
        dir: &DataDir,
        master_key: &MasterKey,
        key: &KeySource,
        caller: &Caller,
    ) -> Result<Self> {
        let store = Store::create(&dir.database()).map_err(|e| match e {
            keyhold_store::StoreError::AlreadyExists(_) => {
                Error::AlreadyInitialized(dir.path().to_path_buf())
            }
            other => Error::Store(other),
        })?;
        let store_id = keyhold_crypto::random::array::<16>()?.to_vec();
        let master = UnlockedMaster::derive(master_key, &store_id)?;
        let mut ring = KekRing::new();
        let wrapped = ring.generate(&master, 1)?;
        let kh = Self::assemble(dir.clone(), store, store_id, master, ring, key.clone());
        let now = now();
        // Everything a store starts with, in one transaction.
        kh.store.write(|tx| {
            tx.set_meta(META_STORE_ID, &kh.store_id)?;
            tx.set_meta(META_MASTER_CHECK, &read(&kh.master).check_value().0)?;
            tx.set_meta(META_CREATED_AT, &now.to_be_bytes())?;
            tx.insert_kek(&KekRow {
                id: 1,
                wrapped: wrapped.0,
                state: KekState::Active,
                created_at: now,
            })?;
            kh.create_row_key(tx)?;
            kh.set_mint_counter(tx, 0)?;
            let ws = kh.insert_workspace(tx, DEFAULT_WORKSPACE, now)?;
            kh.ensure_audit_keys(tx)?;
            kh.write_identity(tx, master_key)?;
            let kid = kh.ensure_signing_key(tx)?;
            // One event for `init`: the default workspace, naming the first signing key and
            // saying that this store's rows are authenticated from the start.
            kh.audit(
                tx,
                caller,
                audit::EventDraft::new(keyhold_audit::Action::WorkspaceCreated)
                    .workspace(&ws.id)
                    .target(&ws.name)
                    .signing_key_created(kid.as_deref())?
                    .detail("rows_authenticated", true),
            )
        })?;
        kh.load_signing()?;
        Ok(kh)
    }

    /// Opens the store in `data_dir`; on a data dir without one, creates it (as [`Keyhold::init_by`])
    /// and mints its first key: `admin`, 30 days, in the default workspace, for `caller`'s
    /// subject — returned once, in [`FirstStart`], and never again. What a server does on its
    /// first start, so that nobody needs the CLI on the machine before the first request.
    pub fn open_or_create(
        data_dir: impl AsRef<Path>,
        key: KeySource,
        caller: &Caller,
    ) -> Result<(Self, Option<FirstStart>)> {
        let data_dir = data_dir.as_ref();
        if data_dir.join(datadir::DATABASE_FILE).exists() {
            return Ok((Self::open(data_dir, key)?, None));
        }
        let (kh, report) = Self::init_by(data_dir, key, caller)?;
        let admin = kh.mint_key(
            caller,
            &MintRequest {
                workspace: report.workspace.id.clone(),
                name: "admin".into(),
                expires: ExpiryPreset::ThirtyDays,
                scopes: Some([Scope::Admin].into_iter().collect()),
                sub: None,
            },
        )?;
        Ok((kh, Some(FirstStart { report, admin })))
    }

    /// Opens the store in `data_dir` and unlocks it with the master key from `key`.
    ///
    /// A wrong master key is reported as [`Error::WrongMasterKey`] and nothing is written. A
    /// store written before rows were authenticated is upgraded on the way (see
    /// [`Upgrade`]); one whose upgrade needs the operator's word is refused, saying what to
    /// run.
    pub fn open(data_dir: impl AsRef<Path>, key: KeySource) -> Result<Self> {
        Self::open_upgrading(data_dir, key, &Upgrade::default())
    }

    /// [`Keyhold::open`], with the operator's answers for the upgrade to authenticated rows.
    pub fn open_upgrading(
        data_dir: impl AsRef<Path>,
        key: KeySource,
        upgrade: &Upgrade,
    ) -> Result<Self> {
        let dir = DataDir::existing(data_dir.as_ref())?;
        let store = Store::open(&dir.database()).map_err(|e| match e {
            keyhold_store::StoreError::Missing(_) => {
                Error::NotInitialized(dir.path().to_path_buf())
            }
            other => Error::Store(other),
        })?;
        let (store_id, check) = store
            .read(|tx| {
                let id = tx.meta(META_STORE_ID)?;
                let check = tx.meta(META_MASTER_CHECK)?;
                Ok::<_, Error>(id.zip(check))
            })?
            .ok_or_else(|| Error::NotInitialized(dir.path().to_path_buf()))?;
        let check = MasterCheck(check.try_into().map_err(|_| Error::Integrity {
            what: "master key check value".into(),
            detail: "wrong length".into(),
        })?);
        let master = match key.unlock(&store_id, &check, dir.path()) {
            Err(Error::WrongMasterKey(path)) => {
                return Err(identity_or_wrong_key(&store, &key, path));
            }
            other => other?,
        };
        let kh = Self::assemble(dir, store, store_id, master, KekRing::new(), key);
        kh.store.read(|tx| kh.load_keks(tx))?;
        match kh.store.pending_upgrade()? {
            Some(from) => {
                let master_key = kh.key_source.load_current()?;
                let upgraded = kh.store.upgrade(from, |tx| {
                    kh.authenticate_existing_rows(tx, &master_key, upgrade)
                })?;
                if !upgraded {
                    // Another process upgraded the store meanwhile.
                    kh.store.read(|tx| kh.load_row_key(tx))?;
                }
            }
            None => kh.store.read(|tx| kh.load_row_key(tx))?,
        }
        kh.store.read(|tx| kh.check_identity(tx))?;
        kh.load_signing()?;
        Ok(kh)
    }

    /// A handle over an open store and an unlocked master key; caches start empty.
    fn assemble(
        dir: DataDir,
        store: Store,
        store_id: Vec<u8>,
        master: UnlockedMaster,
        ring: KekRing,
        key_source: KeySource,
    ) -> Self {
        Self {
            dir,
            store,
            issuer: issuer_of(&store_id),
            store_id,
            master: RwLock::new(master),
            ring: RwLock::new(ring),
            rows: RwLock::new(None),
            signing: RwLock::default(),
            verify_cache: RwLock::default(),
            revocation_epoch: std::sync::atomic::AtomicU64::new(0),
            validated: std::sync::Mutex::new(apikeys::Validated::default()),
            audit: RwLock::default(),
            uses: keyhold_audit::GroupCommit::default(),
            record_uses: std::sync::atomic::AtomicBool::new(true),
            rejections: rejections::Limiter::new(std::time::Instant::now()),
            key_source,
        }
    }

    /// (Re)loads into the ring every stored KEK it does not hold yet, and drops retired ones.
    fn load_keks(&self, tx: &Tx<'_>) -> Result<()> {
        let rows = tx.keks()?;
        let master = read(&self.master);
        let mut ring = write(&self.ring);
        for row in &rows {
            if !ring.contains(row.id) {
                ring.insert_wrapped(&master, row.id, &WrappedKek(row.wrapped.clone()))?;
            }
        }
        let stored: Vec<u32> = rows.iter().map(|r| r.id).collect();
        let stale: Vec<u32> = ring.ids().filter(|id| !stored.contains(id)).collect();
        for id in stale {
            ring.remove(id);
        }
        Ok(())
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
        self.dir.path()
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
                data_dir: self.dir.path().to_path_buf(),
                database: self.dir.database(),
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
