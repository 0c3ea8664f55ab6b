//! Members of a workspace: added (with a password hash, or an enrolment code shown once),
//! listed, given another role, disabled (their sessions end at once), removed; enrolment; and
//! the workspace's access policy. Each change is checked against the changer's role by
//! `keyhold-access` and drafted as its audit event.

use keyhold_access::{ENROLMENT_SECS, Role, decide_change, normalise_email};
use keyhold_api as api;
use keyhold_audit::Action;
use keyhold_audit::events::team;
use keyhold_crypto::secrecy::zeroize::Zeroizing;
use keyhold_integrity::RowAuth;
use keyhold_store::{EnrolmentRow, MemberRow, PersonRow, PolicyRow, Tx};

use crate::{Drafted, TeamError, digest};

/// The scopes developers may give their keys when no policy says otherwise.
pub const DEFAULT_DEVELOPER_SCOPES: &str = "execute:queries read:queries";

/// Who makes a change: their name as records write it (`member:EMAIL`, `key:ID`,
/// `operator:NAME`) and their role (`None`: the operator or an `admin` key, whom no role
/// limits).
#[derive(Debug, Clone)]
pub struct Manager {
    /// The changer's name.
    pub name: String,
    /// The changer's role, if they are a member.
    pub role: Option<Role>,
    /// Whether the changer is the operator (who alone may set an existing person's password).
    pub operator: bool,
}

/// Adds person `req.email` to workspace `ws` (id, name) with `req.role`. With `hash` (of a
/// password the facade checked and hashed) the membership is active; otherwise it is invited
/// and the answer carries enrolment code `code`, shown once, valid 24 hours.
pub fn add_member(
    (rows, tx): (&RowAuth, &Tx<'_>),
    (ws, ws_name): (&str, &str),
    by: &Manager,
    (req, hash): (&api::AddMember, Option<String>),
    (code, code_id): &(Zeroizing<String>, String),
    now: i64,
) -> Drafted<api::Added> {
    let email = normalise_email(&req.email)?;
    let new_role = Role::named(&req.role)?;
    if let Some(r) = by.role {
        r.may_assign(None, Some(new_role))?;
    }
    let local = email.split('@').next().unwrap_or_default();
    let name = req.display_name.as_deref().unwrap_or(local);
    let found = rows.checked(tx.person(&email)?)?;
    // A person is one across workspaces: adding them to another never touches their
    // credentials (only the operator may set an existing person's password).
    if found.is_some() && hash.is_some() && !by.operator {
        return Err(keyhold_access::AccessError::Invalid {
            field: "password",
            reason: "this person exists already: only they (or the operator) set their password",
        }
        .into());
    }
    let mut person = found.unwrap_or_else(|| PersonRow::new(&email, name, now));
    if hash.is_some() {
        (person.password_hash, person.updated_at) = (hash.clone(), now);
    }
    tx.put_person(&rows.sealed(person.clone())?)?;
    let state = if person.password_hash.is_some() {
        "active"
    } else {
        "invited"
    };
    let m = MemberRow::new(ws, &email, (new_role.as_str(), state), by.name.clone(), now);
    if !tx.insert_member(&rows.sealed(m.clone())?)? {
        return Err(TeamError::Conflict(format!(
            "{email} of workspace {ws_name}"
        )));
    }
    let details = [("role", new_role.as_str()), ("state", state)];
    let mut events = vec![team(Action::MemberAdded, Some(ws), &email, &details)?];
    if hash.is_some() {
        events.push(team(Action::PasswordSet, None, &email, &[])?);
    }
    let enrolment = match person.password_hash {
        Some(_) => None,
        None => {
            let expires_at = now + ENROLMENT_SECS;
            let row = EnrolmentRow {
                id: code_id.clone(),
                email: email.clone(),
                workspace: ws.to_owned(),
                expires_at,
                mac: Vec::new(),
            };
            tx.insert_enrolment(&rows.sealed(row)?, now)?;
            events.push(team(Action::EnrolmentIssued, None, &email, &[])?);
            let code = api::Secret::new(code.as_str());
            Some(api::Enrolment { code, expires_at })
        }
    };
    let member = view(&m, Some(&person));
    Ok((api::Added { enrolment, member }, events))
}

/// Whose enrolment code `code` is and for which workspace, if it is one that has not expired
/// at `now` (with `take`, it is deleted: it works once).
pub fn enrolment(
    (rows, tx): (&RowAuth, &Tx<'_>),
    code: &str,
    take: bool,
    now: i64,
) -> Result<Option<(String, String)>, TeamError> {
    let id = digest(code);
    let row = if take {
        tx.take_enrolment(&id)?
    } else {
        tx.enrolment(&id)?
    };
    let row = rows.checked(row)?.filter(|r| r.expires_at > now);
    Ok(row.map(|r| (r.email, r.workspace)))
}

/// Sets person `email`'s password hash, makes their membership of `ws` active if it was
/// invited (no other: each workspace's code activates its own), and ends every session the
/// person had.
pub fn set_password(
    (rows, tx): (&RowAuth, &Tx<'_>),
    (email, ws): (&str, &str),
    hash: String,
    now: i64,
) -> Drafted<()> {
    let mut person = rows
        .checked(tx.person(email)?)?
        .ok_or(keyhold_access::AccessError::EnrolmentInvalid)?;
    (person.password_hash, person.updated_at) = (Some(hash), now);
    tx.put_person(&rows.sealed(person)?)?;
    if let Some(m) = rows.checked(tx.member(ws, email)?)?
        && m.state == "invited"
    {
        let m = MemberRow {
            state: "active".into(),
            updated_at: now,
            ..m
        };
        tx.update_member(&rows.sealed(m)?)?;
    }
    tx.delete_sessions_of("", email)?;
    Ok(((), vec![team(Action::PasswordSet, Some(ws), email, &[])?]))
}

/// Workspace `ws`'s members, by email.
pub fn members((rows, tx): (&RowAuth, &Tx<'_>), ws: &str) -> Result<Vec<api::Member>, TeamError> {
    let mut out = Vec::new();
    for m in tx.members(Some(ws), None)? {
        rows.check_access(&m)?;
        out.push(view(&m, rows.checked(tx.person(&m.email)?)?.as_ref()));
    }
    Ok(out)
}

/// Changes member `email`'s role and/or state (`active` or `disabled`). Disabling ends
/// their sessions at once.
pub fn update_member(
    (rows, tx): (&RowAuth, &Tx<'_>),
    ws: &str,
    by: &Manager,
    email: &str,
    (new_role, state): (Option<Role>, Option<&str>),
    now: i64,
) -> Drafted<api::Member> {
    if state.is_some_and(|s| !matches!(s, "active" | "disabled")) {
        let reason = "active or disabled (a member is invited until they enrol)";
        return Err(keyhold_access::AccessError::Invalid {
            field: "state",
            reason,
        }
        .into());
    }
    let (m, all) = existing((rows, tx), ws, email)?;
    let (from, state) = (role(&m)?, state.unwrap_or(&m.state).to_owned());
    let to = new_role.unwrap_or(from);
    decide_change(
        by.role,
        (&m.email, Some(from)),
        Some((to, &state)),
        roster(&all),
    )?;
    let m = MemberRow {
        role: to.as_str().into(),
        state,
        updated_at: now,
        ..m
    };
    tx.update_member(&rows.sealed(m.clone())?)?;
    if m.state == "disabled" {
        tx.delete_sessions_of(ws, &m.email)?;
    }
    let details = [("role", m.role.as_str()), ("state", m.state.as_str())];
    let event = team(Action::MemberUpdated, Some(ws), &m.email, &details)?;
    Ok((
        view(&m, rows.checked(tx.person(&m.email)?)?.as_ref()),
        vec![event],
    ))
}

/// Removes member `email` from workspace `ws`; their sessions end at once.
pub fn remove_member(
    (rows, tx): (&RowAuth, &Tx<'_>),
    ws: &str,
    by: &Manager,
    email: &str,
    revoke_keys: bool,
) -> Drafted<api::Member> {
    let (m, all) = existing((rows, tx), ws, email)?;
    decide_change(by.role, (&m.email, Some(role(&m)?)), None, roster(&all))?;
    tx.delete_member(ws, &m.email)?;
    let details = [("keys_revoked", if revoke_keys { "yes" } else { "no" })];
    let event = team(Action::MemberRemoved, Some(ws), &m.email, &details)?;
    Ok((
        view(&m, rows.checked(tx.person(&m.email)?)?.as_ref()),
        vec![event],
    ))
}

/// Sets workspace `ws`'s access policy: `scopes` (space-separated, already valid) for
/// developers' keys, and whether a second factor is required.
pub fn set_policy(
    (rows, tx): (&RowAuth, &Tx<'_>),
    (ws, ws_name): (&str, &str),
    (developer_scopes, require_totp): (String, bool),
    now: i64,
) -> Drafted<()> {
    let row = PolicyRow {
        workspace: ws.to_owned(),
        require_totp,
        developer_scopes: developer_scopes.clone(),
        updated_at: now,
        mac: Vec::new(),
    };
    tx.put_policy(&rows.sealed(row)?)?;
    let totp = if require_totp { "yes" } else { "no" };
    let shown = match developer_scopes.as_str() {
        "" => "none",
        scopes => scopes,
    };
    let details = [("require_totp", totp), ("developer_scopes", shown)];
    Ok((
        (),
        vec![team(Action::PolicySet, Some(ws), ws_name, &details)?],
    ))
}

/// Workspace `ws`'s access policy as it applies (the default where none was set).
pub fn policy_row((rows, tx): (&RowAuth, &Tx<'_>), ws: &str) -> Result<PolicyRow, TeamError> {
    let default = || PolicyRow {
        workspace: ws.to_owned(),
        developer_scopes: DEFAULT_DEVELOPER_SCOPES.to_owned(),
        ..PolicyRow::default()
    };
    Ok(rows.checked(tx.policy(ws)?)?.unwrap_or_else(default))
}

/// Member `email` of `ws` (authenticated) and every member of `ws`.
fn existing(
    (rows, tx): (&RowAuth, &Tx<'_>),
    ws: &str,
    email: &str,
) -> Result<(MemberRow, Vec<MemberRow>), TeamError> {
    let email = normalise_email(email)?;
    let m = rows.checked(tx.member(ws, &email)?)?;
    let m = m.ok_or_else(|| TeamError::NotFound(email.clone()))?;
    Ok((m, tx.members(Some(ws), None)?))
}

/// A member as the API shows them.
fn view(m: &MemberRow, p: Option<&PersonRow>) -> api::Member {
    api::Member {
        created_at: m.created_at,
        created_by: m.created_by.clone(),
        display_name: p.map(|p| p.display_name.clone()).unwrap_or_default(),
        email: m.email.clone(),
        has_totp: p.is_some_and(|p| p.totp),
        last_sign_in: p.and_then(|p| p.last_sign_in),
        role: m.role.clone(),
        state: m.state.clone(),
        workspace: m.workspace.clone(),
    }
}

/// A stored role, read back (a row that authenticates holds one of the four).
pub(crate) fn role(m: &MemberRow) -> Result<Role, TeamError> {
    Role::parse(&m.role).ok_or(TeamError::Internal("a member row with an unknown role"))
}

/// The workspace's members as `decide_change` reads them.
fn roster(all: &[MemberRow]) -> impl Iterator<Item = (&str, &str, &str)> {
    all.iter()
        .map(|m| (m.email.as_str(), m.role.as_str(), m.state.as_str()))
}
