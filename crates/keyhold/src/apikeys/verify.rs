//! Verification: the token, its key's standing (through the verify cache), the use record.

use keyhold_audit::events;
use keyhold_token::{CacheEntry, KeyFacts, Lookup};

use super::*;

/// The key a refused token proved to be, as its refusal is recorded.
pub(super) fn known_key(p: &Principal) -> events::KnownKey<'_> {
    events::KnownKey {
        workspace: &p.workspace,
        key_id: &p.key_id,
    }
}

impl Keyhold {
    /// Verifies a token completely: signature, claims and leeway, then — read fresh from the
    /// store — workspace, key status and revoke-all, then that its scopes cover `required`.
    ///
    /// Repeated verifications of the same token are served from a cache that keeps
    /// revocation and expiry exact (see `VerifyCache`).
    ///
    /// Every verification is recorded — `key.used`, or `key.rejected` with the reason code and
    /// the key id when the token's signature was good enough to know it — and a success is
    /// returned only once its record is durable (group commit). The token is never recorded.
    pub fn verify_token(&self, token: &str, required: Option<Scope>) -> Result<Principal> {
        self.verify_token_from(
            token,
            required,
            &crate::Origin::new(crate::Surface::Library),
        )
    }

    /// [`Keyhold::verify_token`] for a request that arrived from `origin`.
    pub fn verify_token_from(
        &self,
        token: &str,
        required: Option<Scope>,
        origin: &crate::Origin,
    ) -> Result<Principal> {
        self.verify_token_deferred(token, required, origin).wait()
    }

    /// [`Keyhold::verify_token_from`], returning as soon as the token is checked: the outcome
    /// is given by the [`Deferred`](crate::Deferred) once its use record is durable (`.await`
    /// it, or `wait()`). The check itself is CPU work and, on a cache miss, one indexed read.
    pub fn verify_token_deferred(
        &self,
        token: &str,
        required: Option<Scope>,
        origin: &crate::Origin,
    ) -> crate::Deferred<'_, Principal> {
        match self.check_token(token, required) {
            Ok(p) => self.accept(p, None, origin),
            Err(rejection) => self.reject(*rejection, None, origin),
        }
    }

    /// Records a verified token's use (`key.used`, naming the introspecting service's key if
    /// any); the principal is given once the row is durable.
    pub(super) fn accept(
        &self,
        p: Principal,
        introspector: Option<&Principal>,
        origin: &crate::Origin,
    ) -> crate::Deferred<'_, Principal> {
        if !self.record_uses.load(std::sync::atomic::Ordering::Relaxed) {
            return crate::Deferred::new(self, Ok(p), None);
        }
        let by = introspector.map(|by| by.key_id.as_str());
        let record = events::key_used(&p.workspace, &p.key_id, by);
        match record.event(&p.sub, Some(&p.key_id), origin) {
            Ok(event) => {
                let ticket = self.uses.enqueue(event);
                crate::Deferred::new(self, Ok(p), Some(ticket))
            }
            Err(e) => crate::Deferred::new(self, Err(e), None),
        }
    }

    /// Records a rejected token (`key.rejected`, with the key when its signature told it).
    /// The rejection stands whether or not its record could be written; waiting for the
    /// record still paces a flood of bad tokens to the disk's speed.
    pub(super) fn reject(
        &self,
        (e, known): (Error, Option<Principal>),
        introspector: Option<&Principal>,
        origin: &crate::Origin,
    ) -> crate::Deferred<'_, Principal> {
        if !self.record_uses.load(std::sync::atomic::Ordering::Relaxed) {
            return crate::Deferred::new(self, Err(e), None);
        }
        let mut suppressed = 0;
        if introspector.is_none() {
            // Bounded: a flood of refused tokens is counted, not written row by row. (An
            // introspection's row is also the asking service's use: always written.)
            let key = known.as_ref().map(|k| k.key_id.as_str());
            let at = std::time::Instant::now();
            let (admit, evicted) =
                self.rejections
                    .admit(origin.source.as_deref(), e.code(), key, at);
            self.write_rejection_counts(evicted.into_iter().chain(self.rejections.take_due(at)));
            match admit {
                crate::rejections::Admit::Count => {
                    return crate::Deferred::new(self, Err(e), None);
                }
                crate::rejections::Admit::Write { suppressed: n } => suppressed = n,
            }
        }
        let (sub, key) = match &known {
            Some(k) => (k.sub.as_str(), Some(k.key_id.as_str())),
            None => (events::ANONYMOUS, None),
        };
        let by = introspector.map(|by| by.key_id.as_str());
        let record = events::key_rejected(e.code(), known.as_ref().map(known_key), suppressed, by);
        let ticket = record
            .event(sub, key, origin)
            .ok()
            .map(|event| self.uses.enqueue(event));
        let refused = crate::Deferred::new(self, Err(e), ticket);
        // For an introspection the row is also the record of the asking service's use: no
        // answer without it.
        if introspector.is_some() {
            refused.strict()
        } else {
            refused
        }
    }

    /// Turns recording of key uses and rejections on or off for this handle (on by default).
    /// Off is for benchmarks and offline tools that verify without serving anyone: nothing
    /// that serves requests turns it off.
    pub fn record_key_uses(&self, on: bool) {
        self.record_uses
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The verification itself; on failure, who the token claimed to be if its signature
    /// verified.
    pub(super) fn check_token(
        &self,
        token: &str,
        required: Option<Scope>,
    ) -> std::result::Result<Principal, Rejection> {
        self.check_token_at(token, required, None)
    }

    /// [`Keyhold::check_token`] with the store's standing already read for this request
    /// (an introspection checks two tokens against one reading).
    pub(super) fn check_token_at(
        &self,
        token: &str,
        required: Option<Scope>,
        standing: Option<Standing>,
    ) -> std::result::Result<Principal, Rejection> {
        let now = now();
        if !self.verify_cache.enabled() {
            return self.verify_fresh(token, required, now, false);
        }
        let standing = match standing {
            Some(s) => s,
            None => self
                .store
                .standing_now()
                .map_err(|e| Box::new((Error::from(e), None)))?,
        };
        // The epoch after the standing: a revocation of this handle that the standing reading
        // predates has bumped it (before its commit) by now, or comes after this check.
        let epoch = self
            .revocation_epoch
            .load(std::sync::atomic::Ordering::Acquire);
        // Fast path: a cached token whose standing is provably current.
        let seen = (standing, epoch);
        match self
            .verify_cache
            .lookup(token, now, &seen, std::time::Instant::now, required)
        {
            Lookup::Hit(principal) => Ok(principal),
            Lookup::Refused(e, p) => Err(Box::new((Error::from(e), Some(p)))),
            Lookup::Miss => self.verify_fresh(token, required, now, true),
        }
    }

    /// The full path: parse, signature, claims, then the standing read from the store.
    pub(super) fn verify_fresh(
        &self,
        token: &str,
        required: Option<Scope>,
        now: i64,
        cache: bool,
    ) -> std::result::Result<Principal, Rejection> {
        let verified = self
            .verify_signed(token, now)
            .map_err(|e| Box::new((e, None)))?;
        let claims = verified.claims();
        let epoch = self
            .revocation_epoch
            .load(std::sync::atomic::Ordering::Acquire);
        let read_at = std::time::Instant::now();
        let (standing, facts) = self
            .standing(claims.jti(), claims.workspace(), claims.iat())
            .map_err(|e| (e, None))?;
        let principal = Principal::of(&verified);
        if let Err(e) = keyhold_token::check_state(claims, &facts, claims.workspace(), None) {
            return Err(Box::new((Error::from(e), Some(principal))));
        }
        if let Some(required) = required
            && !claims.scopes().covers(required)
        {
            return Err(Box::new((
                Error::from(TokenError::InsufficientScope { required }),
                Some(principal),
            )));
        }
        if cache {
            let entry = CacheEntry {
                principal: principal.clone(),
                claims: verified.into_claims(),
                facts,
                seen: (standing, epoch),
                read_at,
            };
            self.verify_cache.insert(token, entry);
        }
        Ok(principal)
    }

    /// Steps 1–11 of verification, against this handle's verifying keys — reloaded once if
    /// the token names a key this handle does not know and the store has changed since they
    /// were loaded (another process may have rotated the signing key).
    fn verify_signed(&self, token: &str, now: i64) -> Result<VerifiedToken> {
        let verify = |signing: &Signing| {
            keyhold_token::verify(token, &signing.verifiers, &self.issuer, now, DEFAULT_LEEWAY)
        };
        let first = verify(&read(&self.signing));
        match first {
            Err(TokenError::UnknownKid)
                if self.store.changes().ok() != read(&self.signing).loaded_at =>
            {
                self.reload_verifiers()?;
                verify(&read(&self.signing))
            }
            other => other,
        }
        .map_err(Error::from)
    }

    /// What the store says about key `jti` of `workspace`, with the standing it was read at
    /// (one statement on the hot path; a second only when the key is unknown).
    pub(super) fn standing(
        &self,
        jti: &str,
        workspace: &str,
        iat: i64,
    ) -> Result<(Standing, KeyFacts)> {
        let (standing, found) = self.store.key_standing(jti, |standing, found| {
            let facts = match found {
                Some(st) if st.workspace == workspace => {
                    // Both must authenticate: an edited, inserted or moved row is an integrity
                    // error, never a grant. (Checked on the borrowed row: nothing is copied.)
                    self.rows
                        .check_standing(jti, &st)
                        .map_err(Error::from)
                        .map(|()| {
                            Some(KeyFacts::on_record(
                                st.revoked_at_ms.is_some(),
                                st.mint_seq,
                                st.revoked_all_seq,
                                iat,
                            ))
                        })
                }
                _ => Ok(None),
            };
            (standing, facts)
        })?;
        let facts = match found? {
            Some(facts) => facts,
            None => KeyFacts::not_on_record(
                self.store
                    .read(|tx| Ok::<_, Error>(tx.workspace(workspace)?.is_some()))?,
            ),
        };
        Ok((standing, facts))
    }

    /// Sets how many verified tokens this handle remembers (0 disables the cache).
    pub fn set_verify_cache_capacity(&self, capacity: usize) {
        self.verify_cache.set_capacity(capacity);
    }
}
