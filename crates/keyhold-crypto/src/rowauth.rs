//! Authentication of the database rows that decide who gets in (signing keys, API-key
//! standing, workspace revoke-all marks, the store's identity): HMAC-SHA256 under a random
//! 256-bit row key that is itself stored sealed (an envelope record), so it rotates with the
//! key hierarchy and is never in the database in clear.
//!
//! A row's MAC covers a domain label (which table) and every access-deciding column, each
//! length-prefixed, so a row cannot be moved to another id, another table, or have bytes
//! shifted between columns. What a MAC cannot tell is an older authentic copy of the same row
//! from the current one (a replay): the facade reconciles that against the audit chain.

use std::fmt;

use ring::hmac;

use crate::secret::Key32;
use crate::{CryptoError, MasterKey, SecretBytes};

/// The key that authenticates rows. No `Clone`, `Debug` prints nothing, zeroized on drop.
pub struct RowKey {
    key: hmac::Key,
    // Kept to hand the key to its sealed record; `hmac::Key` cannot give it back.
    raw: Key32,
}

impl fmt::Debug for RowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RowKey(..)")
    }
}

/// A row's canonical encoding under construction: a domain label, then length-prefixed fields.
#[derive(Debug, Clone)]
pub struct RowMac {
    buf: Vec<u8>,
}

impl RowMac {
    /// Starts the encoding of a row of `domain` (e.g. `"api_key"`).
    pub fn new(domain: &str) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(b"keyhold v1 row\0");
        let mut m = Self { buf };
        m = m.bytes(domain.as_bytes());
        m
    }

    /// A byte string field.
    pub fn bytes(mut self, v: &[u8]) -> Self {
        let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
        self.buf.push(b'b');
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(v);
        self
    }

    /// A text field.
    pub fn text(self, v: &str) -> Self {
        self.bytes(v.as_bytes())
    }

    /// An integer field.
    pub fn int(mut self, v: i64) -> Self {
        self.buf.push(b'i');
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// An optional integer field (absent and present values never encode alike).
    pub fn opt_int(mut self, v: Option<i64>) -> Self {
        match v {
            Some(v) => self.int(v),
            None => {
                self.buf.push(b'n');
                self
            }
        }
    }

    /// An optional text field.
    pub fn opt_text(mut self, v: Option<&str>) -> Self {
        match v {
            Some(v) => self.text(v),
            None => {
                self.buf.push(b'n');
                self
            }
        }
    }
}

/// MAC length in bytes.
pub const ROW_MAC_LEN: usize = 32;

impl RowKey {
    /// A fresh random row key.
    pub fn generate() -> Result<Self, CryptoError> {
        Key32::random().map(Self::from_key)
    }

    fn from_key(raw: Key32) -> Self {
        // EXPOSE: the HMAC key schedule needs the bytes; `ring` keeps only its own state.
        let key = hmac::Key::new(hmac::HMAC_SHA256, raw.expose());
        Self { key, raw }
    }

    /// Rebuilds the key from its sealed record's plaintext (must be 32 bytes).
    pub fn from_secret(secret: &SecretBytes) -> Option<Self> {
        Key32::from_slice(secret.expose()).map(Self::from_key)
    }

    /// The key as a secret, to seal it as a record.
    pub fn to_secret_bytes(&self) -> SecretBytes {
        // EXPOSE: copied into a zeroizing secret to be sealed under the active KEK.
        SecretBytes::copy_from(self.raw.expose())
    }

    /// The MAC of an encoded row.
    pub fn mac(&self, row: &RowMac) -> [u8; ROW_MAC_LEN] {
        let tag = hmac::sign(&self.key, &row.buf);
        let mut out = [0u8; ROW_MAC_LEN];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Whether `mac` authenticates `row` (constant time).
    pub fn verify(&self, row: &RowMac, mac: &[u8]) -> bool {
        hmac::verify(&self.key, &row.buf, mac).is_ok()
    }
}

const WITNESS_INFO: &[u8] = b"keyhold v1 master-witness";
const WITNESS_MSG: &[u8] = b"keyhold master key witness";

/// A value that shows a master key is the store's own without depending on any other stored
/// row: `HMAC(HKDF(master, salt, "keyhold v1 master-witness"), ...)` with a random per-store
/// `salt` kept beside it. It tells a right master key whose identity rows were edited
/// (an integrity error) from a wrong master key.
pub fn master_witness(master: &MasterKey, salt: &[u8]) -> Result<[u8; 32], CryptoError> {
    let mut k = zeroize::Zeroizing::new([0u8; 32]);
    // EXPOSE: HKDF input.
    crate::keyring::hkdf_expand32(master.0.expose(), salt, WITNESS_INFO, &mut k)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &k[..]);
    let mut out = [0u8; 32];
    out.copy_from_slice(hmac::sign(&key, WITNESS_MSG).as_ref());
    Ok(out)
}

/// Constant-time check of a stored witness.
pub fn master_witness_matches(master: &MasterKey, salt: &[u8], stored: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    master_witness(master, salt).is_ok_and(|w| stored.len() == 32 && bool::from(w.ct_eq(stored)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(domain: &str) -> RowMac {
        RowMac::new(domain).text("key_1").int(5).opt_int(None)
    }

    #[test]
    fn a_mac_binds_domain_fields_and_their_boundaries() {
        let k = RowKey::generate().expect("rng");
        let mac = k.mac(&row("api_key"));
        assert!(k.verify(&row("api_key"), &mac));
        assert!(!k.verify(&row("signing_key"), &mac), "another table");
        assert!(!k.verify(
            &RowMac::new("api_key").text("key_1").int(5).opt_int(Some(0)),
            &mac
        ));
        // Moving bytes between adjacent fields changes the encoding.
        let a = RowMac::new("d").text("ab").text("c");
        let b = RowMac::new("d").text("a").text("bc");
        assert!(!k.verify(&b, &k.mac(&a)));
        let other = RowKey::generate().expect("rng");
        assert!(!other.verify(&row("api_key"), &mac), "another store's key");
        assert!(!k.verify(&row("api_key"), &mac[..31]), "truncated");
    }

    #[test]
    fn the_key_survives_its_sealed_form() {
        let k = RowKey::generate().expect("rng");
        let back = RowKey::from_secret(&k.to_secret_bytes()).expect("32 bytes");
        assert_eq!(k.mac(&row("x")), back.mac(&row("x")));
        assert!(RowKey::from_secret(&SecretBytes::copy_from(&[0; 31])).is_none());
        assert_eq!(format!("{k:?}"), "RowKey(..)");
    }

    #[test]
    fn the_witness_tells_the_right_master_key() {
        let m = MasterKey::generate().expect("rng");
        let other = MasterKey::generate().expect("rng");
        let w = master_witness(&m, b"salt").expect("hkdf");
        assert!(master_witness_matches(&m, b"salt", &w));
        assert!(!master_witness_matches(&other, b"salt", &w));
        assert!(!master_witness_matches(&m, b"pepper", &w));
    }
}
