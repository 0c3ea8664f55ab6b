//! Regular rotation: a connection with `rotate_every` is rotated when due by whoever runs
//! [`Keyhold::rotate_due`] (a server does, as itself). The retry policy is
//! `keyhold-rotation`'s (`schedule`): a failed rotation leaves the active credential serving
//! and is retried later, and the schedule stops after too many failures — it never loops.

use keyhold_rotation::schedule::retry_after;

use crate::{Caller, Keyhold, Result, now};

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
    /// is first rescheduled past the attempt — only if nobody did since it was read, so two
    /// runners never both take it, and a crash mid-way is retried later, not in a loop; a
    /// success reschedules it a full period on.
    pub fn rotate_due(&self) -> Result<DueRotations> {
        let at = now();
        let due = self
            .store
            .read(|tx| -> Result<_> { Ok(tx.connections_due(at)?) })?;
        let caller = Caller::server();
        let mut done = DueRotations::default();
        for row in due {
            let failures = u32::try_from(row.rotation_failures)
                .unwrap_or(u32::MAX)
                .saturating_add(1);
            let next = retry_after(failures)
                .map(|d| at.saturating_add(i64::try_from(d).unwrap_or(i64::MAX)));
            let (id, seen, f) = (&row.id, row.next_rotation_at, i64::from(failures));
            let claimed = self
                .store
                .write(|tx| tx.claim_rotation(id, seen, next, f))?;
            if !claimed {
                continue;
            }
            match self.rotate_connection(&caller, &row.workspace, &row.name, false) {
                Ok(t) if t.passed => done.rotated += 1,
                _ => done.failed += 1,
            }
        }
        Ok(done)
    }
}
