//! Group commit: concurrent callers share one durable transaction.
//!
//! A caller enqueues an item and gets a ticket, then waits for the ticket to be decided —
//! blocking ([`GroupCommit::wait`]) or as a future ([`GroupCommit::poll_ticket`], or a
//! [`Deferred`] outcome). A batch is committed either by a dedicated committer thread
//! ([`GroupCommit::run`], what a server runs: no request's thread is held while an fsync is
//! in flight, and the batch grows with the load) or, when none runs, by the first waiter that
//! finds no commit in progress (it takes every pending item, commits them in one
//! transaction, then wakes everyone).
//!
//! A ticket is reported `Ok` only once a transaction containing its item has committed; if
//! that transaction failed (or its commit panicked), every ticket in it is reported
//! [`CommitError::BatchFailed`]. Nothing is reported durable that is not.
//!
//! The commit itself is the caller's: a function given each batch. This module only
//! coordinates threads (a mutex and two condition variables); it does no I/O.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

mod deferred;

pub use deferred::{Batches, Deferred, Token};

/// Why a ticket or an outcome is not the success it would have been.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// The batch holding the item did not commit (its commit failed or panicked).
    #[error("the batch holding this item did not commit")]
    BatchFailed,
    /// A [`Deferred`]'s outcome was asked for after it had been given.
    #[error("the outcome was taken twice")]
    OutcomeTaken,
}

/// A place in one queue: given by [`GroupCommit::enqueue`], good for that queue only (any
/// other reports it [`CommitError::BatchFailed`] and forgets it), and not `Clone`: whoever
/// holds it is the only one to collect its outcome.
#[derive(Debug)]
pub struct Ticket {
    queue: u64,
    seq: u64,
}

/// Distinguishes queues, so that a ticket cannot be redeemed at another one.
static QUEUES: AtomicU64 = AtomicU64::new(0);

/// A queue of items committed in shared batches (see the module documentation).
pub struct GroupCommit<T> {
    id: u64,
    state: Mutex<State<T>>,
    /// Waiters: a batch was decided.
    done: Condvar,
    /// The committer: an item arrived, a commit ended, or it should stop.
    work: Condvar,
}

struct State<T> {
    pending: Vec<T>,
    /// Ticket of the next enqueued item.
    next: u64,
    /// Every ticket below this has been decided (committed or failed).
    decided: u64,
    /// Failed ticket ranges and how many of their tickets have yet to be collected.
    failed: Vec<Failed>,
    /// Tickets given up (their future dropped) before they were decided.
    abandoned: Vec<u64>,
    leading: bool,
    committer: bool,
    /// The committer is asleep on `work` (only then does an enqueue need to wake it).
    idle: bool,
    stopping: bool,
    wakers: Vec<Waker>,
}

struct Failed {
    from: u64,
    to: u64,
    uncollected: u64,
}

impl<T> Default for GroupCommit<T> {
    fn default() -> Self {
        Self {
            id: QUEUES.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(State {
                pending: Vec::new(),
                next: 0,
                decided: 0,
                failed: Vec::new(),
                abandoned: Vec::new(),
                leading: false,
                committer: false,
                idle: false,
                stopping: false,
                wakers: Vec::new(),
            }),
            done: Condvar::new(),
            work: Condvar::new(),
        }
    }
}

impl<T> State<T> {
    /// The ticket's outcome once decided (counting it as collected), `None` before.
    fn collect(&mut self, ticket: u64) -> Option<Result<(), CommitError>> {
        if ticket >= self.decided {
            return None;
        }
        let mut failed = false;
        if let Some(f) = self
            .failed
            .iter_mut()
            .find(|f| (f.from..f.to).contains(&ticket))
        {
            f.uncollected = f.uncollected.saturating_sub(1);
            failed = true;
        }
        self.failed.retain(|f| f.uncollected > 0);
        Some(if failed {
            Err(CommitError::BatchFailed)
        } else {
            Ok(())
        })
    }
}

impl<T> GroupCommit<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is updated only in small critical sections that cannot panic halfway.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Items waiting for their transaction right now.
    pub fn queued(&self) -> usize {
        self.lock().pending.len()
    }

    /// Queues `item` for the next batch and returns its ticket.
    pub fn enqueue(&self, item: T) -> Ticket {
        let mut st = self.lock();
        let ticket = st.next;
        st.next += 1;
        st.pending.push(item);
        if st.idle {
            self.work.notify_one();
        }
        Ticket {
            queue: self.id,
            seq: ticket,
        }
    }

    /// Commits every pending item in one batch on this thread, then wakes everyone.
    fn lead<'a, E>(
        &'a self,
        mut st: MutexGuard<'a, State<T>>,
        commit: &dyn Fn(Vec<T>) -> Result<(), E>,
    ) -> MutexGuard<'a, State<T>> {
        st.leading = true;
        let batch = std::mem::take(&mut st.pending);
        let (from, upto) = (st.decided, st.next);
        drop(st);
        // A panic in the commit must fail its batch, not leave `leading` set forever.
        let committed = batch.is_empty()
            || std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commit(batch)))
                .is_ok_and(|r| r.is_ok());
        let mut st = self.lock();
        st.leading = false;
        st.decided = upto;
        let abandoned = st.abandoned.iter().filter(|t| **t < upto).count() as u64;
        st.abandoned.retain(|t| *t >= upto);
        if !committed {
            let uncollected = (upto - from).saturating_sub(abandoned);
            if uncollected > 0 {
                st.failed.push(Failed {
                    from,
                    to: upto,
                    uncollected,
                });
            }
        }
        for w in std::mem::take(&mut st.wakers) {
            w.wake();
        }
        self.done.notify_all();
        self.work.notify_all();
        st
    }

    /// Blocks until `ticket` is decided; leads the commit itself if no one else is on it.
    pub fn wait<E>(
        &self,
        ticket: &Ticket,
        commit: &dyn Fn(Vec<T>) -> Result<(), E>,
    ) -> Result<(), CommitError> {
        if ticket.queue != self.id {
            return Err(CommitError::BatchFailed);
        }
        let ticket = ticket.seq;
        let mut st = self.lock();
        loop {
            if let Some(r) = st.collect(ticket) {
                return r;
            }
            if st.leading || st.committer {
                st = self.done.wait(st).unwrap_or_else(PoisonError::into_inner);
            } else {
                st = self.lead(st, commit);
            }
        }
    }

    /// [`GroupCommit::wait`] as a future's poll: pending while a committer or leader is on
    /// it (the waker is called when it is decided). With neither, it commits on this thread.
    pub fn poll_ticket<E>(
        &self,
        ticket: &Ticket,
        cx: &mut Context<'_>,
        commit: &dyn Fn(Vec<T>) -> Result<(), E>,
    ) -> Poll<Result<(), CommitError>> {
        if ticket.queue != self.id {
            return Poll::Ready(Err(CommitError::BatchFailed));
        }
        let ticket = ticket.seq;
        let mut st = self.lock();
        loop {
            if let Some(r) = st.collect(ticket) {
                return Poll::Ready(r);
            }
            if st.leading || st.committer {
                if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    st.wakers.push(cx.waker().clone());
                }
                return Poll::Pending;
            }
            st = self.lead(st, commit);
        }
    }

    /// A ticket whose outcome nobody will collect (its future was dropped).
    pub fn abandon(&self, ticket: Ticket) {
        if ticket.queue != self.id {
            return;
        }
        let ticket = ticket.seq;
        let mut st = self.lock();
        if ticket >= st.decided {
            st.abandoned.push(ticket);
        } else {
            let _ = st.collect(ticket);
        }
    }

    /// Commits batches on this thread as items arrive, until [`GroupCommit::stop`]; then
    /// commits what is still pending and returns.
    pub fn run<E>(&self, commit: &dyn Fn(Vec<T>) -> Result<(), E>) {
        let mut st = self.lock();
        st.committer = true;
        loop {
            while (st.pending.is_empty() || st.leading) && !st.stopping {
                st.idle = true;
                st = self.work.wait(st).unwrap_or_else(PoisonError::into_inner);
                st.idle = false;
            }
            if st.leading {
                st.idle = true;
                st = self.work.wait(st).unwrap_or_else(PoisonError::into_inner);
                st.idle = false;
                continue;
            }
            if st.pending.is_empty() {
                break;
            }
            st = self.lead(st, commit);
        }
        st.committer = false;
        st.stopping = false;
        // Anyone still waiting leads their own commit from now on.
        for w in std::mem::take(&mut st.wakers) {
            w.wake();
        }
        self.done.notify_all();
    }

    /// Asks [`GroupCommit::run`] to drain and return.
    pub fn stop(&self) {
        let mut st = self.lock();
        st.stopping = true;
        self.work.notify_all();
    }

    /// Enqueues `item` and blocks until it is durable (or its batch failed).
    #[cfg(test)]
    fn submit<E>(
        &self,
        item: T,
        commit: impl Fn(Vec<T>) -> Result<(), E>,
    ) -> Result<(), CommitError> {
        let ticket = self.enqueue(item);
        self.wait(&ticket, &commit)
    }
}

#[cfg(test)]
mod tests;
