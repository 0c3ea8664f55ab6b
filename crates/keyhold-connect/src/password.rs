//! Strong random passwords for a regenerating rotation.

use keyhold_crypto::{CryptoError, SecretBytes, random};
use zeroize::Zeroize;

/// The characters of a [`new_password`]: ASCII letters and digits, safe in any connection
/// string, shell, config file or URL without quoting.
pub const PASSWORD_ALPHABET: &[u8; 62] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Length of a [`new_password`] in characters (about 190 bits of entropy).
pub const PASSWORD_LEN: usize = 32;

/// The largest multiple of 62 that fits in a byte: random bytes at or above it are dropped so
/// that every character is equally likely (rejection sampling; `b % 62` alone would favour the
/// first 8 characters).
const ACCEPT_BELOW: u8 = 248;

/// A new random password: [`PASSWORD_LEN`] characters drawn uniformly from
/// [`PASSWORD_ALPHABET`] with the operating system's CSPRNG (through keyhold-crypto).
///
/// Fails only if the OS random source fails.
pub fn new_password() -> Result<SecretBytes, CryptoError> {
    let mut out = Vec::with_capacity(PASSWORD_LEN);
    let mut buf = [0u8; 64];
    while out.len() < PASSWORD_LEN {
        if let Err(e) = random::fill(&mut buf) {
            out.zeroize();
            buf.zeroize();
            return Err(e);
        }
        for &b in buf.iter().filter(|&&b| b < ACCEPT_BELOW) {
            if out.len() == PASSWORD_LEN {
                break;
            }
            out.push(PASSWORD_ALPHABET[usize::from(b % 62)]);
        }
    }
    buf.zeroize();
    Ok(SecretBytes::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alphabet_is_62_distinct_alphanumerics() {
        let mut seen = std::collections::BTreeSet::new();
        for &c in PASSWORD_ALPHABET {
            assert!(c.is_ascii_alphanumeric());
            assert!(seen.insert(c));
        }
        assert_eq!(usize::from(ACCEPT_BELOW), 62 * 4);
    }
}
