//! Signing in and being recognised, as the facade does it: the password is checked (Argon2id)
//! outside any transaction, and a TOTP code when the person enrolled a factor; the answer never
//! says which part was wrong or whether the email exists. A session is a random token the store
//! keeps only as a digest; every request checks it against its lifetimes and its member's
//! current state, in whatever process serves it.

use keyhold_access::throttle::subjects;
use keyhold_access::{AccessError, SessionPolicy, normalise_email, totp};
use keyhold_crypto::password::{burn_password_check, verify_password};
use keyhold_store::{MemberRow, PolicyRow, RecordKey};
use keyhold_team::{self as team, SessionFacts, SessionToken};

use crate::{Caller, Error, Keyhold, Membership, Origin, Result, SecretBytes, api, now};

fn failed() -> Error {
    Error::Access(AccessError::SignInFailed)
}

/// Where a person's TOTP secret is kept (an envelope record), enrolled or `pending`.
fn totp_record(email: &str, pending: bool) -> RecordKey {
    let kind = if pending { "totp-pending" } else { "totp" };
    RecordKey {
        workspace: String::new(),
        kind: kind.into(),
        id: email.to_owned(),
    }
}

impl Keyhold {
    /// Checks a person's password under the throttle (the attempt counted first): their
    /// email, facts and the throttle's subjects. A failure is recorded and answered
    /// `sign_in_failed`, however it failed.
    fn credentials(
        &self,
        origin: &Origin,
        email: &str,
        password: &str,
        code: Option<&str>,
    ) -> Result<(String, SessionFacts, [String; 2], Option<i64>)> {
        let email = normalise_email(email).map_err(|_| failed())?;
        let subjects = subjects(&email, origin.source.as_deref());
        let now = now();
        let facts = self.store.write(|tx| -> Result<_> {
            Ok(team::sign_in_facts(
                (&self.rows, tx),
                &email,
                &subjects,
                now,
            )?)
        })?;
        let person = facts.person.as_ref();
        let ok = match person.and_then(|p| p.password_hash.as_deref()) {
            Some(hash) => verify_password(password.as_bytes(), hash)?,
            None => {
                burn_password_check();
                false
            }
        };
        // A person with a factor needs its code too, never used before.
        let step = match (ok, person.filter(|p| p.totp)) {
            (true, Some(p)) => {
                let secret = self
                    .store
                    .read(|tx| self.open_record(tx, &totp_record(&email, false)))?;
                let last = p.totp_step.and_then(|s| u64::try_from(s).ok());
                code.and_then(|c| totp::accept(secret.expose(), c, now, last))
                    .map(|s| i64::try_from(s).unwrap_or(i64::MAX))
            }
            _ => None,
        };
        if !ok || (person.is_some_and(|p| p.totp) && step.is_none()) {
            // Recorded as the person when there is one, else as nobody: a mistyped email (or a
            // password typed into its field) is not written down.
            let target = if person.is_some() {
                email.as_str()
            } else {
                "unknown"
            };
            let by = Caller::claiming(target, origin.clone());
            self.store
                .write(|tx| self.recorded(tx, &by, team::record_failure(target)))?;
            return Err(failed());
        }
        Ok((email, facts, subjects, step))
    }

    /// Signs a person in from `origin` (its address is the throttle's source): a session in
    /// the workspace named, or their first active one. `sign_in_failed` for any wrong
    /// combination, `sign_in_throttled` while failures make them wait.
    pub fn sign_in(
        &self,
        origin: &Origin,
        req: &api::SignIn,
        policy: SessionPolicy,
    ) -> Result<(SessionToken, api::Session)> {
        let code = req.totp.as_ref().map(|c| c.expose());
        let (_, facts, subjects, step) =
            self.credentials(origin, &req.email, req.password.expose(), code)?;
        let has_totp = facts.person.as_ref().is_some_and(|p| p.totp);
        // The workspace asked for, by id or name (one that does not exist matches nothing).
        let wanted = match req.workspace.as_deref() {
            Some(w) => Some(self.store.read(|tx| team::workspace_id(tx, w))?),
            None => None,
        };
        let asked = |m: &MemberRow| wanted.as_deref().is_none_or(|w| m.workspace == w);
        let chosen = facts
            .members
            .iter()
            .find(|(p, m)| m.state == "active" && asked(m) && (has_totp || !p.require_totp))
            .cloned();
        // Right credentials but no workspace to enter: the same answer as wrong ones.
        let (p, m) = chosen.ok_or_else(failed)?;
        let (token, id) = team::secret("khs_")?;
        let csrf = team::csrf_of(&token);
        let csrf_id = team::digest(&csrf);
        let me = Caller::member(membership(&m, &p)?).with_origin(origin.clone());
        let now = now();
        self.store.write(|tx| {
            let opened = team::open_session(
                (&self.rows, tx),
                (&m, &subjects),
                (&id, &csrf_id),
                (policy, step),
                now,
            );
            self.recorded(tx, &me, opened)
        })?;
        let workspaces = self
            .store
            .read(|tx| team::workspaces(tx, facts.members.iter().map(|(_, m)| m)))?;
        let here = workspaces.iter().find(|w| w.workspace == m.workspace);
        let session = api::Session {
            csrf: api::Secret::new(csrf.as_str()),
            email: m.email.clone(),
            expires_at: now + policy.absolute,
            idle_minutes: policy.idle / 60,
            role: m.role.clone(),
            workspace: m.workspace.clone(),
            workspace_name: here.map(|w| w.name.clone()).unwrap_or_default(),
            workspaces,
        };
        Ok((SessionToken(token), session))
    }

    /// Enrols a TOTP second factor for the person whose password `req` proves: without a
    /// code, a new secret (kept pending, shown once); with the authenticator's code for it, the
    /// factor itself. A person who has a factor already keeps it.
    pub fn enrol_totp(
        &self,
        origin: &Origin,
        req: &api::TotpEnrol,
    ) -> Result<Option<api::TotpSecret>> {
        let (email, facts, subjects, _) =
            self.credentials(origin, &req.email, req.password.expose(), None)?;
        if facts.person.as_ref().is_some_and(|p| p.totp) {
            let reason = "a second factor is enrolled already".to_owned();
            return Err(Error::InvalidInput {
                field: "totp",
                reason,
            });
        }
        let (now, by) = (now(), Caller::claiming(&email, origin.clone()));
        let Some(code) = &req.code else {
            let secret = SecretBytes::from_vec(
                keyhold_crypto::random::array::<{ totp::SECRET_BYTES }>()?.to_vec(),
            );
            self.store.write(|tx| -> Result<()> {
                self.seal_record(tx, totp_record(&email, true), &secret)?;
                Ok(team::credentials_ok(tx, &subjects, now)?)
            })?;
            let uri = totp::otpauth_uri(secret.expose(), &email, "keyhold");
            let base32 = totp::base32(secret.expose());
            return Ok(Some(api::TotpSecret {
                otpauth_uri: api::Secret::new(uri),
                secret: api::Secret::new(base32),
            }));
        };
        self.store.write(|tx| {
            let secret = self.open_record(tx, &totp_record(&email, true))?;
            let Some(step) = totp::accept(secret.expose(), code.expose(), now, None) else {
                let reason = "the code does not match the secret: try the next one".to_owned();
                return Err(Error::InvalidInput {
                    field: "code",
                    reason,
                });
            };
            self.seal_record(tx, totp_record(&email, false), &secret)?;
            tx.delete_record(&totp_record(&email, true))?;
            team::credentials_ok(tx, &subjects, now)?;
            let step = i64::try_from(step).unwrap_or(i64::MAX);
            self.recorded(
                tx,
                &by,
                team::totp_enrolled((&self.rows, tx), &email, step, now),
            )
        })?;
        Ok(None)
    }

    /// The member a session token stands for, checked now: the session is known and alive,
    /// and its member is still an active member (with their current role). With `csrf` (a
    /// request that changes something) the session's CSRF token must be the one given.
    pub fn session_caller(
        &self,
        token: &str,
        csrf: Option<Option<&str>>,
        origin: &Origin,
    ) -> Result<Caller> {
        let r = self.recognise(token, csrf)?;
        Ok(Caller::member(membership(&r.member, &r.policy)?).with_origin(origin.clone()))
    }

    /// The session `token` stands for, checked as [`Keyhold::session_caller`] checks it, in
    /// API v1's words: with its CSRF token again (for a page that was reloaded) and every
    /// workspace its person may sign in to.
    pub fn current_session(&self, token: &str) -> Result<api::Session> {
        let r = self.recognise(token, None)?;
        Ok(self
            .store
            .read(|tx| team::described((&self.rows, tx), &r, token))?)
    }

    /// The session `token` stands for, alive, with its CSRF token checked when `csrf` asks
    /// for it; its last-seen time is recorded (at most once a minute).
    fn recognise(&self, token: &str, csrf: Option<Option<&str>>) -> Result<team::Recognised> {
        let invalid = || Error::Access(AccessError::SessionInvalid);
        let now = now();
        let found = self.store.read(|tx| -> Result<_> {
            Ok(team::session((&self.rows, tx), &team::digest(token))?)
        })?;
        let r = found.filter(|r| r.alive(now)).ok_or_else(invalid)?;
        let same = |c: &str| {
            keyhold_crypto::random::constant_time_eq(
                team::digest(c).as_bytes(),
                r.row.csrf.as_bytes(),
            )
        };
        if csrf.is_some_and(|given| !given.is_some_and(same)) {
            return Err(Error::Access(AccessError::CsrfFailed));
        }
        if r.due(now) {
            self.store
                .write(|tx| -> Result<()> { Ok(team::touch(tx, &r, now)?) })?;
        }
        Ok(r)
    }

    /// Ends the session `token` stands for (signing out).
    pub fn sign_out(&self, token: &str, origin: &Origin) -> Result<()> {
        let me = self.session_caller(token, None, origin)?;
        let id = team::digest(token);
        let ws = me.membership().map(|m| m.workspace.clone());
        self.store.write(|tx| {
            tx.delete_session(&id)?;
            let event = keyhold_audit::events::team(
                keyhold_audit::Action::SignedOut,
                ws.as_deref(),
                &id[..16],
                &[],
            )?;
            self.audit(tx, &me, event)
        })
    }
}

/// Member `m` as a caller's membership, under their workspace's policy `p`.
fn membership(m: &MemberRow, p: &PolicyRow) -> Result<Membership> {
    let role = keyhold_access::Role::named(&m.role)?;
    Ok(Membership {
        email: m.email.clone(),
        workspace: m.workspace.clone(),
        role,
        grantable: role.grantable_in(&p.developer_scopes),
    })
}
