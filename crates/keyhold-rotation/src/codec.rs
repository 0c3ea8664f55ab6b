//! A slot state as the facade stores it: one short line of text (`active:3:1764547200`), and
//! back. Decoding accepts only what encoding produces, so a stored state that was edited into
//! something this machine never writes is refused rather than guessed at.

use crate::{Connection, FailReason, Origin, RotationError, SlotName, SlotState, Version};

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Update => "update",
            Origin::Regenerate => "regenerate",
        }
    }

    fn parse(s: &str) -> Option<Origin> {
        match s {
            "update" => Some(Origin::Update),
            "regenerate" => Some(Origin::Regenerate),
            _ => None,
        }
    }
}

impl FailReason {
    fn parse(s: &str) -> Option<FailReason> {
        match s {
            "rejected" => Some(FailReason::Rejected),
            "unreachable" => Some(FailReason::Unreachable),
            _ => None,
        }
    }
}

impl SlotState {
    /// The state's stable name (`empty`, `regenerating`, `staged`, `tested`, `failed`,
    /// `active`, `standby`).
    pub fn name(&self) -> &'static str {
        match self {
            SlotState::Empty => "empty",
            SlotState::Regenerating { .. } => "regenerating",
            SlotState::Staged { .. } => "staged",
            SlotState::Tested { .. } => "tested",
            SlotState::Failed { .. } => "failed",
            SlotState::Active { .. } => "active",
            SlotState::Standby { .. } => "standby",
        }
    }

    /// The state as one line of text, which [`SlotState::decode`] reads back.
    pub fn encode(&self) -> String {
        let name = self.name();
        match *self {
            SlotState::Empty => name.to_owned(),
            SlotState::Regenerating { version } => format!("{name}:{}", version.get()),
            SlotState::Staged { version, origin } => {
                format!("{name}:{}:{}", version.get(), origin.as_str())
            }
            SlotState::Tested {
                version,
                origin,
                at,
            } => format!("{name}:{}:{}:{at}", version.get(), origin.as_str()),
            SlotState::Failed {
                version,
                origin,
                at,
                reason,
            } => format!(
                "{name}:{}:{}:{at}:{}",
                version.get(),
                origin.as_str(),
                reason.code()
            ),
            SlotState::Active {
                version,
                since,
                tested,
            } => format!("{name}:{}:{since}:{tested}", version.get()),
            SlotState::Standby { version, until } => format!("{name}:{}:{until}", version.get()),
        }
    }

    /// A state from its text, or `None` if it is not exactly what [`SlotState::encode`]
    /// writes (version 0 included: versions start at 1).
    pub fn decode(text: &str) -> Option<SlotState> {
        let parts: Vec<&str> = text.split(':').collect();
        let version = |s: &str| -> Option<Version> {
            let n: u32 = canonical(s)?;
            (n > 0).then_some(Version(n))
        };
        let state = match parts.as_slice() {
            ["empty"] => SlotState::Empty,
            ["regenerating", v] => SlotState::Regenerating {
                version: version(v)?,
            },
            ["staged", v, o] => SlotState::Staged {
                version: version(v)?,
                origin: Origin::parse(o)?,
            },
            ["tested", v, o, at] => SlotState::Tested {
                version: version(v)?,
                origin: Origin::parse(o)?,
                at: canonical(at)?,
            },
            ["failed", v, o, at, r] => SlotState::Failed {
                version: version(v)?,
                origin: Origin::parse(o)?,
                at: canonical(at)?,
                reason: FailReason::parse(r)?,
            },
            ["active", v, since, tested] => SlotState::Active {
                version: version(v)?,
                since: canonical(since)?,
                tested: canonical(tested)?,
            },
            ["standby", v, until] => SlotState::Standby {
                version: version(v)?,
                until: canonical(until)?,
            },
            _ => return None,
        };
        Some(state)
    }
}

impl Connection {
    /// A connection from its stored form: the grace period, each slot's encoded state and
    /// the last version numbered. Refused (`Inconsistent`) if any part is not what
    /// [`Connection::encoded`] writes, or if no transition could have produced it.
    pub fn decode(
        grace_secs: i64,
        primary: &str,
        secondary: &str,
        last_version: i64,
    ) -> Result<Connection, RotationError> {
        let bad = || RotationError::Inconsistent;
        Connection::restore(
            u64::try_from(grace_secs).map_err(|_| bad())?,
            SlotState::decode(primary).ok_or_else(bad)?,
            SlotState::decode(secondary).ok_or_else(bad)?,
            u32::try_from(last_version).map_err(|_| bad())?,
        )
    }

    /// The stored form of the slots: the primary's and the secondary's encoded states and
    /// the last version numbered.
    pub fn encoded(&self) -> (String, String, i64) {
        (
            self.slot(SlotName::Primary).encode(),
            self.slot(SlotName::Secondary).encode(),
            i64::from(self.last_version()),
        )
    }
}

/// A decimal number written the one way `encode` writes it (no sign, no leading zero).
fn canonical<T: std::str::FromStr + ToString>(s: &str) -> Option<T> {
    let n: T = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_and_nothing_else_decodes() {
        let v = Version::new(7);
        let states = [
            SlotState::Empty,
            SlotState::Regenerating { version: v },
            SlotState::Staged {
                version: v,
                origin: Origin::Update,
            },
            SlotState::Tested {
                version: v,
                origin: Origin::Regenerate,
                at: 1_764_547_200,
            },
            SlotState::Failed {
                version: v,
                origin: Origin::Update,
                at: 5,
                reason: FailReason::Unreachable,
            },
            SlotState::Active {
                version: v,
                since: 0,
                tested: 0,
            },
            SlotState::Standby {
                version: v,
                until: 9,
            },
        ];
        for s in states {
            assert_eq!(SlotState::decode(&s.encode()), Some(s), "{}", s.encode());
        }
        assert_eq!(states[3].encode(), "tested:7:regenerate:1764547200");
        for bad in [
            "",
            "Empty",
            "active:0:5:5",
            "active:07:5:5",
            "active:+7:5:5",
            "active:7:5",
            "active:7:5:1:1",
            "staged:7:operator",
            "failed:7:update:5:timeout",
            "standby:7:-1",
            "regenerating:4294967296",
        ] {
            assert_eq!(SlotState::decode(bad), None, "{bad}");
        }
    }
}
