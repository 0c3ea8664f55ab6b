//! Regular rotation: a connection with `rotate_every` is rotated when due by whoever runs
//! [`Keyhold::rotate_due`] (a server does, as itself). A failed rotation leaves the active
//! credential serving and is retried with a growing delay; after [`MAX_FAILURES`] in a row
//! the schedule stops until an operator saves a credential again — it never loops.

use crate::{Caller, Keyhold, Result, now};

/// Failed regular rotations in a row after which the schedule stops.
pub const MAX_FAILURES: i64 = 8;

/// The delay before retry `n` (1-based): 30 s doubling, at most an hour.
fn backoff(failures: i64) -> i64 {
    let exp = u32::try_from(failures.clamp(1, 8) - 1).unwrap_or(0);
    (30_i64 << exp).min(3600)
}

/// What one pass of [`Keyhold::rotate_due`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DueRotations {
    /// Connections rotated.
    pub rotated: usize,
    /// Connections whose rotation failed (to be retried, or stopped).
    pub failed: usize,
}

impl Keyhold {
    /// Rotates every connection whose regular rotation is due, as [`Caller::server`]. Each
    /// is first rescheduled past the attempt (so a crash mid-way is retried later, not in a
    /// loop, and a second runner passes it by); a success reschedules it a full period on.
    pub fn rotate_due(&self) -> Result<DueRotations> {
        let at = now();
        let due = self.store.read(|tx| Ok::<_, crate::Error>(tx.connections_due(at)?))?;
        let caller = Caller::server();
        let mut done = DueRotations::default();
        for row in due {
            let failures = row.rotation_failures + 1;
            let claimed = self.store.write(|tx| {
                // Claim the attempt: only if nobody rescheduled it since it was read.
                let current = tx.connection(&row.workspace, &row.name)?;
                let still_due = current
                    .as_ref()
                    .is_some_and(|c| c.next_rotation_at == row.next_rotation_at);
                if still_due {
                    tx.set_rotation_schedule(&row.id, Some(at + backoff(failures)), failures)?;
                }
                Ok::<_, crate::Error>(still_due)
            })?;
            if !claimed {
                continue;
            }
            let passed = matches!(
                self.rotate_connection(&caller, &row.workspace, &row.name, false),
                Ok(ref t) if t.passed
            );
            if passed {
                done.rotated += 1;
            } else {
                done.failed += 1;
                if failures >= MAX_FAILURES {
                    self.store.write(|tx| {
                        Ok::<_, crate::Error>(tx.set_rotation_schedule(&row.id, None, failures)?)
                    })?;
                }
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn retries_back_off_from_thirty_seconds_to_an_hour() {
        let delays: Vec<i64> = (1..=9).map(backoff).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
