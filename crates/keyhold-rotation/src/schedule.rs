//! Regular rotation's retry policy: a failed rotation is retried after a growing delay
//! (30 s, doubling, at most an hour), and after [`MAX_FAILURES`] in a row it stops until
//! someone saves a credential again — a schedule never loops on a target that refuses.

/// Failed regular rotations in a row after which the schedule stops.
pub const MAX_FAILURES: u32 = 8;

/// When to try again after `failures` failed attempts in a row (1-based), in seconds from
/// now; `None` once the schedule stops.
pub fn retry_after(failures: u32) -> Option<u64> {
    if failures >= MAX_FAILURES {
        return None;
    }
    let exp = failures.clamp(1, 8) - 1;
    Some((30_u64 << exp).min(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_thirty_seconds_then_stop() {
        let delays: Vec<Option<u64>> = (1..=9).map(retry_after).collect();
        let s = Some;
        assert_eq!(
            delays,
            [
                s(30),
                s(60),
                s(120),
                s(240),
                s(480),
                s(960),
                s(1920),
                None,
                None
            ]
        );
    }
}
