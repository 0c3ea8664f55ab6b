//! The rules for minting a key, decided before anything is stored: its scopes and subject,
//! and what a key may mint.

use crate::{Claims, ExpiryPreset, Scope, ScopeSet, TokenError};

/// Who mints: the scopes it holds and its subject, and — when it is itself a key — when that
/// key expires.
#[derive(Debug, Clone, Copy)]
pub struct Minter<'a> {
    /// The scopes the minter holds (`admin` for the operator).
    pub scopes: &'a ScopeSet,
    /// The minter's subject: the `sub` of what it mints unless another is asked for.
    pub sub: &'a str,
    /// When the minter is a key: its `exp` (Unix seconds). `None` for the operator, who
    /// holds the master key and is bound by none of the key rules.
    pub key_expires_at: Option<i64>,
}

/// What is asked for.
#[derive(Debug, Clone, Copy)]
pub struct MintAsk<'a> {
    /// Scopes; `None` gives the new key the minter's own scopes.
    pub scopes: Option<&'a ScopeSet>,
    /// Subject; `None` uses the minter's.
    pub sub: Option<&'a str>,
    /// Lifetime.
    pub expires: ExpiryPreset,
}

/// A mint the rules allow: the scopes and subject the key gets, and its lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintPlan {
    scopes: ScopeSet,
    sub: String,
    expires: ExpiryPreset,
}

/// Why a mint is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// The scopes asked for (or the minter's own) are empty.
    #[error("a key needs at least one scope")]
    NoScopes,
    /// A key asked to mint for another subject than its own.
    #[error("a key can mint keys only for its own subject")]
    ForeignSubject,
    /// A key asked to mint a key that would expire after itself.
    #[error("a key cannot outlive the key that mints it (this one expires in {expires_in} s)")]
    OutlivesMinter {
        /// Seconds the minting key has left.
        expires_in: i64,
    },
    /// A claim value (`sub`, the workspace id, ...) is empty or too long.
    #[error("must be 1 to {max} characters", max = crate::MAX_CLAIM_LEN)]
    ClaimOutOfRange {
        /// The claim's name.
        claim: &'static str,
    },
    /// A token rule refused it (`scope_escalation`, `insufficient_scope`, ...).
    #[error(transparent)]
    Token(TokenError),
}

impl MintError {
    /// The part of the request at fault, for every refusal but [`MintError::Token`] (which
    /// carries its own code).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::NoScopes => Some("scopes"),
            Self::ForeignSubject => Some("sub"),
            Self::OutlivesMinter { .. } => Some("expires"),
            Self::ClaimOutOfRange { claim } => Some(claim),
            Self::Token(_) => None,
        }
    }
}

/// Decides a mint, in this order: the scopes (asked for, or the minter's own) are not empty
/// ([`MintError::NoScopes`]) and escalate nothing ([`TokenError::ScopeEscalation`]); then,
/// when the minter is a key: it holds `keys:write` ([`TokenError::InsufficientScope`]), mints
/// only for its own subject ([`MintError::ForeignSubject`]) and nothing that outlives itself
/// at `now` ([`MintError::OutlivesMinter`]).
pub fn plan_mint(minter: &Minter<'_>, ask: &MintAsk<'_>, now: i64) -> Result<MintPlan, MintError> {
    let scopes = ask.scopes.unwrap_or(minter.scopes).clone();
    if scopes.is_empty() {
        return Err(MintError::NoScopes);
    }
    scopes
        .ensure_no_escalation(minter.scopes)
        .map_err(MintError::Token)?;
    if let Some(key_exp) = minter.key_expires_at {
        // Authorization first, so a key without keys:write learns only that.
        if !minter.scopes.covers(Scope::KeysWrite) {
            return Err(MintError::Token(TokenError::InsufficientScope {
                required: Scope::KeysWrite,
            }));
        }
        if ask.sub.is_some_and(|s| s != minter.sub) {
            return Err(MintError::ForeignSubject);
        }
        let exp = now.saturating_add(ask.expires.seconds_i64());
        if exp > key_exp {
            return Err(MintError::OutlivesMinter {
                expires_in: key_exp.saturating_sub(now),
            });
        }
    }
    Ok(MintPlan {
        scopes,
        sub: ask.sub.unwrap_or(minter.sub).to_owned(),
        expires: ask.expires,
    })
}

impl MintPlan {
    /// The scopes the key gets.
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// The subject the key acts for.
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// The key's claims, issued by `iss` in `workspace` at `iat` as `jti`.
    pub fn claims(
        &self,
        iss: &str,
        workspace: &str,
        iat: i64,
        jti: &str,
    ) -> Result<Claims, MintError> {
        let scopes = self.scopes.clone();
        Claims::new(iss, &self.sub, workspace, scopes, iat, self.expires, jti).map_err(
            |e| match e {
                TokenError::ClaimOutOfRange { claim } => MintError::ClaimOutOfRange { claim },
                other => MintError::Token(other),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn set(scopes: &[Scope]) -> ScopeSet {
        scopes.iter().copied().collect()
    }

    fn ask<'a>(scopes: Option<&'a ScopeSet>, sub: Option<&'a str>) -> MintAsk<'a> {
        MintAsk {
            scopes,
            sub,
            expires: ExpiryPreset::OneHour,
        }
    }

    #[test]
    fn the_operator_mints_any_scopes_for_any_subject() {
        let admin = set(&[Scope::Admin]);
        let op = Minter {
            scopes: &admin,
            sub: "root",
            key_expires_at: None,
        };
        let plan = plan_mint(&op, &ask(None, None), NOW).unwrap();
        assert_eq!((plan.scopes(), plan.sub()), (&admin, "root"));
        let reader = set(&[Scope::KeysRead]);
        let plan = plan_mint(&op, &ask(Some(&reader), Some("svc")), NOW).unwrap();
        assert_eq!((plan.scopes(), plan.sub()), (&reader, "svc"));
        let e = plan_mint(&op, &ask(Some(&ScopeSet::default()), None), NOW).unwrap_err();
        assert_eq!(
            (e.field(), e.to_string().as_str()),
            (Some("scopes"), "a key needs at least one scope")
        );
    }

    #[test]
    fn a_key_mints_only_within_itself_in_this_order() {
        let own = set(&[Scope::KeysWrite, Scope::ReadQueries]);
        let key = Minter {
            scopes: &own,
            sub: "alice",
            key_expires_at: Some(NOW + 3600),
        };
        let code = |r: Result<MintPlan, MintError>| match r.unwrap_err() {
            MintError::Token(t) => t.code(),
            other => other.field().unwrap(),
        };
        let admin = set(&[Scope::Admin]);
        assert_eq!(
            code(plan_mint(&key, &ask(Some(&admin), Some("bob")), NOW)),
            "scope_escalation"
        );
        assert_eq!(code(plan_mint(&key, &ask(None, Some("bob")), NOW)), "sub");
        let e = plan_mint(&key, &ask(None, None), NOW + 1).unwrap_err();
        assert_eq!(e.field(), Some("expires"));
        assert_eq!(
            e.to_string(),
            "a key cannot outlive the key that mints it (this one expires in 3599 s)"
        );
        let plan = plan_mint(&key, &ask(None, Some("alice")), NOW).unwrap();
        assert_eq!(
            (plan.scopes(), plan.sub()),
            (&own, "alice"),
            "expiring with it is fine"
        );

        let reader = set(&[Scope::ReadQueries]);
        let weak = Minter {
            scopes: &reader,
            ..key
        };
        assert_eq!(
            code(plan_mint(&weak, &ask(None, Some("bob")), NOW)),
            "insufficient_scope"
        );
    }

    #[test]
    fn claims_out_of_range_name_the_claim() {
        let admin = set(&[Scope::Admin]);
        let long = "s".repeat(crate::MAX_CLAIM_LEN + 1);
        let op = Minter {
            scopes: &admin,
            sub: &long,
            key_expires_at: None,
        };
        let plan = plan_mint(&op, &ask(None, None), NOW).unwrap();
        let e = plan.claims("iss", "ws_1", NOW, "key_1").unwrap_err();
        assert_eq!(
            (e.field(), e.to_string().as_str()),
            (Some("sub"), "must be 1 to 256 characters")
        );
        let claims = plan_mint(&Minter { sub: "ok", ..op }, &ask(None, None), NOW)
            .unwrap()
            .claims("iss", "ws_1", NOW, "key_1")
            .unwrap();
        assert_eq!(claims.exp(), NOW + 3600);
    }
}
