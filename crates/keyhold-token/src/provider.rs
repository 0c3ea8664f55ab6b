//! jsonwebtoken 11 crypto provider backed by keyhold-crypto's Ed25519 (EdDSA only).
//!
//! jsonwebtoken 11 ships no backend unless a feature picks one (`rust_crypto` or `aws_lc_rs`);
//! keyhold already depends on ring, so this module plugs ring in through
//! [`jsonwebtoken::crypto::CryptoProvider`]. Only `EdDSA` is implemented: asking it for any
//! other algorithm is an error, never a panic. keyhold's own verification does not go through
//! jsonwebtoken at all (see [`crate::verify`]); the verifier half here uses the same
//! Ed25519 check as [`VerifyingKey::verify_signature`](crate::VerifyingKey::verify_signature), so
//! any in-process jsonwebtoken user gets identical answers.
//!
//! The provider is process-global in jsonwebtoken. [`ensure_installed`] installs it once; if
//! another component installed a provider first, jsonwebtoken keeps that one, and minting
//! still works as long as it implements EdDSA (Ed25519 signatures are deterministic, so any
//! correct provider produces byte-identical tokens).

use std::sync::Once;

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::signature::{Error as SigError, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use keyhold_crypto::Ed25519KeyPair;

use crate::signing_keys::{PUBLIC_KEY_LEN, ed25519_verify};

/// The ring-backed provider.
pub static RING_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Installs [`RING_PROVIDER`] as jsonwebtoken's process default unless one is installed.
pub fn ensure_installed() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first; jsonwebtoken keeps it (see above).
        let _ = RING_PROVIDER.install_default();
    });
}

fn signer_factory(alg: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    if *alg != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let pair =
        Ed25519KeyPair::from_pkcs8(key.as_bytes()).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(RingEd25519Signer(pair)))
}

fn verifier_factory(alg: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    if *alg != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let public: [u8; PUBLIC_KEY_LEN] = key
        .try_get_as_bytes()?
        .try_into()
        .map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(RingEd25519Verifier(public)))
}

struct RingEd25519Signer(Ed25519KeyPair);

impl Signer<Vec<u8>> for RingEd25519Signer {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, SigError> {
        Ok(self.0.sign(msg).to_vec())
    }
}

impl JwtSigner for RingEd25519Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct RingEd25519Verifier([u8; PUBLIC_KEY_LEN]);

impl Verifier<Vec<u8>> for RingEd25519Verifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), SigError> {
        if ed25519_verify(&self.0, msg, signature) {
            Ok(())
        } else {
            Err(SigError::new())
        }
    }
}

impl JwtVerifier for RingEd25519Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_refuses_other_algorithms_without_panicking() {
        let key = EncodingKey::from_secret(b"secret");
        for alg in [Algorithm::HS256, Algorithm::RS256, Algorithm::ES256] {
            assert!((RING_PROVIDER.signer_factory)(&alg, &key).is_err());
            let dk = DecodingKey::from_secret(b"secret");
            assert!((RING_PROVIDER.verifier_factory)(&alg, &dk).is_err());
        }
        // An EdDSA request with a non-Ed25519 key is an error too.
        assert!((RING_PROVIDER.signer_factory)(&Algorithm::EdDSA, &key).is_err());
        let dk = DecodingKey::from_ed_der(&[0u8; 31]);
        assert!((RING_PROVIDER.verifier_factory)(&Algorithm::EdDSA, &dk).is_err());
    }

    #[test]
    fn jsonwebtoken_round_trip_through_provider() {
        ensure_installed();
        let key = crate::SigningKey::generate().unwrap();
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::EdDSA),
            &serde_json::json!({"a": 1}),
            key.encoding_key(),
        )
        .unwrap();
        let (msg, sig) = token.rsplit_once('.').unwrap();
        let dk = DecodingKey::from_ed_der(key.verifying_key().as_bytes());
        assert!(jsonwebtoken::crypto::verify(sig, msg.as_bytes(), &dk, Algorithm::EdDSA).unwrap());
        assert!(!jsonwebtoken::crypto::verify(sig, b"other", &dk, Algorithm::EdDSA).unwrap());
    }
}
