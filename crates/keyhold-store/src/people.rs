//! Team access statements: people (an email, a password hash, a second factor), their
//! memberships of workspaces with a role, their sessions and enrolment codes, failed sign-ins,
//! and each workspace's access policy. Rows that decide access carry a MAC the facade computes;
//! secrets (session tokens, enrolment codes) are stored only as digests, TOTP secrets only as
//! envelope records.

use crate::sql::{Mismatch, Row, values};
use crate::{StoreError, Tx};

/// A person, who may be a member of several workspaces. (`Debug` does not show the password
/// hash.)
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PersonRow {
    /// The email, lower case: the identity.
    pub email: String,
    /// How they are shown.
    pub display_name: String,
    /// The Argon2id PHC string of their password; `None` until they enrol.
    pub password_hash: Option<String>,
    /// Whether a TOTP secret is enrolled (it is an envelope record).
    pub totp: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last change to the columns above.
    pub updated_at: i64,
    /// The MAC over the columns above.
    pub mac: Vec<u8>,
    /// The last TOTP step accepted (informational replay guard, outside the MAC).
    pub totp_step: Option<i64>,
    /// Unix seconds of the last sign-in (informational).
    pub last_sign_in: Option<i64>,
}

/// A person's membership of a workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberRow {
    /// Workspace id.
    pub workspace: String,
    /// The person's email.
    pub email: String,
    /// `owner`, `admin`, `developer` or `viewer`.
    pub role: String,
    /// `invited`, `active` or `disabled`.
    pub state: String,
    /// Who added them.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// The MAC over the whole row.
    pub mac: Vec<u8>,
}

/// A signed-in session, named by a digest of its token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionRow {
    /// SHA-256 of the session token, hex.
    pub id: String,
    /// Whose.
    pub email: String,
    /// In which workspace.
    pub workspace: String,
    /// SHA-256 of its CSRF token, hex.
    pub csrf: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Idle timeout, seconds.
    pub idle_secs: i64,
    /// Absolute lifetime, seconds.
    pub absolute_secs: i64,
    /// The MAC over the columns above.
    pub mac: Vec<u8>,
    /// Unix seconds of the last request (written at most once a minute, outside the MAC).
    pub last_seen: i64,
}

/// An enrolment code waiting to be redeemed, named by a digest of the code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrolmentRow {
    /// SHA-256 of the code, hex.
    pub id: String,
    /// The person it enrols.
    pub email: String,
    /// The workspace whose membership it activates (only that one).
    pub workspace: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// The MAC over the columns above.
    pub mac: Vec<u8>,
}

/// A workspace's access policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRow {
    /// Workspace id.
    pub workspace: String,
    /// Whether members must sign in with a TOTP code.
    pub require_totp: bool,
    /// The scopes developers may give their keys, space-separated.
    pub developer_scopes: String,
    /// Unix seconds.
    pub updated_at: i64,
    /// The MAC over the whole row.
    pub mac: Vec<u8>,
}

impl std::fmt::Debug for PersonRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonRow")
            .field("email", &self.email)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "(set)"),
            )
            .field("totp", &self.totp)
            .finish_non_exhaustive()
    }
}

impl PersonRow {
    /// A new person, without a password, at `now`.
    pub fn new(email: &str, display_name: &str, now: i64) -> Self {
        Self {
            email: email.to_owned(),
            display_name: display_name.to_owned(),
            created_at: now,
            updated_at: now,
            ..Self::default()
        }
    }
}

impl MemberRow {
    /// A new membership, added by `created_by` at `now`.
    pub fn new(
        workspace: &str,
        email: &str,
        (role, state): (&str, &str),
        created_by: String,
        now: i64,
    ) -> Self {
        Self {
            workspace: workspace.to_owned(),
            email: email.to_owned(),
            role: role.to_owned(),
            state: state.to_owned(),
            created_by,
            created_at: now,
            updated_at: now,
            mac: Vec::new(),
        }
    }
}

impl SessionRow {
    /// A new session of `email` in `workspace` at `now`, with its digests and lifetimes.
    pub fn new(
        (id, csrf): (&str, &str),
        (email, workspace): (&str, &str),
        now: i64,
        (idle_secs, absolute_secs): (i64, i64),
    ) -> Self {
        Self {
            id: id.to_owned(),
            email: email.to_owned(),
            workspace: workspace.to_owned(),
            csrf: csrf.to_owned(),
            created_at: now,
            idle_secs,
            absolute_secs,
            mac: Vec::new(),
            last_seen: now,
        }
    }
}

const PERSON: &str = "email, display_name, password_hash, totp, created_at, updated_at, mac, totp_step, last_sign_in";
const MEMBER: &str = "workspace, email, role, state, created_by, created_at, updated_at, mac";

fn person_from_row(r: &Row) -> Result<PersonRow, Mismatch> {
    Ok(PersonRow {
        email: r.get(0)?,
        display_name: r.get(1)?,
        password_hash: r.get(2)?,
        totp: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        mac: r.get(6)?,
        totp_step: r.get(7)?,
        last_sign_in: r.get(8)?,
    })
}

fn member_from_row(r: &Row) -> Result<MemberRow, Mismatch> {
    Ok(MemberRow {
        workspace: r.get(0)?,
        email: r.get(1)?,
        role: r.get(2)?,
        state: r.get(3)?,
        created_by: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        mac: r.get(7)?,
    })
}

impl Tx<'_> {
    /// Adds a person, or rewrites their authenticated columns (not the informational ones).
    pub fn put_person(&self, p: &PersonRow) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO people ({PERSON}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (email) DO UPDATE SET display_name = ?2, password_hash = ?3, \
                 totp = ?4, updated_at = ?6, mac = ?7"
            ),
            values![
                &p.email,
                &p.display_name,
                &p.password_hash,
                p.totp,
                p.created_at,
                p.updated_at,
                &p.mac,
                p.totp_step,
                p.last_sign_in
            ],
        )
        .map(drop)
    }

    /// The person with this email.
    pub fn person(&self, email: &str) -> Result<Option<PersonRow>, StoreError> {
        self.row(
            &format!("SELECT {PERSON} FROM people WHERE email = ?1"),
            values![email],
            person_from_row,
        )
    }

    /// Records a sign-in at `at`, and the TOTP step it used, if any.
    pub fn signed_in(&self, email: &str, at: i64, step: Option<i64>) -> Result<(), StoreError> {
        self.exec(
            "UPDATE people SET last_sign_in = ?2, totp_step = COALESCE(?3, totp_step) \
             WHERE email = ?1",
            values![email, at, step],
        )
        .map(drop)
    }

    /// Adds a membership; `Ok(false)` if the person is a member of the workspace already.
    pub fn insert_member(&self, m: &MemberRow) -> Result<bool, StoreError> {
        self.exec(
            &format!(
                "INSERT INTO members ({MEMBER}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (workspace, email) DO NOTHING"
            ),
            values![
                &m.workspace,
                &m.email,
                &m.role,
                &m.state,
                &m.created_by,
                m.created_at,
                m.updated_at,
                &m.mac
            ],
        )
        .map(|n| n == 1)
    }

    /// Rewrites a membership's role, state, time and MAC; `Ok(false)` if there is none.
    pub fn update_member(&self, m: &MemberRow) -> Result<bool, StoreError> {
        self.exec(
            "UPDATE members SET role = ?3, state = ?4, updated_at = ?5, mac = ?6 \
             WHERE workspace = ?1 AND email = ?2",
            values![
                &m.workspace,
                &m.email,
                &m.role,
                &m.state,
                m.updated_at,
                &m.mac
            ],
        )
        .map(|n| n == 1)
    }

    /// Removes a membership, its sessions and nothing else; `Ok(false)` if there was none.
    pub fn delete_member(&self, workspace: &str, email: &str) -> Result<bool, StoreError> {
        self.delete_sessions_of(workspace, email)?;
        self.exec(
            "DELETE FROM members WHERE workspace = ?1 AND email = ?2",
            values![workspace, email],
        )
        .map(|n| n == 1)
    }

    /// The membership of `email` in `workspace`.
    pub fn member(&self, workspace: &str, email: &str) -> Result<Option<MemberRow>, StoreError> {
        self.row(
            &format!("SELECT {MEMBER} FROM members WHERE workspace = ?1 AND email = ?2"),
            values![workspace, email],
            member_from_row,
        )
    }

    /// The workspace's members (`Some`), or the person's memberships (`email`), by email or
    /// by workspace.
    pub fn members(
        &self,
        workspace: Option<&str>,
        email: Option<&str>,
    ) -> Result<Vec<MemberRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {MEMBER} FROM members WHERE (CAST(?1 AS TEXT) IS NULL OR workspace = ?1) \
                 AND (CAST(?2 AS TEXT) IS NULL OR email = ?2) ORDER BY workspace, email"
            ),
            values![workspace, email],
            member_from_row,
        )
    }
}
