//! A connection as API v1 shows it, from its target and its rotation state: settings, slots,
//! versions and times — never a secret; the one body that carries a secret out (the
//! credential handed to a consumer); and a creation request read into a [`Target`].

use keyhold_api as api;
use keyhold_crypto::SecretBytes;
use keyhold_rotation::{Connection as Machine, FailReason, SlotName, SlotState, Verdict, Version};

use crate::{Refusal, Scheme, SetError, Target};

/// What the wire shows of a connection besides its target and slots (as stored).
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    /// Its name.
    pub name: &'a str,
    /// Grace period, in seconds.
    pub grace_secs: i64,
    /// Regular rotation period, if any.
    pub rotate_every_secs: Option<i64>,
    /// When the next regular rotation is due.
    pub next_rotation_at: Option<i64>,
    /// When it was created.
    pub created_at: i64,
    /// Who created it.
    pub created_by: &'a str,
    /// When a consumer last read its credential.
    pub last_used_at: Option<i64>,
}

/// The wire's name of a slot.
pub fn wire_slot(slot: SlotName) -> api::SlotName {
    match slot {
        SlotName::Primary => api::SlotName::Primary,
        SlotName::Secondary => api::SlotName::Secondary,
    }
}

/// The machine's name of a slot.
pub fn slot(slot: api::SlotName) -> SlotName {
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

fn secs(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Target {
    /// The kind, as the wire names it.
    pub fn wire_kind(&self) -> api::ConnectionKind {
        match self {
            Target::Postgres { .. } => api::ConnectionKind::Postgres,
            Target::Http { .. } => api::ConnectionKind::Http,
            Target::Generic { .. } => api::ConnectionKind::Generic,
        }
    }

    /// The public settings, as the wire shows them.
    pub fn wire(&self) -> api::Target {
        match self {
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

    /// The target a creation request describes, checked; the message says what is wrong.
    pub fn from_request(req: &api::CreateConnection) -> Result<Target, String> {
        use api::ConnectionKind as K;
        let kind = Target::kind_name(req.kind);
        let need = |v: &Option<String>, what: &str| {
            v.clone()
                .ok_or_else(|| format!("a {kind} connection needs {what}"))
        };
        let target = match req.kind {
            K::Postgres => Target::Postgres {
                host: need(&req.host, "a host")?,
                port: req.port.unwrap_or(5432),
                database: need(&req.database, "a database")?,
                primary_user: need(&req.primary_user, "a primary user")?,
                secondary_user: need(&req.secondary_user, "a secondary user")?,
                admin_user: req.admin_user.clone(),
            },
            K::Http => Target::Http {
                url: need(&req.url, "a URL")?,
                scheme: match req.scheme.unwrap_or(api::HttpScheme::Bearer) {
                    api::HttpScheme::Bearer => Scheme::Bearer,
                    api::HttpScheme::Basic => Scheme::Basic,
                },
                primary_user: req.primary_user.clone(),
                secondary_user: req.secondary_user.clone(),
            },
            K::Generic => Target::Generic {
                primary_user: req.primary_user.clone(),
                secondary_user: req.secondary_user.clone(),
            },
        };
        let database_settings = req.host.is_some() || req.port.is_some() || req.database.is_some();
        let http_settings = req.url.is_some() || req.scheme.is_some();
        let stray = match req.kind {
            K::Postgres => http_settings,
            K::Http => database_settings || req.admin_user.is_some(),
            K::Generic => database_settings || http_settings || req.admin_user.is_some(),
        };
        if stray {
            return Err(format!("a setting does not apply to a {kind} connection"));
        }
        if req.admin_password.is_some() != target.admin_user().is_some() {
            return Err("an admin password is given exactly when an admin user is".into());
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

    fn slot_view(&self, machine: &Machine, s: SlotName) -> api::Slot {
        let st = machine.slot(s);
        let (mut tested_at, mut fail, mut until, mut since) = (None, None, None, None);
        match st {
            SlotState::Tested { at, .. } => tested_at = Some(at),
            SlotState::Failed { at, reason, .. } => {
                (tested_at, fail) = (Some(at), Some(failure(reason)))
            }
            SlotState::Standby { until: u, .. } => until = Some(u),
            SlotState::Active {
                since: t, tested, ..
            } => (since, tested_at) = (Some(t), Some(tested)),
            _ => {}
        }
        api::Slot {
            failure: fail,
            standby_until: until.map(secs),
            state: state(&st),
            tested_at: tested_at.map(secs),
            updated_at: since.map(secs),
            user: self.user(s == SlotName::Primary).map(str::to_owned),
            version: st.version().map(Version::get),
        }
    }

    /// The connection `meta` describes, with this target and `machine`'s slots, as the wire
    /// shows it (never a secret).
    pub fn view(&self, meta: &Meta<'_>, machine: &Machine) -> api::Connection {
        api::Connection {
            active: machine.active().map(|(s, _)| wire_slot(s)),
            created_at: meta.created_at,
            created_by: meta.created_by.to_owned(),
            grace_secs: u64::try_from(meta.grace_secs).unwrap_or(0),
            kind: self.wire_kind(),
            last_used_at: meta.last_used_at,
            name: meta.name.to_owned(),
            next_rotation_due: meta.next_rotation_at,
            rotate_every_secs: meta.rotate_every_secs.and_then(|s| u64::try_from(s).ok()),
            slots: api::Slots {
                primary: self.slot_view(machine, SlotName::Primary),
                secondary: self.slot_view(machine, SlotName::Secondary),
            },
            target: self.wire(),
        }
    }

    /// Slot `s`'s credential `version` of connection `name`, for a consumer.
    pub fn credential(
        &self,
        name: &str,
        s: SlotName,
        version: Version,
        password: api::Secret,
    ) -> api::ActiveCredential {
        let t = self.wire();
        api::ActiveCredential {
            connection: name.to_owned(),
            database: t.database,
            expires_hint: None,
            host: t.host,
            kind: self.wire_kind(),
            password,
            port: t.port,
            scheme: t.scheme,
            slot: wire_slot(s),
            url: t.url,
            user: self.user(s == SlotName::Primary).map(str::to_owned),
            version: version.get(),
        }
    }
}

/// What a creation request asks for, checked: the target, the periods in seconds as the
/// store keeps them, and the admin login's credential.
#[derive(Debug)]
pub struct Creation {
    /// The target.
    pub target: Target,
    /// Grace period, in seconds.
    pub grace_secs: i64,
    /// Regular rotation period, if any.
    pub rotate_every_secs: Option<i64>,
    /// The admin login's credential, if the target names one.
    pub admin_password: Option<SecretBytes>,
}

impl Creation {
    /// The creation `req` asks for; the message says what is wrong with it.
    pub fn from_request(req: &api::CreateConnection) -> Result<Creation, String> {
        let period = |s: u64, what: &str| i64::try_from(s).map_err(|_| format!("{what} too long"));
        let admin = req.admin_password.as_ref().map(secret_bytes).transpose();
        if let Some(every) = req.rotate_every_secs
            && every <= req.grace_secs
        {
            // A standby within its grace is never regenerated: such a schedule would fail
            // every time.
            return Err("the rotation period must be longer than the grace period".into());
        }
        Ok(Creation {
            target: Target::from_request(req)?,
            grace_secs: period(req.grace_secs, "grace period")?,
            rotate_every_secs: req
                .rotate_every_secs
                .map(|s| period(s, "rotation period"))
                .transpose()?,
            admin_password: admin.map_err(str::to_owned)?,
        })
    }
}

/// A test's outcome on the wire: the connection afterwards and the verdict.
pub fn outcome(
    connection: api::Connection,
    verdict: Verdict,
    detail: Option<String>,
) -> api::TestOutcome {
    api::TestOutcome {
        connection,
        detail,
        failure: match verdict {
            Verdict::Pass => None,
            Verdict::Fail(r) => Some(failure(r)),
        },
        passed: verdict == Verdict::Pass,
    }
}

/// A test's result as the machine's verdict, with the refusal's secret-free words.
pub fn verdict(result: Result<(), Refusal>) -> (Verdict, Option<String>) {
    match result {
        Ok(()) => (Verdict::Pass, None),
        Err(r @ Refusal::Unreachable { .. }) => {
            (Verdict::Fail(FailReason::Unreachable), Some(r.to_string()))
        }
        Err(r) => (Verdict::Fail(FailReason::Rejected), Some(r.to_string())),
    }
}

impl SetError {
    /// Why the machine is told the regeneration failed.
    pub fn reason(&self) -> FailReason {
        match self {
            SetError::Unreachable { .. } => FailReason::Unreachable,
            _ => FailReason::Rejected,
        }
    }

    /// The stable error code of the failure (`target_unreachable`, `target_refused`,
    /// `regeneration_unsupported`).
    pub fn code(&self) -> &'static str {
        match self {
            SetError::Unreachable { .. } => "target_unreachable",
            SetError::Unsupported => "regeneration_unsupported",
            _ => "target_refused",
        }
    }
}

/// A credential from the wire, as secret bytes: text of 1 to 4096 bytes (a password or a
/// token); the message says what is wrong.
pub fn secret_bytes(s: &api::Secret) -> Result<SecretBytes, &'static str> {
    let bytes = s.expose().as_bytes();
    if bytes.is_empty() || bytes.len() > 4096 {
        return Err("a credential is 1 to 4096 bytes");
    }
    Ok(SecretBytes::copy_from(bytes))
}

/// A stored credential for the wire (it was text when it was stored), if it is text.
pub fn secret_text(s: &SecretBytes) -> Option<api::Secret> {
    // EXPOSE: handed to the consumer that asked for it, as the text it was stored as.
    std::str::from_utf8(s.expose()).ok().map(api::Secret::new)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_wire_s_default_grace_is_the_machine_s() {
        // keyhold-api may not depend on keyhold-rotation: the two constants are kept equal here.
        assert_eq!(
            keyhold_api::DEFAULT_GRACE_SECS,
            keyhold_rotation::DEFAULT_GRACE_SECS
        );
    }
}
