//! keyhold's key hierarchy, envelope encryption and every cryptographic primitive the other
//! crates use (randomness, Ed25519, SHA-256, HMAC-SHA256, XChaCha20-Poly1305): one
//! implementation each, with one set of checks. It must never depend on another keyhold crate,
//! store anything, or let key material out except as an explicit storage form
//! (`to_pkcs8`, `to_secret_bytes`) meant for encryption.
//!
//! ```text
//! master key            (env KEYHOLD_MASTER_KEY or a 0600 key file; never stored)
//!  └─ key-encryption keys (KEKs), stored wrapped by a key derived from the master key
//!      └─ one fresh data key per record, stored wrapped by the active KEK
//!          └─ record ciphertext, bound by AAD to record kind, workspace, id and version
//! ```
//!
//! Everything here is pure computation plus the OS random source and the master key's sources
//! (its environment variable and key file, with their checks). The on-disk envelope format is
//! described in `docs/envelope-format.md` and in [`envelope`].
//!
//! Secret values use [`SecretBytes`], [`MasterKey`] and the crate-private key types: none of
//! them implements `Display`, `Clone` or `Serialize`, `Debug` prints no bytes, and all are
//! zeroized on drop.
#![forbid(unsafe_code)]

mod aead;
pub mod envelope;
mod error;
mod keyring;
mod master;
pub mod otp;
pub mod password;
pub mod random;
mod rowauth;
mod secret;
mod sign;
mod source;

pub use envelope::{Envelope, RecordAad};
pub use error::{CryptoError, KeyFileProblem, OpenError};
pub use keyring::{KekId, KekRing, MasterCheck, UnlockedMaster, WrappedKek};
pub use master::{MasterKey, MasterKeyFile};
pub use rowauth::{ROW_MAC_LEN, RowKey, RowMac, master_witness, master_witness_matches};
pub use secret::SecretBytes;
pub use sign::{
    ED25519_PUBLIC_KEY_LEN, ED25519_SIGNATURE_LEN, Ed25519KeyPair, HmacSha256, ed25519_verify,
    sha256, sha256_hex,
};
pub use source::{
    DEFAULT_KEY_FILE, KeySource, MASTER_KEY_ENV, StagedKey, default_key_file, staging_file,
};

/// Re-exported so every keyhold crate shares one secret-wrapper implementation.
pub use secrecy;
