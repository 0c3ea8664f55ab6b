//! Ed25519 keys and signatures, SHA-256 and HMAC-SHA256: the one place keyhold's other crates
//! take them from, so each primitive has one implementation, one set of checks and one
//! zeroizing story.

use std::fmt;

use ring::hmac;
use ring::signature::{ED25519, KeyPair as _, UnparsedPublicKey};

use crate::{CryptoError, SecretBytes};

/// Length of an Ed25519 public key.
pub const ED25519_PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const ED25519_SIGNATURE_LEN: usize = 64;

/// The fixed DER around an Ed25519 PKCS#8 v2 document (RFC 5958 `OneAsymmetricKey`, version 1
/// = v2, public key as `[1] IMPLICIT BIT STRING`):
/// `PKCS8_PREFIX || seed(32) || PKCS8_MIDDLE || public(32)`.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
const PKCS8_MIDDLE: [u8; 3] = [0x81, 0x21, 0x00];
const PKCS8_LEN: usize = PKCS8_PREFIX.len() + 32 + PKCS8_MIDDLE.len() + ED25519_PUBLIC_KEY_LEN;

/// An Ed25519 private key, held as its PKCS#8 v2 document in a zeroize-on-drop buffer.
///
/// No `Clone`, `Display` or `Serialize`; `Debug` prints only the public key's length. Store it
/// only through [`to_pkcs8`](Self::to_pkcs8) and encryption.
///
/// Limitation: the expanded key ring keeps for signing is not zeroized by ring when dropped.
pub struct Ed25519KeyPair {
    pkcs8: SecretBytes,
    pair: ring::signature::Ed25519KeyPair,
    public: [u8; ED25519_PUBLIC_KEY_LEN],
}

impl Ed25519KeyPair {
    /// A new key from a 32-byte seed drawn from the OS CSPRNG.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        crate::random::fill(seed.as_mut())?;
        Self::from_seed(&seed)
    }

    /// The key for a 32-byte RFC 8032 seed (the private key `d` of RFC 8037).
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, CryptoError> {
        let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| CryptoError::InvalidKey("Ed25519 seed"))?;
        let mut doc = zeroize::Zeroizing::new(Vec::with_capacity(PKCS8_LEN));
        doc.extend_from_slice(&PKCS8_PREFIX);
        doc.extend_from_slice(seed);
        doc.extend_from_slice(&PKCS8_MIDDLE);
        doc.extend_from_slice(pair.public_key().as_ref());
        Self::from_pkcs8(&doc)
    }

    /// Loads a key from an unencrypted PKCS#8 v2 document. The embedded public key must match
    /// the private key; PKCS#8 v1 (without public key) is refused.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, CryptoError> {
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(der)
            .map_err(|_| CryptoError::InvalidKey("PKCS#8 v2 Ed25519 private key"))?;
        let public = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| CryptoError::InvalidKey("Ed25519 public key"))?;
        Ok(Self {
            pkcs8: SecretBytes::copy_from(der),
            pair,
            public,
        })
    }

    /// The key as a PKCS#8 v2 DER document, for encrypted storage (or a signing library that
    /// takes that form) only.
    pub fn to_pkcs8(&self) -> SecretBytes {
        // EXPOSE: the caller asked for the storage form; it stays in a zeroizing buffer.
        SecretBytes::copy_from(self.pkcs8.expose())
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; ED25519_PUBLIC_KEY_LEN] {
        self.public
    }

    /// The RFC 8032 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; ED25519_SIGNATURE_LEN] {
        let mut out = [0u8; ED25519_SIGNATURE_LEN];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

impl fmt::Debug for Ed25519KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519KeyPair").finish_non_exhaustive()
    }
}

/// The one Ed25519 signature check keyhold uses (RFC 8032; non-canonical `S` refused). Every
/// Wycheproof Ed25519 vector runs through it in keyhold-token's tests, by way of the token
/// verifier's `VerifyingKey`.
pub fn ed25519_verify(
    public: &[u8; ED25519_PUBLIC_KEY_LEN],
    message: &[u8],
    signature: &[u8],
) -> bool {
    UnparsedPublicKey::new(&ED25519, public)
        .verify(message, signature)
        .is_ok()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, data).as_ref());
    out
}

/// SHA-256 of `data` in lowercase hex: how a secret shown once (a confirmation, a session or
/// enrolment token) is kept in its place.
pub fn sha256_hex(data: &[u8]) -> String {
    crate::random::prefixed_hex("", &sha256(data))
}

/// An HMAC-SHA256 key, precomputed once for many MACs.
///
/// Limitation: ring does not zeroize its precomputed state on drop; keep the raw key in a
/// zeroizing container of your own (as the audit key does).
pub struct HmacSha256(hmac::Key);

impl HmacSha256 {
    /// The key for `raw`.
    pub fn new(raw: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, raw))
    }

    /// The MAC of the concatenation of `parts`.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.0);
        for p in parts {
            ctx.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// Whether `tag` is the MAC of `data`, compared in constant time.
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.0, data, tag).is_ok()
    }
}

impl fmt::Debug for HmacSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacSha256").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_signs_verifies_and_survives_its_pkcs8_form() {
        let k = Ed25519KeyPair::generate().expect("key");
        let sig = k.sign(b"message");
        assert!(ed25519_verify(&k.public_key(), b"message", &sig));
        assert!(!ed25519_verify(&k.public_key(), b"messagf", &sig));
        let again = Ed25519KeyPair::from_pkcs8(k.to_pkcs8().expose()).expect("reload");
        assert_eq!(again.public_key(), k.public_key());
        assert_eq!(again.sign(b"m"), k.sign(b"m"), "Ed25519 is deterministic");
        assert_eq!(k.to_pkcs8().len(), PKCS8_LEN);
        // ring's own generator writes the same layout, and its documents load.
        let ring_doc =
            ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                .expect("ring key");
        assert_eq!(ring_doc.as_ref().len(), PKCS8_LEN);
        assert_eq!(&ring_doc.as_ref()[..16], &PKCS8_PREFIX);
        assert_eq!(&ring_doc.as_ref()[48..51], &PKCS8_MIDDLE);
        assert!(Ed25519KeyPair::from_pkcs8(ring_doc.as_ref()).is_ok());
    }

    #[test]
    fn a_seed_gives_the_rfc_8032_key() {
        // RFC 8032 §7.1, test 1.
        let seed: [u8; 32] =
            hex32("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let public = hex32("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        assert_eq!(
            Ed25519KeyPair::from_seed(&seed).expect("key").public_key(),
            public
        );
    }

    #[test]
    fn a_pkcs8_v2_document_with_a_foreign_public_key_is_refused() {
        let k = Ed25519KeyPair::generate().expect("key");
        let mut doc = k.to_pkcs8().expose().to_vec();
        let last = doc.len() - 1;
        doc[last] ^= 1;
        assert!(Ed25519KeyPair::from_pkcs8(&doc).is_err());
        assert!(
            Ed25519KeyPair::from_pkcs8(&doc[..48]).is_err(),
            "v1 or truncated"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_and_verifies_in_parts() {
        // RFC 4231 test case 2.
        let k = HmacSha256::new(b"Jefe");
        let tag = k.mac(&[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            tag,
            hex32("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        assert!(k.verify(b"what do ya want for nothing?", &tag));
        assert!(!k.verify(b"what do ya want for nothing!", &tag));
        assert_eq!(
            sha256(b"abc"),
            hex32("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
    }

    #[test]
    fn debug_prints_no_key_material() {
        let k = Ed25519KeyPair::from_seed(&[0x41; 32]).expect("key");
        assert_eq!(format!("{k:?}"), "Ed25519KeyPair { .. }");
        assert_eq!(
            format!("{:?}", HmacSha256::new(&[0x41; 32])),
            "HmacSha256 { .. }"
        );
    }

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex");
        }
        out
    }
}
