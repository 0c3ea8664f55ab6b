//! Signed checkpoints: an Ed25519 signature over `(store id, seq, head, time)`, kept outside
//! the database so that deleting the newest rows — or replacing the whole chain — is caught.

use std::fmt;

use keyhold_crypto::{CryptoError, Ed25519KeyPair, SecretBytes};
use serde::{Deserialize, Serialize};

use crate::{Anchor, AuditError, ChainHead, hex};

/// The domain tag that starts every checkpoint's signed message.
pub const CHECKPOINT_TAG: &[u8] = b"keyhold/audit/checkpoint/v1";

/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = keyhold_crypto::ED25519_PUBLIC_KEY_LEN;

/// The longest checkpoint document [`Checkpoint::from_json`] reads.
pub const MAX_CHECKPOINT_JSON: usize = 4096;

/// The longest store id, in bytes.
const MAX_STORE_ID: usize = 64;

/// The `kid` of a checkpoint key: lowercase hex of the first 16 bytes of SHA-256 of the
/// 32-byte Ed25519 public key.
pub fn checkpoint_kid(public_key: &[u8; PUBLIC_KEY_LEN]) -> String {
    hex::encode(&keyhold_crypto::sha256(public_key)[..16])
}

/// The signed message: `len(tag) ‖ tag ‖ len(store_id) ‖ store_id ‖ seq ‖ head ‖ time_ms`
/// (lengths u32 BE, `seq` u64 BE, `head` 32 bytes, `time_ms` i64 BE).
fn message(store_id: &[u8], seq: u64, head: &[u8; 32], time_ms: i64) -> Vec<u8> {
    let mut m = Vec::with_capacity(4 + CHECKPOINT_TAG.len() + 4 + store_id.len() + 8 + 32 + 8);
    let tag_len = u32::try_from(CHECKPOINT_TAG.len()).unwrap_or(u32::MAX);
    // Store ids are bounded (MAX_STORE_ID) before they get here.
    let id_len = u32::try_from(store_id.len()).unwrap_or(u32::MAX);
    m.extend_from_slice(&tag_len.to_be_bytes());
    m.extend_from_slice(CHECKPOINT_TAG);
    m.extend_from_slice(&id_len.to_be_bytes());
    m.extend_from_slice(store_id);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(head);
    m.extend_from_slice(&time_ms.to_be_bytes());
    m
}

/// A signed statement "store `store_id`'s audit chain had head `head` at seq `seq` at
/// `time_ms`", as a small JSON document the caller writes to a file outside the database.
///
/// `store_id`, `head` and `signature` are lowercase hex; `kid` names the signing key (see
/// [`checkpoint_kid`]). The signature covers the domain tag, store id, seq, head and time
/// (not `kid`, which only selects the key and is checked against it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The store's id, lowercase hex.
    pub store_id: String,
    /// The checkpointed seq.
    pub seq: u64,
    /// The link hash at `seq`, lowercase hex (64 characters).
    pub head: String,
    /// When the checkpoint was made, milliseconds since the Unix epoch (caller-supplied).
    pub time_ms: i64,
    /// The signing key's id.
    pub kid: String,
    /// Ed25519 signature, lowercase hex (128 characters).
    pub signature: String,
}

impl Checkpoint {
    /// The JSON document (pretty-printed, newline-terminated).
    pub fn to_json(&self) -> String {
        // Serializing a struct of strings and integers cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Parses a JSON document (at most [`MAX_CHECKPOINT_JSON`] bytes; unknown fields are
    /// refused). Does not verify the signature: call [`verify`](Self::verify).
    pub fn from_json(json: &str) -> Result<Self, AuditError> {
        if json.len() > MAX_CHECKPOINT_JSON {
            return Err(AuditError::CheckpointMalformed { what: "too long" });
        }
        serde_json::from_str(json).map_err(|_| AuditError::CheckpointMalformed { what: "json" })
    }

    /// Verifies the signature with the checkpoint key's 32-byte public key and returns the
    /// trusted [`Anchor`] to pass to the verifier. Any change to the store id, seq, head,
    /// time, kid or signature makes this fail.
    ///
    /// This does not know which store the caller expects: compare `store_id`, or use
    /// [`verify_for_store`](Self::verify_for_store).
    pub fn verify(&self, public_key: &[u8]) -> Result<Anchor, AuditError> {
        let public: &[u8; PUBLIC_KEY_LEN] =
            public_key.try_into().map_err(|_| AuditError::InvalidKey {
                what: "Ed25519 public key",
            })?;
        if self.kid != checkpoint_kid(public) {
            return Err(AuditError::CheckpointWrongKey);
        }
        let store_id = decode_store_id(&self.store_id)?;
        let head = hex::decode_array::<32>(&self.head)
            .ok_or(AuditError::CheckpointMalformed { what: "head" })?;
        let signature = hex::decode_array::<64>(&self.signature)
            .ok_or(AuditError::CheckpointMalformed { what: "signature" })?;
        let msg = message(&store_id, self.seq, &head, self.time_ms);
        if !keyhold_crypto::ed25519_verify(public, &msg, &signature) {
            return Err(AuditError::CheckpointBadSignature);
        }
        Ok(Anchor {
            seq: self.seq,
            head,
        })
    }

    /// [`verify`](Self::verify), and the checkpoint must be for `store_id`.
    pub fn verify_for_store(
        &self,
        public_key: &[u8],
        store_id: &[u8],
    ) -> Result<Anchor, AuditError> {
        let anchor = self.verify(public_key)?;
        if decode_store_id(&self.store_id)? != store_id {
            return Err(AuditError::CheckpointWrongStore);
        }
        Ok(anchor)
    }
}

fn decode_store_id(s: &str) -> Result<Vec<u8>, AuditError> {
    let bad = AuditError::CheckpointMalformed { what: "store_id" };
    let id = hex::decode(s).ok_or(bad.clone())?;
    if id.is_empty() || id.len() > MAX_STORE_ID {
        return Err(bad);
    }
    Ok(id)
}

/// The Ed25519 private key that signs checkpoints.
///
/// A secret type: no `Clone`, `Display` or `Serialize`; `Debug` prints only the public
/// `kid`. Held as a PKCS#8 v2 document in a zeroize-on-drop buffer; store it with
/// [`to_pkcs8`](Self::to_pkcs8) and encryption, load it with [`from_pkcs8`](Self::from_pkcs8).
///
/// Limitation: the expanded key kept for signing is not zeroized on drop (see
/// keyhold-crypto's `Ed25519KeyPair`).
pub struct CheckpointSigner {
    pair: Ed25519KeyPair,
    kid: String,
}

impl CheckpointSigner {
    /// A new key from the OS CSPRNG.
    pub fn generate() -> Result<Self, AuditError> {
        Ed25519KeyPair::generate()
            .map(Self::from_pair)
            .map_err(|e| match e {
                CryptoError::Rng => AuditError::Rng,
                _ => AuditError::InvalidKey {
                    what: "PKCS#8 v2 Ed25519 key",
                },
            })
    }

    /// Loads an unencrypted PKCS#8 v2 Ed25519 document (with its public key; v1 is refused).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, AuditError> {
        Ed25519KeyPair::from_pkcs8(der)
            .map(Self::from_pair)
            .map_err(|_| AuditError::InvalidKey {
                what: "PKCS#8 v2 Ed25519 key",
            })
    }

    fn from_pair(pair: Ed25519KeyPair) -> Self {
        Self {
            kid: checkpoint_kid(&pair.public_key()),
            pair,
        }
    }

    /// The key as a PKCS#8 v2 document, for encrypted storage only.
    pub fn to_pkcs8(&self) -> SecretBytes {
        self.pair.to_pkcs8()
    }

    /// The 32-byte Ed25519 public key (give it to whoever verifies checkpoints).
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.pair.public_key()
    }

    /// The key id ([`checkpoint_kid`] of the public key).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs a checkpoint of `head` for the store `store_id` (1 to 64 bytes) at `time_ms`.
    pub fn sign(
        &self,
        store_id: &[u8],
        head: ChainHead,
        time_ms: i64,
    ) -> Result<Checkpoint, AuditError> {
        if store_id.is_empty() || store_id.len() > MAX_STORE_ID {
            return Err(AuditError::CheckpointMalformed { what: "store_id" });
        }
        let msg = message(store_id, head.seq, &head.hash, time_ms);
        let sig = self.pair.sign(&msg);
        Ok(Checkpoint {
            store_id: hex::encode(store_id),
            seq: head.seq,
            head: hex::encode(&head.hash),
            time_ms,
            kid: self.kid.clone(),
            signature: hex::encode(&sig),
        })
    }
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}
