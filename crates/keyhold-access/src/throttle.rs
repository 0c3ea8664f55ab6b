//! Failed sign-ins slow the next attempt — per account and per source — without letting anyone
//! lock a person out for long: after a few free failures each further one doubles the wait, up
//! to a cap that is short for an account (its owner can always try again soon) and longer for a
//! source (where guessing comes from). A success clears the account's count; failures are
//! forgotten after a quiet day.

use crate::AccessError;

/// The rule for one kind of subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    /// Failures allowed before any wait.
    pub free: u32,
    /// The longest wait (seconds).
    pub cap: i64,
}

/// The sign-in throttle: its rules for accounts and sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Per account (email): 5 free, then 1 s doubling to at most 60 s.
    pub account: ThrottleRule,
    /// Per source (address): 20 free, then 1 s doubling to at most 15 min.
    pub source: ThrottleRule,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            account: ThrottleRule { free: 5, cap: 60 },
            source: ThrottleRule {
                free: 20,
                cap: 15 * 60,
            },
        }
    }
}

/// After this long without a failure (seconds), a subject's failures are forgotten.
pub const FORGET_AFTER: i64 = 24 * 3600;

/// The subjects a sign-in from `source` (a socket address as written, or anything else) as
/// `email` is throttled as: the account at that source (so nobody elsewhere can lock its
/// person out), and the source (an IPv6 address by its /64: one host usually holds a whole
/// /64), so that one place cannot guess across accounts.
pub fn subjects(email: &str, source: Option<&str>) -> [String; 2] {
    let s = source.unwrap_or("unknown");
    let ip = s.parse::<std::net::SocketAddr>().map(|a| a.ip());
    let place = match ip.or_else(|_| s.parse::<std::net::IpAddr>()) {
        Ok(std::net::IpAddr::V6(v6)) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        Ok(ip) => ip.to_string(),
        Err(_) => s.to_owned(),
    };
    [
        format!("account:{email}|{place}"),
        format!("source:{place}"),
    ]
}

impl Throttle {
    /// Refuses an attempt at `now` while the account's or the source's wait runs, given
    /// each one's failures and last failure.
    pub fn check(
        &self,
        account: (u32, i64),
        source: (u32, i64),
        now: i64,
    ) -> Result<(), AccessError> {
        self.account.check(account.0, account.1, now)?;
        self.source.check(source.0, source.1, now)
    }
}

impl ThrottleRule {
    /// The wait after `failures` failures, the last at `last`: 0 within the free ones, then
    /// 1, 2, 4 … seconds up to the cap.
    pub fn wait(&self, failures: u32) -> i64 {
        match failures.checked_sub(self.free) {
            None | Some(0) => 0,
            Some(over) => 1i64.checked_shl(over - 1).unwrap_or(i64::MAX).min(self.cap),
        }
    }

    /// Refuses an attempt at `now` by a subject with `failures` failures, the last at `last`,
    /// while its wait runs (`sign_in_throttled`, with the seconds left).
    pub fn check(&self, failures: u32, last: i64, now: i64) -> Result<(), AccessError> {
        if now >= last.saturating_add(FORGET_AFTER) {
            return Ok(());
        }
        let until = last.saturating_add(self.wait(failures));
        if now < until {
            Err(AccessError::Throttled {
                retry_after: until - now,
            })
        } else {
            Ok(())
        }
    }

    /// The failure count after one more failure at `now`, given `failures` with the last at
    /// `last` (forgotten ones start again from one).
    pub fn after_failure(failures: u32, last: i64, now: i64) -> u32 {
        if now >= last.saturating_add(FORGET_AFTER) {
            1
        } else {
            failures.saturating_add(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_the_account_at_its_place_and_ipv6_by_its_64() {
        assert_eq!(
            subjects("a@t.co", Some("10.1.2.3:5000")),
            [
                "account:a@t.co|10.1.2.3".to_owned(),
                "source:10.1.2.3".to_owned()
            ]
        );
        let [_, s] = subjects("a@t.co", Some("[2001:db8:1:2:aaaa::1]:443"));
        assert_eq!(s, "source:2001:db8:1:2::/64");
        assert_eq!(subjects("a@t.co", None)[1], "source:unknown");
        // A bare address (a forwarded client) is read the same way.
        assert_eq!(
            subjects("a@t.co", Some("2001:db8:1:2::9"))[1],
            "source:2001:db8:1:2::/64"
        );
    }

    #[test]
    fn waits_double_after_the_free_failures_up_to_the_cap() {
        let t = Throttle::default();
        let waits: Vec<i64> = (0..14).map(|n| t.account.wait(n)).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(t.source.wait(u32::MAX), 900);
        assert_eq!(
            t.account.check(6, 100, 100),
            Err(AccessError::Throttled { retry_after: 1 })
        );
        assert_eq!(t.account.check(6, 100, 101), Ok(()));
        assert_eq!(
            t.account.check(40, 100, 159).map_err(|e| e.code()),
            Err("sign_in_throttled")
        );
        assert_eq!(
            t.account.check(40, 100, 160),
            Ok(()),
            "never locked out for more than a minute"
        );
        assert_eq!(t.source.check(40, 0, FORGET_AFTER), Ok(()));
        assert_eq!(ThrottleRule::after_failure(7, 0, 10), 8);
        assert_eq!(ThrottleRule::after_failure(7, 0, FORGET_AFTER), 1);
    }
}
