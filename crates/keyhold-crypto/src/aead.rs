//! The one place that calls XChaCha20-Poly1305.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};

use crate::secret::Key32;

/// Nonce length of XChaCha20-Poly1305.
pub(crate) const NONCE: usize = 24;
/// Tag length of Poly1305.
pub(crate) const TAG: usize = 16;

fn cipher(key: &Key32) -> XChaCha20Poly1305 {
    // EXPOSE: the key goes straight into the cipher state (zeroized by its `zeroize` feature).
    XChaCha20Poly1305::new(key.expose().into())
}

/// Encrypts `buf` in place and returns the tag.
pub(crate) fn seal_in_place(
    key: &Key32,
    nonce: &[u8; NONCE],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG], ()> {
    let nonce: &XNonce = nonce.into();
    let tag = cipher(key)
        .encrypt_inout_detached(nonce, aad, buf.into())
        .map_err(|_| ())?;
    Ok(tag.into())
}

/// Decrypts `buf` in place after checking `tag`; on failure `buf` holds no plaintext.
pub(crate) fn open_in_place(
    key: &Key32,
    nonce: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> Result<(), ()> {
    let nonce = <&XNonce>::try_from(nonce).map_err(|_| ())?;
    let tag = <&Tag>::try_from(tag).map_err(|_| ())?;
    cipher(key)
        .decrypt_inout_detached(nonce, aad, buf.into(), tag)
        .map_err(|_| ())
}
