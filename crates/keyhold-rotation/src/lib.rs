//! keyhold's credential rotation as a pure state machine. A connection (a login keyhold keeps
//! at a target, such as a database) has two slots, [`SlotName::Primary`] and
//! [`SlotName::Secondary`], each a login of its own at the target; once the first credential
//! is saved exactly one slot is active. A credential is staged into the slot that is not
//! active ([`Connection::update`], or [`Connection::begin_regenerate`] for one the connector
//! makes), tested against the target ([`Connection::test`]) and promoted
//! ([`Connection::save`]); the credential that was active becomes the standby and stays
//! valid for the connection's grace period, so consumers holding it keep working.
//! [`Connection::next_rotate_step`] plans a rotation (regenerate the standby, test, promote)
//! as the same transitions, one at a time.
//!
//! The facade persists each transition in one store transaction, so a crash between two
//! transitions resumes where it stopped. A regeneration is written ahead: its intent (the
//! slot is [`SlotState::Regenerating`] a version, committed with the new encrypted
//! credential) comes before the target is changed ([`Effect`]), and a crash in between
//! resumes by setting the same version again ([`Connection::pending`]), so the store and the
//! target never disagree silently. If the target cannot be made to take it, the regeneration
//! is abandoned ([`Connection::abandon_regenerate`]): the slot is failed, whatever the target
//! holds, and is never handed out or promoted without a new test.
//!
//! This crate owns the slots' states, which transition is legal from which state, and the
//! refusals ([`RotationError`], each with a stable code). It must never do I/O, read a clock
//! (`now` is a parameter, in seconds) or hold a secret: it tracks credential *versions*; the
//! facade keeps the encrypted credentials and the connector talks to the target.
#![forbid(unsafe_code)]

mod codec;
mod error;
mod keep;
mod plan;
pub mod schedule;
mod transitions;

use std::fmt;

pub use error::RotationError;
pub use plan::RotateStep;

/// The default grace period of a credential that stopped being active: 10 minutes.
pub const DEFAULT_GRACE_SECS: u64 = 600;

/// One of a connection's two slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlotName {
    /// The first slot.
    Primary,
    /// The second slot.
    Secondary,
}

impl SlotName {
    /// Both slots, primary first.
    pub const BOTH: [SlotName; 2] = [SlotName::Primary, SlotName::Secondary];

    /// The other slot.
    pub fn other(self) -> SlotName {
        match self {
            SlotName::Primary => SlotName::Secondary,
            SlotName::Secondary => SlotName::Primary,
        }
    }

    /// The slot's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotName::Primary => "primary",
            SlotName::Secondary => "secondary",
        }
    }
}

impl fmt::Display for SlotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A credential's version: numbered per connection, so no two credentials of a connection
/// share one. It names a credential the facade keeps; it is not the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(u32);

impl Version {
    /// The version numbered `n`, as the facade stored it.
    pub fn new(n: u32) -> Version {
        Version(n)
    }

    /// Its number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// Where a slot's credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// An operator supplied it ([`Connection::update`]).
    Update,
    /// The connector made it ([`Connection::begin_regenerate`]).
    Regenerate,
}

/// Why the target refused a credential, as a reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// The target answered and refused the credential.
    Rejected,
    /// The target could not be reached or did not answer.
    Unreachable,
}

impl FailReason {
    /// The stable, snake_case reason code.
    pub fn code(self) -> &'static str {
        match self {
            FailReason::Rejected => "rejected",
            FailReason::Unreachable => "unreachable",
        }
    }
}

/// The target's verdict on a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The target accepted it.
    Pass,
    /// It did not.
    Fail(FailReason),
}

/// What a slot holds. Times are the caller's clock, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotState {
    /// Nothing yet.
    Empty,
    /// The intent of a regeneration: `version` is stored; whether the target has it yet is
    /// not known until the regeneration is confirmed.
    Regenerating {
        /// The version being set at the target.
        version: Version,
    },
    /// A credential waiting for a test.
    Staged {
        /// Its version.
        version: Version,
        /// Where it came from.
        origin: Origin,
    },
    /// A credential the target accepted in a test since it was staged.
    Tested {
        /// Its version.
        version: Version,
        /// Where it came from.
        origin: Origin,
        /// When it passed.
        at: u64,
    },
    /// A credential the target refused in its last test.
    Failed {
        /// Its version.
        version: Version,
        /// Where it came from.
        origin: Origin,
        /// When it failed.
        at: u64,
        /// Why.
        reason: FailReason,
    },
    /// The credential handed to consumers.
    Active {
        /// Its version.
        version: Version,
        /// Since when.
        since: u64,
        /// When it passed the test that let it be saved.
        tested: u64,
    },
    /// The credential that was active: still valid at the target, and still handed to
    /// consumers, until `until`.
    Standby {
        /// Its version.
        version: Version,
        /// The end of its grace period.
        until: u64,
    },
}

impl SlotState {
    /// The version of the credential the slot holds, if any.
    pub fn version(&self) -> Option<Version> {
        match *self {
            SlotState::Empty => None,
            SlotState::Regenerating { version }
            | SlotState::Staged { version, .. }
            | SlotState::Tested { version, .. }
            | SlotState::Failed { version, .. }
            | SlotState::Active { version, .. }
            | SlotState::Standby { version, .. } => Some(version),
        }
    }
}

/// What the caller must do outside the store once the transition that asked for it is
/// committed. Doing it twice does no harm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Make the target accept `version` (and no other credential) for the slot's login.
    SetAtTarget {
        /// The slot whose login changes.
        slot: SlotName,
        /// The credential it takes.
        version: Version,
    },
}

/// A connection's rotation state: its two slots, its grace period and the last version it
/// numbered. Every transition either applies whole or is refused and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Connection {
    grace: u64,
    slots: [SlotState; 2],
    last_version: u32,
}

fn index(slot: SlotName) -> usize {
    match slot {
        SlotName::Primary => 0,
        SlotName::Secondary => 1,
    }
}

impl Connection {
    /// A new connection with empty slots and a grace period of `grace_secs`.
    pub fn new(grace_secs: u64) -> Connection {
        Connection {
            grace: grace_secs,
            slots: [SlotState::Empty; 2],
            last_version: 0,
        }
    }

    /// A connection as the facade stored it. Refused if both slots claim to be active or a
    /// slot holds a version after `last_version` (the rows were not written by this machine).
    pub fn restore(
        grace_secs: u64,
        primary: SlotState,
        secondary: SlotState,
        last_version: u32,
    ) -> Result<Connection, RotationError> {
        let both_active = matches!(primary, SlotState::Active { .. })
            && matches!(secondary, SlotState::Active { .. });
        let too_new = [primary, secondary]
            .iter()
            .any(|s| s.version().is_some_and(|v| v.get() > last_version));
        if both_active || too_new {
            return Err(RotationError::Inconsistent);
        }
        Ok(Connection {
            grace: grace_secs,
            slots: [primary, secondary],
            last_version,
        })
    }

    /// The grace period, in seconds.
    pub fn grace_secs(&self) -> u64 {
        self.grace
    }

    /// The last version this connection numbered (0: none yet).
    pub fn last_version(&self) -> u32 {
        self.last_version
    }

    /// What the slot holds.
    pub fn slot(&self, slot: SlotName) -> SlotState {
        self.slots[index(slot)]
    }

    /// The active slot and its version, if a credential was saved.
    pub fn active(&self) -> Option<(SlotName, Version)> {
        SlotName::BOTH.into_iter().find_map(|s| match self.slot(s) {
            SlotState::Active { version, .. } => Some((s, version)),
            _ => None,
        })
    }

    /// The credentials consumers may be handed at `now`: the active one first, then the
    /// standby while its grace lasts.
    pub fn handed_out(&self, now: u64) -> Vec<(SlotName, Version)> {
        let mut out: Vec<_> = self.active().into_iter().collect();
        for s in SlotName::BOTH {
            if let SlotState::Standby { version, until } = self.slot(s)
                && now < until
            {
                out.push((s, version));
            }
        }
        out
    }

    /// The effects of regenerations begun and not confirmed: what a caller resuming after a
    /// crash does again, before [`Connection::confirm_regenerated`].
    pub fn pending(&self) -> Vec<Effect> {
        SlotName::BOTH
            .into_iter()
            .filter_map(|slot| match self.slot(slot) {
                SlotState::Regenerating { version } => Some(Effect::SetAtTarget { slot, version }),
                _ => None,
            })
            .collect()
    }
}
