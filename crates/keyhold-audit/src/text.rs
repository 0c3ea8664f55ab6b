//! The only value types an event can hold: validated public text and snake_case names.
//!
//! None of these types can be built from a keyhold secret: their constructors take `&str`
//! (or `String`), and the secret types (`SecretBytes`, `secrecy::SecretString`, `AuditKey`,
//! `CheckpointSigner`, token signing keys) implement neither `Display`, `AsRef<str>` nor
//! `Deref<Target = str>`. There is deliberately no `impl<T: Display> From<T>`.

use std::fmt;
use std::str::FromStr;

use crate::AuditError;

/// Checks the [`PublicText`] rules and returns the reason for the first violation.
pub(crate) fn check_text(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("empty");
    }
    if s.len() > PublicText::MAX_LEN {
        return Err("too long");
    }
    // Fast path: printable ASCII.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Ok(());
    }
    for c in s.chars() {
        if c.is_control() {
            return Err("contains a control character");
        }
        if is_bidi_or_invisible(c) {
            return Err("contains a bidirectional or invisible formatting character");
        }
    }
    Ok(())
}

/// Characters that change how surrounding text is displayed without being visible themselves
/// (Trojan-Source-style spoofing of an audit line).
fn is_bidi_or_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Public, printable text: an identifier, a subject, an address, a short note.
///
/// 1 to [`MAX_LEN`](Self::MAX_LEN) bytes of UTF-8 with no control characters (no newlines,
/// tabs, escapes, C1 controls) and no bidirectional or invisible formatting characters, so an
/// audit line prints as what it stores. Built only from `&str`/`String` with validation; the
/// error never echoes the input.
///
/// ```
/// use keyhold_audit::PublicText;
/// assert!(PublicText::new("user_42").is_ok());
/// assert!(PublicText::new("line\nbreak").is_err());
/// assert!(PublicText::new("").is_err());
/// ```
///
/// Secret types cannot be turned into one — this does not compile:
///
/// ```compile_fail,E0308
/// let secret = keyhold_crypto::SecretBytes::copy_from(b"hunter2");
/// let _ = keyhold_audit::PublicText::new(&secret);
/// ```
///
/// ```compile_fail,E0277
/// use keyhold_crypto::secrecy::SecretString;
/// let secret = SecretString::from("hunter2");
/// let _ = keyhold_audit::PublicText::try_from(secret);
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicText(String);

impl PublicText {
    /// The longest text, in bytes.
    pub const MAX_LEN: usize = 512;

    /// Validates `s` and copies it.
    pub fn new(s: &str) -> Result<Self, AuditError> {
        check_text(s).map_err(|reason| AuditError::InvalidText { reason })?;
        Ok(Self(s.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For text the decoder has already checked with `check_text`.
    pub(crate) fn from_checked(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl fmt::Display for PublicText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PublicText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for PublicText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for PublicText {
    type Error = AuditError;
    fn try_from(s: &str) -> Result<Self, AuditError> {
        Self::new(s)
    }
}

impl TryFrom<String> for PublicText {
    type Error = AuditError;
    fn try_from(s: String) -> Result<Self, AuditError> {
        check_text(&s).map_err(|reason| AuditError::InvalidText { reason })?;
        Ok(Self(s))
    }
}

impl FromStr for PublicText {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Self, AuditError> {
        Self::new(s)
    }
}

/// The longest [`ReasonCode`] or [`DetailName`], in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// `[a-z][a-z0-9_]*`, at most [`MAX_NAME_LEN`] bytes.
pub(crate) fn check_name(s: &str) -> Result<(), AuditError> {
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
    if ok {
        Ok(())
    } else {
        Err(AuditError::InvalidName)
    }
}

macro_rules! snake_name {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates `s` (`[a-z][a-z0-9_]*`, at most 64 bytes) and copies it.
            pub fn new(s: &str) -> Result<Self, AuditError> {
                check_name(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The name.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// For a name the decoder has already checked with `check_name`.
            pub(crate) fn from_checked(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<&str> for $name {
            type Error = AuditError;
            fn try_from(s: &str) -> Result<Self, AuditError> {
                Self::new(s)
            }
        }

        impl FromStr for $name {
            type Err = AuditError;
            fn from_str(s: &str) -> Result<Self, AuditError> {
                Self::new(s)
            }
        }
    };
}

snake_name!(
    /// Why an operation failed: a stable snake_case code such as `token_expired` (the same
    /// codes keyhold's errors report).
    ReasonCode
);

snake_name!(
    /// The name of an event detail (`scopes`, `expiry`, `count`, ...): snake_case.
    DetailName
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert!(PublicText::new("10.0.0.1:5322").is_ok());
        assert!(PublicText::new("grüße ✓").is_ok());
        assert!(PublicText::new(&"a".repeat(PublicText::MAX_LEN)).is_ok());
        for bad in [
            "",
            "a\tb",
            "a\nb",
            "\u{1b}[31m",
            "a\u{7f}",
            "a\u{85}b",
            "a\u{202e}b",
            "a\u{200b}b",
            "a\u{2066}",
        ] {
            assert!(
                matches!(PublicText::new(bad), Err(AuditError::InvalidText { .. })),
                "{bad:?}"
            );
        }
        assert!(PublicText::new(&"a".repeat(PublicText::MAX_LEN + 1)).is_err());
        assert!(PublicText::try_from(String::from("x\0")).is_err());
    }

    #[test]
    fn error_does_not_echo_input() {
        let Err(e) = PublicText::new("sk_live_canary\n") else {
            panic!("accepted a newline");
        };
        assert!(!e.to_string().contains("canary"));
        assert!(!format!("{e:?}").contains("canary"));
    }

    #[test]
    fn name_rules() {
        assert!(ReasonCode::new("token_expired").is_ok());
        assert!(DetailName::new("a1_b").is_ok());
        for bad in ["", "Token", "1abc", "a-b", "a.b", "a b", "é"] {
            assert_eq!(
                ReasonCode::new(bad),
                Err(AuditError::InvalidName),
                "{bad:?}"
            );
        }
        assert!(DetailName::new(&"a".repeat(MAX_NAME_LEN)).is_ok());
        assert!(DetailName::new(&"a".repeat(MAX_NAME_LEN + 1)).is_err());
    }
}
