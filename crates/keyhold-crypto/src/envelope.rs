//! The versioned, self-describing envelope that every stored secret lives in.
//!
//! Format version 1 (all integers big-endian):
//!
//! | offset | size | field                                              |
//! |-------:|-----:|----------------------------------------------------|
//! | 0      | 1    | format version = `0x01`                            |
//! | 1      | 4    | id of the KEK that wraps the data key              |
//! | 5      | 24   | nonce of the data-key wrap                         |
//! | 29     | 32   | wrapped data key                                   |
//! | 61     | 16   | Poly1305 tag of the data-key wrap                  |
//! | 77     | 24   | nonce of the record encryption                     |
//! | 101    | n    | record ciphertext                                  |
//! | 101+n  | 16   | Poly1305 tag of the record encryption              |
//!
//! Both layers are XChaCha20-Poly1305 with random 192-bit nonces from the OS CSPRNG.
//! The data key is fresh for every write. The record layer's AAD is
//! `"keyhold/record/v1" ‖ RecordAad`; the wrap layer's AAD is
//! `"keyhold/dek/v1" ‖ version ‖ KEK id ‖ RecordAad`, so the header is authenticated and a
//! wrapped key or a ciphertext moved to another record, workspace, kind or version fails.
//! KEK rotation replaces bytes 1..77 only.

use zeroize::Zeroizing;

use crate::aead;
use crate::secret::Key32;
use crate::{CryptoError, KekId, OpenError, SecretBytes};

/// The current format version.
pub const VERSION: u8 = 1;
const HEADER: usize = 1 + 4;
const WRAP_END: usize = HEADER + 24 + 32 + 16;
const BODY_START: usize = WRAP_END + 24;
const TAG: usize = 16;
/// Size of an envelope holding an empty plaintext; every envelope is this plus the plaintext.
pub const OVERHEAD: usize = BODY_START + TAG;

const RECORD_AAD: &[u8] = b"keyhold/record/v1";
const DEK_AAD: &[u8] = b"keyhold/dek/v1";

/// An envelope's bytes (public: ciphertext only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope(pub Vec<u8>);

impl Envelope {
    /// The KEK id in the header, after checking the version and minimum length.
    pub fn kek_id(&self) -> Result<KekId, OpenError> {
        let b = &self.0;
        let Some(&version) = b.first() else {
            return Err(OpenError::Malformed("empty"));
        };
        if version != VERSION {
            return Err(OpenError::UnsupportedVersion(version));
        }
        if b.len() < OVERHEAD {
            return Err(OpenError::Malformed("truncated"));
        }
        let mut id = [0u8; 4];
        id.copy_from_slice(&b[1..HEADER]);
        Ok(u32::from_be_bytes(id))
    }

    /// The KEK id in the header ([`kek_id`](Self::kek_id)), which must be `row_kek_id`: the
    /// one the row holding the envelope says wraps it.
    pub fn kek_id_for_row(&self, row_kek_id: KekId) -> Result<KekId, OpenError> {
        let id = self.kek_id()?;
        if id != row_kek_id {
            return Err(OpenError::KekMismatch);
        }
        Ok(id)
    }
}

/// What a record's ciphertext is bound to: its kind, workspace, id and version.
///
/// Encoded as length-prefixed fields (u32 BE length, bytes) followed by the version (u64 BE),
/// so no two distinct tuples share an encoding.
#[derive(Debug, Clone, Copy)]
pub struct RecordAad<'a> {
    /// Record kind, e.g. `secret`, `signing-key`.
    pub kind: &'a str,
    /// Workspace id (empty for store-level records).
    pub workspace: &'a str,
    /// Record id within its kind and workspace.
    pub id: &'a str,
    /// Version of the record; every write increments it.
    pub version: u64,
}

/// The record a ciphertext belongs to, as errors name it (`record WS/KIND/ID version N`).
impl std::fmt::Display for RecordAad<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "record {}/{}/{} version {}",
            self.workspace, self.kind, self.id, self.version
        )
    }
}

impl RecordAad<'_> {
    fn encode(&self, prefix: &[u8], extra: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            prefix.len()
                + extra.len()
                + 32
                + self.kind.len()
                + self.workspace.len()
                + self.id.len(),
        );
        out.extend_from_slice(prefix);
        out.extend_from_slice(extra);
        for field in [self.kind, self.workspace, self.id] {
            // Lengths above u32::MAX cannot reach here (SQLite caps values far lower), but
            // saturate instead of truncating silently.
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out.extend_from_slice(&self.version.to_be_bytes());
        out
    }
}

fn wrap_aad(kek_id: KekId, aad: &RecordAad<'_>) -> Vec<u8> {
    let mut header = [0u8; HEADER];
    header[0] = VERSION;
    header[1..].copy_from_slice(&kek_id.to_be_bytes());
    aad.encode(DEK_AAD, &header)
}

/// Writes `nonce ‖ wrap(dek) ‖ tag` for `kek_id` into `out` (which holds the header already).
fn push_wrapped_dek(
    out: &mut Vec<u8>,
    kek_id: KekId,
    kek: &Key32,
    dek: &Key32,
    aad: &RecordAad<'_>,
) -> Result<(), ()> {
    let nonce: [u8; 24] = crate::random::array().map_err(|_| ())?;
    out.extend_from_slice(&nonce);
    let start = out.len();
    // EXPOSE: the data key is copied into the envelope buffer and encrypted in place there.
    out.extend_from_slice(dek.expose());
    let tag = aead::seal_in_place(kek, &nonce, &wrap_aad(kek_id, aad), &mut out[start..])?;
    out.extend_from_slice(&tag);
    Ok(())
}

pub(crate) fn seal(
    kek_id: KekId,
    kek: &Key32,
    aad: &RecordAad<'_>,
    plaintext: &[u8],
) -> Result<Envelope, CryptoError> {
    let dek = Key32::random()?;
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.push(VERSION);
    out.extend_from_slice(&kek_id.to_be_bytes());
    push_wrapped_dek(&mut out, kek_id, kek, &dek, aad).map_err(|()| CryptoError::Rng)?;
    let nonce: [u8; 24] = crate::random::array()?;
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = aead::seal_in_place(
        &dek,
        &nonce,
        &aad.encode(RECORD_AAD, &[]),
        &mut out[BODY_START..],
    )
    .map_err(|()| CryptoError::Rng)?;
    out.extend_from_slice(&tag);
    Ok(Envelope(out))
}

fn unwrap_dek(
    kek_id: KekId,
    kek: &Key32,
    aad: &RecordAad<'_>,
    b: &[u8],
) -> Result<Key32, OpenError> {
    let mut dek = Zeroizing::new([0u8; 32]);
    dek.copy_from_slice(&b[HEADER + 24..HEADER + 56]);
    aead::open_in_place(
        kek,
        &b[HEADER..HEADER + 24],
        &wrap_aad(kek_id, aad),
        &mut dek[..],
        &b[HEADER + 56..WRAP_END],
    )
    .map_err(|()| OpenError::WrappedKey)?;
    Key32::from_slice(&dek[..]).ok_or(OpenError::WrappedKey)
}

pub(crate) fn open(
    kek: &Key32,
    aad: &RecordAad<'_>,
    env: &Envelope,
) -> Result<SecretBytes, OpenError> {
    let kek_id = env.kek_id()?;
    let b = &env.0;
    let dek = unwrap_dek(kek_id, kek, aad, b)?;
    let body_end = b.len() - TAG;
    // Exact capacity, so handing the buffer to SecretBytes never reallocates and leaves no copy.
    let mut plain = Vec::with_capacity(body_end - BODY_START);
    plain.extend_from_slice(&b[BODY_START..body_end]);
    let mut plain = Zeroizing::new(plain);
    aead::open_in_place(
        &dek,
        &b[WRAP_END..BODY_START],
        &aad.encode(RECORD_AAD, &[]),
        &mut plain[..],
        &b[body_end..],
    )
    .map_err(|()| OpenError::Ciphertext)?;
    Ok(SecretBytes::from_vec(std::mem::take(&mut *plain)))
}

pub(crate) fn rewrap(
    old: &Key32,
    aad: &RecordAad<'_>,
    env: &Envelope,
    new_id: KekId,
    new: &Key32,
) -> Result<Envelope, OpenError> {
    let old_id = env.kek_id()?;
    let b = &env.0;
    let dek = unwrap_dek(old_id, old, aad, b)?;
    let mut out = Vec::with_capacity(b.len());
    out.push(VERSION);
    out.extend_from_slice(&new_id.to_be_bytes());
    push_wrapped_dek(&mut out, new_id, new, &dek, aad).map_err(|()| OpenError::Rng)?;
    out.extend_from_slice(&b[WRAP_END..]);
    Ok(Envelope(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aad(version: u64) -> RecordAad<'static> {
        RecordAad {
            kind: "secret",
            workspace: "ws_1",
            id: "db-password",
            version,
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let kek = Key32::random().expect("rng");
        for len in [0usize, 1, 255, 256, 65536] {
            let pt: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let env = seal(9, &kek, &aad(1), &pt).expect("seal");
            assert_eq!(env.0.len(), OVERHEAD + len);
            assert_eq!(env.0[0], VERSION);
            assert_eq!(env.kek_id(), Ok(9));
            assert_eq!(open(&kek, &aad(1), &env).expect("open").expose(), &pt[..]);
        }
    }

    #[test]
    fn two_seals_differ() {
        let kek = Key32::random().expect("rng");
        let a = seal(1, &kek, &aad(1), b"same").expect("seal");
        let b = seal(1, &kek, &aad(1), b"same").expect("seal");
        assert_ne!(a, b, "fresh data key and nonces each time");
    }

    #[test]
    fn aad_encoding_is_injective() {
        let a = RecordAad {
            kind: "ab",
            workspace: "c",
            id: "",
            version: 1,
        }
        .encode(b"", b"");
        let b = RecordAad {
            kind: "a",
            workspace: "bc",
            id: "",
            version: 1,
        }
        .encode(b"", b"");
        assert_ne!(a, b);
    }

    #[test]
    fn a_record_is_named_by_its_aad_and_its_row_must_name_its_kek() {
        assert_eq!(
            aad(3).to_string(),
            "record ws_1/secret/db-password version 3"
        );
        let kek = Key32::random().expect("rng");
        let env = seal(7, &kek, &aad(1), b"x").expect("seal");
        assert_eq!(env.kek_id_for_row(7), Ok(7));
        assert_eq!(env.kek_id_for_row(8), Err(OpenError::KekMismatch));
        assert_eq!(
            OpenError::KekMismatch.to_string(),
            "envelope header names another key-encryption key than its row"
        );
    }
}
