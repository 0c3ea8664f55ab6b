//! Team access statements: people (an email, a password hash, a second factor), their
//! memberships of workspaces with a role, their sessions and enrolment codes, failed sign-ins,
//! and each workspace's access policy. Rows that decide access carry a MAC the facade computes;
//! secrets (session tokens, enrolment codes) are stored only as digests, TOTP secrets only as
//! envelope records.

use rusqlite::{OptionalExtension, params};

use crate::{StoreError, Tx};

/// A person, who may be a member of several workspaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

const PERSON: &str = "email, display_name, password_hash, totp, created_at, updated_at, mac, totp_step, last_sign_in";
const MEMBER: &str = "workspace, email, role, state, created_by, created_at, updated_at, mac";
const SESSION: &str =
    "id, email, workspace, csrf, created_at, idle_secs, absolute_secs, mac, last_seen";

fn person(r: &rusqlite::Row<'_>) -> rusqlite::Result<PersonRow> {
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

fn member(r: &rusqlite::Row<'_>) -> rusqlite::Result<MemberRow> {
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

fn session(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        id: r.get(0)?,
        email: r.get(1)?,
        workspace: r.get(2)?,
        csrf: r.get(3)?,
        created_at: r.get(4)?,
        idle_secs: r.get(5)?,
        absolute_secs: r.get(6)?,
        mac: r.get(7)?,
        last_seen: r.get(8)?,
    })
}

impl Tx<'_> {
    fn run(&self, sql: &str, p: impl rusqlite::Params) -> Result<usize, StoreError> {
        self.conn().execute(sql, p).map_err(|e| self.err(e))
    }

    /// Adds a person, or rewrites their authenticated columns (not the informational ones).
    pub fn put_person(&self, p: &PersonRow) -> Result<(), StoreError> {
        self.run(
            &format!(
                "INSERT INTO people ({PERSON}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (email) DO UPDATE SET display_name = ?2, password_hash = ?3, \
                 totp = ?4, updated_at = ?6, mac = ?7"
            ),
            params![
                p.email,
                p.display_name,
                p.password_hash,
                p.totp,
                p.created_at,
                p.updated_at,
                p.mac,
                p.totp_step,
                p.last_sign_in
            ],
        )?;
        Ok(())
    }

    /// The person with this email.
    pub fn person(&self, email: &str) -> Result<Option<PersonRow>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {PERSON} FROM people WHERE email = ?1"),
                [email],
                person,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records a sign-in at `at`, and the TOTP step it used, if any.
    pub fn signed_in(&self, email: &str, at: i64, step: Option<i64>) -> Result<(), StoreError> {
        self.run(
            "UPDATE people SET last_sign_in = ?2, totp_step = COALESCE(?3, totp_step) \
             WHERE email = ?1",
            params![email, at, step],
        )?;
        Ok(())
    }

    /// Adds a membership; `Ok(false)` if the person is a member of the workspace already.
    pub fn insert_member(&self, m: &MemberRow) -> Result<bool, StoreError> {
        let n = self.run(
            &format!(
                "INSERT INTO members ({MEMBER}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (workspace, email) DO NOTHING"
            ),
            params![
                m.workspace,
                m.email,
                m.role,
                m.state,
                m.created_by,
                m.created_at,
                m.updated_at,
                m.mac
            ],
        )?;
        Ok(n == 1)
    }

    /// Rewrites a membership's role, state, time and MAC; `Ok(false)` if there is none.
    pub fn update_member(&self, m: &MemberRow) -> Result<bool, StoreError> {
        let n = self.run(
            "UPDATE members SET role = ?3, state = ?4, updated_at = ?5, mac = ?6 \
             WHERE workspace = ?1 AND email = ?2",
            params![m.workspace, m.email, m.role, m.state, m.updated_at, m.mac],
        )?;
        Ok(n == 1)
    }

    /// Removes a membership, its sessions and nothing else; `Ok(false)` if there was none.
    pub fn delete_member(&self, workspace: &str, email: &str) -> Result<bool, StoreError> {
        self.delete_sessions_of(workspace, email)?;
        let n = self.run(
            "DELETE FROM members WHERE workspace = ?1 AND email = ?2",
            [workspace, email],
        )?;
        Ok(n == 1)
    }

    /// The membership of `email` in `workspace`.
    pub fn member(&self, workspace: &str, email: &str) -> Result<Option<MemberRow>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {MEMBER} FROM members WHERE workspace = ?1 AND email = ?2"),
                [workspace, email],
                member,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The workspace's members (`Some`), or the person's memberships (`email`), by email or
    /// by workspace.
    pub fn members(
        &self,
        workspace: Option<&str>,
        email: Option<&str>,
    ) -> Result<Vec<MemberRow>, StoreError> {
        let mut st = self
            .conn()
            .prepare(&format!(
                "SELECT {MEMBER} FROM members WHERE (?1 IS NULL OR workspace = ?1) \
                 AND (?2 IS NULL OR email = ?2) ORDER BY workspace, email"
            ))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![workspace, email], member)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Adds a session, and drops every session past its absolute lifetime at `now`.
    pub fn insert_session(&self, s: &SessionRow, now: i64) -> Result<(), StoreError> {
        self.run(
            "DELETE FROM sessions WHERE created_at + absolute_secs <= ?1",
            [now],
        )?;
        self.run(
            &format!(
                "INSERT INTO sessions ({SESSION}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            params![
                s.id,
                s.email,
                s.workspace,
                s.csrf,
                s.created_at,
                s.idle_secs,
                s.absolute_secs,
                s.mac,
                s.last_seen
            ],
        )?;
        Ok(())
    }

    /// The session named `id`.
    pub fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {SESSION} FROM sessions WHERE id = ?1"),
                [id],
                session,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records a request of session `id` at `now`.
    pub fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        self.run(
            "UPDATE sessions SET last_seen = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        Ok(())
    }

    /// Ends session `id`; `Ok(false)` if there was none.
    pub fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.run("DELETE FROM sessions WHERE id = ?1", [id])? == 1)
    }

    /// Ends every session of `email` in `workspace` (every workspace with `""`); how many.
    pub fn delete_sessions_of(&self, workspace: &str, email: &str) -> Result<usize, StoreError> {
        self.run(
            "DELETE FROM sessions WHERE email = ?2 AND (?1 = '' OR workspace = ?1)",
            [workspace, email],
        )
    }

    /// Adds an enrolment code (replacing the person's earlier ones), and drops expired ones.
    pub fn insert_enrolment(&self, e: &EnrolmentRow, now: i64) -> Result<(), StoreError> {
        self.run(
            "DELETE FROM enrolments WHERE expires_at <= ?1 OR email = ?2",
            params![now, e.email],
        )?;
        self.run(
            "INSERT INTO enrolments (id, email, expires_at, mac) VALUES (?1, ?2, ?3, ?4)",
            params![e.id, e.email, e.expires_at, e.mac],
        )?;
        Ok(())
    }

    /// Takes enrolment code `id` (deleted: it is used once), if there is one.
    pub fn take_enrolment(&self, id: &str) -> Result<Option<EnrolmentRow>, StoreError> {
        self.conn()
            .query_row(
                "DELETE FROM enrolments WHERE id = ?1 RETURNING id, email, expires_at, mac",
                [id],
                |r| {
                    Ok(EnrolmentRow {
                        id: r.get(0)?,
                        email: r.get(1)?,
                        expires_at: r.get(2)?,
                        mac: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Failed sign-ins of `subject` (`account:EMAIL`, `source:ADDR`): how many, and the last.
    pub fn failures(&self, subject: &str) -> Result<(u32, i64), StoreError> {
        let found = self
            .conn()
            .query_row(
                "SELECT failures, last_at FROM sign_in_failures WHERE subject = ?1",
                [subject],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(found.unwrap_or((0, 0)))
    }

    /// Sets `subject`'s failed sign-ins (zero clears them).
    pub fn set_failures(&self, subject: &str, failures: u32, last: i64) -> Result<(), StoreError> {
        if failures == 0 {
            self.run("DELETE FROM sign_in_failures WHERE subject = ?1", [subject])?;
        } else {
            self.run(
                "INSERT INTO sign_in_failures (subject, failures, last_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (subject) DO UPDATE SET failures = ?2, last_at = ?3",
                params![subject, failures, last],
            )?;
        }
        Ok(())
    }

    /// The workspace's access policy, if one was set.
    pub fn policy(&self, workspace: &str) -> Result<Option<PolicyRow>, StoreError> {
        self.conn()
            .query_row(
                "SELECT workspace, require_totp, developer_scopes, updated_at, mac \
                 FROM workspace_policies WHERE workspace = ?1",
                [workspace],
                |r| {
                    Ok(PolicyRow {
                        workspace: r.get(0)?,
                        require_totp: r.get(1)?,
                        developer_scopes: r.get(2)?,
                        updated_at: r.get(3)?,
                        mac: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets the workspace's access policy.
    pub fn put_policy(&self, p: &PolicyRow) -> Result<(), StoreError> {
        self.run(
            "INSERT INTO workspace_policies (workspace, require_totp, developer_scopes, \
             updated_at, mac) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (workspace) DO UPDATE \
             SET require_totp = ?2, developer_scopes = ?3, updated_at = ?4, mac = ?5",
            params![
                p.workspace,
                p.require_totp,
                p.developer_scopes,
                p.updated_at,
                p.mac
            ],
        )?;
        Ok(())
    }
}
