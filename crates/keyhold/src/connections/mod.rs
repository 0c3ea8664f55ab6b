//! Connections: a target's credentials in two slots, rotated without downtime. Which
//! transition is legal is `keyhold-rotation`'s; the target, the talking to it and the wire's
//! view `keyhold-connect`'s; the rows `keyhold-store`'s and their MACs `keyhold-integrity`'s.
//! Here each transition is one transaction with its credential and its audit event
//! ([`Keyhold::transition`]), and effects at the target run under the connection's lease.

mod credential;
mod manage;
mod rotate;
mod schedule;

use keyhold_audit::{Action, EventDraft};
use keyhold_connect::Target;
use keyhold_connect::wire::Meta;
use keyhold_rotation::{Connection as Machine, RotationError, SlotName, Version};
use keyhold_store::{ConnectionRow, RecordKey, Tx};
use keyhold_token::Scope;

use crate::{Caller, Error, Keyhold, Result, api, now};

pub use schedule::DueRotations;

/// The record kind of a slot's credential (one record per slot and version).
const CREDENTIAL: &str = "connection-credential";
/// The record kind of a connection's admin credential.
const ADMIN: &str = "connection-admin";

impl From<RotationError> for Error {
    fn from(e: RotationError) -> Self {
        Error::connection(e.code(), e.to_string())
    }
}

impl From<keyhold_connect::Unsupported> for Error {
    fn from(e: keyhold_connect::Unsupported) -> Self {
        Error::connection(e.code(), e.to_string())
    }
}

/// A crash point of the fault-injection tests: in a debug build, a process whose
/// `KEYHOLD_FAULT_POINT` names `point` aborts here, like `kill -9` (nothing is rolled back
/// or forward but what SQLite's journal does). Release builds have none.
#[cfg(debug_assertions)]
fn crash_point(point: &str) {
    if std::env::var_os("KEYHOLD_FAULT_POINT").is_some_and(|p| p == point) {
        std::process::abort();
    }
}
#[cfg(not(debug_assertions))]
fn crash_point(_: &str) {}

/// Seconds of the store's clock as the machine takes them (never negative).
fn to_secs(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A connection as read in a transaction: its row (MAC checked), its target, its slots.
pub(crate) struct Loaded {
    row: ConnectionRow,
    target: Target,
    machine: Machine,
}

impl Loaded {
    fn new(row: ConnectionRow) -> Result<Loaded> {
        let target = Target::decode(&row.settings).ok_or(RotationError::Inconsistent)?;
        let (p, s) = (&row.primary_state, &row.secondary_state);
        let machine = Machine::decode(row.grace_secs, p, s, row.last_version)?;
        Ok(Loaded {
            row,
            target,
            machine,
        })
    }

    fn view(&self) -> api::Connection {
        let r = &self.row;
        let meta = Meta {
            name: &r.name,
            grace_secs: r.grace_secs,
            rotate_every_secs: r.rotate_every_secs,
            next_rotation_at: r.next_rotation_at,
            created_at: r.created_at,
            created_by: &r.created_by,
            last_used_at: r.last_used_at,
        };
        self.target.view(&meta, &self.machine)
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

    /// Refuses a connection that is not the one `id` names (deleted and made again under its
    /// name meanwhile): what was learnt about the other one's `slot` does not apply to it.
    fn same_as(&self, id: &str, slot: SlotName) -> Result<()> {
        if self.row.id == id {
            return Ok(());
        }
        let found = self.machine.slot(slot).version();
        Err(RotationError::VersionMismatch {
            slot,
            expected: None,
            found,
        }
        .into())
    }

    /// The login of `slot` at the target, if the target has logins.
    fn user(&self, slot: SlotName) -> Option<&str> {
        self.target.user(slot == SlotName::Primary)
    }

    /// The audit event of `action` about this connection (and `slot`'s `version`).
    fn event(&self, action: Action, slot: Option<(SlotName, Version)>) -> Result<EventDraft> {
        let (ws, name) = (&self.row.workspace, &self.row.name);
        let slot = slot.map(|(s, v)| (s.as_str(), v.get()));
        Ok(keyhold_audit::events::connection(action, ws, name, slot)?)
    }
}

impl Keyhold {
    /// Lets keys create connections to this machine or its link (loopback, link-local): for
    /// a server whose databases run beside it. Off by default — what answers there trusts the
    /// machine, not whoever named it. The operator may always.
    pub fn allow_local_targets(&self, yes: bool) {
        self.local_targets
            .store(yes, std::sync::atomic::Ordering::Relaxed);
    }

    fn local_targets(&self) -> bool {
        self.local_targets
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reads connection `name` of `workspace` for `caller`, who needs `scope` there.
    fn load_connection(
        &self,
        tx: &Tx<'_>,
        caller: &Caller,
        scope: Scope,
        workspace: &str,
        name: &str,
    ) -> Result<Loaded> {
        let ws = self.resolve(tx, workspace)?;
        caller.require(scope, &ws.id)?;
        let row = tx.connection(&ws.id, name)?.ok_or_else(|| {
            let name = crate::names::quoted(name);
            Error::connection(
                "connection_not_found",
                format!("connection {name} not found"),
            )
        })?;
        self.rows.check_connection(&row)?;
        Loaded::new(row)
    }

    /// One transition of connection `name`, in one write transaction: read it for `caller`
    /// (who needs `scope`), let `act` change it (and say what to record), write its slots
    /// back with a new MAC, delete the credentials nothing needs any more, and record the
    /// event. All of it commits, or none.
    fn transition<T>(
        &self,
        caller: &Caller,
        scope: Scope,
        (workspace, name): (&str, &str),
        act: impl FnOnce(&Tx<'_>, &mut Loaded, i64) -> Result<(T, EventDraft)>,
    ) -> Result<T> {
        self.store.write(|tx| -> Result<T> {
            let mut c = self.load_connection(tx, caller, scope, workspace, name)?;
            let at = now();
            let (out, event) = act(tx, &mut c, at)?;
            (
                c.row.primary_state,
                c.row.secondary_state,
                c.row.last_version,
            ) = c.machine.encoded();
            c.row.updated_at = at;
            self.rows.mac_connection(&mut c.row)?;
            tx.update_connection(&c.row)?;
            for slot in SlotName::BOTH {
                for v in c.machine.stale(slot, &self.stored_versions(tx, &c, slot)?) {
                    tx.delete_record(&c.record(slot, v))?;
                }
            }
            self.audit(tx, caller, event)?;
            Ok(out)
        })
    }

    /// The versions of `slot`'s credentials kept in the store.
    fn stored_versions(&self, tx: &Tx<'_>, c: &Loaded, slot: SlotName) -> Result<Vec<u32>> {
        let prefix = format!("{}.{slot}.v", c.row.id);
        let ids = tx.record_ids_prefixed(&c.row.workspace, CREDENTIAL, &prefix)?;
        Ok(ids
            .iter()
            .filter_map(|id| id.strip_prefix(&prefix)?.parse().ok())
            .collect())
    }
}
