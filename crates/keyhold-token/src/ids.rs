//! Token ids, fingerprints and a store's issuer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::TokenError;

/// A fresh random token id: `key_` followed by 32 lowercase hex digits (128 random bits from
/// the OS CSPRNG).
pub fn new_jti() -> Result<String, TokenError> {
    keyhold_crypto::random::identifier("key_", 16).map_err(|_| TokenError::Rng)
}

/// The `iss` of a store's tokens: `urn:keyhold:` and the store's random id in lowercase hex, so
/// that a token names the one store whose keys may accept it.
pub fn issuer_of_store(store_id: &[u8]) -> String {
    keyhold_crypto::random::prefixed_hex("urn:keyhold:", store_id)
}

/// A short, stable identifier of a token for storage, logs and audit: the first 16 base64url
/// characters (96 bits) of SHA-256 over the token string.
///
/// It **identifies**, it does not **authenticate**: anyone holding the token can compute it,
/// and it must never be accepted in place of the token. Store it instead of the token, which
/// keyhold never stores.
pub fn fingerprint(token: &str) -> String {
    let digest = keyhold_crypto::sha256(token.as_bytes());
    let mut s = URL_SAFE_NO_PAD.encode(&digest[..12]);
    s.truncate(16);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_names_the_store_in_hex() {
        assert_eq!(
            issuer_of_store(&[0x00, 0xab, 0x10, 0xff]),
            "urn:keyhold:00ab10ff"
        );
    }

    #[test]
    fn jti_shape_and_uniqueness() {
        let a = new_jti().unwrap();
        let b = new_jti().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert!(a.starts_with("key_"));
        assert!(
            a[4..]
                .bytes()
                .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        );
    }

    #[test]
    fn fingerprint_is_stable_short_and_distinct() {
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223...
        assert_eq!(fingerprint("abc"), "ungWv48Bz-pBQUDe");
        assert_eq!(fingerprint("abc").len(), 16);
        assert_ne!(fingerprint("abc"), fingerprint("abd"));
    }
}
