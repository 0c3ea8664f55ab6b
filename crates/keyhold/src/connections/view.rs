//! A connection as API v1 shows it: settings, slots, versions and times — never a secret;
//! and the one body that carries a secret, the credential handed to a consumer.

use keyhold_crypto::SecretBytes;
use keyhold_rotation::{SlotName, SlotState, Version};

use super::Loaded;
use crate::api;

fn slot_view(c: &Loaded, slot: SlotName) -> api::Slot {
    let state = c.machine.slot(slot);
    let (tested_at, failure, standby_until) = match state {
        SlotState::Tested { at, .. } => (Some(at), None, None),
        SlotState::Failed { at, reason, .. } => (Some(at), Some(reason.code().to_owned()), None),
        SlotState::Standby { until, .. } => (None, None, Some(until)),
        _ => (None, None, None),
    };
    api::Slot {
        user: c.user(slot).map(str::to_owned),
        state: state.name().to_owned(),
        version: state.version().map(Version::get),
        tested_at: tested_at.map(super::to_stored),
        failure,
        standby_until: standby_until.map(super::to_stored),
    }
}

impl Loaded {
    /// The connection's public view.
    pub(crate) fn view(&self) -> api::Connection {
        api::Connection {
            name: self.row.name.clone(),
            kind: self.target.kind().to_owned(),
            active: self.machine.active().map(|(s, _)| s.as_str().to_owned()),
            target: self.target.public_settings(),
            grace_secs: super::to_secs(self.row.grace_secs),
            rotate_every_secs: self.row.rotate_every_secs.map(super::to_secs),
            next_rotation_due: self.row.next_rotation_at,
            created_at: self.row.created_at,
            created_by: self.row.created_by.clone(),
            last_used_at: self.row.last_used_at,
            slots: api::Slots {
                primary: slot_view(self, SlotName::Primary),
                secondary: slot_view(self, SlotName::Secondary),
            },
        }
    }

    /// Slot `slot`'s credential `version`, for a consumer.
    pub(crate) fn credential(
        &self,
        slot: SlotName,
        version: Version,
        secret: SecretBytes,
    ) -> api::ActiveCredential {
        api::ActiveCredential::new(
            &self.row.name,
            self.target.kind(),
            slot.as_str(),
            version.get(),
            self.user(slot),
            secret,
            self.target.public_settings(),
        )
    }
}
