//! Stateless verification and the stateful authorization rules.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::claims::{Claims, string_ok};
use crate::signing_keys::{Jwks, KID_LEN, SIGNATURE_LEN, VerifyingKey};
use crate::{Scope, ScopeSet, TokenError, json};

/// Longest token [`verify`] looks at, in bytes (8 KiB). Longer input is
/// [`TokenError::Malformed`] before any decoding. The largest token [`mint`](crate::mint) can
/// produce (every scope, every string claim at its 256-byte limit) is under 3 KiB.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Default clock leeway, in seconds, for `exp`, `nbf` and `iat`: 30.
pub const DEFAULT_LEEWAY: u64 = 30;

/// Where [`verify`] finds the public key for a `kid`.
///
/// The `kid` passed in is already known to be 43 base64url characters (the shape of an RFC 7638
/// SHA-256 thumbprint); anything else is rejected as [`TokenError::UnknownKid`] before a lookup
/// happens, so implementations backed by a database or file system never see hostile strings.
/// A returned key whose own `kid` differs from the requested one is treated as unknown.
pub trait KeyLookup {
    /// The verification key with this `kid`, if the caller trusts one.
    fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey>;
}

impl KeyLookup for Jwks {
    fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.find(kid)
    }
}

impl KeyLookup for VerifyingKey {
    fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey> {
        (self.kid() == kid).then_some(self)
    }
}

impl KeyLookup for [VerifyingKey] {
    fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.iter().find(|k| k.kid() == kid)
    }
}

impl<S: std::hash::BuildHasher> KeyLookup for HashMap<String, VerifyingKey, S> {
    fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.get(kid)
    }
}

impl KeyLookup for BTreeMap<String, VerifyingKey> {
    fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.get(kid)
    }
}

/// A token whose signature, issuer and times have been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    claims: Claims,
    kid: String,
}

impl VerifiedToken {
    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The `kid` of the key that signed the token.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The verified claims, by value.
    pub fn into_claims(self) -> Claims {
        self.claims
    }
}

fn is_b64url(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn decode_part(s: &str) -> Result<Vec<u8>, TokenError> {
    // URL_SAFE_NO_PAD refuses padding and non-zero trailing bits: exactly one encoding per
    // byte string, so a token cannot be re-spelled without changing its text.
    URL_SAFE_NO_PAD.decode(s).map_err(|_| TokenError::Malformed)
}

fn typ_ok(typ: &str) -> bool {
    // RFC 9068 §4: "at+jwt", or the full media type; media types compare case-insensitively.
    typ.eq_ignore_ascii_case(crate::TOKEN_TYP) || typ.eq_ignore_ascii_case("application/at+jwt")
}

/// Verifies a token's signature and claims without any state, checking in this order and
/// stopping at the first failure:
///
/// 1. well-formed: at most [`MAX_TOKEN_LEN`] bytes, exactly three canonical base64url
///    parts (no padding), header and payload are JSON objects with unique member names →
///    [`TokenError::Malformed`];
/// 2. no `crit` header parameter → [`TokenError::CritUnsupported`];
/// 3. `typ` is `at+jwt` (or `application/at+jwt`, ASCII case-insensitive) →
///    [`TokenError::WrongType`];
/// 4. `alg` is exactly `EdDSA` → [`TokenError::AlgNotAllowed`];
/// 5. `kid` is a string shaped like a thumbprint and `keys` knows it →
///    [`TokenError::UnknownKid`];
/// 6. the Ed25519 signature over `header.payload` verifies → [`TokenError::BadSignature`];
/// 7. claims present and typed: `iss`, `sub`, `workspace`, `jti` non-empty strings of at most
///    [`MAX_CLAIM_LEN`](crate::MAX_CLAIM_LEN) bytes, `scopes` an array of catalog scopes,
///    `iat`, `exp` (and `nbf` if present) JSON integers → [`TokenError::InvalidClaims`];
/// 8. `iss == expected_iss` → [`TokenError::WrongIssuer`];
/// 9. `now <= exp + leeway` → [`TokenError::Expired`];
/// 10. `nbf <= now + leeway` → [`TokenError::NotYetValid`];
/// 11. `iat <= now + leeway` → [`TokenError::IssuedInFuture`].
///
/// Nothing from the payload is acted on before step 6. Other header parameters (`jku`, `jwk`,
/// `x5u`, `x5c`, ...) are ignored: keys come only from `keys`. Unknown claims are ignored
/// (RFC 7519 §4) and dropped. `now` is seconds since the Unix epoch; `leeway_secs` is usually
/// [`DEFAULT_LEEWAY`]. Never panics, whatever the input.
pub fn verify<K: KeyLookup + ?Sized>(
    token: &str,
    keys: &K,
    expected_iss: &str,
    now: i64,
    leeway_secs: u64,
) -> Result<VerifiedToken, TokenError> {
    let (payload, kid) = signed(token, keys)?;

    // 7. Claims (now signed by a trusted key).
    let claims = claims_from(&payload)?;

    // 8. Issuer.
    if claims.iss != expected_iss {
        return Err(TokenError::WrongIssuer);
    }

    // 9–11. Times.
    claims.check_times(now, leeway_secs)?;

    Ok(VerifiedToken {
        claims,
        kid: kid.to_owned(),
    })
}

/// Who a token names — `workspace`, `sub` and `jti` — if its signature verifies under `keys`
/// (steps 1–6 of [`verify`]), whatever its other claims say (expired, not yet valid, another
/// issuer). For telling which tenant a *refused* token belongs to, so that nothing about it is
/// told to another tenant; never for accepting it.
pub fn signed_identity<K: KeyLookup + ?Sized>(token: &str, keys: &K) -> Option<SignedIdentity> {
    let (payload, _) = signed(token, keys).ok()?;
    let text = |claim: &str| match payload.get(claim) {
        Some(Value::String(s)) if string_ok(s) => Some(s.clone()),
        _ => None,
    };
    Some(SignedIdentity {
        workspace: text("workspace")?,
        sub: text("sub")?,
        jti: text("jti")?,
    })
}

/// The `workspace` a token *claims*, read without verifying anything (its payload decoded, if
/// it decodes). For routing a refusal only — deciding that a token is another tenant's, so
/// that its fate is not even looked up — never for accepting it.
pub fn claimed_workspace(token: &str) -> Option<String> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let payload_b64 = token.split('.').nth(1)?;
    let payload = json::parse_object(&decode_part(payload_b64).ok()?)?;
    match payload.get("workspace") {
        Some(Value::String(s)) if string_ok(s) => Some(s.clone()),
        _ => None,
    }
}

/// See [`signed_identity`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIdentity {
    /// The `workspace` claim.
    pub workspace: String,
    /// The `sub` claim.
    pub sub: String,
    /// The `jti` claim.
    pub jti: String,
}

/// Steps 1–6 of [`verify`]: the payload (parsed, not yet interpreted) and the key id, once the
/// signature has verified.
fn signed<K: KeyLookup + ?Sized>(
    token: &str,
    keys: &K,
) -> Result<(BTreeMap<String, Value>, String), TokenError> {
    // 1. Well-formed.
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    // No separate alphabet scan: decoding refuses anything outside base64url.
    let header = json::parse_object(&decode_part(header_b64)?).ok_or(TokenError::Malformed)?;
    // Parsed (syntax only) before the signature check so that "malformed" is reported first;
    // nothing in it is interpreted until the signature has verified.
    let payload = json::parse_object(&decode_part(payload_b64)?).ok_or(TokenError::Malformed)?;
    // An empty or wrong-length signature is a bad signature (step 6), not malformed, so that
    // `alg: none` tokens (empty third part) report the `alg` problem.
    let signature = decode_part(sig_b64)?;

    // 2. crit.
    if header.contains_key("crit") {
        return Err(TokenError::CritUnsupported);
    }
    // 3. typ.
    match header.get("typ") {
        Some(Value::String(typ)) if typ_ok(typ) => {}
        _ => return Err(TokenError::WrongType),
    }
    // 4. alg.
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "EdDSA" => {}
        _ => return Err(TokenError::AlgNotAllowed),
    }
    // 5. kid.
    let kid = match header.get("kid") {
        Some(Value::String(kid)) if kid.len() == KID_LEN && is_b64url(kid) => kid.as_str(),
        _ => return Err(TokenError::UnknownKid),
    };
    let key = keys
        .verifying_key(kid)
        .filter(|k| k.kid() == kid)
        .ok_or(TokenError::UnknownKid)?;

    // 6. Signature over the ASCII bytes of `header.payload`.
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    let signing_input = token
        .as_bytes()
        .get(..signing_input_len)
        .ok_or(TokenError::Malformed)?;
    if signature.len() != SIGNATURE_LEN || !key.verify_signature(signing_input, &signature) {
        return Err(TokenError::BadSignature);
    }
    Ok((payload, kid.to_owned()))
}

fn claims_from(payload: &BTreeMap<String, Value>) -> Result<Claims, TokenError> {
    let string = |claim: &'static str| match payload.get(claim) {
        Some(Value::String(s)) if string_ok(s) => Ok(s.clone()),
        _ => Err(TokenError::InvalidClaims { claim }),
    };
    // `as_i64` is None for floats (`1.0`, `1e9`) and for integers beyond i64.
    let integer = |claim: &'static str| match payload.get(claim) {
        Some(Value::Number(n)) => n.as_i64().ok_or(TokenError::InvalidClaims { claim }),
        _ => Err(TokenError::InvalidClaims { claim }),
    };
    let iss = string("iss")?;
    let sub = string("sub")?;
    let workspace = string("workspace")?;
    let scopes = match payload.get("scopes") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.parse::<Scope>().ok(),
                _ => None,
            })
            .collect::<Option<ScopeSet>>()
            .ok_or(TokenError::InvalidClaims { claim: "scopes" })?,
        _ => return Err(TokenError::InvalidClaims { claim: "scopes" }),
    };
    let iat = integer("iat")?;
    let exp = integer("exp")?;
    let nbf = match payload.get("nbf") {
        None => None,
        Some(_) => Some(integer("nbf")?),
    };
    let jti = string("jti")?;
    Ok(Claims {
        iss,
        sub,
        workspace,
        scopes,
        iat,
        exp,
        nbf,
        jti,
    })
}
