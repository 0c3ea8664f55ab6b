//! The stateful rules: what the caller's store says about a verified token's key, and the
//! decision over those facts.

use crate::{Claims, DEFAULT_LEEWAY, Scope, TokenError};

/// Status of the access key a token was issued as, as the caller's store knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyStatus {
    /// On record and not revoked.
    Active,
    /// On record and revoked.
    Revoked,
    /// Not on record.
    Unknown,
}

/// What the caller's store knows about a verified token, for [`check_state`].
///
/// The caller looks these up by the token's `workspace` and `jti` claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFacts {
    /// Whether the token's workspace exists.
    pub workspace_known: bool,
    /// The status of the access key recorded under the token's `jti`.
    pub key_status: KeyStatus,
    /// When the workspace last revoked all its tokens (seconds since the epoch), if ever.
    pub workspace_revoked_all_at: Option<i64>,
}

/// The revoke-all rule: a key is refused if and only if its workspace's revoke-all mark (the
/// highest mint sequence number when the last revoke-all committed) covers the key's mint
/// sequence number. Decided by mint order, never by clocks.
pub fn revoked_by_all(mint_seq: i64, revoke_all_mark: Option<i64>) -> bool {
    revoke_all_mark.is_some_and(|mark| mint_seq <= mark)
}

/// A revoke-all being decided, key by key: its mark and how many active keys it revokes.
///
/// Every key minted so far (in commit order: the store's write lock serialises mints and
/// revoke-alls) is at or below the mint counter, whatever its creation time says; the mark
/// starts there and is never below an authenticated key of the workspace (a counter put back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokeAllMark {
    mark: i64,
    keys_revoked: usize,
}

impl RevokeAllMark {
    /// A revoke-all with the authenticated mint counter at `counter`.
    pub fn from_counter(counter: i64) -> Self {
        Self {
            mark: counter,
            keys_revoked: 0,
        }
    }

    /// Counts an authenticated key of the workspace, minted as `mint_seq`, `active` now.
    pub fn cover(&mut self, mint_seq: i64, active: bool) {
        self.mark = self.mark.max(mint_seq);
        if active && revoked_by_all(mint_seq, Some(self.mark)) {
            self.keys_revoked += 1;
        }
    }

    /// The mark to store: never below the workspace's `previous` one.
    pub fn through(&self, previous: Option<i64>) -> i64 {
        self.mark.max(previous.unwrap_or(0))
    }

    /// How many active keys it revokes.
    pub fn keys_revoked(&self) -> usize {
        self.keys_revoked
    }
}

/// Whether a retiring signing key verifies nothing any more: every unrevoked token it signed
/// (the last one expiring at `last_expiry`, if there is one) is past `exp +`
/// [`DEFAULT_LEEWAY`] at `now` — refused as expired by [`Claims::check_times`] — so the key
/// can be deleted.
pub fn signer_retired(last_expiry: Option<i64>, now: i64) -> bool {
    last_expiry.is_none_or(|exp| i128::from(exp) + i128::from(DEFAULT_LEEWAY) < i128::from(now))
}

impl KeyFacts {
    /// The facts about a key on record in a workspace that exists: revoked by itself, or
    /// covered by its workspace's revoke-all mark ([`revoked_by_all`]) — stated as a
    /// revoke-all at the token's own `iat`, so that [`check_state`] refuses it as
    /// [`TokenError::KeyRevokedAll`].
    pub fn on_record(revoked: bool, mint_seq: i64, revoke_all_mark: Option<i64>, iat: i64) -> Self {
        Self {
            workspace_known: true,
            key_status: if revoked {
                KeyStatus::Revoked
            } else {
                KeyStatus::Active
            },
            workspace_revoked_all_at: revoked_by_all(mint_seq, revoke_all_mark).then_some(iat),
        }
    }

    /// The facts about a key that is not on record (in a workspace that exists or not).
    pub fn not_on_record(workspace_known: bool) -> Self {
        Self {
            workspace_known,
            key_status: KeyStatus::Unknown,
            workspace_revoked_all_at: None,
        }
    }
}

/// The stateful rules, as a pure function of verified claims and facts the caller supplies,
/// checking in this order:
///
/// 1. the token's `workspace` equals `target_workspace`, the workspace the request addresses
///    → [`TokenError::WorkspaceMismatch`] (a token for workspace A used on B; a caller that
///    takes the workspace from the token passes `claims.workspace()`);
/// 2. the workspace exists → [`TokenError::WorkspaceUnknown`];
/// 3. the access key (`jti`) is on record → [`TokenError::KeyUnknown`];
/// 4. it is not revoked → [`TokenError::KeyRevoked`];
/// 5. it was issued strictly after the workspace's revoke-all instant: a token with
///    `iat <= workspace_revoked_all_at` is rejected, so a token minted in the same second as
///    a revoke-all is revoked too → [`TokenError::KeyRevokedAll`];
/// 6. its scopes cover `required` (if the operation requires one) →
///    [`TokenError::InsufficientScope`] (HTTP 403; all others are 401).
pub fn check_state(
    claims: &Claims,
    facts: &KeyFacts,
    target_workspace: &str,
    required: Option<Scope>,
) -> Result<(), TokenError> {
    if claims.workspace != target_workspace {
        return Err(TokenError::WorkspaceMismatch);
    }
    if !facts.workspace_known {
        return Err(TokenError::WorkspaceUnknown);
    }
    match facts.key_status {
        KeyStatus::Active => {}
        KeyStatus::Revoked => return Err(TokenError::KeyRevoked),
        KeyStatus::Unknown => return Err(TokenError::KeyUnknown),
    }
    if facts
        .workspace_revoked_all_at
        .is_some_and(|at| claims.iat <= at)
    {
        return Err(TokenError::KeyRevokedAll);
    }
    if let Some(required) = required
        && !claims.scopes.covers(required)
    {
        return Err(TokenError::InsufficientScope { required });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExpiryPreset, ScopeSet};

    #[test]
    fn a_revoke_all_mark_covers_the_counter_and_every_authenticated_key() {
        let mut m = RevokeAllMark::from_counter(4);
        m.cover(2, true);
        m.cover(3, false);
        // A key above the counter (the counter was put back) raises the mark.
        m.cover(6, true);
        assert_eq!((m.through(None), m.keys_revoked()), (6, 2));
        assert_eq!(m.through(Some(9)), 9);
    }

    #[test]
    fn revoke_all_covers_a_key_minted_at_or_before_its_mark() {
        assert!(!revoked_by_all(5, None), "no revoke-all yet");
        assert!(revoked_by_all(4, Some(5)));
        assert!(revoked_by_all(5, Some(5)), "the mark itself is covered");
        assert!(
            !revoked_by_all(6, Some(5)),
            "minted afterwards: not covered"
        );
    }

    #[test]
    fn a_signer_retires_once_its_last_token_is_past_the_leeway() {
        let l = i64::try_from(DEFAULT_LEEWAY).expect("small");
        assert!(signer_retired(None, 0), "it signed nothing unrevoked");
        assert!(
            !signer_retired(Some(1_000), 1_000 + l),
            "still verifies at the edge"
        );
        assert!(signer_retired(Some(1_000), 1_000 + l + 1));
        assert!(!signer_retired(Some(i64::MAX), i64::MAX), "no overflow");
        let scopes: ScopeSet = [Scope::KeysRead].into_iter().collect();
        let c = Claims::new(
            "i",
            "s",
            "ws",
            scopes,
            900,
            ExpiryPreset::FifteenMinutes,
            "k",
        )
        .expect("claims");
        for now in [c.exp() + l, c.exp() + l + 1] {
            assert_eq!(
                signer_retired(Some(c.exp()), now),
                c.check_times(now, DEFAULT_LEEWAY).is_err(),
                "the same edge as the time rules, at {now}"
            );
        }
    }

    #[test]
    fn facts_on_record_refuse_in_check_states_terms() {
        let scopes: ScopeSet = [Scope::KeysRead].into_iter().collect();
        let claims = Claims::new(
            "i",
            "s",
            "ws",
            scopes,
            1_000,
            ExpiryPreset::OneHour,
            "key_1",
        )
        .expect("claims");
        let code = |facts: KeyFacts| check_state(&claims, &facts, "ws", None).map_err(|e| e.code());
        assert_eq!(code(KeyFacts::on_record(false, 6, Some(5), 1_000)), Ok(()));
        assert_eq!(
            code(KeyFacts::on_record(false, 5, Some(5), 1_000)),
            Err("key_revoked_all")
        );
        assert_eq!(
            code(KeyFacts::on_record(true, 5, Some(5), 1_000)),
            Err("key_revoked"),
            "revoked by itself is said first"
        );
        assert_eq!(code(KeyFacts::not_on_record(true)), Err("key_unknown"));
        assert_eq!(
            code(KeyFacts::not_on_record(false)),
            Err("workspace_unknown")
        );
    }
}
