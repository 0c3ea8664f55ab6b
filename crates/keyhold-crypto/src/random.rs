//! The operating system's CSPRNG (through `ring`), the only randomness keyhold uses.

use ring::rand::{SecureRandom, SystemRandom};

use crate::CryptoError;

/// Fills `buf` from the OS CSPRNG.
pub fn fill(buf: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new().fill(buf).map_err(|_| CryptoError::Rng)
}

/// Returns `N` random bytes (for public values such as nonces and identifiers).
pub fn array<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}

/// Whether `a` and `b` are equal, in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A random identifier: `prefix` followed by `n` random bytes in lowercase hex.
pub fn identifier(prefix: &str, n: usize) -> Result<String, CryptoError> {
    let mut bytes = vec![0u8; n];
    fill(&mut bytes)?;
    Ok(prefixed_hex(prefix, &bytes))
}

/// `prefix` followed by `bytes` in lowercase hex (for public values: ids, not keys).
pub fn prefixed_hex(prefix: &str, bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(prefix.len() + 2 * bytes.len());
    out.push_str(prefix);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}
