//! Ed25519 signing keys, public keys, JWK thumbprints (`kid`) and JWK Sets.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use keyhold_crypto::{CryptoError, Ed25519KeyPair, SecretBytes};

use crate::TokenError;

/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = keyhold_crypto::ED25519_PUBLIC_KEY_LEN;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = keyhold_crypto::ED25519_SIGNATURE_LEN;
/// Length of a `kid`: base64url (no padding) of a SHA-256 digest.
pub const KID_LEN: usize = 43;

/// The one Ed25519 signature check the crate uses: keyhold-crypto's (RFC 8032, rejects
/// non-canonical `S`, checked against Wycheproof).
pub(crate) fn ed25519_verify(
    public: &[u8; PUBLIC_KEY_LEN],
    message: &[u8],
    signature: &[u8],
) -> bool {
    keyhold_crypto::ed25519_verify(public, message, signature)
}

fn key_error(e: CryptoError, what: &'static str) -> TokenError {
    match e {
        CryptoError::Rng => TokenError::Rng,
        _ => TokenError::InvalidKey { what },
    }
}

/// RFC 7638 JWK thumbprint of an Ed25519 public key (RFC 8037 §2): base64url of SHA-256 over
/// `{"crv":"Ed25519","kty":"OKP","x":"<base64url x>"}`.
pub fn thumbprint(public: &[u8; PUBLIC_KEY_LEN]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(keyhold_crypto::sha256(canonical.as_bytes()))
}

/// An Ed25519 private key that signs tokens.
///
/// Held as a PKCS#8 v2 document inside a zeroize-on-drop buffer. No `Clone`, `Display` or
/// `Serialize`; `Debug` prints only the (public) `kid`. To store it, call
/// [`to_pkcs8_der`](Self::to_pkcs8_der) and encrypt the result (e.g. with keyhold-crypto's
/// envelope); load it back with [`from_pkcs8_der`](Self::from_pkcs8_der).
///
/// Limitation: while signing, ring expands the key into an `Ed25519KeyPair` that ring does not
/// zeroize when it is dropped.
pub struct SigningKey {
    /// jsonwebtoken's key wrapper zeroizes its buffer on drop.
    pkcs8: EncodingKey,
    public: VerifyingKey,
}

impl SigningKey {
    /// A new key from a 32-byte seed drawn from the OS CSPRNG.
    pub fn generate() -> Result<Self, TokenError> {
        let pair = Ed25519KeyPair::generate().map_err(|e| key_error(e, "seed"))?;
        Self::from_pair(&pair)
    }

    /// The key for a 32-byte RFC 8032 seed (the private key `d` of RFC 8037).
    #[cfg(test)]
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Result<Self, TokenError> {
        let pair = Ed25519KeyPair::from_seed(seed).map_err(|e| key_error(e, "seed"))?;
        Self::from_pair(&pair)
    }

    /// Loads a key from an unencrypted PKCS#8 v2 document (the format
    /// [`to_pkcs8_der`](Self::to_pkcs8_der) writes). The embedded public key must match the
    /// private key; PKCS#8 v1 (without public key) is refused.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, TokenError> {
        let pair =
            Ed25519KeyPair::from_pkcs8(der).map_err(|e| key_error(e, "PKCS#8 v2 private key"))?;
        Self::from_pair(&pair)
    }

    fn from_pair(pair: &Ed25519KeyPair) -> Result<Self, TokenError> {
        Ok(Self {
            // EXPOSE: handed to jsonwebtoken's key wrapper, which zeroizes its buffer on drop.
            pkcs8: EncodingKey::from_ed_der(pair.to_pkcs8().expose()),
            public: VerifyingKey::from_array(pair.public_key()),
        })
    }

    /// The key as a PKCS#8 v2 DER document, for encrypted storage only.
    pub fn to_pkcs8_der(&self) -> SecretBytes {
        // EXPOSE: the caller asked for the storage form; it stays in a zeroizing buffer.
        SecretBytes::copy_from(self.pkcs8.as_bytes())
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        self.public.kid()
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.pkcs8
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

/// An Ed25519 public key with its `kid`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VerifyingKey {
    x: [u8; PUBLIC_KEY_LEN],
    kid: String,
}

impl VerifyingKey {
    fn from_array(x: [u8; PUBLIC_KEY_LEN]) -> Self {
        Self {
            kid: thumbprint(&x),
            x,
        }
    }

    /// A public key from its 32 raw bytes. (Whether the bytes are a valid curve point is
    /// checked at verification time; an invalid point verifies nothing.)
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenError> {
        let x = bytes
            .try_into()
            .map_err(|_| TokenError::InvalidKey { what: "public key" })?;
        Ok(Self::from_array(x))
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.x
    }

    /// The RFC 7638 thumbprint, used as `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK (RFC 8037 `OKP`/`Ed25519`, with `kid`, `alg` and `use`).
    pub fn to_jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            x: URL_SAFE_NO_PAD.encode(self.x),
            kid: Some(self.kid.clone()),
            alg: Some("EdDSA".to_owned()),
            use_: Some("sig".to_owned()),
        }
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` under this key.
    pub fn verify_signature(&self, message: &[u8], signature: &[u8]) -> bool {
        ed25519_verify(&self.x, message, signature)
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A public JSON Web Key (RFC 7517) for an Ed25519 key (RFC 8037), as published in a JWKS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Jwk {
    /// Key type; must be `OKP`.
    pub kty: String,
    /// Curve; must be `Ed25519`.
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    /// Key id; when present it must equal the key's RFC 7638 thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Algorithm; when present it must be `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Public key use; when present it must be `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

impl Jwk {
    /// Validates the JWK and returns the key it describes.
    pub fn to_verifying_key(&self) -> Result<VerifyingKey, TokenError> {
        let invalid = TokenError::InvalidKey { what: "JWK" };
        if self.kty != "OKP"
            || self.crv != "Ed25519"
            || self.alg.as_deref().is_some_and(|a| a != "EdDSA")
            || self.use_.as_deref().is_some_and(|u| u != "sig")
            || self.x.len() != KID_LEN
        {
            return Err(invalid);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(&self.x)
            .map_err(|_| TokenError::InvalidKey { what: "JWK" })?;
        let key = VerifyingKey::from_bytes(&bytes)?;
        if self.kid.as_deref().is_some_and(|k| k != key.kid()) {
            return Err(TokenError::InvalidKey { what: "JWK" });
        }
        Ok(key)
    }
}

/// A JWK Set (RFC 7517 §5) of token verification keys; serializes as
/// `{"keys":[{"kty":"OKP","crv":"Ed25519","x":...,"kid":...,"alg":"EdDSA","use":"sig"}]}`.
///
/// Deserializing validates every key (see [`Jwk::to_verifying_key`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jwks {
    keys: Vec<VerifyingKey>,
}

impl Jwks {
    /// A set of the given keys (a key already present by `kid` is not added twice).
    pub fn new(keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        let mut set = Self::default();
        for k in keys {
            set.insert(k);
        }
        set
    }

    /// Adds a key unless one with the same `kid` is present; returns whether it was added.
    pub fn insert(&mut self, key: VerifyingKey) -> bool {
        if self.find(key.kid()).is_some() {
            return false;
        }
        self.keys.push(key);
        true
    }

    /// Removes the key with this `kid`; returns whether one was removed.
    pub fn remove(&mut self, kid: &str) -> bool {
        let before = self.keys.len();
        self.keys.retain(|k| k.kid() != kid);
        self.keys.len() != before
    }

    /// The key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|k| k.kid() == kid)
    }

    /// The keys, in insertion order.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct JwksJson {
    keys: Vec<Jwk>,
}

impl serde::Serialize for Jwks {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        JwksJson {
            keys: self.keys.iter().map(VerifyingKey::to_jwk).collect(),
        }
        .serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Jwks {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = JwksJson::deserialize(deserializer)?;
        let keys = json
            .keys
            .iter()
            .map(Jwk::to_verifying_key)
            .collect::<Result<Vec<_>, _>>()
            .map_err(serde::de::Error::custom)?;
        Ok(Self::new(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8037 Appendix A.1/A.2 key.
    const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    pub(crate) fn rfc8037_key() -> SigningKey {
        let d: [u8; 32] = URL_SAFE_NO_PAD
            .decode(RFC8037_D)
            .unwrap()
            .try_into()
            .unwrap();
        SigningKey::from_seed(&d).unwrap()
    }

    #[test]
    fn rfc8037_a3_thumbprint() {
        let x: [u8; 32] = URL_SAFE_NO_PAD
            .decode(RFC8037_X)
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            thumbprint(&x),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        let key = rfc8037_key();
        assert_eq!(key.verifying_key().as_bytes(), &x);
        assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn rfc8037_a4_signature_with_our_key_and_verify_path() {
        // RFC 8037 A.4: JWS over "Example of Ed25519 signing" with {"alg":"EdDSA"}.
        let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let sig = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
        let key = rfc8037_key();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        assert!(key.verifying_key().verify_signature(input.as_bytes(), &sig));
        let pair = Ed25519KeyPair::from_pkcs8(key.to_pkcs8_der().expose()).unwrap();
        assert_eq!(pair.sign(input.as_bytes()).as_ref(), sig.as_slice());
    }

    #[test]
    fn pkcs8_round_trip_and_matches_ring_layout() {
        let key = SigningKey::generate().unwrap();
        let der = key.to_pkcs8_der();
        assert_eq!(der.len(), 83, "PKCS#8 v2: prefix, seed, public key");
        let back = SigningKey::from_pkcs8_der(der.expose()).unwrap();
        assert_eq!(back.kid(), key.kid());
        assert_eq!(back.verifying_key(), key.verifying_key());
        // A document from ring's own generator loads (keyhold-crypto checks the layout).
        let ring_doc =
            ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                .unwrap();
        assert!(SigningKey::from_pkcs8_der(ring_doc.as_ref()).is_ok());
        // Garbage and a v2 document with a mismatched public key are refused.
        assert_eq!(
            SigningKey::from_pkcs8_der(b"nope").unwrap_err().code(),
            "invalid_key"
        );
        let mut wrong = der.expose().to_vec();
        let last = wrong.len() - 1;
        wrong[last] ^= 1;
        assert!(SigningKey::from_pkcs8_der(&wrong).is_err());
        assert_ne!(SigningKey::generate().unwrap().kid(), key.kid());
    }

    #[test]
    fn debug_is_redacted() {
        let key = rfc8037_key();
        let der = key.to_pkcs8_der();
        let seed = &der.expose()[16..48];
        let dbg = format!("{key:?} {key:#?}");
        assert!(dbg.contains("SigningKey"));
        assert!(dbg.contains(".."));
        assert!(!dbg.contains(RFC8037_D));
        assert!(!dbg.contains(&URL_SAFE_NO_PAD.encode(seed)));
        let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!dbg.to_lowercase().contains(&hex));
        // No byte list either (a derived Debug would print `[157, 97, ...]`).
        assert!(!dbg.contains(&format!("{}, {}", seed[0], seed[1])));
        assert!(!dbg.contains('['));
        let vk = format!("{:?}", key.verifying_key());
        assert!(vk.contains(key.kid()));
    }

    #[test]
    fn jwks_serializes_per_rfc7517_and_round_trips() {
        let key = rfc8037_key();
        let jwks = Jwks::new([key.verifying_key().clone(), key.verifying_key().clone()]);
        assert_eq!(jwks.keys().len(), 1);
        let json = serde_json::to_value(&jwks).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"keys":[{
                "kty":"OKP","crv":"Ed25519","x":RFC8037_X,
                "kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k","alg":"EdDSA","use":"sig"
            }]})
        );
        let back: Jwks = serde_json::from_value(json).unwrap();
        assert_eq!(back, jwks);
        assert!(back.find(key.kid()).is_some());

        // A JWK whose kid is not its thumbprint, wrong curve, or bad x is refused.
        for bad in [
            serde_json::json!({"keys":[{"kty":"OKP","crv":"Ed25519","x":RFC8037_X,"kid":"other"}]}),
            serde_json::json!({"keys":[{"kty":"OKP","crv":"X25519","x":RFC8037_X}]}),
            serde_json::json!({"keys":[{"kty":"EC","crv":"Ed25519","x":RFC8037_X}]}),
            serde_json::json!({"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}),
            serde_json::json!({"keys":[{"kty":"OKP","crv":"Ed25519","x":RFC8037_X,"alg":"HS256"}]}),
            serde_json::json!({"keys":[{"kty":"OKP","crv":"Ed25519","x":RFC8037_X,"use":"enc"}]}),
        ] {
            assert!(
                serde_json::from_value::<Jwks>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        let mut jwks = jwks;
        assert!(jwks.remove(key.kid()));
        assert!(jwks.keys().is_empty());
    }
}
