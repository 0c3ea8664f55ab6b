//! Signing in and being recognised, as the facade does it: the password is checked (Argon2id)
//! outside any transaction; the answer never says which part was wrong or whether the email
//! exists. A session is a random token the store keeps only as a digest; every request checks
//! it against its lifetimes and its member's current state, in whatever process serves it.

use keyhold_access::{AccessError, SessionPolicy, normalise_email};
use keyhold_crypto::password::{burn_password_check, verify_password};
use keyhold_store::{MemberRow, PersonRow, PolicyRow};
use keyhold_team as team;

use crate::{Caller, Error, Keyhold, Membership, Origin, Result, Zeroizing, api, now};

/// A new session's token: set as the session cookie, never shown anywhere else.
pub struct SessionToken(pub Zeroizing<String>);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

impl Keyhold {
    /// Signs a person in from `origin` (its address is the throttle's source): a session in
    /// the workspace named, or their first active one. `sign_in_failed` for any wrong
    /// combination, `sign_in_throttled` while failures make them wait.
    pub fn sign_in(
        &self,
        origin: &Origin,
        req: &api::SignIn,
        policy: SessionPolicy,
    ) -> Result<(SessionToken, api::Session)> {
        let failed = || Error::Access(AccessError::SignInFailed);
        let email = normalise_email(&req.email).map_err(|_| failed())?;
        // The account is throttled per source, so that nobody elsewhere can lock its person
        // out; the source on its own, so that one place cannot guess across accounts.
        let source = source_of(origin);
        let subjects = [
            format!("account:{email}|{source}"),
            format!("source:{source}"),
        ];
        let now = now();
        let facts = self.store.write(|tx| -> Result<_> {
            Ok(team::sign_in_facts(
                (&self.rows, tx),
                &email,
                &subjects,
                now,
            )?)
        })?;
        let ok = match facts
            .person
            .as_ref()
            .and_then(|p| p.password_hash.as_deref())
        {
            Some(hash) => verify_password(req.password.expose().as_bytes(), hash)?,
            None => {
                burn_password_check();
                false
            }
        };
        let asked = |m: &MemberRow| req.workspace.as_deref().is_none_or(|w| m.workspace == w);
        let chosen = facts
            .members
            .into_iter()
            .find(|(_, m)| m.state == "active" && asked(m));
        let Some((p, m)) = chosen.filter(|(p, _)| ok && admits(facts.person.as_ref(), p)) else {
            // Recorded as the person when there is one, else as nobody: a mistyped email (or a
            // password typed into its field) is not written down.
            let target = if facts.person.is_some() {
                email.as_str()
            } else {
                "unknown"
            };
            let by = Caller::claiming(target, origin.clone());
            self.store
                .write(|tx| self.recorded(tx, &by, team::record_failure(target)))?;
            return Err(failed());
        };
        let ((token, id), (csrf, csrf_id)) = (team::secret("khs_")?, team::secret("khx_")?);
        let me = Caller::member(membership(&m, &p)?).with_origin(origin.clone());
        self.store.write(|tx| {
            let opened = team::open_session(
                (&self.rows, tx),
                (&m, &subjects),
                (&id, &csrf_id),
                policy,
                now,
            );
            self.recorded(tx, &me, opened)
        })?;
        let session = api::Session {
            csrf: api::Secret::new(csrf.as_str()),
            email: m.email.clone(),
            expires_at: now + policy.absolute,
            idle_minutes: policy.idle / 60,
            role: m.role.clone(),
            workspace: m.workspace.clone(),
        };
        Ok((SessionToken(token), session))
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
        self.store
            .write(|tx| -> Result<()> { Ok(team::touch(tx, &r, now)?) })?;
        Ok(Caller::member(membership(&r.member, &r.policy)?).with_origin(origin.clone()))
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

/// Whether a person with a right password is admitted to a workspace with policy `p`: a
/// workspace that requires a second factor admits nobody until TOTP enrolment is offered,
/// rather than admitting without one.
fn admits(person: Option<&PersonRow>, p: &PolicyRow) -> bool {
    !p.require_totp && person.is_some_and(|person| !person.totp)
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

/// Where a request came from, for the throttle: the address without its port, an IPv6
/// address by its /64 (one host usually holds a whole /64).
fn source_of(origin: &Origin) -> String {
    let s = origin.source.as_deref().unwrap_or("unknown");
    match s.parse::<std::net::SocketAddr>().map(|a| a.ip()) {
        Ok(std::net::IpAddr::V6(v6)) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        Ok(ip) => ip.to_string(),
        Err(_) => s.to_owned(),
    }
}
