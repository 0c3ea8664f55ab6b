//! A connection as API v1 shows it: settings, slots, versions and times — never a secret;
//! and the one body that carries a secret, the credential handed to a consumer.

use keyhold_connect::{Scheme, Target};
use keyhold_rotation::{FailReason, SlotName, SlotState, Version, Verdict};

use super::Loaded;
use crate::api;

/// The wire's name of a slot.
pub(crate) fn wire_slot(slot: SlotName) -> api::SlotName {
    match slot {
        SlotName::Primary => api::SlotName::Primary,
        SlotName::Secondary => api::SlotName::Secondary,
    }
}

/// The machine's name of a slot.
pub(crate) fn slot(slot: api::SlotName) -> SlotName {
    match slot {
        api::SlotName::Primary => SlotName::Primary,
        api::SlotName::Secondary => SlotName::Secondary,
    }
}

fn failure(reason: FailReason) -> api::Failure {
    match reason {
        FailReason::Rejected => api::Failure::Rejected,
        FailReason::Unreachable => api::Failure::Unreachable,
    }
}

fn state(s: &SlotState) -> api::SlotState {
    match s {
        SlotState::Empty => api::SlotState::Empty,
        SlotState::Regenerating { .. } => api::SlotState::Regenerating,
        SlotState::Staged { .. } => api::SlotState::Staged,
        SlotState::Tested { .. } => api::SlotState::Tested,
        SlotState::Failed { .. } => api::SlotState::Failed,
        SlotState::Active { .. } => api::SlotState::Active,
        SlotState::Standby { .. } => api::SlotState::Standby,
    }
}

fn kind(t: &Target) -> api::ConnectionKind {
    match t {
        Target::Postgres { .. } => api::ConnectionKind::Postgres,
        Target::Http { .. } => api::ConnectionKind::Http,
        Target::Generic { .. } => api::ConnectionKind::Generic,
    }
}

/// The target's public settings, as the wire shows them.
fn target(t: &Target) -> api::Target {
    match t {
        Target::Postgres {
            host,
            port,
            database,
            admin_user,
            ..
        } => api::Target {
            admin_user: admin_user.clone(),
            database: Some(database.clone()),
            host: Some(host.clone()),
            port: Some(*port),
            ..api::Target::default()
        },
        Target::Http { url, scheme, .. } => api::Target {
            scheme: Some(match scheme {
                Scheme::Bearer => api::HttpScheme::Bearer,
                Scheme::Basic => api::HttpScheme::Basic,
            }),
            url: Some(url.clone()),
            ..api::Target::default()
        },
        Target::Generic { .. } => api::Target::default(),
    }
}

fn slot_view(c: &Loaded, s: SlotName) -> api::Slot {
    let st = c.machine.slot(s);
    let (tested_at, fail, standby_until, updated_at) = match st {
        SlotState::Tested { at, .. } => (Some(at), None, None, None),
        SlotState::Failed { at, reason, .. } => (Some(at), Some(failure(reason)), None, None),
        SlotState::Standby { until, .. } => (None, None, Some(until), None),
        SlotState::Active { since, .. } => (None, None, None, Some(since)),
        _ => (None, None, None, None),
    };
    api::Slot {
        failure: fail,
        standby_until: standby_until.map(super::to_stored),
        state: state(&st),
        tested_at: tested_at.map(super::to_stored),
        updated_at: updated_at.map(super::to_stored),
        user: c.user(s).map(str::to_owned),
        version: st.version().map(Version::get),
    }
}

impl Loaded {
    /// The connection's public view.
    pub(crate) fn view(&self) -> api::Connection {
        api::Connection {
            active: self.machine.active().map(|(s, _)| wire_slot(s)),
            created_at: self.row.created_at,
            created_by: self.row.created_by.clone(),
            grace_secs: super::to_secs(self.row.grace_secs),
            kind: kind(&self.target),
            last_used_at: self.row.last_used_at,
            name: self.row.name.clone(),
            next_rotation_due: self.row.next_rotation_at,
            rotate_every_secs: self.row.rotate_every_secs.map(super::to_secs),
            slots: api::Slots {
                primary: slot_view(self, SlotName::Primary),
                secondary: slot_view(self, SlotName::Secondary),
            },
            target: target(&self.target),
        }
    }

    /// Slot `s`'s credential `version`, for a consumer (`standby_until`: when the credential
    /// handed out is the standby's, the end of its grace).
    pub(crate) fn credential(
        &self,
        s: SlotName,
        version: Version,
        secret: api::Secret,
        standby_until: Option<u64>,
    ) -> api::ActiveCredential {
        let t = target(&self.target);
        api::ActiveCredential {
            connection: self.row.name.clone(),
            database: t.database,
            expires_hint: standby_until.map(super::to_stored),
            host: t.host,
            kind: kind(&self.target),
            password: secret,
            port: t.port,
            scheme: t.scheme,
            slot: wire_slot(s),
            url: t.url,
            user: self.user(s).map(str::to_owned),
            version: version.get(),
        }
    }

    /// A test's outcome: the connection afterwards and the verdict.
    pub(crate) fn outcome(&self, verdict: Verdict, detail: Option<String>) -> api::TestOutcome {
        api::TestOutcome {
            connection: self.view(),
            detail,
            failure: match verdict {
                Verdict::Pass => None,
                Verdict::Fail(r) => Some(failure(r)),
            },
            passed: verdict == Verdict::Pass,
        }
    }
}

/// The target a creation request describes, checked.
pub(crate) fn target_of(req: &api::CreateConnection) -> Result<Target, String> {
    let need = |v: &Option<String>, what: &str| {
        v.clone().ok_or_else(|| format!("a {} connection needs {what}", kind_name(req.kind)))
    };
    let target = match req.kind {
        api::ConnectionKind::Postgres => Target::Postgres {
            host: need(&req.host, "a host")?,
            port: req.port.unwrap_or(5432),
            database: need(&req.database, "a database")?,
            primary_user: need(&req.primary_user, "a primary user")?,
            secondary_user: need(&req.secondary_user, "a secondary user")?,
            admin_user: req.admin_user.clone(),
        },
        api::ConnectionKind::Http => Target::Http {
            url: need(&req.url, "a URL")?,
            scheme: match req.scheme.unwrap_or(api::HttpScheme::Bearer) {
                api::HttpScheme::Bearer => Scheme::Bearer,
                api::HttpScheme::Basic => Scheme::Basic,
            },
            primary_user: req.primary_user.clone(),
            secondary_user: req.secondary_user.clone(),
        },
        api::ConnectionKind::Generic => Target::Generic {
            primary_user: req.primary_user.clone(),
            secondary_user: req.secondary_user.clone(),
        },
    };
    let extra = match req.kind {
        api::ConnectionKind::Postgres => req.url.is_some() || req.scheme.is_some(),
        api::ConnectionKind::Http => {
            req.host.is_some() || req.port.is_some() || req.database.is_some()
        }
        api::ConnectionKind::Generic => {
            req.host.is_some() || req.port.is_some() || req.database.is_some() || req.url.is_some() || req.scheme.is_some()
        }
    };
    if extra || (req.admin_user.is_some() && req.kind != api::ConnectionKind::Postgres) {
        return Err(format!("a setting does not apply to a {} connection", kind_name(req.kind)));
    }
    target.check()?;
    Ok(target)
}

fn kind_name(k: api::ConnectionKind) -> &'static str {
    match k {
        api::ConnectionKind::Postgres => "postgres",
        api::ConnectionKind::Http => "http",
        api::ConnectionKind::Generic => "generic",
    }
}
