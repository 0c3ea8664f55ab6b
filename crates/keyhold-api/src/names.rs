//! The identifiers of API v1: the names callers choose (workspaces, API keys, record kinds and
//! ids) and which identifiers may be echoed back. Names end up in URLs, messages, logs and AAD,
//! so they are restricted to printable ASCII without spaces.

/// A name that breaks its rule: which argument, and what is wrong and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    /// Which argument (`workspace name`, `key name`, `record kind`, `record id`).
    pub field: &'static str,
    /// What is wrong and what is accepted; it never repeats a non-printable character.
    pub reason: String,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for NameError {}

type Result<T = ()> = std::result::Result<T, NameError>;

fn check(
    field: &'static str,
    value: &str,
    max: usize,
    extra: &str,
    first_alnum: bool,
) -> Result<()> {
    let bad = |reason: String| Err(NameError { field, reason });
    if value.is_empty() {
        return bad("must not be empty".into());
    }
    if value.len() > max {
        return bad(format!("must be at most {max} characters"));
    }
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(c);
    if let Some(c) = value.chars().find(|c| !ok(*c)) {
        let shown = if c.is_ascii_graphic() {
            format!("'{c}'")
        } else {
            "a non-printable or non-ASCII character".into()
        };
        return bad(format!(
            "contains {shown}; allowed are a-z, 0-9 and \"{extra}\""
        ));
    }
    if first_alnum && !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return bad("must start with a letter or digit".into());
    }
    Ok(())
}

/// Workspace names: `[a-z0-9][a-z0-9-]{0,62}`.
pub fn workspace(name: &str) -> Result<()> {
    check("workspace name", name, 63, "-", true)?;
    if name.starts_with("ws_") {
        return Err(NameError {
            field: "workspace name",
            reason: "must not start with \"ws_\" (reserved for ids)".into(),
        });
    }
    Ok(())
}

/// API key names: `[a-z0-9][a-z0-9._-]{0,63}`.
pub fn key_name(name: &str) -> Result<()> {
    check("key name", name, 64, "._-", true)
}

/// Connection names: `[a-z0-9][a-z0-9_-]{0,62}` — a name `keyhold run` can turn into an
/// environment variable's prefix (upper case, `-` as `_`).
pub fn connection_name(name: &str) -> Result<()> {
    check("connection name", name, 63, "_-", true)
}

/// Record kinds: `[a-z0-9][a-z0-9._-]{0,63}`.
pub fn record_kind(kind: &str) -> Result<()> {
    check("record kind", kind, 64, "._-", true)
}

/// Record ids: `[a-z0-9][a-z0-9._:@/-]{0,127}` (lowercase keeps ids unambiguous).
pub fn record_id(id: &str) -> Result<()> {
    check("record id", id, 128, "._:@/-", true)
}

/// How an identifier the caller gave is quoted in a "not found" message: as given if it could
/// be a name or an id, otherwise not at all. A caller who pastes a token or a credential where
/// a name belongs must not get it echoed into responses, logs or terminals.
pub fn quoted(ident: &str) -> String {
    let plausible = !ident.is_empty()
        && ident.len() <= 64
        && ident
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-:@/".contains(&b));
    if plausible {
        format!("\"{ident}\"")
    } else {
        "(not shown: not a valid name or id)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_names() {
        for ok in ["default", "mobile-app", "a", "team-42"] {
            workspace(ok).expect(ok);
        }
        for bad in [
            "",
            "-x",
            "Has Caps",
            "a b",
            "ws_123",
            "naïve",
            "x\u{7}",
            &"a".repeat(64),
        ] {
            let err = workspace(bad).expect_err(bad);
            assert_eq!(err.field, "workspace name");
            assert!(!err.to_string().contains('\u{7}'));
        }
    }

    #[test]
    fn record_names() {
        record_kind("connection.credential").expect("kind");
        record_id("postgres/primary").expect("id");
        record_id("user@example.com").expect("id");
        assert!(record_id("../x").is_err());
        assert!(record_kind("").is_err());
    }

    #[test]
    fn only_plausible_names_are_echoed() {
        assert_eq!(quoted("mobile-app"), "\"mobile-app\"");
        assert_eq!(quoted("key_0123abcd"), "\"key_0123abcd\"");
        for hidden in [
            "eyJhbGciOiJFZERTQSJ9.e30.sig",
            "Hunter2",
            "",
            &"a".repeat(65),
        ] {
            assert!(!quoted(hidden).contains(hidden) || hidden.is_empty());
        }
    }
}
