//! What carrying out an intent takes, in keyhold's own terms: a [`Plan`]. Still pure — it
//! names an operation, it performs none. Whoever performs it does so as the caller, with the
//! caller's scopes, and confirms first when [`Plan::confirmation`] says so.

use crate::{Intent, key_name};

/// The scopes a key gets when the sentence asked for none: the least that lets an application
/// read (`read:queries`). Azi never hands out management scopes nobody asked for; `keyhold
/// keys create` without `--scopes` still gives the caller's own.
pub const DEFAULT_SCOPES: [&str; 1] = ["read:queries"];

/// Why a name as written cannot be acted on.
const NAME_RULES: &str = "that name cannot be a keyhold name: use letters a-z, digits, '.', '_' \
     and '-', at most 64 characters";

/// One operation, as keyhold performs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Mint a key.
    Mint {
        /// The key's name as keyhold writes names (`mobile-app`).
        name: String,
        /// The expiry preset (`30d`).
        expires: &'static str,
        /// The scopes, as the API writes them (never empty: [`DEFAULT_SCOPES`] if none were
        /// asked for).
        scopes: Vec<&'static str>,
    },
    /// List the workspace's keys.
    List,
    /// Revoke one key, by name or id.
    Revoke {
        /// The key.
        key: String,
    },
    /// Revoke every key of the workspace.
    RevokeAll,
    /// Rotate a connection.
    Rotate {
        /// The connection's name.
        connection: String,
    },
}

impl Intent {
    /// The operation this intent asks for: `Ok(None)` for an answer (refuse, clarify,
    /// unknown), which is never carried out; `Err` with a sentence for a person when a name
    /// as written cannot be a keyhold name.
    pub fn plan(&self) -> Result<Option<Plan>, String> {
        let named = |written: &str| {
            let n = key_name(written);
            let lossy = written
                .chars()
                .any(|c| c.is_alphanumeric() && !c.is_ascii_alphanumeric());
            let long = written.chars().filter(char::is_ascii_alphanumeric).count() > n.len();
            if n.is_empty() || lossy || long {
                // The name as written is not repeated: it may hold anything a person pasted.
                Err(NAME_RULES.to_owned())
            } else {
                Ok(n)
            }
        };
        Ok(Some(match self {
            Intent::CreateKey {
                name,
                expires,
                scopes,
            } => Plan::Mint {
                name: named(name)?,
                expires: expires.as_str(),
                scopes: match scopes.is_empty() {
                    true => DEFAULT_SCOPES.to_vec(),
                    false => scopes.iter().map(|s| s.as_str()).collect(),
                },
            },
            Intent::ListKeys => Plan::List,
            Intent::RevokeKey { key } => Plan::Revoke { key: named(key)? },
            Intent::RevokeAll => Plan::RevokeAll,
            Intent::RotateConnection { connection } => Plan::Rotate {
                connection: named(connection)?,
            },
            Intent::Refuse { .. } | Intent::Clarify { .. } | Intent::Unknown { .. } => {
                return Ok(None);
            }
        }))
    }
}

impl Plan {
    /// The plan's kind, as the audit log and [`Plan::to_json`] name it (`revoke_key`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Plan::Mint { .. } => "create_key",
            Plan::List => "list_keys",
            Plan::Revoke { .. } => "revoke_key",
            Plan::RevokeAll => "revoke_all",
            Plan::Rotate { .. } => "rotate_connection",
        }
    }

    /// The plan as one JSON object, names as keyhold writes them: what a confirmation is bound
    /// to (`{"plan":"revoke_key","key":"grafana"}`).
    pub fn to_json(&self) -> String {
        let one = |field: &str, value: &str| {
            format!(
                "{{\"plan\":\"{}\",\"{field}\":{}}}",
                self.kind(),
                crate::json_string(value)
            )
        };
        match self {
            Plan::Mint {
                name,
                expires,
                scopes,
            } => {
                let scopes: Vec<String> = scopes.iter().map(|s| crate::json_string(s)).collect();
                format!(
                    "{{\"plan\":\"create_key\",\"name\":{},\"expires\":\"{expires}\",\"scopes\":[{}]}}",
                    crate::json_string(name),
                    scopes.join(",")
                )
            }
            Plan::Revoke { key } => one("key", key),
            Plan::Rotate { connection } => one("connection", connection),
            Plan::List | Plan::RevokeAll => format!("{{\"plan\":\"{}\"}}", self.kind()),
        }
    }

    /// The scope the caller needs for it.
    pub fn scope(&self) -> &'static str {
        match self {
            Plan::Mint { .. } => "keys:write",
            Plan::List => "keys:read",
            Plan::Revoke { .. } | Plan::RevokeAll => "keys:revoke",
            Plan::Rotate { .. } => "connections:rotate",
        }
    }

    /// The question to confirm it with, if it destroys something (a key, every key, a
    /// connection's standby credential); `None` if it needs no confirmation.
    pub fn confirmation(&self) -> Option<String> {
        match self {
            Plan::Revoke { key } => Some(format!(
                "Revoke key {key}? It is refused from its next use on."
            )),
            Plan::RevokeAll => Some(
                "Revoke every key of this workspace? All of them are refused at once.".to_owned(),
            ),
            Plan::Rotate { connection } => Some(format!(
                "Rotate connection {connection}? Its standby credential is replaced."
            )),
            Plan::Mint { .. } | Plan::List => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn every_destructive_intent_and_only_those_plan_a_confirmation() {
        for s in [
            "Create an API key for the mobile app with 30-day expiry",
            "list my keys",
            "revoke the grafana key",
            "Revoke all API keys for this workspace",
            "rotate the warehouse connection",
        ] {
            let intent = parse(s);
            let plan = intent.plan().expect("plan").expect("an operation");
            assert_eq!(
                plan.confirmation().is_some(),
                intent.is_destructive(),
                "{s}"
            );
        }
        for s in ["hello", "show me the master key", "revoke"] {
            assert_eq!(parse(s).plan(), Ok(None), "{s}");
        }
    }

    #[test]
    fn a_plan_is_written_with_keyholds_names() {
        let plan = parse("Revoke the key named Grafana_Prod")
            .plan()
            .unwrap()
            .unwrap();
        assert_eq!(
            plan.to_json(),
            r#"{"plan":"revoke_key","key":"grafana_prod"}"#
        );
        let plan = parse("Create an API key for the mobile app with 30-day expiry").plan();
        assert_eq!(
            plan.unwrap().unwrap().to_json(),
            r#"{"plan":"create_key","name":"mobile-app","expires":"30d","scopes":["read:queries"]}"#
        );
        assert_eq!(Plan::RevokeAll.to_json(), r#"{"plan":"revoke_all"}"#);
    }

    #[test]
    fn a_key_without_scopes_asked_for_gets_the_least_and_names_are_keyholds() {
        let plan = parse("Create an API key for the mobile app with 30-day expiry").plan();
        assert_eq!(
            plan,
            Ok(Some(Plan::Mint {
                name: "mobile-app".into(),
                expires: "30d",
                scopes: vec!["read:queries"],
            }))
        );
        let plan =
            parse("create a key for the etl job that can read and execute queries, 8 hours").plan();
        let Ok(Some(Plan::Mint { scopes, .. })) = plan else {
            panic!("{plan:?}")
        };
        assert_eq!(scopes, ["execute:queries", "read:queries"]);
        assert_eq!(
            parse("revoke the grafana key").plan(),
            Ok(Some(Plan::Revoke {
                key: "grafana".into()
            }))
        );
    }

    #[test]
    fn a_name_keyhold_cannot_hold_whole_is_refused_without_being_repeated() {
        for written in ["…", "café", "ü-grafana", &"x".repeat(65)] {
            let intent = Intent::RevokeKey {
                key: written.to_owned(),
            };
            assert_eq!(intent.plan(), Err(NAME_RULES.to_owned()), "{written}");
        }
        let intent = Intent::RevokeKey {
            key: "Grafana (prod)".into(),
        };
        assert_eq!(
            intent.plan(),
            Ok(Some(Plan::Revoke {
                key: "grafana-prod".into()
            }))
        );
    }
}
