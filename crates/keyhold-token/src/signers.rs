//! The signing-key lifecycle's rules, over the caller's rows given as plain values: which key
//! signs, which retiring keys still verify and which may be deleted, and the keys a row and
//! its private record must decode to. The caller reads and writes the rows and seals the
//! private keys.

use crate::{SigningKey, VerifyingKey, signer_retired};

/// What the rules need of a signing key's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignerRow<'a> {
    /// The key id (RFC 7638 thumbprint).
    pub kid: &'a str,
    /// The raw Ed25519 public key, as stored.
    pub public_key: &'a [u8],
    /// Whether the row says the key signs new tokens (otherwise it is retiring).
    pub active: bool,
}

/// Why a signing key's row or private record does not give the key it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The stored public key is not an Ed25519 public key.
    #[error("bad public key")]
    BadPublicKey,
    /// The stored public key's thumbprint is not the row's id.
    #[error("public key does not match its id")]
    PublicKeyMismatch,
    /// The private record is not a PKCS#8 v2 Ed25519 key.
    #[error("private key does not decode")]
    PrivateKeyUndecodable,
    /// The private record's key is another key than the row's.
    #[error("private key does not match its id")]
    PrivateKeyMismatch,
}

impl SignerRow<'_> {
    /// The public key that verifies what this row's key signed.
    pub fn verifier(&self) -> Result<VerifyingKey, SignerError> {
        let vk =
            VerifyingKey::from_bytes(self.public_key).map_err(|_| SignerError::BadPublicKey)?;
        if vk.kid() != self.kid {
            return Err(SignerError::PublicKeyMismatch);
        }
        Ok(vk)
    }

    /// This row's private key, from its record (PKCS#8 v2 DER).
    pub fn signing_key(&self, der: &[u8]) -> Result<SigningKey, SignerError> {
        let key =
            SigningKey::from_pkcs8_der(der).map_err(|_| SignerError::PrivateKeyUndecodable)?;
        if key.kid() != self.kid {
            return Err(SignerError::PrivateKeyMismatch);
        }
        Ok(key)
    }
}

/// The signing keys on record: the caller's rows, each read through `facts`.
#[derive(Debug, Clone, Copy)]
pub struct SignerRing<'a, R> {
    rows: &'a [R],
    facts: for<'r> fn(&'r R) -> SignerRow<'r>,
}

impl<'a, R> SignerRing<'a, R> {
    /// The ring of `rows`.
    pub fn new(rows: &'a [R], facts: for<'r> fn(&'r R) -> SignerRow<'r>) -> Self {
        Self { rows, facts }
    }

    /// The key that signs new tokens (exactly one in a sound store; the first if not).
    pub fn active(&self) -> Option<&'a R> {
        self.signing().next()
    }

    /// Every key whose row says it signs (all of them stop signing at a rotation).
    pub fn signing(&self) -> impl Iterator<Item = &'a R> + use<'a, R> {
        let facts = self.facts;
        self.rows.iter().filter(move |r| facts(r).active)
    }

    /// The keys that only verify, until the last token each signed expires.
    pub fn retiring(&self) -> impl Iterator<Item = &'a R> + use<'a, R> {
        let facts = self.facts;
        self.rows.iter().filter(move |r| !facts(r).active)
    }

    /// The retiring keys that verify nothing any more at `now` ([`signer_retired`]), given
    /// the expiry of the last unrevoked token each signed (`last_expiry`): they may be
    /// deleted.
    pub fn prunable<E>(
        &self,
        now: i64,
        mut last_expiry: impl FnMut(&'a R) -> Result<Option<i64>, E>,
    ) -> Result<Vec<&'a R>, E> {
        let mut out = Vec::new();
        for row in self.retiring() {
            if signer_retired(last_expiry(row)?, now) {
                out.push(row);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_LEEWAY;

    struct Row {
        kid: String,
        public: Vec<u8>,
        active: bool,
        last_expiry: Option<i64>,
    }

    fn facts(r: &Row) -> SignerRow<'_> {
        SignerRow {
            kid: &r.kid,
            public_key: &r.public,
            active: r.active,
        }
    }

    fn row(key: &SigningKey, active: bool, last_expiry: Option<i64>) -> Row {
        Row {
            kid: key.kid().to_owned(),
            public: key.verifying_key().as_bytes().to_vec(),
            active,
            last_expiry,
        }
    }

    #[test]
    fn the_ring_names_its_signer_and_the_retiring_keys_past_their_last_token() {
        let keys: Vec<SigningKey> = (0..3).map(|_| SigningKey::generate().unwrap()).collect();
        let l = i64::try_from(DEFAULT_LEEWAY).unwrap();
        let rows = [
            row(&keys[0], false, Some(100)),
            row(&keys[1], true, None),
            row(&keys[2], false, None),
        ];
        let ring = SignerRing::new(&rows, facts);
        assert_eq!(ring.active().map(|r| r.kid.as_str()), Some(keys[1].kid()));
        assert_eq!(ring.retiring().count(), 2);
        let at = |now| {
            ring.prunable(now, |r| Ok::<_, ()>(r.last_expiry))
                .unwrap()
                .iter()
                .map(|r| r.kid.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(at(100 + l), [keys[2].kid()]);
        assert_eq!(at(101 + l), [keys[0].kid(), keys[2].kid()]);
        assert_eq!(ring.prunable(0, |_| Err("store")).err(), Some("store"));
    }

    #[test]
    fn a_row_gives_its_keys_or_says_what_is_wrong() {
        let (a, b) = (
            SigningKey::generate().unwrap(),
            SigningKey::generate().unwrap(),
        );
        let ra = row(&a, true, None);
        let f = facts(&ra);
        assert_eq!(f.verifier().unwrap().kid(), a.kid());
        assert_eq!(
            f.signing_key(a.to_pkcs8_der().expose()).unwrap().kid(),
            a.kid()
        );
        assert_eq!(
            f.signing_key(b.to_pkcs8_der().expose()).unwrap_err(),
            SignerError::PrivateKeyMismatch
        );
        assert_eq!(
            f.signing_key(b"junk").unwrap_err().to_string(),
            "private key does not decode"
        );
        let swapped = SignerRow {
            public_key: b.verifying_key().as_bytes(),
            ..f
        };
        assert_eq!(
            swapped.verifier().unwrap_err().to_string(),
            "public key does not match its id"
        );
        let short = SignerRow {
            public_key: &[1, 2],
            ..f
        };
        assert_eq!(short.verifier().unwrap_err().to_string(), "bad public key");
    }
}
