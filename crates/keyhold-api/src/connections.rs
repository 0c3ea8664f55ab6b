//! The bodies of API v1's connection routes: a connection (credentials kept for a target,
//! such as a PostgreSQL login, in two slots rotated without downtime), its slots, and the
//! requests that change them. Only [`ActiveCredential`] carries a credential out, and only
//! [`CreateConnection`] and [`UpdateCredential`] carry one in, always as a [`Secret`].
//!
//! Response fields are declared in the order they are written on the wire (alphabetical);
//! absent values are written as `null`. Requests refuse unknown fields.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// A secret in a body (a password, a bearer token): its `Debug` never shows the value, and
/// its memory is wiped when it is dropped. On the wire it is a plain JSON string.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// The secret `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The value, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

/// What a connection's credentials are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    /// A PostgreSQL login: keyhold can test it and, with an admin login, make new passwords.
    Postgres,
    /// An HTTP API's bearer token or basic credentials: keyhold can test them.
    Http,
    /// Anything else: keyhold keeps and rotates what it is given, but cannot test it.
    Generic,
}

/// How an [`ConnectionKind::Http`] connection's credential is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpScheme {
    /// `Authorization: Bearer <password>`.
    Bearer,
    /// `Authorization: Basic <user:password>`.
    Basic,
}

/// One of a connection's two slots: the `{slot}` of a route's path, and where a credential
/// is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotName {
    /// The first slot.
    Primary,
    /// The second slot.
    Secondary,
}

impl SlotName {
    /// The slot's name in paths and bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotName::Primary => "primary",
            SlotName::Secondary => "secondary",
        }
    }

    /// The slot a path's `{slot}` names; `None` (the server answers `invalid_slot`) for
    /// anything but `primary` and `secondary`.
    pub fn parse(s: &str) -> Option<SlotName> {
        match s {
            "primary" => Some(SlotName::Primary),
            "secondary" => Some(SlotName::Secondary),
            _ => None,
        }
    }
}

impl std::fmt::Display for SlotName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a slot holds, as the rotation machine names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotState {
    /// No credential yet.
    Empty,
    /// A new credential is being set at the target (a rotation resumes it).
    Regenerating,
    /// A credential waiting for a test.
    Staged,
    /// A credential that passed a test since it was staged: it can be saved.
    Tested,
    /// A credential the target refused or could not be reached for: never handed out.
    Failed,
    /// The credential handed to consumers.
    Active,
    /// The credential that was active: still handed out until `standby_until`.
    Standby,
}

/// Why a credential failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The target answered and refused it.
    Rejected,
    /// The target could not be reached or did not answer.
    Unreachable,
}

/// A connection's target: its settings that are not secret. Which fields are present
/// depends on the connection's kind; the others are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Postgres: the login that sets passwords when keyhold regenerates them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_user: Option<String>,
    /// Postgres: the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Postgres: the host name or address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Postgres: the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// HTTP: how the credential is presented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<HttpScheme>,
    /// HTTP: the URL a test calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One slot of a connection (never its credential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Why its credential failed, if it is [`SlotState::Failed`].
    pub failure: Option<Failure>,
    /// Until when the standby's credential is still handed out (Unix seconds), if it is
    /// [`SlotState::Standby`].
    pub standby_until: Option<i64>,
    /// What the slot holds.
    pub state: SlotState,
    /// When its credential last passed a test (Unix seconds), if it did since it was staged.
    pub tested_at: Option<i64>,
    /// When the slot last changed (Unix seconds), if it ever held a credential.
    pub updated_at: Option<i64>,
    /// The slot's login at the target (none for an HTTP bearer token, or a generic
    /// credential without one).
    pub user: Option<String>,
    /// Its credential's version, numbered per connection, if it holds one.
    pub version: Option<u32>,
}

/// A connection's two slots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slots {
    /// The primary slot.
    pub primary: Slot,
    /// The secondary slot.
    pub secondary: Slot,
}

/// A connection's metadata (never a credential): `GET /v1/connections/{name}`, the items of
/// the list, and the answer of the routes that change one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// The slot whose credential is handed out, once one was saved.
    pub active: Option<SlotName>,
    /// Unix seconds.
    pub created_at: i64,
    /// Who created it.
    pub created_by: String,
    /// How long the credential that stops being active is still handed out, in seconds.
    pub grace_secs: u64,
    /// What the credentials are for.
    pub kind: ConnectionKind,
    /// Unix seconds of the last time its credential was handed out, at most a minute behind.
    pub last_used_at: Option<i64>,
    /// Name, unique within its workspace.
    pub name: String,
    /// When the next scheduled rotation is due (Unix seconds), if it rotates on a schedule.
    pub next_rotation_due: Option<i64>,
    /// The rotation period in seconds, if it rotates on a schedule.
    pub rotate_every_secs: Option<u64>,
    /// The two slots.
    pub slots: Slots,
    /// The target's settings.
    pub target: Target,
}

/// The answer to `GET /v1/connections`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectionList {
    /// The workspace's connections.
    pub connections: Vec<Connection>,
}

/// The grace period of a connection created without one: 10 minutes.
pub const DEFAULT_GRACE_SECS: u64 = 600;

fn default_grace_secs() -> u64 {
    DEFAULT_GRACE_SECS
}

/// `POST /v1/connections`: create a connection. The target's settings sit beside the name,
/// those of its kind only: `host`, `port`, `database` (and `admin_user`) for `postgres`,
/// `url` and `scheme` for `http`, none for `generic`; others are `invalid_connection`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    /// Name, unique within the workspace.
    pub name: String,
    /// What the credentials are for.
    pub kind: ConnectionKind,
    /// Postgres: the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Postgres: the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Postgres: the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// HTTP: the URL a test calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// HTTP: how the credential is presented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<HttpScheme>,
    /// The primary slot's login at the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_user: Option<String>,
    /// The secondary slot's login at the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_user: Option<String>,
    /// Postgres: the login that sets passwords when keyhold regenerates them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_user: Option<String>,
    /// Postgres: the admin login's password. Kept encrypted, never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password: Option<Secret>,
    /// The grace period in seconds ([`DEFAULT_GRACE_SECS`] if not given).
    #[serde(default = "default_grace_secs")]
    pub grace_secs: u64,
    /// The rotation period in seconds, to rotate on a schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_every_secs: Option<u64>,
}

/// `PUT /v1/connections/{name}/slots/{slot}/credential`: stage a credential the caller
/// made into the slot; it must pass a test before it can be saved.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCredential {
    /// The password (for an HTTP bearer connection, the token).
    pub password: Secret,
}

/// `POST /v1/connections/{name}/slots/{slot}/save`: promote the slot's credential.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveCredential {
    /// Save a generic connection's credential, which no test can check
    /// (`acknowledgement_required` without it).
    #[serde(default)]
    pub acknowledge_untested: bool,
}

/// `POST /v1/connections/{name}/rotate`: regenerate the slot that is not active, test it,
/// and promote it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// Replace the standby even within its grace period (consumers still holding its
    /// credential lose it).
    #[serde(default)]
    pub force: bool,
}

/// The answer to a test (`POST /v1/connections/{name}/slots/{slot}/test`) and to a
/// rotation: the connection as it is now, and the target's verdict on the credential.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestOutcome {
    /// The connection after the test.
    pub connection: Connection,
    /// The target's words on a failure, if any (never a credential).
    pub detail: Option<String>,
    /// Why the credential failed, if it did.
    pub failure: Option<Failure>,
    /// Whether the target accepted the credential.
    pub passed: bool,
}

/// The answer to `GET /v1/connections/{name}/credential`: the credential to use now, with
/// what is needed to use it. The only body that carries a connection's credential out; it
/// is answered with `Cache-Control: no-store`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ActiveCredential {
    /// The connection's name.
    pub connection: String,
    /// Postgres: the database.
    pub database: Option<String>,
    /// When this credential stops being handed out (Unix seconds), if it is the standby's
    /// within its grace period; `null` for the active credential.
    pub expires_hint: Option<i64>,
    /// Postgres: the host.
    pub host: Option<String>,
    /// What the credential is for.
    pub kind: ConnectionKind,
    /// The password (for an HTTP bearer connection, the token).
    pub password: Secret,
    /// Postgres: the port.
    pub port: Option<u16>,
    /// HTTP: how the credential is presented.
    pub scheme: Option<HttpScheme>,
    /// The slot it comes from.
    pub slot: SlotName,
    /// HTTP: the URL.
    pub url: Option<String>,
    /// The login (none for an HTTP bearer token).
    pub user: Option<String>,
    /// Its version.
    pub version: u32,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failed expectation is the report

    use super::*;

    fn slot(state: SlotState, version: Option<u32>) -> Slot {
        Slot {
            failure: None,
            standby_until: None,
            state,
            tested_at: Some(5),
            updated_at: Some(4),
            user: Some("app_a".into()),
            version,
        }
    }

    fn connection() -> Connection {
        Connection {
            active: Some(SlotName::Primary),
            created_at: 1,
            created_by: "ops@example.com".into(),
            grace_secs: DEFAULT_GRACE_SECS,
            kind: ConnectionKind::Postgres,
            last_used_at: None,
            name: "orders-db".into(),
            next_rotation_due: None,
            rotate_every_secs: None,
            slots: Slots {
                primary: slot(SlotState::Active, Some(1)),
                secondary: slot(SlotState::Empty, None),
            },
            target: Target {
                host: Some("db.internal".into()),
                port: Some(5432),
                database: Some("orders".into()),
                ..Target::default()
            },
        }
    }

    #[test]
    fn a_connection_has_the_documented_json_shape() {
        let v = serde_json::to_value(connection()).unwrap();
        assert_eq!(v["name"], "orders-db");
        assert_eq!(v["kind"], "postgres");
        assert_eq!(v["active"], "primary");
        let primary = &v["slots"]["primary"];
        assert_eq!(primary["user"], "app_a");
        assert_eq!(primary["state"], "active");
        assert_eq!(primary["version"], 1);
        assert_eq!(primary["tested_at"], 5);
        assert!(v["slots"]["secondary"]["version"].is_null());
        assert!(v["last_used_at"].is_null());
        assert_eq!(
            v["target"],
            serde_json::json!({"database": "orders", "host": "db.internal", "port": 5432})
        );
        let back: Connection = serde_json::from_value(v).unwrap();
        assert_eq!(back, connection());
    }

    #[test]
    fn secrets_travel_as_strings_and_never_print() {
        let body = UpdateCredential {
            password: Secret::new("hunter2-very-secret"),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"password":"hunter2-very-secret"}"#
        );
        assert!(!format!("{body:?}").contains("hunter2"));
        let read: CreateConnection = serde_json::from_str(
            r#"{"name":"orders-db","kind":"postgres","host":"db","port":5432,"database":"orders",
                "primary_user":"app_a","secondary_user":"app_b","admin_user":"admin",
                "admin_password":"s3cret-admin"}"#,
        )
        .unwrap();
        assert_eq!(read.grace_secs, DEFAULT_GRACE_SECS);
        assert_eq!(
            read.admin_password.as_ref().map(Secret::expose),
            Some("s3cret-admin")
        );
        assert!(!format!("{read:?}").contains("s3cret"));
        let active = ActiveCredential {
            connection: "orders-db".into(),
            database: Some("orders".into()),
            expires_hint: None,
            host: Some("db".into()),
            kind: ConnectionKind::Postgres,
            password: Secret::new("pw-of-app-a"),
            port: Some(5432),
            scheme: None,
            slot: SlotName::Primary,
            url: None,
            user: Some("app_a".into()),
            version: 3,
        };
        assert!(!format!("{active:?}").contains("pw-of-app-a"));
        let v = serde_json::to_value(&active).unwrap();
        assert_eq!(v["password"], "pw-of-app-a");
        assert!(v["expires_hint"].is_null() && v["url"].is_null());
    }

    #[test]
    fn requests_refuse_unknown_fields_and_default_their_flags() {
        assert!(serde_json::from_str::<UpdateCredential>(r#"{"password":"x","pw":"y"}"#).is_err());
        assert!(serde_json::from_str::<Rotate>(r#"{"forced":true}"#).is_err());
        assert!(!serde_json::from_str::<Rotate>("{}").unwrap().force);
        assert!(
            !serde_json::from_str::<SaveCredential>("{}")
                .unwrap()
                .acknowledge_untested
        );
        assert!(serde_json::from_str::<CreateConnection>(r#"{"name":"x","kind":"ldap"}"#).is_err());
        assert_eq!(SlotName::parse("secondary"), Some(SlotName::Secondary));
        assert_eq!(SlotName::parse("Primary"), None);
        assert_eq!(SlotName::Primary.to_string(), "primary");
    }
}
