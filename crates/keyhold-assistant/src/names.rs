//! Names ("for the mobile app", "named X", "called X", a quoted name, "the grafana key") and
//! scopes ("read-only", "read and execute queries", `keys:read`), read from the words.

use crate::words::{Tok, Work};

/// A scope from keyhold's catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `read:queries`: run read-only queries.
    ReadQueries,
    /// `execute:queries`: run queries that change data.
    ExecuteQueries,
    /// `keys:read`: see keys' metadata.
    KeysRead,
    /// `keys:write`: create keys.
    KeysWrite,
    /// `keys:revoke`: revoke keys.
    KeysRevoke,
    /// `audit:read`: read the audit log.
    AuditRead,
    /// `connections:read`: see connections.
    ConnectionsRead,
    /// `connections:write`: add and change connections.
    ConnectionsWrite,
    /// `connections:rotate`: rotate a connection's credential.
    ConnectionsRotate,
    /// `connections:use`: be handed a connection's credential.
    ConnectionsUse,
    /// `admin`: everything.
    Admin,
}

impl Scope {
    /// Every scope in the catalog.
    pub const ALL: [Scope; 11] = [
        Scope::ReadQueries,
        Scope::ExecuteQueries,
        Scope::KeysRead,
        Scope::KeysWrite,
        Scope::KeysRevoke,
        Scope::AuditRead,
        Scope::ConnectionsRead,
        Scope::ConnectionsWrite,
        Scope::ConnectionsRotate,
        Scope::ConnectionsUse,
        Scope::Admin,
    ];

    /// The scope as keyhold's catalog spells it, e.g. `read:queries`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadQueries => "read:queries",
            Scope::ExecuteQueries => "execute:queries",
            Scope::KeysRead => "keys:read",
            Scope::KeysWrite => "keys:write",
            Scope::KeysRevoke => "keys:revoke",
            Scope::AuditRead => "audit:read",
            Scope::ConnectionsRead => "connections:read",
            Scope::ConnectionsWrite => "connections:write",
            Scope::ConnectionsRotate => "connections:rotate",
            Scope::ConnectionsUse => "connections:use",
            Scope::Admin => "admin",
        }
    }
}

/// Words that end a name.
const STOP: [&str; 58] = [
    "a", "an", "of", "off", "down", "each", "with", "that", "which", "who", "expire", "expiry",
    "valid", "lasting", "last", "lasts", "good", "and", "or", "to", "in", "on", "at", "by", "from",
    "until", "till", "can", "having", "scoped", "scope", "scopes", "using", "so", "because", "but",
    "except", "keep", "is", "are", "be", "for", "named", "called", "all", "readonly", "ttl",
    "should", "will", "it", "then", "also", "plus", "only", "as", "please", "now", "where",
];

/// Words that are never a name on their own.
const NOT_NAMES: [&str; 22] = [
    "it",
    "them",
    "this",
    "that",
    "these",
    "those",
    "one",
    "ones",
    "anything",
    "something",
    "everything",
    "me",
    "us",
    "myself",
    "mine",
    "key",
    "keys",
    "workspace",
    "connection",
    "credential",
    "password",
    "api",
];

/// Words before a name that are not part of it.
const LEADING: [&str; 18] = [
    "all", "each", "the", "my", "our", "a", "an", "new", "api", "this", "that", "its", "their",
    "your", "fresh", "another", "old", "existing",
];

/// Adjectives between a verb and its noun that are not a name.
const ADJ: [&str; 13] = [
    "read",
    "read-only",
    "only",
    "readonly",
    "admin",
    "short",
    "long",
    "lived",
    "temporary",
    "temp",
    "scoped",
    "limited",
    "single",
];

/// What a name is, in the text: a quoted stretch or the words `start..end`.
pub(crate) fn raw(text: &str, toks: &[Tok], start: usize, end: usize) -> String {
    let (Some(a), Some(b)) = (toks.get(start), toks.get(end.saturating_sub(1))) else {
        return String::new();
    };
    text.get(a.start..b.end).unwrap_or("").trim().to_owned()
}

/// Whether another name follows word `i` ("... and the staging key", ", staging").
pub(crate) fn another(toks: &[Tok], i: usize, nouns: &[&str], work: &Work) -> bool {
    let mut k = i;
    if toks.get(k).is_some_and(|t| nouns.contains(&t.w.as_str())) {
        k += 1;
    }
    let joined = toks
        .get(k)
        .is_some_and(|t| t.is_break() || matches!(t.w.as_str(), "and" | "or" | "plus"));
    joined && usable(toks, run(toks, k + 1, nouns, &[], work))
}

/// The words `i..` that can be a name (ending before a stop word, break, noun or `skip`).
fn run(toks: &[Tok], i: usize, nouns: &[&str], skip: &[bool], work: &Work) -> (usize, usize) {
    let mut a = i;
    while a < toks.len() && a < i + 4 && LEADING.contains(&toks[a].w.as_str()) && toks[a].quote == 0
    {
        work.step(1);
        a += 1;
    }
    let mut b = a;
    while b < toks.len() && b < a + 8 {
        work.step(1);
        let t = &toks[b];
        if t.is_break()
            || skip.get(b).copied().unwrap_or(false)
            || (t.quote == 0 && (STOP.contains(&t.w.as_str()) || nouns.contains(&t.w.as_str())))
        {
            break;
        }
        b += 1;
    }
    (a, b)
}

fn usable(toks: &[Tok], (a, b): (usize, usize)) -> bool {
    b > a
        && !(b == a + 1 && NOT_NAMES.contains(&toks[a].w.as_str()))
        && !toks[a..b].iter().any(|t| t.is("workspace"))
}

/// A name found in the words: as written, and the words `start..end` it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

fn found(text: &str, toks: &[Tok], (a, b): (usize, usize)) -> Option<Name> {
    let name = raw(text, toks, a, b);
    let name = name.trim_matches(|c: char| !c.is_alphanumeric()).to_owned();
    (!name.is_empty()).then_some(Name {
        text: name,
        start: a,
        end: b,
    })
}

fn skippable(toks: &[Tok], skip: &[bool], i: usize) -> bool {
    let w = toks[i].w.as_str();
    toks[i].quote == 0 && (LEADING.contains(&w) || ADJ.contains(&w) || skip[i])
}

/// The name after word `from`: quoted, after "named"/"called", after "for", right before the
/// noun ("the grafana key") or right after it ("key grafana"). `nouns` are the things named;
/// `skip` marks words that are something else (a duration).
pub(crate) fn name(
    text: &str,
    toks: &[Tok],
    from: usize,
    nouns: &[&str],
    skip: &[bool],
    work: &Work,
) -> Option<Name> {
    let rest = from..toks.len();
    // A quoted name.
    if let Some(q) = rest.clone().find(|&i| toks[i].quote > 0) {
        let g = toks[q].quote;
        let end = (q..toks.len())
            .find(|&i| toks[i].quote != g)
            .unwrap_or(toks.len());
        return found(text, toks, (q, end));
    }
    for markers in [
        &["named", "called", "name", "labelled", "labeled", "titled"][..],
        &["for"],
    ] {
        for i in rest
            .clone()
            .filter(|&i| markers.contains(&toks[i].w.as_str()))
        {
            work.step(1);
            let r = run(toks, i + 1, nouns, skip, work);
            if usable(toks, r) {
                return found(text, toks, r);
            }
        }
    }
    // "the grafana key", or "key grafana".
    let mut i = from;
    while i < toks.len() && i < from + 12 && skippable(toks, skip, i) {
        work.step(1);
        i += 1;
    }
    let before = run(toks, i, nouns, skip, work);
    if usable(toks, before) {
        return found(text, toks, before);
    }
    if toks
        .get(before.0)
        .is_some_and(|t| nouns.contains(&t.w.as_str()))
    {
        // "key grafana", "new key: mobile app".
        let colon = toks.get(before.0 + 1).is_some_and(Tok::is_break);
        let after = run(toks, before.0 + 1 + usize::from(colon), nouns, skip, work);
        if usable(toks, after) {
            return found(text, toks, after);
        }
    }
    None
}

/// A scope named in the catalog's own spelling.
fn literal(w: &str) -> Option<Scope> {
    Scope::ALL.into_iter().find(|s| s.as_str() == w)
}

/// The scope a capability verb gives over `noun`.
fn scope_of(verb: &str, noun: &str) -> Option<Scope> {
    Some(match (verb, noun) {
        ("read" | "view" | "see" | "query" | "select", "queries" | "query" | "sql" | "") => {
            Scope::ReadQueries
        }
        ("execute" | "run" | "write", "queries" | "query" | "sql" | "") => Scope::ExecuteQueries,
        ("read" | "view" | "see" | "list", "keys" | "key") => Scope::KeysRead,
        ("write" | "manage" | "create" | "mint", "keys" | "key") => Scope::KeysWrite,
        ("revoke" | "disable", "keys" | "key") => Scope::KeysRevoke,
        (_, "audit") => Scope::AuditRead,
        ("read" | "view" | "see" | "list", "connection") => Scope::ConnectionsRead,
        ("write" | "manage" | "create" | "add", "connection") => Scope::ConnectionsWrite,
        ("rotate", "connection") => Scope::ConnectionsRotate,
        ("use", "connection") => Scope::ConnectionsUse,
        _ => return None,
    })
}

/// A word after `from` written like a scope (`keys:delete`) that is not one of the catalog's.
pub(crate) fn unknown_scope(toks: &[Tok], from: usize, skip: &[bool]) -> Option<String> {
    toks.iter()
        .enumerate()
        .skip(from)
        .find(|(i, t)| t.quote == 0 && !skip[*i] && t.w.contains(':') && literal(&t.w).is_none())
        .map(|(_, t)| t.w.clone())
}

/// The scopes asked for in the words after `from`, sorted by name and without repeats.
pub(crate) fn scopes(toks: &[Tok], from: usize, skip: &[bool], work: &Work) -> Vec<Scope> {
    let mut out = Vec::new();
    for i in from..toks.len() {
        work.step(6);
        let t = &toks[i];
        if t.quote > 0 || skip[i] {
            continue;
        }
        let w = t.w.as_str();
        let next = toks.get(i + 1).map(|t| t.w.as_str()).unwrap_or("");
        if let Some(s) = literal(w) {
            out.push(s);
        } else if w == "read-only" || (w == "read" && next == "only") {
            out.push(Scope::ReadQueries);
        } else if matches!(w, "admin" | "administrator" | "superuser")
            || (w == "full" && next == "access")
        {
            out.push(Scope::Admin);
        } else if w == "audit" {
            out.push(Scope::AuditRead);
        } else if i > from {
            // A capability verb and the first noun it reaches ("read and execute queries").
            let noun = toks[i + 1..(i + 5).min(toks.len())]
                .iter()
                .map(|t| t.w.as_str())
                .find(|w| {
                    matches!(
                        *w,
                        "queries" | "query" | "sql" | "keys" | "key" | "connection" | "audit"
                    )
                })
                .unwrap_or("");
            let capable =
                toks[..i].iter().rev().take(4).any(|t| {
                    matches!(t.w.as_str(), "can" | "to" | "with" | "may" | "and" | "only")
                });
            let noun = if noun == "key" { "" } else { noun };
            if capable || !noun.is_empty() {
                out.extend(scope_of(w, noun));
            }
        }
    }
    out.sort_by_key(|s| s.as_str());
    out.dedup();
    out
}
