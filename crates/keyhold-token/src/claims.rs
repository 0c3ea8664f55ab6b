//! Token claims and minting.

use jsonwebtoken::{Algorithm, Header};

use crate::signing_keys::SigningKey;
use crate::{ExpiryPreset, ScopeSet, TokenError, provider};

/// Longest accepted string claim (`iss`, `sub`, `workspace`, `jti`), in bytes.
pub const MAX_CLAIM_LEN: usize = 256;

/// The claims of a keyhold access token.
///
/// JSON shape (member order as minted; times are JWT NumericDate integers, seconds since the
/// Unix epoch):
///
/// ```json
/// {"iss":"https://keyhold.example","sub":"user_42","workspace":"ws_prod",
///  "scopes":["keys:read","read:queries"],"iat":1700000000,"exp":1700003600,"jti":"key_…"}
/// ```
///
/// `nbf` appears only when set. A [`Claims`] value is either built by [`Claims::new`] (which
/// derives `exp` from an [`ExpiryPreset`]) or returned by [`verify`](crate::verify); it is
/// never deserialized directly, so every instance has passed the same checks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Claims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) workspace: String,
    pub(crate) scopes: ScopeSet,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nbf: Option<i64>,
    pub(crate) jti: String,
}

pub(crate) fn string_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_CLAIM_LEN
}

impl Claims {
    /// Claims for a new token issued at `iat` (seconds since the epoch) that expires
    /// `expiry` later.
    ///
    /// Every string must be 1 to [`MAX_CLAIM_LEN`] bytes; `iat + expiry` must not overflow.
    /// Use [`new_jti`](crate::new_jti) for a fresh `jti`. Check the no-escalation rule
    /// ([`ScopeSet::is_subset_of`]) before calling this when a token mints a token.
    pub fn new(
        iss: &str,
        sub: &str,
        workspace: &str,
        scopes: ScopeSet,
        iat: i64,
        expiry: ExpiryPreset,
        jti: &str,
    ) -> Result<Self, TokenError> {
        for (claim, value) in [
            ("iss", iss),
            ("sub", sub),
            ("workspace", workspace),
            ("jti", jti),
        ] {
            if !string_ok(value) {
                return Err(TokenError::ClaimOutOfRange { claim });
            }
        }
        let exp = iat
            .checked_add(expiry.seconds_i64())
            .ok_or(TokenError::ClaimOutOfRange { claim: "exp" })?;
        Ok(Self {
            iss: iss.to_owned(),
            sub: sub.to_owned(),
            workspace: workspace.to_owned(),
            scopes,
            iat,
            exp,
            nbf: None,
            jti: jti.to_owned(),
        })
    }

    /// Adds a `nbf` (not before) time.
    pub fn with_not_before(mut self, nbf: i64) -> Self {
        self.nbf = Some(nbf);
        self
    }

    /// Issuer.
    pub fn iss(&self) -> &str {
        &self.iss
    }

    /// Subject: the principal the token acts for.
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// The workspace the token is valid in.
    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    /// The token's scopes.
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// Issued at (seconds since the epoch).
    pub fn iat(&self) -> i64 {
        self.iat
    }

    /// Expires at (seconds since the epoch).
    pub fn exp(&self) -> i64 {
        self.exp
    }

    /// Not before (seconds since the epoch), if set.
    pub fn nbf(&self) -> Option<i64> {
        self.nbf
    }

    /// Token id: the access key this token was issued as (the caller's revocation handle).
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// The time rules, with a leeway of `leeway_secs`, in this order: `now <= exp + leeway`
    /// ([`TokenError::Expired`]), `nbf <= now + leeway` if `nbf` is set
    /// ([`TokenError::NotYetValid`]), `iat <= now + leeway` ([`TokenError::IssuedInFuture`]).
    /// The edges themselves pass. [`verify`](crate::verify) applies them once; a cache of
    /// verified tokens applies them again on every use, so both agree by construction.
    pub fn check_times(&self, now: i64, leeway_secs: u64) -> Result<(), TokenError> {
        // In i128, so no combination of inputs can overflow.
        let now = i128::from(now);
        let leeway = i128::from(leeway_secs);
        if now > i128::from(self.exp) + leeway {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = self.nbf
            && i128::from(nbf) > now + leeway
        {
            return Err(TokenError::NotYetValid);
        }
        if i128::from(self.iat) > now + leeway {
            return Err(TokenError::IssuedInFuture);
        }
        Ok(())
    }
}

/// Signs `claims` with `key` into a compact JWS: header
/// `{"typ":"at+jwt","alg":"EdDSA","kid":"<key's thumbprint>"}`.
///
/// Encoding goes through jsonwebtoken with the ring provider of this crate.
pub fn mint(key: &SigningKey, claims: &Claims) -> Result<String, TokenError> {
    provider::ensure_installed();
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(crate::TOKEN_TYP.to_owned());
    header.kid = Some(key.kid().to_owned());
    jsonwebtoken::encode(&header, claims, key.encoding_key()).map_err(|_| TokenError::Signing)
}
