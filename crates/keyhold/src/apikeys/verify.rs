//! Verification: the token, its key's standing, the use record; introspection for other
//! services.

use super::*;

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
        let mut record = crate::audit::EventDraft::new(keyhold_audit::Action::KeyUsed)
            .workspace(&p.workspace)
            .target(&p.key_id);
        if let Some(by) = introspector {
            record = record.introspected_by(&by.key_id);
        }
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
        let mut record =
            crate::audit::EventDraft::new(keyhold_audit::Action::KeyRejected).failed(e.code());
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
                crate::rejections::Admit::Write { suppressed: 0 } => {}
                crate::rejections::Admit::Write { suppressed } => {
                    record =
                        record.detail("suppressed", i64::try_from(suppressed).unwrap_or(i64::MAX));
                }
            }
        }
        let (sub, key) = match &known {
            Some(k) => {
                record = record.workspace(&k.workspace).target(&k.key_id);
                (k.sub.as_str(), Some(k.key_id.as_str()))
            }
            None => ("anonymous", None),
        };
        if let Some(by) = introspector {
            record = record.introspected_by(&by.key_id);
        }
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

    /// Token introspection on behalf of another service, in one step and one audit record.
    ///
    /// `caller_token` is the service's own key and must hold `keys:read`; if it is refused,
    /// that refusal is recorded and returned as `Err`. Otherwise `token` is verified like
    /// [`Keyhold::verify_token`] (with `required`, if given) and one event is recorded for
    /// it — `key.used` or `key.rejected` — naming the service's key as `introspected_by`: the
    /// use of both keys in one row, and one commit to wait for. The verdict (claims, or why
    /// not) is given by the `Deferred` once that row is durable.
    pub fn introspect_deferred(
        &self,
        caller_token: &str,
        token: &str,
        required: Option<Scope>,
        origin: &crate::Origin,
    ) -> Introspection<'_> {
        // One reading of the standing counter for both tokens (the epoch is read per token).
        let standing = match self.current_standing() {
            Ok(s) => Some(s),
            Err(e) => return Introspection::Refused(self.reject((e, None), None, origin)),
        };
        let caller = match self.check_token_at(caller_token, Some(Scope::KeysRead), standing) {
            Ok(p) => p,
            Err(rejection) => return Introspection::Refused(self.reject(*rejection, None, origin)),
        };
        // A token that says it is another workspace's is not looked up at all (no cache, no
        // standing): one signature check decides whether its workspace is told, and the
        // answer is workspace_mismatch either way — so neither the answer nor its timing
        // says whether it is active, revoked, expired or cached.
        if keyhold_token::claimed_workspace(token).is_some_and(|ws| ws != caller.workspace) {
            let theirs = self.foreign_signed(token, &caller.workspace);
            let verdict = self.refuse_foreign(theirs.as_ref(), &caller, origin);
            return Introspection::Verdict { caller, verdict };
        }
        let verdict = match self.check_token_at(token, required, standing) {
            Ok(p) if p.workspace != caller.workspace => {
                self.refuse_foreign(Some(&p), &caller, origin)
            }
            Ok(p) => self.accept(p, Some(&caller), origin),
            // A token of another workspace says nothing about itself to this service, not even
            // that it is revoked or expired.
            Err(rejection) => match &*rejection {
                (_, Some(p)) if p.workspace != caller.workspace => {
                    self.refuse_foreign(Some(p), &caller, origin)
                }
                // Refused before its principal was known (expired, not yet valid, its rows
                // failed authentication...): if its signature is good, it still names a
                // workspace, and a foreign one is told nothing.
                (_, None) => match self.foreign_signed(token, &caller.workspace) {
                    Some(p) => self.refuse_foreign(Some(&p), &caller, origin),
                    None => self.reject(*rejection, Some(&caller), origin),
                },
                _ => self.reject(*rejection, Some(&caller), origin),
            },
        };
        Introspection::Verdict { caller, verdict }
    }

    /// Who a refused token names, if its signature verifies and it belongs to a workspace
    /// other than `ours`.
    pub(super) fn foreign_signed(&self, token: &str, ours: &str) -> Option<Principal> {
        let id = keyhold_token::signed_identity(token, &read(&self.signing).verifiers)?;
        (id.workspace != ours).then(|| Principal {
            sub: id.sub,
            workspace: id.workspace,
            key_id: id.jti,
            scopes: ScopeSet::default(),
            iat: 0,
            exp: 0,
            kid: String::new(),
        })
    }

    /// A service asked about a token of another workspace: refused as `workspace_mismatch`
    /// with nothing of the token's claims, and recorded twice — in the token's workspace
    /// (whose key was shown to an outsider) and in the asking service's own, naming only its
    /// own key. Both rows must be durable before the answer.
    pub(super) fn refuse_foreign(
        &self,
        token: Option<&Principal>,
        caller: &Principal,
        origin: &crate::Origin,
    ) -> crate::Deferred<'_, Principal> {
        let e = Error::Token(TokenError::WorkspaceMismatch);
        if !self.record_uses.load(std::sync::atomic::Ordering::Relaxed) {
            return crate::Deferred::new(self, Err(e), None);
        }
        // The token's workspace hears of it only when its signature says it is theirs (an
        // unverified claim must not write into another tenant's log).
        let theirs = token.map(|token| {
            crate::audit::EventDraft::new(keyhold_audit::Action::KeyRejected)
                .failed(e.code())
                .workspace(&token.workspace)
                .target(&token.key_id)
                .introspected_by(&caller.key_id)
                .event(&token.sub, Some(&token.key_id), origin)
        });
        let ours = crate::audit::EventDraft::new(keyhold_audit::Action::KeyRejected)
            .failed(e.code())
            .workspace(&caller.workspace)
            .detail("introspection", true)
            .event(&caller.sub, Some(&caller.key_id), origin);
        match (theirs.transpose(), ours) {
            (Ok(theirs), Ok(ours)) => {
                if let Some(theirs) = theirs {
                    self.uses.enqueue(theirs);
                }
                let ticket = self.uses.enqueue(ours);
                crate::Deferred::new(self, Err(e), Some(ticket)).strict()
            }
            (Err(err), _) | (_, Err(err)) => crate::Deferred::new(self, Err(err), None),
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

    /// [`Keyhold::check_token`] with the standing counter already read for this request
    /// (an introspection checks two tokens against one reading).
    pub(super) fn check_token_at(
        &self,
        token: &str,
        required: Option<Scope>,
        standing: Option<i64>,
    ) -> std::result::Result<Principal, Rejection> {
        let now = now();
        if read(&self.verify_cache).capacity == 0 {
            return self.verify_fresh(token, required, now, false);
        }
        let standing = match standing {
            Some(s) => s,
            None => self.current_standing().map_err(|e| Box::new((e, None)))?,
        };
        // The epoch after the standing: a revocation of this handle that the standing reading
        // predates has bumped it (before its commit) by now, or comes after this check.
        let epoch = self
            .revocation_epoch
            .load(std::sync::atomic::Ordering::Acquire);
        // Fast path: a cached token whose standing is provably current.
        let (hit, present) = {
            let cache = read(&self.verify_cache);
            match cache.entries.get(token) {
                Some(c)
                    if within_lifetime(&c.claims, now)
                        && c.seen == (standing, epoch)
                        && c.read_at.elapsed() < STANDING_MAX_AGE =>
                {
                    (
                        Some(
                            keyhold_token::check_state(
                                &c.claims,
                                &c.facts,
                                c.claims.workspace(),
                                required,
                            )
                            .map(|()| c.principal.clone())
                            .map_err(|e| (e, c.principal.clone())),
                        ),
                        true,
                    )
                }
                Some(_) => (None, true),
                None => (None, false),
            }
        };
        match hit {
            Some(Ok(principal)) => return Ok(principal),
            Some(Err((e @ TokenError::InsufficientScope { .. }, p))) => {
                return Err(Box::new((Error::Token(e), Some(p))));
            }
            _ => {}
        }
        if present {
            // Stale or refused: verified again from scratch, never from this entry.
            write(&self.verify_cache).entries.remove(token);
        }
        self.verify_fresh(token, required, now, true)
    }

    /// The standing counter now. Reading `data_version` is enough while it and the main
    /// connection's own write count are where they were at the last read of the counter
    /// (commits of audit rows and last-used times move `data_version` but not the counter:
    /// then one more small read, and cached standings stay valid).
    pub(super) fn current_standing(&self) -> Result<i64> {
        // data_version before own_writes: a commit this reading missed has not counted yet.
        let data_version = self.store.data_version()?;
        let own_writes = self.store.own_writes();
        {
            let v = self
                .validated
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if v.data_version == data_version && v.own_writes == own_writes {
                return Ok(v.standing);
            }
        }
        let now = self.store.versions()?;
        *self
            .validated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Validated {
            data_version: now.data,
            own_writes,
            standing: now.standing,
        };
        Ok(now.standing)
    }

    /// The full path: parse, signature, claims, then the standing read from the store.
    pub(super) fn verify_fresh(
        &self,
        token: &str,
        required: Option<Scope>,
        now: i64,
        cache: bool,
    ) -> std::result::Result<Principal, Rejection> {
        let verified = {
            let first = {
                let signing = read(&self.signing);
                keyhold_token::verify(token, &signing.verifiers, &self.issuer, now, DEFAULT_LEEWAY)
            };
            match first {
                // Another process may have rotated the signing key since we loaded ours.
                Err(TokenError::UnknownKid)
                    if self.store.data_version().ok() != read(&self.signing).loaded_at =>
                {
                    self.reload_verifiers().map_err(|e| (e, None))?;
                    let signing = read(&self.signing);
                    keyhold_token::verify(
                        token,
                        &signing.verifiers,
                        &self.issuer,
                        now,
                        DEFAULT_LEEWAY,
                    )
                }
                other => other,
            }
        }
        .map_err(|e| Box::new((Error::Token(e), None)))?;
        let claims = verified.claims();
        let epoch = self
            .revocation_epoch
            .load(std::sync::atomic::Ordering::Acquire);
        let read_at = std::time::Instant::now();
        let (version, facts, _last_used) = self
            .standing(claims.jti(), claims.workspace(), claims.iat())
            .map_err(|e| (e, None))?;
        let principal = Principal {
            sub: claims.sub().to_owned(),
            workspace: claims.workspace().to_owned(),
            key_id: claims.jti().to_owned(),
            scopes: claims.scopes().clone(),
            iat: claims.iat(),
            exp: claims.exp(),
            kid: verified.kid().to_owned(),
        };
        if let Err(e) = keyhold_token::check_state(claims, &facts, claims.workspace(), None) {
            return Err(Box::new((Error::Token(e), Some(principal))));
        }
        if let Some(required) = required
            && !claims.scopes().covers(required)
        {
            return Err(Box::new((
                Error::Token(TokenError::InsufficientScope { required }),
                Some(principal),
            )));
        }
        if cache {
            let mut cache = write(&self.verify_cache);
            if cache.entries.len() >= cache.capacity {
                // Evict an arbitrary entry: a miss only costs one full verification.
                let victim = cache
                    .entries
                    .keys()
                    .next()
                    .map(|k| String::from(k.0.as_str()));
                if let Some(k) = victim {
                    cache.entries.remove(k.as_str());
                }
            }
            cache.entries.insert(
                CacheKey(Zeroizing::new(token.to_owned())),
                Cached {
                    principal: principal.clone(),
                    claims: verified.into_claims(),
                    facts,
                    seen: (version, epoch),
                    read_at,
                },
            );
        }
        Ok(principal)
    }

    /// What the store says about key `jti` of `workspace`, with the `data_version` it was read
    /// at (one statement on the hot path; a second only when the key is unknown).
    pub(super) fn standing(
        &self,
        jti: &str,
        workspace: &str,
        iat: i64,
    ) -> Result<(i64, KeyFacts, Option<i64>)> {
        let (version, found) = self.store.key_standing(jti, |versions, found| {
            let facts = match found {
                Some(st) if st.workspace == workspace => {
                    // Both must authenticate: an edited, inserted or moved row is an integrity
                    // error, never a grant. (Checked on the borrowed row: nothing is copied.)
                    self.check_standing(jti, &st).map(|()| {
                        let by_all = under_mark(st.mint_seq, st.revoked_all_seq);
                        Some((
                            KeyFacts {
                                workspace_known: true,
                                key_status: if st.revoked_at_ms.is_some() {
                                    KeyStatus::Revoked
                                } else {
                                    KeyStatus::Active
                                },
                                workspace_revoked_all_at: by_all.then_some(iat),
                            },
                            st.last_used_at,
                        ))
                    })
                }
                _ => Ok(None),
            };
            (versions.standing, facts)
        })?;
        Ok(match found? {
            Some((facts, last_used)) => (version, facts, last_used),
            None => {
                let workspace_known = self
                    .store
                    .read(|tx| Ok::<_, Error>(tx.workspace(workspace)?.is_some()))?;
                let facts = KeyFacts {
                    workspace_known,
                    key_status: KeyStatus::Unknown,
                    workspace_revoked_all_at: None,
                };
                (version, facts, None)
            }
        })
    }

    /// Sets how many verified tokens this handle remembers (0 disables the cache).
    pub fn set_verify_cache_capacity(&self, capacity: usize) {
        let mut cache = write(&self.verify_cache);
        cache.capacity = capacity;
        cache.entries.clear();
    }
}
