//! Sign-in and sessions, persisted: the facts a sign-in decides on (read under the
//! throttle), a failure counted and recorded, a session opened, and a session recognised.

use keyhold_access::throttle::FORGET_AFTER;
use keyhold_access::{Role, SessionPolicy, Throttle};
use keyhold_api as api;
use keyhold_audit::Action;
use keyhold_audit::events::team;
use keyhold_integrity::RowAuth;
use keyhold_store::{MemberRow, PersonRow, PolicyRow, SessionRow, Tx};

use crate::members::{policy_row, role};
use crate::{Drafted, TeamError};
use keyhold_crypto::secrecy::zeroize::Zeroizing;

/// What a sign-in decides on: the person (if there is one) and their memberships, each with
/// its workspace's policy.
#[derive(Debug)]
pub struct SessionFacts {
    /// The person.
    pub person: Option<PersonRow>,
    /// Their memberships, with each workspace's policy.
    pub members: Vec<(PolicyRow, MemberRow)>,
}

/// The facts for a sign-in of `email` at `now`, unless the throttle makes `subjects`
/// (account, source) wait. The attempt is counted against both now, before the password is
/// checked, so parallel guesses cannot all slip under the throttle; a success takes it back
/// ([`open_session`]).
pub fn sign_in_facts(
    (rows, tx): (&RowAuth, &Tx<'_>),
    email: &str,
    subjects: &[String; 2],
    now: i64,
) -> Result<SessionFacts, TeamError> {
    let [a, s] = [tx.failures(&subjects[0])?, tx.failures(&subjects[1])?];
    Throttle::default().check(a, s, now)?;
    for subject in subjects {
        tx.add_failure(subject, now, FORGET_AFTER)?;
    }
    let mut members = Vec::new();
    for m in tx.members(None, Some(email))? {
        rows.check_access(&m)?;
        members.push((policy_row((rows, tx), &m.workspace)?, m));
    }
    let person = rows.checked(tx.person(email)?)?;
    Ok(SessionFacts { person, members })
}

/// Drafts the event of a failed sign-in about `target` (the email if it is a person's, else
/// `unknown`); the attempt was counted already.
pub fn record_failure(target: &str) -> Drafted<()> {
    let event = team(Action::SignInFailed, None, target, &[])?.failed("sign_in_failed");
    Ok(((), vec![event]))
}

/// Opens a session of member `m` named by digests `ids` (session, CSRF) at `now`, and
/// takes back the attempt counted for `subjects`.
pub fn open_session(
    (rows, tx): (&RowAuth, &Tx<'_>),
    (m, subjects): (&MemberRow, &[String; 2]),
    (id, csrf_id): (&str, &str),
    (policy, step): (SessionPolicy, Option<i64>),
    now: i64,
) -> Drafted<()> {
    let lifetimes = (policy.idle, policy.absolute);
    let row = SessionRow::new((id, csrf_id), (&m.email, &m.workspace), now, lifetimes);
    tx.insert_session(&rows.sealed(row)?, now)?;
    credentials_ok(tx, subjects, now)?;
    tx.signed_in(&m.email, now, step)?;
    let prefix = id.get(..16).unwrap_or(id);
    Ok((
        (),
        vec![team(Action::SignedIn, Some(&m.workspace), prefix, &[])?],
    ))
}

/// Takes back the attempt counted for `subjects` once it proved right: the account's count
/// is cleared, the source's loses this one.
pub fn credentials_ok(tx: &Tx<'_>, subjects: &[String; 2], now: i64) -> Result<(), TeamError> {
    tx.set_failures(&subjects[0], 0, now)?;
    tx.undo_failure(&subjects[1])?;
    Ok(())
}

/// Marks person `email`'s TOTP factor enrolled, the code of `step` used.
pub fn totp_enrolled(
    (rows, tx): (&RowAuth, &Tx<'_>),
    email: &str,
    step: i64,
    now: i64,
) -> Drafted<()> {
    let mut person = rows
        .checked(tx.person(email)?)?
        .ok_or(TeamError::Internal("a factor enrolled for nobody"))?;
    (person.totp, person.updated_at) = (true, now);
    tx.put_person(&rows.sealed(person)?)?;
    tx.signed_in(email, now, Some(step))?;
    Ok(((), vec![team(Action::TotpEnrolled, None, email, &[])?]))
}

/// A new session's token: set as the session cookie, never shown anywhere else.
pub struct SessionToken(pub Zeroizing<String>);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

/// A session recognised: the session, its member with their current role, and the
/// workspace's policy.
#[derive(Debug)]
pub struct Recognised {
    /// The session.
    pub row: SessionRow,
    /// Its member, as they are now.
    pub member: MemberRow,
    /// Their role.
    pub role: Role,
    /// The workspace's policy.
    pub policy: PolicyRow,
    /// Whether the person has a second factor.
    pub has_totp: bool,
}

impl Recognised {
    /// Whether a request at `now` should record the session's last-seen time: at most once a
    /// minute, so most requests write nothing.
    pub fn due(&self, now: i64) -> bool {
        SessionPolicy::default().touch(self.row.last_seen, now)
    }

    /// Whether the session is alive at `now`, its member active, and the workspace's policy
    /// still admits them (a second factor required since they signed in ends it).
    pub fn alive(&self, now: i64) -> bool {
        SessionPolicy::new(self.row.idle_secs, self.row.absolute_secs)
            .is_some_and(|p| p.alive(self.row.created_at, self.row.last_seen, now))
            && self.member.state == "active"
            && (self.has_totp || !self.policy.require_totp)
    }
}

/// The session named `id` with its member, if both exist and authenticate.
pub fn session((rows, tx): (&RowAuth, &Tx<'_>), id: &str) -> Result<Option<Recognised>, TeamError> {
    let Some(row) = rows.checked(tx.session(id)?)? else {
        return Ok(None);
    };
    let Some(member) = rows.checked(tx.member(&row.workspace, &row.email)?)? else {
        return Ok(None);
    };
    let policy = policy_row((rows, tx), &member.workspace)?;
    let role = role(&member)?;
    let has_totp = rows
        .checked(tx.person(&member.email)?)?
        .is_some_and(|p| p.totp);
    Ok(Some(Recognised {
        row,
        member,
        role,
        policy,
        has_totp,
    }))
}

/// The CSRF token of the session whose token is `token`: derived from it (SHA-256 under its
/// own label), so that a page reloaded in the browser, which keeps no secret of its own, can
/// ask for it again with nothing but its cookie. Knowing it reveals nothing of the session
/// token, and it cannot be made without that token; the store keeps only its digest.
pub fn csrf_of(token: &str) -> Zeroizing<String> {
    let mut labelled = Zeroizing::new(String::from("keyhold csrf v1\n"));
    labelled.push_str(token);
    Zeroizing::new(format!(
        "khx_{}",
        keyhold_crypto::sha256_hex(labelled.as_bytes())
    ))
}

/// The workspaces among `members` a person is an active member of, with their names and
/// the person's role there.
pub fn workspaces<'m>(
    tx: &Tx<'_>,
    members: impl IntoIterator<Item = &'m MemberRow>,
) -> Result<Vec<api::WorkspaceRole>, TeamError> {
    let mut out = Vec::new();
    for m in members.into_iter().filter(|m| m.state == "active") {
        let name = tx
            .workspace(&m.workspace)?
            .map(|w| w.name)
            .unwrap_or_default();
        out.push(api::WorkspaceRole {
            name,
            role: m.role.clone(),
            workspace: m.workspace.clone(),
        });
    }
    Ok(out)
}

/// The id of the workspace whose id or name is `ident`, or an empty string (which no
/// membership has) if there is none.
pub fn workspace_id(tx: &Tx<'_>, ident: &str) -> Result<String, TeamError> {
    Ok(tx.workspace(ident)?.map(|w| w.id).unwrap_or_default())
}

/// Session `r` (whose token is `token`) in API v1's words: its CSRF token again, when it
/// ends, and every workspace its person may sign in to.
pub fn described(
    (rows, tx): (&RowAuth, &Tx<'_>),
    r: &Recognised,
    token: &str,
) -> Result<api::Session, TeamError> {
    let mut members = Vec::new();
    for m in tx.members(None, Some(&r.member.email))? {
        rows.check_access(&m)?;
        members.push(m);
    }
    let workspaces = workspaces(tx, &members)?;
    let here = workspaces
        .iter()
        .find(|w| w.workspace == r.member.workspace);
    Ok(api::Session {
        csrf: api::Secret::new(csrf_of(token).as_str()),
        email: r.member.email.clone(),
        expires_at: r.row.created_at.saturating_add(r.row.absolute_secs),
        idle_minutes: r.row.idle_secs / 60,
        role: r.member.role.clone(),
        workspace: r.member.workspace.clone(),
        workspace_name: here.map(|w| w.name.clone()).unwrap_or_default(),
        workspaces,
    })
}

/// Records a request of the session at `now` (once a minute at most: see [`Recognised::due`]).
pub fn touch(tx: &Tx<'_>, r: &Recognised, now: i64) -> Result<(), TeamError> {
    tx.touch_session(&r.row.id, now)?;
    Ok(())
}
