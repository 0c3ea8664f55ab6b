//! Team access in the facade: who the caller is and may manage, password hashing outside
//! transactions, and the audit events `keyhold-team` drafts, recorded as the caller. The rows
//! and rules are `keyhold-team`'s and `keyhold-access`'s.

mod members;
mod sessions;

use keyhold_access::Access;
use keyhold_audit::EventDraft;
use keyhold_store::Tx;
use keyhold_team::{Manager, TeamError};
use keyhold_token::Scope;

use crate::{Caller, Error, Keyhold, Result};

impl From<TeamError> for Error {
    fn from(e: TeamError) -> Self {
        match e {
            TeamError::Access(e) => Error::Access(e),
            TeamError::Integrity(e) => e.into(),
            TeamError::Store(e) => e.into(),
            TeamError::Crypto(e) => e.into(),
            TeamError::Draft(e) => e.into(),
            TeamError::NotFound(what) => Error::NotFound(format!("member {what}")),
            TeamError::Conflict(what) => Error::Conflict(format!("member {what}")),
            TeamError::Internal(what) => Error::Internal(what),
        }
    }
}

impl Keyhold {
    /// Records `events` as `caller` and hands back `out`.
    fn recorded<T>(
        &self,
        tx: &Tx<'_>,
        caller: &Caller,
        drafted: keyhold_team::Drafted<T>,
    ) -> Result<T> {
        let (out, events): (T, Vec<EventDraft>) = drafted?;
        for event in events {
            self.audit(tx, caller, event)?;
        }
        Ok(out)
    }
}

/// Who manages members in workspace `ws`: the operator or an `admin` key (no role), or a
/// member whose role lets them (their role, to check each change against).
fn manager(caller: &Caller, ws: &str) -> Result<Manager> {
    let role = match caller.membership() {
        Some(m) if m.workspace == ws => {
            m.role.require("members.manage", Access::Own)?;
            Some(m.role)
        }
        Some(m) => return Err(Error::Access(m.role.refused("members.manage"))),
        None => {
            caller.require(Scope::Admin, ws)?;
            None
        }
    };
    Ok(Manager {
        name: caller.name(),
        role,
        operator: caller.is_operator(),
    })
}
