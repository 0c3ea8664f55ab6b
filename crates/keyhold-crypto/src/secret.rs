use std::fmt;

use secrecy::{ExposeSecret, SecretBox};
use zeroize::Zeroize;

/// A secret byte string (a credential, a private key, a record's plaintext).
///
/// No `Clone`, `Display` or `Serialize`; `Debug` prints only the length class; the bytes are
/// zeroized when it is dropped. Reading the bytes is an explicit [`SecretBytes::expose`] call.
pub struct SecretBytes(SecretBox<[u8]>);

impl SecretBytes {
    /// Takes ownership of `bytes` without leaving an unzeroized copy behind: if the vector has
    /// spare capacity its contents are copied into an exact allocation and the original is
    /// wiped.
    pub fn from_vec(mut bytes: Vec<u8>) -> Self {
        let boxed: Box<[u8]> = if bytes.capacity() == bytes.len() {
            bytes.into_boxed_slice()
        } else {
            let exact: Box<[u8]> = bytes.as_slice().into();
            bytes.zeroize();
            exact
        };
        Self(SecretBox::new(boxed))
    }

    /// Copies `bytes` into a new secret (the caller remains responsible for its own copy).
    pub fn copy_from(bytes: &[u8]) -> Self {
        Self(SecretBox::new(bytes.into()))
    }

    /// The secret bytes. Every caller must justify why it needs them (`// EXPOSE:` comment).
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// Length in bytes (not secret: stored lengths are visible in the envelope anyway).
    pub fn len(&self) -> usize {
        self.expose().len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretBytes").finish_non_exhaustive()
    }
}

/// A 256-bit symmetric key, heap-allocated, zeroized on drop, never copied.
pub(crate) struct Key32(SecretBox<[u8; 32]>);

impl Key32 {
    pub(crate) fn random() -> Result<Self, crate::CryptoError> {
        let mut failed = false;
        let key = SecretBox::init_with_mut(|k: &mut [u8; 32]| {
            failed = crate::random::fill(k).is_err();
        });
        if failed {
            return Err(crate::CryptoError::Rng);
        }
        Ok(Self(key))
    }

    /// Builds a key from a slice that must be 32 bytes long.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 32 {
            return None;
        }
        Some(Self(SecretBox::init_with_mut(|k: &mut [u8; 32]| {
            k.copy_from_slice(bytes)
        })))
    }

    pub(crate) fn expose(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key32").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretBytes::copy_from(b"canary-7f3a9c");
        let d = format!("{s:?} {s:#?}");
        assert!(!d.contains("canary"), "{d}");
        assert!(!d.contains("99"), "{d}"); // no byte values either ('c' = 99)
        let k = Key32::from_slice(&[0x41; 32]).expect("32 bytes");
        let d = format!("{k:?}");
        assert!(
            !d.contains("65") && !d.contains("41") && !d.contains('A'),
            "{d}"
        );
    }

    #[test]
    fn from_vec_with_spare_capacity_keeps_content() {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(b"abc");
        let s = SecretBytes::from_vec(v);
        assert_eq!(s.expose(), b"abc");
        assert_eq!(s.len(), 3);
    }
}
