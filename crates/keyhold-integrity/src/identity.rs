//! The rows in `meta` that identify the store (MAC'd together, with a salted witness of the
//! master key among them) and the MAC'd mint counter.

use keyhold_crypto::{MasterKey, ROW_MAC_LEN, RowMac};
use keyhold_store::{StoreError, Tx};

use crate::{IntegrityError, RowAuth, fields, meta};

/// Salt length of the master-key witness; the witness itself is an HMAC-SHA256.
const WITNESS_SALT_LEN: usize = 16;

/// Whether the store's witness says `master` is its own master key. A missing or malformed
/// witness says no.
pub fn is_witnessed(tx: &Tx<'_>, master: &MasterKey) -> Result<bool, StoreError> {
    let witness = tx.meta(meta::WITNESS)?.unwrap_or_default();
    Ok(witness.len() == WITNESS_SALT_LEN + 32
        && keyhold_crypto::master_witness_matches(
            master,
            &witness[..WITNESS_SALT_LEN],
            &witness[WITNESS_SALT_LEN..],
        ))
}

/// Whether `master` is this store's own master key, by evidence the identity rows cannot
/// fake: the witness, or a key-encryption key that unwraps under it (with the stored id).
/// Tells a wrong master key from edited identity rows when the check value refuses a key.
pub fn is_stores_key(tx: &Tx<'_>, master: &MasterKey) -> Result<bool, StoreError> {
    if is_witnessed(tx, master)? {
        return Ok(true);
    }
    let id = tx.meta(meta::STORE_ID)?.unwrap_or_default();
    let Ok(unlocked) = keyhold_crypto::UnlockedMaster::derive(master, &id) else {
        return Ok(false);
    };
    Ok(tx.keks()?.iter().any(|k| {
        keyhold_crypto::KekRing::new()
            .insert_wrapped(
                &unlocked,
                k.id,
                &keyhold_crypto::WrappedKek(k.wrapped.clone()),
            )
            .is_ok()
    }))
}

fn identity_fields(tx: &Tx<'_>) -> Result<RowMac, IntegrityError> {
    let mut m = RowMac::new("identity");
    for name in meta::IDENTITY {
        let v = tx
            .meta(name)?
            .ok_or_else(|| IntegrityError::row(format!("meta {name}"), "missing"))?;
        m = m.text(name).bytes(&v);
    }
    Ok(m)
}

impl RowAuth {
    /// The highest mint sequence number ever handed out (authenticated). A revoke-all's mark
    /// is this, never the highest number among the rows an attacker left visible.
    pub fn mint_counter(&self, tx: &Tx<'_>) -> Result<i64, IntegrityError> {
        let stored = tx.meta(meta::MINT_COUNTER)?.unwrap_or_default();
        let what = || format!("meta {}", meta::MINT_COUNTER);
        let (Some(n), Some(mac)) = (stored.get(..8), stored.get(8..)) else {
            return Err(IntegrityError::tampered(what()));
        };
        let n = i64::from_be_bytes(n.try_into().map_err(|_| IntegrityError::tampered(what()))?);
        self.verify(&fields::counter(n), mac, what)?;
        Ok(n)
    }

    /// Writes the mint counter `n`, with its MAC.
    pub fn set_mint_counter(&self, tx: &Tx<'_>, n: i64) -> Result<(), IntegrityError> {
        let mut value = n.to_be_bytes().to_vec();
        value.extend_from_slice(&self.with_key(|k| k.mac(&fields::counter(n)))?);
        tx.set_meta(meta::MINT_COUNTER, &value)?;
        Ok(())
    }

    /// Writes a fresh master-key witness for `master` and the MAC over the identity rows.
    pub fn write_identity(&self, tx: &Tx<'_>, master: &MasterKey) -> Result<(), IntegrityError> {
        let salt = keyhold_crypto::random::array::<WITNESS_SALT_LEN>()?;
        let witness = keyhold_crypto::master_witness(master, &salt)?;
        let mut value = salt.to_vec();
        value.extend_from_slice(&witness);
        tx.set_meta(meta::WITNESS, &value)?;
        let fields = identity_fields(tx)?;
        let mac = self.with_key(|k| k.mac(&fields))?;
        tx.set_meta(meta::IDENTITY_MAC, &mac)?;
        Ok(())
    }

    /// Checks the MAC over the identity rows.
    pub fn check_identity(&self, tx: &Tx<'_>) -> Result<(), IntegrityError> {
        let fields = identity_fields(tx)?;
        let mac = tx.meta(meta::IDENTITY_MAC)?.unwrap_or_default();
        if mac.len() == ROW_MAC_LEN && self.with_key(|k| k.verify(&fields, &mac))? {
            Ok(())
        } else {
            Err(IntegrityError::tampered("meta (store identity)".into()))
        }
    }
}
