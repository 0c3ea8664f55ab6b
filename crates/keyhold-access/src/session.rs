//! How long a session lives, and enrolment codes.

/// How long an enrolment code may be redeemed (seconds): 24 hours.
pub const ENROLMENT_SECS: i64 = 24 * 3600;

/// A session's lifetimes (seconds): it ends after `idle` without a request, and after
/// `absolute` whatever happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Idle timeout.
    pub idle: i64,
    /// Absolute lifetime.
    pub absolute: i64,
}

impl Default for SessionPolicy {
    /// 30 minutes idle, 12 hours at most.
    fn default() -> Self {
        Self {
            idle: 30 * 60,
            absolute: 12 * 3600,
        }
    }
}

impl SessionPolicy {
    /// How often a session's last-seen time is written (seconds): a request within this much
    /// of the last write does not write again. The idle timeout is measured from the last
    /// write, so it may end up to this much early, never late.
    pub const TOUCH_EVERY: i64 = 60;

    /// A policy with these lifetimes, if they make sense (both positive, idle not longer than
    /// absolute).
    pub fn new(idle: i64, absolute: i64) -> Option<Self> {
        (idle > 0 && absolute > 0 && idle <= absolute).then_some(Self { idle, absolute })
    }

    /// Whether a session created at `created` and last seen at `seen` is alive at `now`.
    pub fn alive(&self, created: i64, seen: i64, now: i64) -> bool {
        now >= created
            && now < created.saturating_add(self.absolute)
            && now < seen.saturating_add(self.idle)
    }

    /// Whether a request at `now` should write the session's last-seen time.
    pub fn touch(&self, seen: i64, now: i64) -> bool {
        now >= seen.saturating_add(Self::TOUCH_EVERY)
    }
}

#[cfg(test)]
mod tests {
    use super::SessionPolicy;

    #[test]
    fn a_session_dies_when_idle_or_old_and_is_touched_once_a_minute() {
        let p = SessionPolicy::default();
        assert!(p.alive(0, 0, 0));
        assert!(p.alive(0, 0, 1799));
        assert!(!p.alive(0, 0, 1800), "idle");
        assert!(p.alive(0, 40_000, 41_000));
        assert!(!p.alive(0, 43_100, 43_200), "absolute");
        assert!(!p.alive(10, 10, 9), "before it began");
        assert!(!p.touch(100, 159) && p.touch(100, 160));
        assert_eq!(SessionPolicy::new(60, 30), None);
        assert_eq!(SessionPolicy::new(0, 30), None);
        assert!(SessionPolicy::new(60, 60).is_some());
    }
}
