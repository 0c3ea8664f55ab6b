//! Quoting for the one statement keyhold sends with values in it (`ALTER ROLE … PASSWORD …`).

/// Longest PostgreSQL identifier in bytes (`NAMEDATALEN - 1`). A longer one would be truncated
/// by the server, silently naming a different role, so it is refused instead.
pub const MAX_IDENT_BYTES: usize = 63;

/// Why a name or a literal cannot be quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    /// An empty identifier.
    #[error("the name is empty")]
    Empty,
    /// A NUL character, which PostgreSQL cannot store in a name or a string.
    #[error("the text contains a NUL character")]
    Nul,
    /// An identifier longer than [`MAX_IDENT_BYTES`] bytes.
    #[error("the name is longer than 63 bytes")]
    TooLong,
    /// A backslash in a literal: its meaning depends on the server's
    /// `standard_conforming_strings`, so it is never sent.
    #[error("the text contains a backslash")]
    Backslash,
}

/// `s` as a PostgreSQL quoted identifier: wrapped in `"`, each inner `"` doubled. Any other
/// character stands for itself inside the quotes (spaces, `;`, `--`, non-ASCII), so the result
/// names exactly `s` and can never end the identifier early.
///
/// ```
/// assert_eq!(keyhold_connect::quote_ident("app_a").unwrap(), "\"app_a\"");
/// assert_eq!(keyhold_connect::quote_ident("a\"b").unwrap(), "\"a\"\"b\"");
/// ```
pub fn quote_ident(s: &str) -> Result<String, QuoteError> {
    if s.is_empty() {
        return Err(QuoteError::Empty);
    }
    if s.contains('\0') {
        return Err(QuoteError::Nul);
    }
    if s.len() > MAX_IDENT_BYTES {
        return Err(QuoteError::TooLong);
    }
    Ok(format!("\"{}\"", s.replace('"', "\"\"")))
}

/// `s` as a PostgreSQL string literal: wrapped in `'`, each inner `'` doubled; NUL and
/// backslash are refused (see [`QuoteError::Backslash`]).
///
/// ```
/// assert_eq!(keyhold_connect::quote_literal("it's").unwrap(), "'it''s'");
/// ```
pub fn quote_literal(s: &str) -> Result<String, QuoteError> {
    if s.contains('\0') {
        return Err(QuoteError::Nul);
    }
    if s.contains('\\') {
        return Err(QuoteError::Backslash);
    }
    Ok(format!("'{}'", s.replace('\'', "''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_wrapped() {
        assert_eq!(quote_ident("app_a"), Ok("\"app_a\"".into()));
        assert_eq!(quote_ident("App A"), Ok("\"App A\"".into()));
        assert_eq!(quote_ident("rôle_ü"), Ok("\"rôle_ü\"".into()));
    }

    #[test]
    fn inner_quotes_are_doubled() {
        assert_eq!(quote_ident("a\"b"), Ok("\"a\"\"b\"".into()));
        assert_eq!(quote_ident("\""), Ok("\"\"\"\"".into()));
        assert_eq!(
            quote_ident("x\"; DROP ROLE postgres; --"),
            Ok("\"x\"\"; DROP ROLE postgres; --\"".into())
        );
    }

    #[test]
    fn the_quoted_name_has_no_lone_quote_inside() {
        for s in [
            "a\"b",
            "\"\"",
            "x\"; DROP ROLE postgres; --",
            "\"start",
            "end\"",
        ] {
            let q = quote_ident(s).unwrap();
            let inner = &q[1..q.len() - 1];
            assert_eq!(inner.replace("\"\"", ""), s.replace('"', ""), "{s}");
            assert!(q.starts_with('"') && q.ends_with('"'));
        }
    }

    #[test]
    fn empty_nul_and_long_names_are_refused() {
        assert_eq!(quote_ident(""), Err(QuoteError::Empty));
        assert_eq!(quote_ident("a\0b"), Err(QuoteError::Nul));
        assert_eq!(quote_ident(&"a".repeat(63)).map(|q| q.len()), Ok(65));
        assert_eq!(quote_ident(&"a".repeat(64)), Err(QuoteError::TooLong));
        // 32 two-byte characters: 64 bytes.
        assert_eq!(quote_ident(&"é".repeat(32)), Err(QuoteError::TooLong));
    }

    #[test]
    fn literals_double_single_quotes_and_refuse_the_odd() {
        assert_eq!(quote_literal(""), Ok("''".into()));
        assert_eq!(quote_literal("it's"), Ok("'it''s'".into()));
        assert_eq!(quote_literal("'; --"), Ok("'''; --'".into()));
        assert_eq!(quote_literal("a\\b"), Err(QuoteError::Backslash));
        assert_eq!(quote_literal("a\0"), Err(QuoteError::Nul));
    }
}
