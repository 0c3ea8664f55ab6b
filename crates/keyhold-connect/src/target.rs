//! A connection's target as keyhold stores it: its kind and public settings (host, port,
//! database, URL, the login of each slot, the admin login) — never a credential. Encoded as
//! one JSON object in the connection's row, covered by the row's MAC.

use serde::{Deserialize, Serialize};

use crate::{Connector, HttpAuth};

/// Where a connection's credentials are used, and as whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// A PostgreSQL database, one login role per slot (same grants).
    Postgres {
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
        /// Database name.
        database: String,
        /// The primary slot's role.
        primary_user: String,
        /// The secondary slot's role.
        secondary_user: String,
        /// A role allowed to set the slots' passwords, if the slots do not set their own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        admin_user: Option<String>,
    },
    /// An HTTP API taking a header credential.
    Http {
        /// The URL a test requests.
        url: String,
        /// Bearer token or basic user and password.
        scheme: Scheme,
        /// The primary slot's user (basic only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        primary_user: Option<String>,
        /// The secondary slot's user (basic only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secondary_user: Option<String>,
    },
    /// A credential keyhold keeps and hands out but cannot test or make.
    Generic {
        /// The primary slot's user, if the credential has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        primary_user: Option<String>,
        /// The secondary slot's user, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secondary_user: Option<String>,
    },
}

/// How an HTTP target takes its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// `Authorization: Bearer <credential>`.
    Bearer,
    /// `Authorization: Basic <user:credential>`.
    Basic,
}

fn check_text(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() || value.len() > max {
        return Err(format!("{field} must be 1 to {max} bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(())
}

impl Target {
    /// The kind's stable name: `postgres`, `http` or `generic`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Postgres { .. } => "postgres",
            Target::Http { .. } => "http",
            Target::Generic { .. } => "generic",
        }
    }

    /// Whether the settings are usable; the message says what is wrong (it holds no secret:
    /// settings are public).
    pub fn check(&self) -> Result<(), String> {
        match self {
            Target::Postgres {
                host,
                port,
                database,
                primary_user,
                secondary_user,
                admin_user,
            } => {
                crate::Postgres::new(host, *port, database).map_err(|e| e.to_string())?;
                check_text("primary user", primary_user, 63)?;
                check_text("secondary user", secondary_user, 63)?;
                if primary_user == secondary_user {
                    return Err("the two slots need two different roles".into());
                }
                if let Some(admin) = admin_user {
                    check_text("admin user", admin, 63)?;
                }
                Ok(())
            }
            Target::Http {
                url,
                scheme,
                primary_user,
                secondary_user,
            } => {
                crate::Http::new(url, self.auth(*scheme)).map_err(|e| e.to_string())?;
                let users = [primary_user, secondary_user];
                match scheme {
                    Scheme::Basic => {
                        for u in users {
                            let u = u
                                .as_deref()
                                .ok_or("basic authentication needs a user per slot")?;
                            check_text("user", u, 255)?;
                        }
                    }
                    Scheme::Bearer if users.iter().any(|u| u.is_some()) => {
                        return Err("a bearer token has no user".into());
                    }
                    Scheme::Bearer => {}
                }
                Ok(())
            }
            Target::Generic {
                primary_user,
                secondary_user,
            } => {
                for u in [primary_user, secondary_user].into_iter().flatten() {
                    check_text("user", u, 255)?;
                }
                Ok(())
            }
        }
    }

    fn auth(&self, scheme: Scheme) -> HttpAuth {
        match scheme {
            Scheme::Bearer => HttpAuth::Bearer,
            Scheme::Basic => HttpAuth::Basic,
        }
    }

    /// The login of the primary slot (`primary`) or the secondary one, if the target has
    /// logins.
    pub fn user(&self, primary: bool) -> Option<&str> {
        let (p, s) = match self {
            Target::Postgres {
                primary_user,
                secondary_user,
                ..
            } => (Some(primary_user.as_str()), Some(secondary_user.as_str())),
            Target::Http {
                primary_user,
                secondary_user,
                ..
            }
            | Target::Generic {
                primary_user,
                secondary_user,
            } => (primary_user.as_deref(), secondary_user.as_deref()),
        };
        if primary { p } else { s }
    }

    /// The admin login, if the target names one.
    pub fn admin_user(&self) -> Option<&str> {
        match self {
            Target::Postgres { admin_user, .. } => admin_user.as_deref(),
            _ => None,
        }
    }

    /// The connector that tests (and, where it can, sets) this target's credentials; `None`
    /// for a generic target, which cannot be tested.
    pub fn connector(&self) -> Option<Box<dyn Connector>> {
        match self {
            Target::Postgres {
                host,
                port,
                database,
                ..
            } => crate::Postgres::new(host, *port, database)
                .ok()
                .map(|p| Box::new(p) as Box<dyn Connector>),
            Target::Http { url, scheme, .. } => crate::Http::new(url, self.auth(*scheme))
                .ok()
                .map(|h| Box::new(h) as Box<dyn Connector>),
            Target::Generic { .. } => None,
        }
    }

    /// The connector that tests this target's credentials, or why there is none.
    pub fn tester(&self) -> Result<Box<dyn Connector>, Unsupported> {
        self.connector().ok_or(Unsupported::Test(self.kind()))
    }

    /// The connector that sets this target's passwords, or why there is none.
    pub fn regenerator(&self) -> Result<Box<dyn Connector>, Unsupported> {
        match self.connector() {
            Some(k) if k.regenerates() => Ok(k),
            _ => Err(Unsupported::Regenerate(self.kind())),
        }
    }

    /// Whether a caller may name this target: a key (`by_key`) may not name this machine or
    /// its link ([`Target::is_local`]) unless the server allows it (`local_allowed`); the
    /// operator, who holds the master key, may.
    pub fn reachable_by(&self, by_key: bool, local_allowed: bool) -> Result<(), String> {
        if by_key && !local_allowed && self.is_local() {
            return Err("a key may not point a connection at this machine or its link (loopback, link-local): the operator may, or a server started with --allow-local-targets".into());
        }
        Ok(())
    }

    /// Whether the target is this machine or its link: `localhost`, or a loopback,
    /// unspecified or link-local address. What answers there trusts the machine keyhold runs
    /// on (local `trust` authentication, cloud metadata services), not whoever named it.
    pub fn is_local(&self) -> bool {
        let host = match self {
            Target::Postgres { host, .. } => host.as_str(),
            Target::Http { url, .. } => url_host(url),
            Target::Generic { .. } => return false,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.eq_ignore_ascii_case("localhost")
            || host.to_ascii_lowercase().ends_with(".localhost")
        {
            return true;
        }
        match host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(a)) => {
                a.is_loopback() || a.is_unspecified() || a.is_link_local()
            }
            Ok(std::net::IpAddr::V6(a)) => {
                a.is_loopback()
                    || a.is_unspecified()
                    || (a.segments()[0] & 0xffc0) == 0xfe80
                    || a.to_ipv4_mapped()
                        .is_some_and(|v4| v4.is_loopback() || v4.is_link_local())
            }
            Err(_) => false,
        }
    }

    /// The settings as stored (one JSON object).
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Settings as stored, or `None` if they are not a target this build knows.
    pub fn decode(text: &str) -> Option<Target> {
        serde_json::from_str(text).ok()
    }
}

/// The host part of an `http(s)://` URL (what follows the scheme, up to the port or path).
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    }
}

/// What a target's kind cannot do, with a stable code: its kind is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    /// Its credentials cannot be tested (save them with an acknowledgement).
    #[error("a {0} connection cannot be tested: save its credential with an acknowledgement")]
    Test(&'static str),
    /// It cannot make its own credentials.
    #[error("a {0} connection cannot make its own credentials")]
    Regenerate(&'static str),
}

impl Unsupported {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Unsupported::Test(_) => "connection_untestable",
            Unsupported::Regenerate(_) => "regeneration_unsupported",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(host: &str) -> Target {
        Target::Postgres {
            host: host.into(),
            port: 5432,
            database: "app".into(),
            primary_user: "a".into(),
            secondary_user: "b".into(),
            admin_user: None,
        }
    }

    fn http(url: &str) -> Target {
        Target::Http {
            url: url.into(),
            scheme: Scheme::Bearer,
            primary_user: None,
            secondary_user: None,
        }
    }

    #[test]
    fn this_machine_and_its_link_are_local_and_nothing_else() {
        for local in [
            "localhost",
            "LOCALHOST",
            "db.localhost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "0.0.0.0",
            "169.254.169.254",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(pg(local).is_local(), "{local}");
        }
        for remote in [
            "db.internal",
            "10.0.0.5",
            "192.168.1.2",
            "2001:db8::1",
            "localhost.example.com",
        ] {
            assert!(!pg(remote).is_local(), "{remote}");
        }
        for local in [
            "http://127.0.0.1:8080/health",
            "http://[::1]/x",
            "https://localhost",
            "http://169.254.169.254/latest/meta-data",
        ] {
            assert!(http(local).is_local(), "{local}");
        }
        assert!(!http("https://api.example.com/v1?x=127.0.0.1").is_local());
        assert!(
            !Target::Generic {
                primary_user: None,
                secondary_user: None
            }
            .is_local()
        );
    }
}
