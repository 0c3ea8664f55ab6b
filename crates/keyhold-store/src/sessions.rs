//! Sessions, enrolment codes, failed sign-ins and workspace policies (see `people.rs` for the
//! rows themselves).

use crate::sql::{Mismatch, Row, values};
use crate::{EnrolmentRow, PolicyRow, SessionRow, StoreError, Tx};

const SESSION: &str =
    "id, email, workspace, csrf, created_at, idle_secs, absolute_secs, mac, last_seen";

fn session_from_row(r: &Row) -> Result<SessionRow, Mismatch> {
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

fn enrolment_from_row(r: &Row) -> Result<EnrolmentRow, Mismatch> {
    Ok(EnrolmentRow {
        id: r.get(0)?,
        email: r.get(1)?,
        workspace: r.get(2)?,
        expires_at: r.get(3)?,
        mac: r.get(4)?,
    })
}

fn policy_from_row(r: &Row) -> Result<PolicyRow, Mismatch> {
    Ok(PolicyRow {
        workspace: r.get(0)?,
        require_totp: r.get(1)?,
        developer_scopes: r.get(2)?,
        updated_at: r.get(3)?,
        mac: r.get(4)?,
    })
}

impl Tx<'_> {
    /// Adds a session, and drops every session past its absolute lifetime at `now`.
    pub fn insert_session(&self, s: &SessionRow, now: i64) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM sessions WHERE created_at + absolute_secs <= ?1",
            values![now],
        )?;
        self.exec(
            &format!(
                "INSERT INTO sessions ({SESSION}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            values![
                &s.id,
                &s.email,
                &s.workspace,
                &s.csrf,
                s.created_at,
                s.idle_secs,
                s.absolute_secs,
                &s.mac,
                s.last_seen
            ],
        )
        .map(drop)
    }

    /// The session named `id`.
    pub fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        self.row(
            &format!("SELECT {SESSION} FROM sessions WHERE id = ?1"),
            values![id],
            session_from_row,
        )
    }

    /// Records a request of session `id` at `now`.
    pub fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        self.exec(
            "UPDATE sessions SET last_seen = ?2 WHERE id = ?1",
            values![id, now],
        )
        .map(drop)
    }

    /// Ends session `id`; `Ok(false)` if there was none.
    pub fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        self.exec("DELETE FROM sessions WHERE id = ?1", values![id])
            .map(|n| n == 1)
    }

    /// Ends every session of `email` in `workspace` (every workspace with `""`); how many.
    pub fn delete_sessions_of(&self, workspace: &str, email: &str) -> Result<usize, StoreError> {
        self.exec(
            "DELETE FROM sessions WHERE email = ?2 AND (?1 = '' OR workspace = ?1)",
            values![workspace, email],
        )
    }

    /// Adds an enrolment code (replacing the person's earlier one for the same workspace, and
    /// only that one), and drops expired ones.
    pub fn insert_enrolment(&self, e: &EnrolmentRow, now: i64) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM enrolments WHERE expires_at <= ?1 OR (email = ?2 AND workspace = ?3)",
            values![now, &e.email, &e.workspace],
        )?;
        self.exec(
            "INSERT INTO enrolments (id, email, workspace, expires_at, mac) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            values![&e.id, &e.email, &e.workspace, e.expires_at, &e.mac],
        )
        .map(drop)
    }

    /// Enrolment code `id`, if there is one (left in place).
    pub fn enrolment(&self, id: &str) -> Result<Option<EnrolmentRow>, StoreError> {
        self.row(
            "SELECT id, email, workspace, expires_at, mac FROM enrolments WHERE id = ?1",
            values![id],
            enrolment_from_row,
        )
    }

    /// Takes enrolment code `id` (deleted: it is used once), if there is one.
    pub fn take_enrolment(&self, id: &str) -> Result<Option<EnrolmentRow>, StoreError> {
        self.row(
            "DELETE FROM enrolments WHERE id = ?1 RETURNING id, email, workspace, expires_at, mac",
            values![id],
            enrolment_from_row,
        )
    }

    /// Failed sign-ins of `subject` (`account:EMAIL`, `source:ADDR`): how many, and the last.
    pub fn failures(&self, subject: &str) -> Result<(u32, i64), StoreError> {
        let found = self.row(
            "SELECT failures, last_at FROM sign_in_failures WHERE subject = ?1",
            values![subject],
            |r| Ok((r.get::<u32>(0)?, r.get::<i64>(1)?)),
        )?;
        Ok(found.unwrap_or((0, 0)))
    }

    /// Counts one more failed sign-in of `subject` at `now` (a count whose last failure is
    /// `forget_after` seconds old starts again).
    pub fn add_failure(
        &self,
        subject: &str,
        now: i64,
        forget_after: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO sign_in_failures (subject, failures, last_at) VALUES (?1, 1, ?2) \
             ON CONFLICT (subject) DO UPDATE SET failures = CASE WHEN last_at + ?3 <= ?2 \
             THEN 1 ELSE failures + 1 END, last_at = ?2",
            values![subject, now, forget_after],
        )
        .map(drop)
    }

    /// Takes back one failure of `subject` (an attempt counted before it was checked, that
    /// succeeded).
    pub fn undo_failure(&self, subject: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE sign_in_failures SET failures = failures - 1 WHERE subject = ?1 AND failures > 0",
            values![subject],
        )
        .map(drop)
    }

    /// Sets `subject`'s failed sign-ins (zero clears them).
    pub fn set_failures(&self, subject: &str, failures: u32, last: i64) -> Result<(), StoreError> {
        if failures == 0 {
            self.exec(
                "DELETE FROM sign_in_failures WHERE subject = ?1",
                values![subject],
            )?;
        } else {
            self.exec(
                "INSERT INTO sign_in_failures (subject, failures, last_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (subject) DO UPDATE SET failures = ?2, last_at = ?3",
                values![subject, failures, last],
            )?;
        }
        Ok(())
    }

    /// The workspace's access policy, if one was set.
    pub fn policy(&self, workspace: &str) -> Result<Option<PolicyRow>, StoreError> {
        self.row(
            "SELECT workspace, require_totp, developer_scopes, updated_at, mac \
             FROM workspace_policies WHERE workspace = ?1",
            values![workspace],
            policy_from_row,
        )
    }

    /// Sets the workspace's access policy.
    pub fn put_policy(&self, p: &PolicyRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO workspace_policies (workspace, require_totp, developer_scopes, \
             updated_at, mac) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (workspace) DO UPDATE \
             SET require_totp = ?2, developer_scopes = ?3, updated_at = ?4, mac = ?5",
            values![
                &p.workspace,
                p.require_totp,
                &p.developer_scopes,
                p.updated_at,
                &p.mac
            ],
        )
        .map(drop)
    }
}
