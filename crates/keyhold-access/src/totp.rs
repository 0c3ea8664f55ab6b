//! TOTP second factors (RFC 6238: HMAC-SHA-1, 30-second steps, 6 digits — what every
//! authenticator app reads from an `otpauth://` URI). A code is accepted one step either side
//! of now, and never for a step at or before the last one accepted, so a code cannot be used
//! twice.

use keyhold_crypto::otp::{hotp, totp_step};

/// Seconds per step.
pub const STEP_SECS: u32 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Bytes of a new secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

/// The step a `code` for `secret` is valid at, near `now`, if it is one later than `last` (the
/// step of the last code accepted): `None` if it is wrong, stale or used.
pub fn accept(secret: &[u8], code: &str, now: i64, last: Option<u64>) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let given: u32 = code.parse().ok()?;
    let here = totp_step(now, STEP_SECS);
    let mut found = None;
    // Every candidate is computed, so the time taken does not tell which one matched.
    for step in [here.saturating_sub(1), here, here.saturating_add(1)] {
        if hotp(secret, step, DIGITS) == given && last.is_none_or(|l| step > l) {
            found = Some(step);
        }
    }
    found
}

/// The code for `secret` at `now` (for tests and for showing a person their first code).
pub fn code_at(secret: &[u8], now: i64) -> String {
    format!("{:06}", hotp(secret, totp_step(now, STEP_SECS), DIGITS))
}

/// `bytes` in RFC 4648 base32, without padding (how authenticator apps take a secret).
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for b in bytes {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// `text` read as RFC 4648 base32 (case and padding ignored), if it is.
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = match c.to_ascii_uppercase() {
            b @ b'A'..=b'Z' => b - b'A',
            b @ b'2'..=b'7' => b - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
        buffer &= (1 << bits) - 1;
    }
    Some(out)
}

/// The `otpauth://` URI an authenticator app enrols from, for `email` at `issuer`.
pub fn otpauth_uri(secret: &[u8], email: &str, issuer: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(email),
        base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn a_code_is_accepted_once_within_a_step_of_now() {
        let now = 1_111_111_111;
        let code = code_at(SECRET, now);
        let step = accept(SECRET, &code, now, None).expect("accepted");
        assert_eq!(accept(SECRET, &code, now, Some(step)), None, "not twice");
        assert_eq!(
            accept(SECRET, &code, now + 30, None),
            Some(step),
            "a step late"
        );
        assert_eq!(accept(SECRET, &code, now + 90, None), None, "stale");
        assert_eq!(accept(SECRET, "12345", now, None), None);
        assert_eq!(accept(SECRET, "abcdef", now, None), None);
        assert_eq!(accept(b"another secret of 20b", &code, now, None), None);
    }

    #[test]
    fn base32_and_the_uri_are_what_apps_read() {
        // RFC 4648 test vectors.
        for (raw, enc) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(raw.as_bytes()), enc);
            assert_eq!(from_base32(enc).as_deref(), Some(raw.as_bytes()));
        }
        let uri = otpauth_uri(SECRET, "you@team.com", "keyhold acme");
        assert_eq!(
            uri,
            "otpauth://totp/keyhold%20acme:you@team.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=keyhold%20acme&algorithm=SHA1&digits=6&period=30"
        );
    }
}
