//! Key uses and rejections: recorded through group commit (`keyhold-audit`'s `GroupCommit`),
//! so that concurrent verifications share one durable transaction on the second connection,
//! and bounded per source by `keyhold-audit`'s rejection policy.

use keyhold_audit::commit::Token;
use keyhold_audit::{Batches, Event, GroupCommit, events};

use crate::{Error, Keyhold, Origin, Result, Surface};

/// The outcome of an operation whose audit record is on its way to disk: resolve it with
/// `wait()` (blocking) or `.await` it (any executor). Either way the outcome is given only
/// once the record is durable; a success whose record could not be written becomes an error.
/// Dropping it gives up waiting; the record is still written.
pub type Deferred<'a, T> = keyhold_audit::Deferred<'a, T, Keyhold>;

/// What a [`Deferred`] waits on: the handle's use-record queue, committed by `commit_uses`.
/// (Its methods take a token only `keyhold-audit` can make: nobody calls them from outside.)
impl Batches for Keyhold {
    type Item = Event;
    type Error = Error;
    fn queue(&self, _: Token) -> &GroupCommit<Event> {
        &self.uses
    }
    fn commit(&self, batch: Vec<Event>, _: Token) -> Result<()> {
        self.commit_uses(batch)
    }
}

impl Keyhold {
    /// One batch of use records in one transaction on the second connection.
    pub(crate) fn commit_uses(&self, batch: Vec<Event>) -> Result<()> {
        self.store.write_aside(|tx| {
            self.append_audit(tx, &batch)?;
            // Last-used time from the use records, one update per key per batch.
            for (key, at) in keyhold_audit::last_used(&batch) {
                tx.touch_api_key(key, at)?;
            }
            for ((workspace, name), at) in keyhold_audit::connections_read(&batch) {
                tx.touch_connection_named(workspace, name, at)?;
            }
            Ok(())
        })
    }

    /// Commits key-use records on this thread, in batches as they arrive, until
    /// [`Keyhold::stop_use_committer`]; then commits what is pending and returns.
    ///
    /// A server runs this on a thread of its own: its requests then wait for their records
    /// as futures ([`Deferred`]) and no request thread is held through an fsync. Without a
    /// committer, the first waiter of each batch commits it.
    pub fn run_use_committer(&self) {
        self.uses.run(&|batch| self.commit_uses(batch));
    }

    /// Asks [`Keyhold::run_use_committer`] to finish: it commits what is pending and returns.
    pub fn stop_use_committer(&self) {
        self.flush_rejection_counts();
        self.uses.stop();
    }

    /// Writes the refusals that were counted but not yet carried by a row (see
    /// `rejections`): one `key.rejected` row per bucket with its `suppressed` count.
    pub fn flush_rejection_counts(&self) {
        self.write_rejection_counts(self.rejections.drain());
    }

    /// Queues one `key.rejected` row per bucket count (see `rejections`).
    pub(crate) fn write_rejection_counts(
        &self,
        counts: impl IntoIterator<Item = keyhold_audit::rejections::Pending>,
    ) {
        for p in counts {
            let record = events::rejections_counted(&p);
            let mut origin = Origin::new(Surface::Library);
            origin.source = p.source;
            if let Ok(event) = record.event(events::ANONYMOUS, p.key.as_deref(), &origin) {
                self.uses.enqueue(event);
            }
        }
    }

    /// Use records waiting for their durable transaction (the audit queue depth).
    pub fn audit_queue_depth(&self) -> usize {
        self.uses.queued()
    }
}
