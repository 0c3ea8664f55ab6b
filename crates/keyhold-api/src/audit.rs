//! The audit routes' own bodies: the query of `GET /v1/audit`, spelled and parsed here once
//! for the server that reads it and the client that writes it, and the answer of
//! `POST /v1/audit/verify`.

use std::fmt;

use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};

/// Which audit records to list; `None` means "any". The query of `GET /v1/audit`
/// (`since_ms`, `action`, `key`, `actor`, `limit`), and what a local caller asks of its store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only records at or after this time (Unix ms).
    pub since_ms: Option<i64>,
    /// Only this action (`key.used`, ...).
    pub action: Option<String>,
    /// Only records about this key id.
    pub key: Option<String>,
    /// Only this actor (`sub`).
    pub actor: Option<String>,
    /// Only this workspace id. Not part of the route's query: a key reads its own workspace.
    pub workspace: Option<String>,
    /// At most this many records (newest last).
    pub limit: Option<u64>,
}

const SINCE_MS: &str = "since_ms";
const ACTION: &str = "action";
const KEY: &str = "key";
const ACTOR: &str = "actor";
const LIMIT: &str = "limit";

impl AuditQuery {
    /// The limit `GET /v1/audit` applies when its query names none.
    pub const DEFAULT_LIMIT: u64 = 100;

    /// The route's query parameters for this query, in order, each that is set: name and
    /// value, not yet percent-encoded. (`workspace` is not among them.)
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            (SINCE_MS, self.since_ms.map(|t| t.to_string())),
            (ACTION, self.action.clone()),
            (KEY, self.key.clone()),
            (ACTOR, self.actor.clone()),
            (LIMIT, self.limit.map(|l| l.to_string())),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
        .collect()
    }

    /// The query a request's query string (after the `?`) asks for, with
    /// [`DEFAULT_LIMIT`](Self::DEFAULT_LIMIT) if it names no limit. Unknown parameters are
    /// ignored; of a repeated one, the first counts.
    pub fn from_query(query: &str) -> Result<Self, QueryError> {
        Ok(Self {
            since_ms: number(query, SINCE_MS)?,
            action: value(query, ACTION)?,
            key: value(query, KEY)?,
            actor: value(query, ACTOR)?,
            limit: Some(number(query, LIMIT)?.unwrap_or(Self::DEFAULT_LIMIT)),
            workspace: None,
        })
    }
}

/// A query parameter that could not be read: which, and why (never its value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryError {
    /// The parameter's name.
    pub name: &'static str,
    /// Whether it was a number that was expected, rather than undecodable text.
    pub not_a_number: bool,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.not_a_number {
            write!(f, "query parameter {} must be a number", self.name)
        } else {
            write!(
                f,
                "query parameter {} is not valid percent-encoded UTF-8",
                self.name
            )
        }
    }
}

impl std::error::Error for QueryError {}

/// The value of `name` in `query`, percent-decoded (`+` is a space). A value with a broken
/// escape or that is not UTF-8 is refused, not guessed at.
fn value(query: &str, name: &'static str) -> Result<Option<String>, QueryError> {
    let Some((_, raw)) = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
    else {
        return Ok(None);
    };
    let bad = QueryError {
        name,
        not_a_number: false,
    };
    let escapes_whole = raw.split('%').skip(1).all(|rest| {
        rest.as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !escapes_whole {
        return Err(bad);
    }
    let spaced = raw.replace('+', " ");
    let decoded = percent_decode_str(&spaced).decode_utf8().map_err(|_| bad)?;
    Ok(Some(decoded.into_owned()))
}

/// A numeric parameter.
fn number<T: std::str::FromStr>(query: &str, name: &'static str) -> Result<Option<T>, QueryError> {
    value(query, name)?
        .map(|v| {
            v.parse::<T>().map_err(|_| QueryError {
                name,
                not_a_number: true,
            })
        })
        .transpose()
}

/// Verification result of the whole chain (`POST /v1/audit/verify`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditVerification {
    /// Rows checked.
    pub rows: u64,
    /// The newest row's seq.
    pub head_seq: u64,
    /// The newest row's chain hash (hex).
    pub head: String,
    /// Whether a checkpoint was checked too.
    pub checkpoint_seq: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_read_back_as_it_was_written() {
        let q = AuditQuery {
            since_ms: Some(-5),
            action: Some("key.used".into()),
            key: Some("a b/é".into()),
            actor: Some("op".into()),
            workspace: Some("ws".into()),
            limit: Some(7),
        };
        let names: Vec<&str> = q.pairs().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["since_ms", "action", "key", "actor", "limit"]);
        let written = "since_ms=-5&action=key.used&key=a+b%2F%C3%A9&actor=op&limit=7";
        let back = AuditQuery::from_query(written).unwrap();
        assert_eq!(
            back,
            AuditQuery {
                workspace: None,
                ..q
            }
        );
        assert_eq!(AuditQuery::default().pairs(), Vec::new());
    }

    #[test]
    fn the_route_reads_its_query_as_it_always_has() {
        let all = AuditQuery::from_query("").unwrap();
        assert_eq!(all.limit, Some(AuditQuery::DEFAULT_LIMIT));
        assert_eq!(all.action, None);
        let q = AuditQuery::from_query("flag&action=a&action=b&workspace=x&other=1").unwrap();
        assert_eq!((q.action.as_deref(), q.workspace), (Some("a"), None));
        for (query, message) in [
            ("limit=ten", "query parameter limit must be a number"),
            (
                "since_ms=1&actor=%zz",
                "query parameter actor is not valid percent-encoded UTF-8",
            ),
            (
                "key=%FF",
                "query parameter key is not valid percent-encoded UTF-8",
            ),
            (
                "action=%4",
                "query parameter action is not valid percent-encoded UTF-8",
            ),
            (
                "since_ms=x&action=%",
                "query parameter since_ms must be a number",
            ),
        ] {
            let e = AuditQuery::from_query(query).unwrap_err();
            assert_eq!(e.to_string(), message, "{query}");
        }
    }
}
