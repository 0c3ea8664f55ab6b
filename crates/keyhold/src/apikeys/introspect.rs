//! Introspection for other services: one token checked on behalf of another service's key,
//! told nothing about tokens of other workspaces.

use keyhold_audit::events;

use super::*;

impl Keyhold {
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
        // One reading of the standing for both tokens (the epoch is read per token).
        let standing = match self.store.standing_now().map_err(Error::from) {
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
        let e = Error::from(TokenError::WorkspaceMismatch);
        if !self.record_uses.load(std::sync::atomic::Ordering::Relaxed) {
            return crate::Deferred::new(self, Err(e), None);
        }
        // The token's workspace hears of it only when its signature says it is theirs (an
        // unverified claim must not write into another tenant's log).
        let theirs = token.map(|token| {
            let key = super::verify::known_key(token);
            events::key_rejected(e.code(), Some(key), 0, Some(&caller.key_id)).event(
                &token.sub,
                Some(&token.key_id),
                origin,
            )
        });
        let ours = events::foreign_introspection(e.code(), &caller.workspace).event(
            &caller.sub,
            Some(&caller.key_id),
            origin,
        );
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
}
