//! What a password must be: long enough, not one of the passwords people choose most often
//! (nor one of them dressed up with digits and symbols), not one character or a short run
//! repeated, not a keyboard or number sequence, and not the person's own email.

use crate::AccessError;

/// The fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The most bytes a password may have (hashing is bounded).
pub const MAX_PASSWORD_BYTES: usize = keyhold_crypto::password::MAX_PASSWORD_BYTES;

const COMMON: &str = include_str!("common-passwords.txt");

const SEQUENCES: [&str; 4] = [
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789012345678901234567890",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
];

/// Refuses a password the policy does not accept, saying why (`password_rejected`).
pub fn check_password(password: &str, email: &str) -> Result<(), AccessError> {
    let reject = |why| Err(AccessError::PasswordRejected(why));
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return reject("use at least 12 characters");
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return reject("use at most 1024 bytes");
    }
    let lower = password.to_lowercase();
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    let core = if core.is_empty() {
        lower.as_str()
    } else {
        core
    };
    if is_common(core) || is_common(&lower) {
        return reject("it is one of the most common passwords");
    }
    if repeats(&lower) {
        return reject("it repeats a few characters");
    }
    if SEQUENCES
        .iter()
        .any(|s| s.contains(lower.as_str()) || s.contains(core))
    {
        return reject("it is a keyboard or alphabet sequence");
    }
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if local.chars().count() >= 4 && lower.contains(&local) {
        return reject("it contains your email address");
    }
    Ok(())
}

fn is_common(word: &str) -> bool {
    COMMON
        .lines()
        .filter(|l| !l.starts_with('#'))
        .any(|l| l == word)
}

/// Whether `s` is a run of at most 3 characters repeated (`aaaa…`, `abcabc…`).
fn repeats(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    (1..=3).any(|n| chars.len() >= 2 * n && chars.chunks(n).all(|c| c == &chars[..c.len()]))
}

#[cfg(test)]
mod tests {
    use super::check_password;

    #[test]
    fn weak_passwords_are_refused_with_the_reason() {
        for (pw, why) in [
            ("short", "12 characters"),
            ("Password123!", "common"),
            ("S3cret-pw!", "12 characters"),
            ("Password1234!", "common"),
            ("!!Qwertyuiop99", "common"),
            ("passwordpassword", "common"),
            ("aaaaaaaaaaaaaaa", "repeats"),
            ("abcabcabcabc", "repeats"),
            ("ghijklmnopqrs", "sequence"),
            ("123456789012", "sequence"),
            ("alice.smith-2024-x", "email"),
        ] {
            let e = check_password(pw, "alice.smith@team.com").unwrap_err();
            assert!(e.to_string().contains(why), "{pw}: {e}");
            assert_eq!(e.code(), "password_rejected");
        }
        let long = "x".repeat(1025);
        assert!(check_password(&long, "a@b.co").is_err());
    }

    #[test]
    fn a_passphrase_passes() {
        for pw in [
            "correct horse battery staple",
            "tr0ub4dor&3-plus-more",
            "Ünïcödé pässwörd 42",
        ] {
            assert_eq!(check_password(pw, "alice@team.com"), Ok(()), "{pw}");
        }
    }
}
