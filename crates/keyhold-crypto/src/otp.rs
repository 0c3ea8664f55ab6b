//! One-time codes: HOTP (RFC 4226) and TOTP (RFC 6238) over HMAC-SHA-1, the variant every
//! authenticator app implements. SHA-1 is used here only as RFC 4226's MAC, where its collision
//! weakness does not apply.

use ring::hmac;

/// The HOTP value of `secret` at `counter`, as a number of `digits` digits (6 to 8).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let word = mac
        .get(offset..offset + 4)
        .map(|b| u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]))
        .unwrap_or(0);
    word % 10u32.pow(digits.clamp(6, 8))
}

/// The TOTP time step of `unix_secs` for steps of `step_secs` seconds.
pub fn totp_step(unix_secs: i64, step_secs: u32) -> u64 {
    u64::try_from(unix_secs.max(0)).unwrap_or(0) / u64::from(step_secs.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4226, appendix D.
    #[test]
    fn rfc4226_test_values() {
        let secret = b"12345678901234567890";
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(hotp(secret, counter as u64, 6), *want, "counter {counter}");
        }
    }

    /// RFC 6238, appendix B (SHA-1 rows).
    #[test]
    fn rfc6238_test_values() {
        let secret = b"12345678901234567890";
        for (t, want) in [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(secret, totp_step(t, 30), 8), want, "t={t}");
        }
        assert_eq!(totp_step(-5, 30), 0);
    }
}
