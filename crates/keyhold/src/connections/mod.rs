//! Connections: a target's credentials in two slots, rotated without downtime. The rules are
//! `keyhold-rotation`'s (which transition is legal), the target's settings and the talking to
//! it `keyhold-connect`'s, the rows `keyhold-store`'s and their MACs `keyhold-integrity`'s;
//! here each transition is persisted in one transaction with its credential and its audit
//! event, and the effects at the target are run under the connection's lease.

mod credential;
mod manage;
mod rotate;
mod schedule;
mod view;

use keyhold_connect::Target;
use keyhold_rotation::{Connection as Machine, RotationError, SlotName, SlotState, Version};
use keyhold_store::{ConnectionRow, RecordKey, Tx};
use keyhold_token::Scope;

use crate::{Caller, Error, Keyhold, Result};

pub use schedule::{DueRotations, MAX_FAILURES};

/// The record kind of a slot's credential (one record per slot and version).
const CREDENTIAL: &str = "connection-credential";
/// The record kind of a connection's admin credential.
const ADMIN: &str = "connection-admin";

/// A connection as read in a transaction: its row (MAC checked), its target, its slots.
pub(crate) struct Loaded {
    row: ConnectionRow,
    target: Target,
    machine: Machine,
}

impl From<RotationError> for Error {
    fn from(e: RotationError) -> Self {
        Error::connection(e.code(), e.to_string())
    }
}

/// A credential from the wire, as secret bytes: it must be text (a password or a token).
fn secret_bytes(s: &crate::api::Secret) -> Result<keyhold_crypto::SecretBytes> {
    let bytes = s.expose().as_bytes();
    if bytes.is_empty() || bytes.len() > 4096 {
        return Err(Error::connection(
            "invalid_connection",
            "a credential is 1 to 4096 bytes",
        ));
    }
    Ok(keyhold_crypto::SecretBytes::copy_from(bytes))
}

/// A credential opened from the store, for the wire (it was text when it was stored).
fn secret_text(s: &keyhold_crypto::SecretBytes) -> Result<crate::api::Secret> {
    // EXPOSE: handed to the consumer that asked for it, as the text it was stored as.
    std::str::from_utf8(s.expose())
        .map(crate::api::Secret::new)
        .map_err(|_| Error::Internal("a stored credential is not text"))
}

/// A failed test's reason, for the machine.
fn fail_reason(refusal: &keyhold_connect::Refusal) -> keyhold_rotation::FailReason {
    match refusal {
        keyhold_connect::Refusal::Unreachable { .. } => keyhold_rotation::FailReason::Unreachable,
        _ => keyhold_rotation::FailReason::Rejected,
    }
}

/// A failure to set a credential at the target, as the caller's error.
fn set_error(e: &keyhold_connect::SetError) -> Error {
    let code = match e {
        keyhold_connect::SetError::Unreachable { .. } => "target_unreachable",
        keyhold_connect::SetError::Unsupported => "regeneration_unsupported",
        _ => "target_refused",
    };
    Error::connection(code, e.to_string())
}

fn slot_state(row: &ConnectionRow, slot: SlotName) -> Result<SlotState> {
    let text = match slot {
        SlotName::Primary => &row.primary_state,
        SlotName::Secondary => &row.secondary_state,
    };
    SlotState::decode(text).ok_or(Error::from(RotationError::Inconsistent))
}

pub(crate) fn to_secs(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(crate) fn to_stored(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Loaded {
    fn new(row: ConnectionRow) -> Result<Loaded> {
        let target = Target::decode(&row.settings).ok_or(Error::from(RotationError::Inconsistent))?;
        let last = u32::try_from(row.last_version).map_err(|_| RotationError::Inconsistent)?;
        let machine = Machine::restore(
            to_secs(row.grace_secs),
            slot_state(&row, SlotName::Primary)?,
            slot_state(&row, SlotName::Secondary)?,
            last,
        )?;
        Ok(Loaded {
            row,
            target,
            machine,
        })
    }

    /// The record of `slot`'s credential `version`.
    fn record(&self, slot: SlotName, version: Version) -> RecordKey {
        RecordKey {
            workspace: self.row.workspace.clone(),
            kind: CREDENTIAL.to_owned(),
            id: format!("{}.{slot}.v{}", self.row.id, version.get()),
        }
    }

    fn admin_record(&self) -> RecordKey {
        RecordKey {
            workspace: self.row.workspace.clone(),
            kind: ADMIN.to_owned(),
            id: self.row.id.clone(),
        }
    }

    /// The login name of `slot` at the target, if the target has one.
    fn user(&self, slot: SlotName) -> Option<&str> {
        self.target.user(slot == SlotName::Primary)
    }
}

impl Keyhold {
    /// Reads connection `name` of `workspace` for `caller`, who needs `scope` there.
    pub(crate) fn load_connection(
        &self,
        tx: &Tx<'_>,
        caller: &Caller,
        scope: Scope,
        workspace: &str,
        name: &str,
    ) -> Result<Loaded> {
        let ws = self.resolve(tx, workspace)?;
        caller.require(scope, &ws.id)?;
        let row = tx
            .connection(&ws.id, name)?
            .ok_or_else(|| Error::connection("connection_not_found", format!("connection {name} not found")))?;
        self.rows.check_connection(&row)?;
        Loaded::new(row)
    }

    /// Writes the connection's slots as the machine now has them (with a new MAC) and
    /// deletes the credentials no slot refers to any more — except, while a slot is being
    /// regenerated, the one it held before, which may be needed to set the new one.
    pub(crate) fn persist_connection(&self, tx: &Tx<'_>, c: &mut Loaded, now: i64) -> Result<()> {
        c.row.primary_state = c.machine.slot(SlotName::Primary).encode();
        c.row.secondary_state = c.machine.slot(SlotName::Secondary).encode();
        c.row.last_version = i64::from(c.machine.last_version());
        c.row.updated_at = now;
        self.rows.mac_connection(&mut c.row)?;
        if !tx.update_connection(&c.row)? {
            return Err(Error::connection(
                "connection_not_found",
                format!("connection {} not found", c.row.name),
            ));
        }
        for slot in SlotName::BOTH {
            self.prune_credentials(tx, c, slot)?;
        }
        Ok(())
    }

    fn prune_credentials(&self, tx: &Tx<'_>, c: &Loaded, slot: SlotName) -> Result<()> {
        let prefix = format!("{}.{slot}.v", c.row.id);
        let state = c.machine.slot(slot);
        let current = state.version().map(Version::get);
        let mut older: Vec<u32> = tx
            .record_ids_prefixed(&c.row.workspace, CREDENTIAL, &prefix)?
            .iter()
            .filter_map(|id| id.strip_prefix(&prefix)?.parse().ok())
            .filter(|v| Some(*v) != current)
            .collect();
        older.sort_unstable();
        if matches!(state, SlotState::Regenerating { .. }) {
            older.pop();
        }
        for v in older {
            tx.delete_record(&c.record(slot, Version::new(v)))?;
        }
        Ok(())
    }

    /// Records `action` about the connection (and `slot`'s `version`) for `caller`.
    pub(crate) fn audit_connection(
        &self,
        tx: &Tx<'_>,
        caller: &Caller,
        c: &Loaded,
        action: keyhold_audit::Action,
        slot: Option<(SlotName, Version)>,
        tweak: impl FnOnce(keyhold_audit::EventDraft) -> keyhold_audit::EventDraft,
    ) -> Result<()> {
        let draft = keyhold_audit::events::connection(
            action,
            &c.row.workspace,
            &c.row.name,
            slot.map(|(s, v)| (s.as_str(), v.get())),
        )?;
        self.audit(tx, caller, tweak(draft))
    }
}

