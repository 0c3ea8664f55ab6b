//! Opening a store: creating one (`init`), opening one (unlocking the key hierarchy with the
//! master key, telling a wrong key from edited identity rows), the first start of a server,
//! and the upgrade of a store written by an earlier release.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use keyhold_crypto::{KekRing, MasterCheck, UnlockedMaster};
use keyhold_store::Store;

use keyhold_api::StoreAt;
use keyhold_crypto::MasterKey;
use keyhold_store::{DataDir, KekRow, KekState, StoreError};
use keyhold_token::{ExpiryPreset, Scope};

use crate::{
    Caller, DEFAULT_WORKSPACE, Error, KeySource, Keyhold, META_CREATED_AT, META_MASTER_CHECK,
    META_STORE_ID, MintRequest, MintedKey, Result, Workspace, apikeys, now, read,
};

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

/// Why a master key that fails the check value is refused: if the store's untouched witness
/// (or one of its KEKs) shows the key is the store's own, the identity rows were edited — an
/// integrity error; otherwise it is a wrong master key.
fn identity_or_wrong_key(store: &Store, key: &KeySource, path: PathBuf) -> Error {
    let Ok(master) = key.load_current() else {
        return Error::WrongMasterKey(path);
    };
    match store.read(|tx| keyhold_integrity::is_stores_key(tx, &master)) {
        Ok(true) => Error::Integrity {
            what: "meta (store identity)".into(),
            detail: "the master key is this store's own, but the rows that identify the store \
                     were altered"
                .into(),
        },
        _ => Error::WrongMasterKey(path),
    }
}

/// The data directory a new store is to be made in (created if missing), if `at` is one:
/// refused if it holds a store already.
pub(crate) fn fresh_dir(at: &StoreAt) -> Result<Option<DataDir>> {
    match at {
        StoreAt::Sqlite(path) => {
            let dir = DataDir::create(path)?;
            if dir.database().exists() {
                return Err(Error::AlreadyInitialized(dir.path().to_path_buf()));
            }
            Ok(Some(dir))
        }
        StoreAt::Postgres(_) => Ok(None),
    }
}

/// A new, empty store at `at` (the data directory's checked already) and its home.
pub(crate) fn new_store(at: &StoreAt, dir: Option<&DataDir>) -> Result<(PathBuf, Store)> {
    match (at, dir) {
        (StoreAt::Sqlite(_), Some(dir)) => {
            let store = Store::create(&dir.database()).map_err(|e| match e {
                StoreError::AlreadyExists(_) => Error::AlreadyInitialized(dir.path().to_path_buf()),
                other => Error::Store(other),
            })?;
            Ok((dir.path().to_path_buf(), store))
        }
        (StoreAt::Postgres(url), _) => {
            let store = Store::connect_url(url)?;
            Ok((store.path().to_path_buf(), store))
        }
        (StoreAt::Sqlite(path), None) => Err(Error::NotInitialized(path.clone())),
    }
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
        Self::init_at(
            &StoreAt::Sqlite(data_dir.as_ref().to_path_buf()),
            key,
            caller,
        )
    }

    /// Creates a new store at `at`: in a data directory as [`Keyhold::init`] does, or in an
    /// existing PostgreSQL database (its schema, the first KEK and the default workspace, in
    /// one transaction). Refuses if a store exists there already.
    pub fn init_at(at: &StoreAt, key: KeySource, caller: &Caller) -> Result<(Self, InitReport)> {
        let dir = fresh_dir(at)?;
        let (master, generated) = key.load_or_create()?;
        let created = new_store(at, dir.as_ref())
            .and_then(|(home, store)| Self::create_store(home, store, &master, &key, caller));
        match created {
            Ok(kh) => {
                let workspace = kh.workspace(DEFAULT_WORKSPACE)?;
                let report = InitReport {
                    data_dir: kh.home.clone(),
                    database: kh.store.path().to_path_buf(),
                    master_key: key.describe(),
                    generated_master_key: generated,
                    workspace,
                };
                Ok((kh, report))
            }
            Err(e) => {
                // Leave nothing half-made behind: a second `init` must be able to start over.
                // (On PostgreSQL the transaction left nothing.)
                if !matches!(e, Error::AlreadyInitialized(_))
                    && let Some(dir) = dir
                {
                    dir.remove_database_files();
                }
                if generated {
                    key.remove_created_file();
                }
                Err(e)
            }
        }
    }

    fn create_store(
        home: PathBuf,
        store: Store,
        master_key: &MasterKey,
        key: &KeySource,
        caller: &Caller,
    ) -> Result<Self> {
        let store_id = keyhold_crypto::random::array::<16>()?.to_vec();
        let master = UnlockedMaster::derive(master_key, &store_id)?;
        let mut ring = KekRing::new();
        let wrapped = ring.generate(&master, 1)?;
        let kh = Self::assemble(home, store, store_id, master, ring, key.clone());
        let now = now();
        // Everything a store starts with, in one transaction.
        kh.store.write(|tx| {
            // Under the write lock: of two processes creating a shared store at once, the
            // second finds the first's.
            if tx.meta(META_STORE_ID)?.is_some() {
                return Err(Error::AlreadyInitialized(kh.home.clone()));
            }
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
            kh.rows.set_mint_counter(tx, 0)?;
            let ws = kh.insert_workspace(tx, DEFAULT_WORKSPACE, now)?;
            kh.ensure_audit_keys(tx)?;
            kh.rows.write_identity(tx, master_key)?;
            let kid = kh.ensure_signing_key(tx)?;
            // One event for `init`: the default workspace, naming the first signing key and
            // saying that this store's rows are authenticated from the start.
            kh.audit(
                tx,
                caller,
                keyhold_audit::events::workspace_created(&ws.id, &ws.name)
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
        Self::open_or_create_at(
            &StoreAt::Sqlite(data_dir.as_ref().to_path_buf()),
            key,
            caller,
        )
    }

    /// [`Keyhold::open_or_create`] for a store at `at`. A shared (PostgreSQL) store is created
    /// only with a master key that exists already — every node must hold the same one, so none
    /// is generated — and of several nodes starting together on an empty database, one
    /// creates the store and mints the first key; the others open it.
    pub fn open_or_create_at(
        at: &StoreAt,
        key: KeySource,
        caller: &Caller,
    ) -> Result<(Self, Option<FirstStart>)> {
        let created = match at {
            StoreAt::Sqlite(dir) if dir.join(keyhold_store::DATABASE_FILE).exists() => {
                return Ok((Self::open_at(at, key, &Upgrade::default())?, None));
            }
            StoreAt::Sqlite(_) => Self::init_at(at, key, caller),
            StoreAt::Postgres(_) => {
                key.load_current()?;
                match Self::init_at(at, key.clone(), caller) {
                    Err(Error::AlreadyInitialized(_)) => {
                        return Ok((Self::open_at(at, key, &Upgrade::default())?, None));
                    }
                    other => other,
                }
            }
        };
        let (kh, report) = created?;
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
        Self::open_at(
            &StoreAt::Sqlite(data_dir.as_ref().to_path_buf()),
            key,
            upgrade,
        )
    }

    /// Opens the store at `at` ([`Keyhold::open_upgrading`] for a data directory).
    pub fn open_at(at: &StoreAt, key: KeySource, upgrade: &Upgrade) -> Result<Self> {
        let (home, store) = match at {
            StoreAt::Sqlite(path) => {
                let dir = DataDir::existing(path)?;
                let store = Store::open(&dir.database()).map_err(|e| match e {
                    StoreError::Missing(_) => Error::NotInitialized(dir.path().to_path_buf()),
                    other => Error::Store(other),
                })?;
                (dir.path().to_path_buf(), store)
            }
            // Only `init` and a first start create a store: a mistyped URL naming some other
            // application's database is told so, and nothing is created there.
            StoreAt::Postgres(url) => {
                let store = Store::open_url(url).map_err(|e| match e {
                    StoreError::Missing(at) => Error::NotInitialized(at),
                    other => Error::Store(other),
                })?;
                (store.path().to_path_buf(), store)
            }
        };
        let (store_id, check) = store
            .read(|tx| {
                let id = tx.meta(META_STORE_ID)?;
                let check = tx.meta(META_MASTER_CHECK)?;
                Ok::<_, Error>(id.zip(check))
            })?
            .ok_or_else(|| Error::NotInitialized(home.clone()))?;
        let check = MasterCheck(check.try_into().map_err(|_| Error::Integrity {
            what: "master key check value".into(),
            detail: "wrong length".into(),
        })?);
        let Some(master) = key.unlock(&store_id, &check)? else {
            return Err(identity_or_wrong_key(&store, &key, home));
        };
        let kh = Self::assemble(home, store, store_id, master, KekRing::new(), key);
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
        kh.store.read(|tx| kh.rows.check_identity(tx))?;
        kh.load_signing()?;
        Ok(kh)
    }

    /// A handle over an open store and an unlocked master key; caches start empty.
    fn assemble(
        home: PathBuf,
        store: Store,
        store_id: Vec<u8>,
        master: UnlockedMaster,
        ring: KekRing,
        key_source: KeySource,
    ) -> Self {
        Self {
            home,
            store,
            issuer: keyhold_token::issuer_of_store(&store_id),
            store_id,
            master: RwLock::new(master),
            ring: RwLock::new(ring),
            rows: keyhold_integrity::RowAuth::default(),
            signing: RwLock::default(),
            verify_cache: apikeys::VerifyCache::default(),
            revocation_epoch: std::sync::atomic::AtomicU64::new(0),
            audit: RwLock::default(),
            uses: keyhold_audit::GroupCommit::default(),
            record_uses: std::sync::atomic::AtomicBool::new(true),
            local_targets: std::sync::atomic::AtomicBool::new(false),
            rejections: keyhold_audit::rejections::Limiter::new(std::time::Instant::now()),
            key_source,
        }
    }
}
