//! People's passwords, hashed with Argon2id (RFC 9106) at OWASP's recommended cost: the PHC
//! string keeps the algorithm, version, parameters and salt, so a hash made under older
//! parameters still verifies and can be upgraded at the next sign-in
//! ([`password_needs_rehash`]).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::CryptoError;

/// Memory cost in KiB (19 MiB), iterations and lanes: OWASP's first Argon2id configuration.
pub const PASSWORD_PARAMS: (u32, u32, u32) = (19 * 1024, 2, 1);

/// The longest password hashed (bytes): longer input is refused before any work.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// How many password hashes run at once in this process: one per core. Each takes 19 MiB;
/// without a bound, a flood of sign-ins would take memory without limit. Those beyond it wait.
static RUNNING: (std::sync::Mutex<usize>, std::sync::Condvar) =
    (std::sync::Mutex::new(0), std::sync::Condvar::new());

/// A turn to hash: held while a hash runs.
struct Turn;

impl Turn {
    fn take() -> Self {
        let limit = std::thread::available_parallelism().map_or(2, usize::from);
        let (count, freed) = &RUNNING;
        let mut n = count
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *n >= limit {
            n = freed
                .wait(n)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *n += 1;
        Turn
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let (count, freed) = &RUNNING;
        let mut n = count
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *n = n.saturating_sub(1);
        freed.notify_one();
    }
}

fn hasher(params: (u32, u32, u32)) -> Result<Argon2<'static>, CryptoError> {
    let (m, t, p) = params;
    let params =
        Params::new(m, t, p, None).map_err(|_| CryptoError::InvalidKey("argon2 params"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The PHC string of `password` under a fresh 16-byte salt, with `params` (memory KiB,
/// iterations, lanes).
pub fn hash_password_with(password: &[u8], params: (u32, u32, u32)) -> Result<String, CryptoError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(CryptoError::InvalidKey("password too long"));
    }
    let salt = SaltString::encode_b64(&crate::random::array::<16>()?)
        .map_err(|_| CryptoError::InvalidKey("salt"))?;
    let _turn = Turn::take();
    let hash = hasher(params)?
        .hash_password(password, &salt)
        .map_err(|_| CryptoError::InvalidKey("argon2"))?;
    Ok(hash.to_string())
}

/// The PHC string of `password` with [`PASSWORD_PARAMS`].
pub fn hash_password(password: &[u8]) -> Result<String, CryptoError> {
    hash_password_with(password, PASSWORD_PARAMS)
}

/// Whether `password` is the one `phc` was made from. A malformed `phc` is an error, not a
/// mismatch; input over [`MAX_PASSWORD_BYTES`] never matches.
pub fn verify_password(password: &[u8], phc: &str) -> Result<bool, CryptoError> {
    let parsed = PasswordHash::new(phc).map_err(|_| CryptoError::InvalidKey("password hash"))?;
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return Err(CryptoError::InvalidKey("password hash algorithm"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        burn_password_check();
        return Ok(false);
    }
    let _turn = Turn::take();
    Ok(Argon2::default().verify_password(password, &parsed).is_ok())
}

/// Whether `phc` was made with other parameters than [`PASSWORD_PARAMS`].
pub fn password_needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    (params.m_cost(), params.t_cost(), params.p_cost()) != PASSWORD_PARAMS
}

/// Spends the time of one password check, for a sign-in whose account does not exist, so that
/// its answer comes no sooner than a wrong password's.
pub fn burn_password_check() {
    // A fixed salt: nothing is verified, only the work is done.
    let _turn = Turn::take();
    if let (Ok(h), Ok(salt)) = (
        hasher(PASSWORD_PARAMS),
        SaltString::from_b64("a2V5aG9sZGR1bW15"),
    ) {
        let _ = h.hash_password(b"keyhold", &salt);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const CHEAP: (u32, u32, u32) = (64, 1, 1);

    #[test]
    fn a_hash_verifies_its_password_only_and_names_its_parameters() {
        let phc = hash_password_with(b"correct horse battery", CHEAP).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(verify_password(b"correct horse battery", &phc).unwrap());
        assert!(!verify_password(b"correct horse batterY", &phc).unwrap());
        assert!(!verify_password(b"", &phc).unwrap());
        assert!(password_needs_rehash(&phc));
        // Two hashes of one password differ (fresh salts).
        assert_ne!(
            phc,
            hash_password_with(b"correct horse battery", CHEAP).unwrap()
        );
    }

    #[test]
    fn the_default_hash_is_owasps_argon2id() {
        let phc = hash_password(b"a long enough passphrase").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!password_needs_rehash(&phc));
    }

    #[test]
    fn malformed_or_foreign_hashes_are_errors_and_long_input_never_matches() {
        for bad in [
            "",
            "plain",
            "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
            "$2b$12$abc",
        ] {
            assert!(verify_password(b"x", bad).is_err(), "{bad}");
        }
        let phc = hash_password_with(b"x", CHEAP).unwrap();
        let long = vec![b'x'; MAX_PASSWORD_BYTES + 1];
        assert!(!verify_password(&long, &phc).unwrap());
        assert!(hash_password_with(&long, CHEAP).is_err());
    }
}
