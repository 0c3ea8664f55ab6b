//! Group commit: concurrent callers share one durable transaction.
//!
//! A caller enqueues an item and gets a ticket, then waits for the ticket to be decided —
//! blocking ([`GroupCommit::wait`]) or as a future ([`GroupCommit::poll_ticket`]). A batch is
//! committed either by a dedicated committer thread ([`GroupCommit::run`], what a server
//! runs: no request's thread is held while an fsync is in flight, and the batch grows with
//! the load) or, when none runs, by the first waiter that finds no commit in progress (it
//! takes every pending item, commits them in one transaction, then wakes everyone).
//!
//! A ticket is reported `Ok` only once a transaction containing its item has committed; if
//! that transaction failed, every ticket in it is reported failed. Nothing is reported
//! durable that is not.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::{Error, Result};

pub(crate) struct GroupCommit<T> {
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

/// The error every caller of a failed batch gets.
fn failure() -> Error {
    Error::Internal("the audit record of this operation could not be written")
}

impl<T> State<T> {
    /// The ticket's outcome once decided (counting it as collected), `None` before.
    fn collect(&mut self, ticket: u64) -> Option<Result<()>> {
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
        Some(if failed { Err(failure()) } else { Ok(()) })
    }
}

impl<T> GroupCommit<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is updated only in small critical sections that cannot panic halfway.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Items waiting for their transaction right now.
    pub(crate) fn queued(&self) -> usize {
        self.lock().pending.len()
    }

    /// Queues `item` for the next batch and returns its ticket.
    pub(crate) fn enqueue(&self, item: T) -> u64 {
        let mut st = self.lock();
        let ticket = st.next;
        st.next += 1;
        st.pending.push(item);
        if st.idle {
            self.work.notify_one();
        }
        ticket
    }

    /// Commits every pending item in one batch on this thread, then wakes everyone.
    fn lead<'a>(
        &'a self,
        mut st: MutexGuard<'a, State<T>>,
        commit: &dyn Fn(Vec<T>) -> Result<()>,
    ) -> MutexGuard<'a, State<T>> {
        st.leading = true;
        let batch = std::mem::take(&mut st.pending);
        let (from, upto) = (st.decided, st.next);
        drop(st);
        let result = if batch.is_empty() {
            Ok(())
        } else {
            // A panic in the commit must fail its batch, not leave `leading` set forever.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commit(batch)))
                .unwrap_or(Err(Error::Internal("the audit commit panicked")))
        };
        let mut st = self.lock();
        st.leading = false;
        st.decided = upto;
        let abandoned = st.abandoned.iter().filter(|t| **t < upto).count() as u64;
        st.abandoned.retain(|t| *t >= upto);
        if result.is_err() {
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
    pub(crate) fn wait(&self, ticket: u64, commit: &dyn Fn(Vec<T>) -> Result<()>) -> Result<()> {
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
    pub(crate) fn poll_ticket(
        &self,
        ticket: u64,
        cx: &mut Context<'_>,
        commit: &dyn Fn(Vec<T>) -> Result<()>,
    ) -> Poll<Result<()>> {
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
    pub(crate) fn abandon(&self, ticket: u64) {
        let mut st = self.lock();
        if ticket >= st.decided {
            st.abandoned.push(ticket);
        } else {
            let _ = st.collect(ticket);
        }
    }

    /// Commits batches on this thread as items arrive, until [`GroupCommit::stop`]; then
    /// commits what is still pending and returns.
    pub(crate) fn run(&self, commit: &dyn Fn(Vec<T>) -> Result<()>) {
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
    pub(crate) fn stop(&self) {
        let mut st = self.lock();
        st.stopping = true;
        self.work.notify_all();
    }

    /// Enqueues `item` and blocks until it is durable (or its batch failed).
    #[cfg(test)]
    pub(crate) fn submit(&self, item: T, commit: impl Fn(Vec<T>) -> Result<()>) -> Result<()> {
        let ticket = self.enqueue(item);
        self.wait(ticket, &commit)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn concurrent_submitters_share_commits_and_all_are_durable() {
        let gc = Arc::new(GroupCommit::<u32>::default());
        let committed = Arc::new(Mutex::new(Vec::new()));
        let commits = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|s| {
            for t in 0..32u32 {
                let (gc, committed, commits) = (gc.clone(), committed.clone(), commits.clone());
                s.spawn(move || {
                    for i in 0..50u32 {
                        let item = t * 1000 + i;
                        gc.submit(item, |batch| {
                            commits.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_micros(200)); // an fsync
                            committed.lock().expect("lock").extend(batch);
                            Ok(())
                        })
                        .expect("durable");
                        assert!(
                            committed.lock().expect("lock").contains(&item),
                            "returned before its commit"
                        );
                    }
                });
            }
        });
        assert_eq!(committed.lock().expect("lock").len(), 32 * 50);
        let n = commits.load(Ordering::SeqCst);
        assert!(
            n < 32 * 50,
            "commits were shared: {n} transactions for 1600 items"
        );
    }

    #[test]
    fn every_caller_of_a_failed_batch_sees_the_failure_even_if_a_later_one_returns_first() {
        let gc = Arc::new(GroupCommit::<u32>::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let outcomes: Vec<(u32, bool)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16u32)
                .map(|t| {
                    let (gc, calls) = (gc.clone(), calls.clone());
                    s.spawn(move || {
                        let r = gc.submit(t, |batch| {
                            std::thread::sleep(std::time::Duration::from_millis(2));
                            // The second transaction fails, whatever it holds.
                            if calls.fetch_add(1, Ordering::SeqCst) == 1 {
                                Err(Error::Internal("disk full"))
                            } else {
                                assert!(!batch.is_empty());
                                Ok(())
                            }
                        });
                        (t, r.is_ok())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        let failed = outcomes.iter().filter(|(_, ok)| !ok).count();
        assert!(calls.load(Ordering::SeqCst) >= 2);
        assert!(failed >= 1, "the failing batch's callers were told");
        let st = gc.lock();
        assert!(
            st.failed.is_empty(),
            "every failed caller collected its failure"
        );
    }

    #[test]
    fn a_failed_batch_fails_every_caller_in_it() {
        let gc = GroupCommit::<u32>::default();
        let err = gc
            .submit(1, |_| Err(Error::Internal("disk full")))
            .expect_err("fails");
        assert_eq!(err.code(), "internal_error");
        gc.submit(2, |_| Ok(()))
            .expect("the next batch is independent");
    }

    /// A minimal executor: polls `f` on this thread, parking between wake-ups.
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }

    /// A future over a ticket, as the facade's `Deferred` is.
    struct Ticket<'a> {
        gc: &'a GroupCommit<u32>,
        ticket: u64,
        commit: &'a (dyn Fn(Vec<u32>) -> Result<()> + Sync),
    }

    impl std::future::Future for Ticket<'_> {
        type Output = Result<()>;
        fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
            self.gc.poll_ticket(self.ticket, cx, self.commit)
        }
    }

    #[test]
    fn with_a_committer_thread_futures_resolve_only_after_their_commit() {
        let gc = GroupCommit::<u32>::default();
        let committed = Mutex::new(Vec::new());
        let commits = AtomicUsize::new(0);
        let commit = |batch: Vec<u32>| {
            commits.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_micros(300)); // an fsync
            committed.lock().expect("lock").extend(batch);
            Ok(())
        };
        std::thread::scope(|s| {
            s.spawn(|| gc.run(&commit));
            let workers: Vec<_> = (0..16u32)
                .map(|t| {
                    let (gc, committed, commit) = (&gc, &committed, &commit);
                    s.spawn(move || {
                        for i in 0..40u32 {
                            let item = t * 1000 + i;
                            let ticket = gc.enqueue(item);
                            block_on(Ticket { gc, ticket, commit }).expect("durable");
                            assert!(
                                committed.lock().expect("lock").contains(&item),
                                "resolved before its commit"
                            );
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join().expect("worker");
            }
            // A blocking waiter is served by the committer too, then it stops.
            let t = gc.enqueue(99_999);
            gc.wait(t, &commit).expect("durable");
            gc.stop();
        });
        assert_eq!(committed.lock().expect("lock").len(), 16 * 40 + 1);
        assert!(
            commits.load(Ordering::SeqCst) < 16 * 40,
            "batches were shared"
        );
        assert!(!gc.lock().committer, "the committer returned");
    }

    #[test]
    fn an_abandoned_ticket_of_a_failed_batch_leaves_nothing_behind() {
        let gc = GroupCommit::<u32>::default();
        let kept = gc.enqueue(1);
        let dropped = gc.enqueue(2);
        gc.abandon(dropped);
        let err = gc
            .wait(kept, &|_| Err(Error::Internal("disk full")))
            .expect_err("the batch failed");
        assert_eq!(err.code(), "internal_error");
        let st = gc.lock();
        assert!(st.failed.is_empty() && st.abandoned.is_empty());
    }

    #[test]
    fn without_a_committer_a_polled_ticket_commits_itself() {
        let gc = GroupCommit::<u32>::default();
        let commit = |b: Vec<u32>| {
            assert_eq!(b, vec![7]);
            Ok(())
        };
        let ticket = gc.enqueue(7);
        block_on(Ticket {
            gc: &gc,
            ticket,
            commit: &commit,
        })
        .expect("durable");
    }

    #[test]
    fn a_panicking_commit_fails_its_batch_and_the_next_one_proceeds() {
        let gc = GroupCommit::<u32>::default();
        let t = gc.enqueue(1);
        let err = gc
            .wait(t, &|_| panic!("disk driver bug"))
            .expect_err("failed");
        assert_eq!(err.code(), "internal_error");
        let t = gc.enqueue(2);
        gc.wait(t, &|_| Ok(())).expect("the next batch commits");
    }
}
