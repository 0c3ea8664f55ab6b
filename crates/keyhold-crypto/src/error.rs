use std::path::PathBuf;

/// Failures of key handling. Messages name files and record identities, never key bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The master key text is not base64url for exactly 32 bytes.
    #[error("master key is not valid: expected 32 bytes encoded as base64url ({0})")]
    MasterKeyEncoding(&'static str),
    /// The master key file cannot be used.
    #[error("master key file {path}: {problem}")]
    KeyFile {
        /// The file that was refused.
        path: PathBuf,
        /// Why it was refused, with the fix.
        problem: KeyFileProblem,
    },
    /// The master key does not belong to this store.
    #[error("wrong master key: it does not unlock this store")]
    WrongMasterKey,
    /// A stored key-encryption key failed to unwrap under a master key that passed its check.
    #[error("key-encryption key {0} failed its integrity check")]
    KekIntegrity(u32),
    /// Key material that is not a valid key of its kind (names the kind, never the bytes).
    #[error("invalid key: not a valid {0}")]
    InvalidKey(&'static str),
    /// The operating system's random source failed.
    #[error("the operating system random number generator failed")]
    Rng,
}

/// Why a master key file was refused; each message says how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileProblem {
    /// The file does not exist.
    #[error("not found (set KEYHOLD_MASTER_KEY or point --master-key-file at the key file)")]
    Missing,
    /// Group or other users may read or write it.
    #[error(
        "permissions are {0:04o}; it must be readable by its owner only (run: chmod 600 on it)"
    )]
    Permissions(u32),
    /// Owned by somebody else.
    #[error(
        "owned by uid {owner}, not by the current user (uid {me}); chown it or use your own key file"
    )]
    Owner {
        /// Owner of the file.
        owner: u32,
        /// The effective uid of this process.
        me: u32,
    },
    /// Not a regular file.
    #[error("not a regular file")]
    NotAFile,
    /// The file exists where a new one was to be created.
    #[error("already exists; refusing to overwrite a master key")]
    Exists,
    /// An I/O error while reading or writing it.
    #[error("{0}")]
    Io(std::io::ErrorKind),
    /// Its content is not a master key.
    #[error("content is not a master key (expected 32 bytes as base64url on one line)")]
    Content,
}

/// Why an envelope did not open. Says which part failed, never what the bytes were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Too short or otherwise not an envelope.
    #[error("envelope is malformed ({0})")]
    Malformed(&'static str),
    /// A format version this build does not know.
    #[error("unknown envelope format version {0}")]
    UnsupportedVersion(u8),
    /// The envelope names a key-encryption key this store does not have.
    #[error("envelope names unknown key-encryption key {0}")]
    UnknownKek(u32),
    /// The envelope's header names another key-encryption key than the row holding it says
    /// (header or row edited).
    #[error("envelope header names another key-encryption key than its row")]
    KekMismatch,
    /// The wrapped data key failed authentication (tampered key, header or AAD).
    #[error("wrapped data key failed authentication")]
    WrappedKey,
    /// The record ciphertext failed authentication (tampered ciphertext, nonce or AAD).
    #[error("ciphertext failed authentication")]
    Ciphertext,
    /// The random source failed while re-wrapping.
    #[error("the operating system random number generator failed")]
    Rng,
}
