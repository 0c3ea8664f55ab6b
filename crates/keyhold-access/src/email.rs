//! Email addresses as identities: trimmed, lower-cased, and plausibly an address.

use crate::AccessError;

/// `email` as keyhold keeps it (trimmed, lower case), if it is one: one `@`, a non-empty local
/// part, a domain with a dot, printable ASCII without spaces, at most 254 bytes.
pub fn normalise_email(email: &str) -> Result<String, AccessError> {
    let e = email.trim().to_ascii_lowercase();
    if e.is_empty() || e.len() > 254 {
        return Err(AccessError::Email("an address of 1 to 254 characters"));
    }
    if !e.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AccessError::Email("printable characters without spaces"));
    }
    let Some((local, domain)) = e.split_once('@') else {
        return Err(AccessError::Email("name@domain"));
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || domain.contains('@') || !domain_ok {
        return Err(AccessError::Email("name@domain"));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::normalise_email;

    #[test]
    fn addresses_are_kept_in_one_form_and_others_refused() {
        assert_eq!(
            normalise_email("  You@YourTeam.com ").as_deref(),
            Ok("you@yourteam.com")
        );
        for bad in [
            "",
            "you",
            "you@",
            "@team.com",
            "you@team",
            "a@b@c.com",
            "y ou@t.com",
            "y@.com",
            "y@t..com",
            "y@t.com.",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
        assert!(normalise_email(&format!("{}@t.com", "a".repeat(250))).is_err());
    }
}
