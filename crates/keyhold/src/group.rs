//! Group commit: concurrent callers share one durable transaction.
//!
//! Each caller submits an item and waits. The first waiter that finds no commit in progress
//! becomes the leader: it takes every pending item, commits them in one transaction (one
//! fsync with `synchronous=FULL`), then wakes everyone. A caller returns `Ok` only once a
//! transaction containing its item has committed; if that transaction failed, every caller in
//! it gets an error. Nothing is reported durable that is not.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::{Error, Result};

pub(crate) struct GroupCommit<T> {
    state: Mutex<State<T>>,
    wake: Condvar,
}

struct State<T> {
    pending: Vec<T>,
    /// Ticket of the next submitted item.
    next: u64,
    /// Every ticket below this has been decided (committed or failed).
    decided: u64,
    /// Failed ticket ranges `[from, to)` with how many of their callers have yet to look.
    failed: Vec<(u64, u64, u64)>,
    leading: bool,
}

impl<T> Default for GroupCommit<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                pending: Vec::new(),
                next: 0,
                decided: 0,
                failed: Vec::new(),
                leading: false,
            }),
            wake: Condvar::new(),
        }
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

    /// Submits `item` and returns once it is durable. `commit` writes a batch in one
    /// transaction; it runs on whichever caller leads that batch.
    pub(crate) fn submit(&self, item: T, commit: impl Fn(Vec<T>) -> Result<()>) -> Result<()> {
        let mut st = self.lock();
        let ticket = st.next;
        st.next += 1;
        st.pending.push(item);
        loop {
            if ticket < st.decided {
                let failed = st
                    .failed
                    .iter_mut()
                    .find(|(a, b, _)| (*a..*b).contains(&ticket))
                    .map(|range| {
                        range.2 -= 1;
                    });
                st.failed.retain(|(_, _, waiting)| *waiting > 0);
                return match failed {
                    Some(()) => Err(Error::Internal(
                        "the audit record of this operation could not be written",
                    )),
                    None => Ok(()),
                };
            }
            if st.leading {
                st = self.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            st.leading = true;
            let batch = std::mem::take(&mut st.pending);
            let upto = st.next;
            let from = st.decided;
            drop(st);
            let result = commit(batch);
            st = self.lock();
            st.leading = false;
            st.decided = upto;
            let mine = match result {
                Ok(()) => Ok(()),
                Err(e) => {
                    // Everyone in the batch but this leader still has to collect the failure.
                    let others = upto - from - 1;
                    if others > 0 {
                        st.failed.push((from, upto, others));
                    }
                    Err(e)
                }
            };
            self.wake.notify_all();
            mine?;
        }
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
}
