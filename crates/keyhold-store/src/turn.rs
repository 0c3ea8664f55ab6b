//! A turn that one caller at a time holds, first come first served, each waiting at most
//! until its own deadline. A PostgreSQL store's writers queue here, holding no connection,
//! while one of them waits for the database's write lock — so waiting writers never take
//! the connections reads need, and they are served in the order they came, as the
//! database's lock queue would serve them.

use std::collections::BTreeSet;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// The queue: tickets are handed out in order, and the turn goes to each in that order.
#[derive(Default)]
pub(crate) struct Turn {
    state: Mutex<Queue>,
    moved: Condvar,
}

#[derive(Default)]
struct Queue {
    /// The next ticket to hand out.
    next: u64,
    /// The ticket whose turn it is (held, or about to be taken).
    serving: u64,
    /// Whether the serving ticket's caller holds the turn.
    held: bool,
    /// Tickets whose callers stopped waiting: their place is passed on.
    gone: BTreeSet<u64>,
}

impl Queue {
    /// The turn moves to the next ticket whose caller still waits.
    fn advance(&mut self) {
        self.serving += 1;
        while self.gone.remove(&self.serving) {
            self.serving += 1;
        }
    }
}

/// The turn, held until dropped.
pub(crate) struct Held<'t>(&'t Turn);

impl Turn {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The turn, when every caller who came before has had it (or given up), or `None` if
    /// that is not so by `deadline`; a caller who gives up passes its place on.
    pub(crate) fn take(&self, deadline: Instant) -> Option<Held<'_>> {
        let mut q = self.queue();
        let ticket = q.next;
        q.next += 1;
        loop {
            if q.serving == ticket && !q.held {
                q.held = true;
                return Some(Held(self));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                q.gone.insert(ticket);
                return None;
            }
            q = self
                .moved
                .wait_timeout(q, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut q = self.0.queue();
        q.held = false;
        q.advance();
        drop(q);
        // Each waiter checks whether the turn is now its own.
        self.0.moved.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn soon(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[test]
    fn callers_are_served_in_the_order_they_came() {
        let turn = Turn::default();
        let order = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            let first = turn.take(soon(10_000)).expect("free");
            for i in 0..6_u64 {
                let (turn, order) = (&turn, &order);
                s.spawn(move || {
                    let _held = turn.take(soon(10_000)).expect("served");
                    order.lock().unwrap().push(i);
                });
                // The next caller comes only once this one is queued.
                while turn.queue().next < i + 2 {
                    std::thread::yield_now();
                }
            }
            drop(first);
        });
        assert_eq!(order.into_inner().unwrap(), (0..6).collect::<Vec<u64>>());
    }

    #[test]
    fn a_caller_who_gives_up_passes_its_place_on() {
        let turn = Turn::default();
        let held = turn.take(soon(10_000)).expect("free");
        // Times out while the turn is held: ticket 1 is given up.
        assert!(turn.take(soon(20)).is_none());
        std::thread::scope(|s| {
            let waiter = s.spawn(|| turn.take(soon(10_000)).is_some());
            while turn.queue().next < 3 {
                std::thread::yield_now();
            }
            drop(held);
            assert!(waiter.join().unwrap(), "ticket 2 is served after 1 gave up");
        });
        assert!(turn.take(soon(10)).is_some(), "and the turn is free again");
    }
}
