//! The audit key: the HMAC-SHA256 key of the hash chain.

use std::fmt;

use keyhold_crypto::secrecy::{ExposeSecret, SecretBox};
use keyhold_crypto::{HmacSha256, SecretBytes};

use crate::AuditError;

/// The domain tag that starts every link's MAC input.
pub const CHAIN_TAG: &[u8] = b"keyhold/audit/v1";

/// The 256-bit key that MACs every link of the audit chain.
///
/// A secret type: no `Clone`, `Display` or `Serialize`; `Debug` prints no bytes; the raw key
/// is zeroized on drop. Persist it only through [`to_secret_bytes`](Self::to_secret_bytes)
/// and encryption (keyhold stores it as an envelope under a KEK).
///
/// Limitation: the precomputed HMAC state (kept so that verifying a million rows does not
/// re-derive it a million times) is not zeroized when dropped (see keyhold-crypto's
/// `HmacSha256`).
pub struct AuditKey {
    raw: SecretBox<[u8; 32]>,
    mac: HmacSha256,
}

impl AuditKey {
    /// Key length in bytes.
    pub const LEN: usize = 32;

    /// A new key from the OS CSPRNG.
    pub fn generate() -> Result<Self, AuditError> {
        let mut failed = false;
        let raw = SecretBox::init_with_mut(|k: &mut [u8; 32]| {
            failed = keyhold_crypto::random::fill(k).is_err();
        });
        if failed {
            return Err(AuditError::Rng);
        }
        Ok(Self::from_box(raw))
    }

    /// A key from 32 bytes (the caller remains responsible for zeroizing its copy).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AuditError> {
        if bytes.len() != Self::LEN {
            return Err(AuditError::InvalidKey { what: "audit key" });
        }
        Ok(Self::from_box(SecretBox::init_with_mut(
            |k: &mut [u8; 32]| k.copy_from_slice(bytes),
        )))
    }

    /// A key from a secret of 32 bytes (e.g. the opened envelope it is stored in).
    pub fn from_secret(secret: &SecretBytes) -> Result<Self, AuditError> {
        // EXPOSE: copied straight into another zeroizing container.
        Self::from_bytes(secret.expose())
    }

    /// The key bytes, for encrypted storage only.
    pub fn to_secret_bytes(&self) -> SecretBytes {
        // EXPOSE: the caller asked for the storage form; it stays in a zeroizing buffer.
        SecretBytes::copy_from(self.raw.expose_secret())
    }

    fn from_box(raw: SecretBox<[u8; 32]>) -> Self {
        let mac = HmacSha256::new(raw.expose_secret());
        Self { raw, mac }
    }

    /// The link hash `HMAC-SHA256(key, len(tag) ‖ tag ‖ seq ‖ prev ‖ len(canonical) ‖
    /// canonical)` (lengths u32 big-endian, `seq` u64 big-endian; see the crate docs).
    ///
    /// [`AuditChain`](crate::AuditChain) calls this for each appended event; it is public so a
    /// writer or a test can link bytes it already holds.
    pub fn link_hash(&self, seq: u64, prev: &[u8; 32], canonical: &[u8]) -> [u8; 32] {
        // CHAIN_TAG and canonical encodings are far below 4 GiB; a longer input is not an
        // encoding this crate produced and still gets a well-defined (saturated) prefix.
        let tag_len = u32::try_from(CHAIN_TAG.len()).unwrap_or(u32::MAX);
        let body_len = u32::try_from(canonical.len()).unwrap_or(u32::MAX);
        let mut head = [0u8; 4 + CHAIN_TAG.len() + 8 + 32 + 4];
        head[..4].copy_from_slice(&tag_len.to_be_bytes());
        head[4..4 + CHAIN_TAG.len()].copy_from_slice(CHAIN_TAG);
        let mut at = 4 + CHAIN_TAG.len();
        head[at..at + 8].copy_from_slice(&seq.to_be_bytes());
        at += 8;
        head[at..at + 32].copy_from_slice(prev);
        at += 32;
        head[at..at + 4].copy_from_slice(&body_len.to_be_bytes());
        self.mac.mac(&[&head, canonical])
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditKey").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let k = AuditKey::from_bytes(&[0x41; 32]).unwrap();
        let d = format!("{k:?} {k:#?}");
        assert_eq!(format!("{k:?}"), "AuditKey { .. }");
        let rest = d.replace("AuditKey", "");
        assert!(
            !rest.contains("65") && !rest.contains("41") && !rest.contains('A'),
            "{d}"
        );
    }

    #[test]
    fn construction_and_export() {
        assert!(AuditKey::from_bytes(&[1; 31]).is_err());
        assert!(AuditKey::from_bytes(&[1; 33]).is_err());
        let a = AuditKey::generate().unwrap();
        let b = AuditKey::generate().unwrap();
        assert_ne!(
            a.to_secret_bytes().expose(),
            b.to_secret_bytes().expose(),
            "two generated keys are equal"
        );
        let a2 = AuditKey::from_secret(&a.to_secret_bytes()).unwrap();
        assert_eq!(
            a.link_hash(1, &[0; 32], b"x"),
            a2.link_hash(1, &[0; 32], b"x")
        );
        assert_ne!(
            a.link_hash(1, &[0; 32], b"x"),
            b.link_hash(1, &[0; 32], b"x")
        );
    }

    #[test]
    fn link_hash_matches_a_plain_hmac_of_the_documented_input() {
        let k = AuditKey::from_bytes(&[7; 32]).unwrap();
        let prev = [9u8; 32];
        let mut msg = Vec::new();
        msg.extend_from_slice(&16u32.to_be_bytes());
        msg.extend_from_slice(b"keyhold/audit/v1");
        msg.extend_from_slice(&5u64.to_be_bytes());
        msg.extend_from_slice(&prev);
        msg.extend_from_slice(&3u32.to_be_bytes());
        msg.extend_from_slice(b"abc");
        let expect = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[7; 32]),
            &msg,
        );
        assert_eq!(&k.link_hash(5, &prev, b"abc")[..], expect.as_ref());
    }
}
