//! Moving a store to another database: every row copied as stored (ciphertext, wrapped keys,
//! MACs — nothing is decrypted), into an empty store, in one transaction there; then the move
//! is recorded in the copy's own chain and the chain verified end to end.

use keyhold_api::{AuditVerification, StoreAt};
use keyhold_store::StoreError;

use crate::open::{fresh_dir, new_store};
use crate::{Caller, Error, KeySource, Keyhold, Result, Upgrade};

/// What a move did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Migrated {
    /// Where the store was (left as it was).
    pub from: String,
    /// Where it is now.
    pub to: String,
    /// Rows copied, per table.
    pub tables: Vec<(String, u64)>,
    /// The moved store's audit chain, verified after the move was recorded in it.
    pub audit: AuditVerification,
}

impl Keyhold {
    /// Copies the store at `from` into the empty database or data directory `to`, unlocked by
    /// `key` (the same master key opens both: the store's identity moves with it). Refuses a
    /// target that holds a store, or a source whose audit chain does not verify. The copy is
    /// one transaction in the target: if it fails, nothing is left there. Once it committed,
    /// the target holds a whole store, and a failure after that (recording the move in its
    /// chain, verifying the chain) is reported with the copy left in place to inspect.
    pub fn migrate(
        from: &StoreAt,
        to: &StoreAt,
        key: KeySource,
        caller: &Caller,
    ) -> Result<Migrated> {
        let source = Self::open_at(from, key.clone(), &Upgrade::default())?;
        // A store whose chain or rows do not verify is not moved: the copy would carry it.
        source.verify_audit(None)?;
        let dir = fresh_dir(to)?;
        let (_, target) = new_store(to, dir.as_ref())?;
        let copied = source.store.copy_into(&target).map_err(|e| match e {
            StoreError::AlreadyExists(p) => Error::AlreadyInitialized(p),
            other => Error::Store(other),
        });
        let copied = match copied {
            Ok(c) => c,
            Err(e) => {
                drop(target);
                if let Some(dir) = dir {
                    dir.remove_database_files();
                }
                return Err(e);
            }
        };
        drop(target);
        let moved = Self::open_at(to, key, &Upgrade::default())?;
        let (from, to) = (
            source.store.path().display().to_string(),
            moved.store.path().display().to_string(),
        );
        let rows = copied.0.iter().map(|(_, n)| n).sum();
        let event = keyhold_audit::events::store_migrated(&from, &to, rows)?;
        moved.store.write(|tx| moved.audit(tx, caller, event))?;
        Ok(Migrated {
            from,
            to,
            tables: copied
                .0
                .into_iter()
                .map(|(t, n)| (t.to_owned(), n))
                .collect(),
            audit: moved.verify_audit(None)?,
        })
    }
}
