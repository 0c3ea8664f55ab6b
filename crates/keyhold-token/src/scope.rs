//! Scopes: what a token may do.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::TokenError;

/// Longest accepted segment on either side of the colon.
const MAX_SEGMENT: usize = 32;

/// One permission from the scope catalog.
///
/// Scopes are written `action:resource` in lowercase ASCII letters (the catalog also uses
/// `resource:action` for key and connection management; the grammar is just two lowercase
/// segments). `admin` is the only scope without a colon and implies every other scope.
/// Apart from `admin`, a scope implies only itself.
///
/// The variant order is the order of the strings, so a [`ScopeSet`] is sorted by its
/// serialized form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// `admin`: everything.
    Admin,
    /// `audit:read`: read the audit log.
    AuditRead,
    /// `connections:read`: list and inspect connections (never their secrets).
    ConnectionsRead,
    /// `connections:rotate`: rotate a connection's credentials.
    ConnectionsRotate,
    /// `connections:use`: use a connection's credentials (e.g. run a query through it).
    ConnectionsUse,
    /// `connections:write`: create, change and delete connections.
    ConnectionsWrite,
    /// `execute:queries`: execute saved queries.
    ExecuteQueries,
    /// `keys:read`: list and inspect access keys.
    KeysRead,
    /// `keys:revoke`: revoke access keys.
    KeysRevoke,
    /// `keys:write`: mint access keys (within the no-escalation rule).
    KeysWrite,
    /// `read:queries`: read saved queries and their results.
    ReadQueries,
}

const CATALOG: [Scope; 11] = [
    Scope::Admin,
    Scope::AuditRead,
    Scope::ConnectionsRead,
    Scope::ConnectionsRotate,
    Scope::ConnectionsUse,
    Scope::ConnectionsWrite,
    Scope::ExecuteQueries,
    Scope::KeysRead,
    Scope::KeysRevoke,
    Scope::KeysWrite,
    Scope::ReadQueries,
];

impl Scope {
    /// The whole catalog, sorted.
    pub fn all() -> &'static [Scope] {
        &CATALOG
    }

    /// The scope's string form, e.g. `"keys:read"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::AuditRead => "audit:read",
            Self::ConnectionsRead => "connections:read",
            Self::ConnectionsRotate => "connections:rotate",
            Self::ConnectionsUse => "connections:use",
            Self::ConnectionsWrite => "connections:write",
            Self::ExecuteQueries => "execute:queries",
            Self::KeysRead => "keys:read",
            Self::KeysRevoke => "keys:revoke",
            Self::KeysWrite => "keys:write",
            Self::ReadQueries => "read:queries",
        }
    }

    /// Whether holding `self` allows an operation that requires `required`.
    pub fn implies(self, required: Scope) -> bool {
        self == Self::Admin || self == required
    }
}

fn well_formed(s: &str) -> bool {
    let segment = |p: &str| {
        !p.is_empty() && p.len() <= MAX_SEGMENT && p.bytes().all(|b| b.is_ascii_lowercase())
    };
    match s.split_once(':') {
        Some((action, resource)) => segment(action) && segment(resource),
        None => s == "admin",
    }
}

impl FromStr for Scope {
    type Err = TokenError;

    /// Parses one scope. Input that does not follow the grammar gives
    /// [`TokenError::ScopeMalformed`] (which does not echo the input); a well-formed scope
    /// outside the catalog gives [`TokenError::ScopeUnknown`] naming it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !well_formed(s) {
            return Err(TokenError::ScopeMalformed);
        }
        CATALOG
            .iter()
            .copied()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| TokenError::ScopeUnknown {
                scope: s.to_owned(),
            })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A sorted, deduplicated set of scopes; serializes as a JSON array of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// The empty set (covers nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a scope; returns whether it was new.
    pub fn insert(&mut self, scope: Scope) -> bool {
        self.0.insert(scope)
    }

    /// Whether `scope` is literally in the set (see [`covers`](Self::covers) for authorization).
    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// Whether the set allows an operation that requires `required`: the set holds `admin`
    /// or holds `required` itself.
    pub fn covers(&self, required: Scope) -> bool {
        self.0.iter().any(|held| held.implies(required))
    }

    /// The no-escalation rule: whether a token holding `parent` may mint a token holding
    /// `self`, i.e. whether `parent` covers every scope in `self`. A parent with `admin`
    /// covers everything; only an `admin` parent may mint an `admin` token.
    pub fn is_subset_of(&self, parent: &ScopeSet) -> bool {
        self.0.iter().all(|&s| parent.covers(s))
    }

    /// [`is_subset_of`](Self::is_subset_of) as a `Result`, for minting code paths:
    /// [`TokenError::ScopeEscalation`] when `self` asks for more than `parent` holds.
    pub fn ensure_no_escalation(&self, parent: &ScopeSet) -> Result<(), TokenError> {
        if self.is_subset_of(parent) {
            Ok(())
        } else {
            Err(TokenError::ScopeEscalation)
        }
    }

    /// The scopes in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// Number of distinct scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<const N: usize> From<[Scope; N]> for ScopeSet {
    fn from(scopes: [Scope; N]) -> Self {
        scopes.into_iter().collect()
    }
}

impl FromStr for ScopeSet {
    type Err = TokenError;

    /// Parses a list separated by commas and/or whitespace, e.g. `"keys:read, audit:read"`.
    /// Duplicates collapse; any bad entry fails the whole list.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect()
    }
}

impl fmt::Display for ScopeSet {
    /// Space-separated, sorted (the OAuth `scope` convention).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

impl serde::Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

impl<'de> serde::Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self(BTreeSet::<Scope>::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_round_trips_and_is_sorted_by_string() {
        let strings: Vec<&str> = Scope::all().iter().map(|s| s.as_str()).collect();
        let mut sorted = strings.clone();
        sorted.sort_unstable();
        assert_eq!(strings, sorted, "variant order must equal string order");
        for s in Scope::all() {
            assert_eq!(s.as_str().parse::<Scope>().unwrap(), *s);
            assert_eq!(s.as_str().contains(':'), *s != Scope::Admin);
        }
        for required in [
            "read:queries",
            "execute:queries",
            "keys:read",
            "keys:write",
            "keys:revoke",
            "connections:read",
            "connections:write",
            "connections:rotate",
            "connections:use",
            "audit:read",
            "admin",
        ] {
            assert!(required.parse::<Scope>().is_ok(), "{required}");
        }
    }

    #[test]
    fn malformed_and_unknown_scopes() {
        for bad in [
            "",
            ":",
            "keys:",
            ":read",
            "Keys:read",
            "keys:Read",
            "keys read",
            "keys:read:x",
            "keys::read",
            " keys:read",
            "keys:read ",
            "ADMIN",
            "admin:",
            "key_s:read",
            "k3ys:read",
            "кeys:read",
        ] {
            let e = bad.parse::<Scope>().unwrap_err();
            assert_eq!(e.code(), "scope_malformed", "{bad:?}");
            assert_eq!(e.to_string(), TokenError::ScopeMalformed.to_string());
        }
        let long = format!("{}:read", "a".repeat(MAX_SEGMENT + 1));
        assert_eq!(long.parse::<Scope>().unwrap_err().code(), "scope_malformed");
        let e = "keys:delete".parse::<Scope>().unwrap_err();
        assert_eq!(e.code(), "scope_unknown");
        assert_eq!(e.to_string(), "unknown scope `keys:delete`");
        assert_eq!(e.code(), "scope_unknown", "a bad request, not a bad token");
    }

    #[test]
    fn set_is_sorted_deduplicated_and_serializes_as_array() {
        let set: ScopeSet = "keys:write, audit:read keys:write,,read:queries"
            .parse()
            .unwrap();
        assert_eq!(set.len(), 3);
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            r#"["audit:read","keys:write","read:queries"]"#
        );
        assert_eq!(set.to_string(), "audit:read keys:write read:queries");
        let back: ScopeSet =
            serde_json::from_str(r#"["read:queries","audit:read","keys:write","audit:read"]"#)
                .unwrap();
        assert_eq!(back, set);
        assert!(serde_json::from_str::<ScopeSet>(r#"["keys:nope"]"#).is_err());
        assert!(serde_json::from_str::<ScopeSet>(r#""keys:read""#).is_err());
        assert_eq!(
            "keys:read bogus".parse::<ScopeSet>().unwrap_err().code(),
            "scope_malformed"
        );
    }

    #[test]
    fn covers_and_no_escalation() {
        let admin = ScopeSet::from([Scope::Admin]);
        let ops = ScopeSet::from([Scope::KeysRead, Scope::KeysWrite, Scope::AuditRead]);
        for s in Scope::all() {
            assert!(admin.covers(*s));
        }
        assert!(ops.covers(Scope::KeysWrite));
        assert!(!ops.covers(Scope::KeysRevoke));
        assert!(!ops.covers(Scope::Admin));
        assert!(!ScopeSet::new().covers(Scope::KeysRead));

        // Narrower or equal: allowed. Wider or admin: refused.
        assert!(ScopeSet::from([Scope::KeysRead]).is_subset_of(&ops));
        assert!(ops.is_subset_of(&ops));
        assert!(ScopeSet::new().is_subset_of(&ops));
        assert!(!ScopeSet::from([Scope::KeysRead, Scope::KeysRevoke]).is_subset_of(&ops));
        assert!(!admin.is_subset_of(&ops));
        assert!(admin.is_subset_of(&admin));
        assert!(ops.is_subset_of(&admin));
        let all: ScopeSet = Scope::all().iter().copied().collect();
        assert!(all.is_subset_of(&admin));
        assert!(!all.is_subset_of(&ops));
        // Holding every non-admin scope still does not let you mint admin.
        let everything_but_admin: ScopeSet = Scope::all()
            .iter()
            .copied()
            .filter(|s| *s != Scope::Admin)
            .collect();
        assert!(!admin.is_subset_of(&everything_but_admin));
        assert_eq!(
            admin.ensure_no_escalation(&ops).unwrap_err().code(),
            "scope_escalation"
        );
        assert!(ops.ensure_no_escalation(&admin).is_ok());
    }
}
