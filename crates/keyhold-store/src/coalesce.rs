//! One reading of a shared counter for many concurrent callers — without ever handing a caller
//! a reading that began before it asked. A caller is served by the first reading that *starts*
//! after its call: one under way when it arrives may predate a commit the caller must see (a
//! revocation that returned before its request was sent), so it waits for the next, which
//! starts as soon as the current one ends. Under load, one round trip to the database answers
//! every request that arrived while the previous one was in flight.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::StoreError;

/// Readings shared by the callers that wait for the same one.
#[derive(Default)]
pub(crate) struct Coalesced {
    state: Mutex<State>,
    finished: Condvar,
}

#[derive(Default)]
struct State {
    /// Readings begun, and finished (one at a time, so they finish in order).
    started: u64,
    done: u64,
    reading: bool,
    /// The last finished reading: its value, or its error's text.
    last: Option<Result<i64, String>>,
}

/// Ends the leader's reading even if it panics, so that waiters lead the next one.
struct Leading<'a> {
    shared: &'a Coalesced,
    outcome: Option<Result<i64, String>>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.reading = false;
        match self.outcome.take() {
            Some(outcome) => {
                s.done = s.started;
                s.last = Some(outcome);
            }
            // Abandoned: nobody was served; a waiter will read again.
            None => s.started = s.done,
        }
        self.shared.finished.notify_all();
    }
}

impl Coalesced {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value `read` returns when run from now on — run by this caller, or shared with the
    /// callers that wait for the same reading. A shared failure is reported by `failed`.
    pub(crate) fn read(
        &self,
        read: impl FnOnce() -> Result<i64, StoreError>,
        failed: impl FnOnce(String) -> StoreError,
    ) -> Result<i64, StoreError> {
        let mut s = self.lock();
        let want = s.started + 1;
        loop {
            if s.done >= want {
                return match &s.last {
                    Some(Ok(v)) => Ok(*v),
                    Some(Err(e)) => Err(failed(e.clone())),
                    None => Err(failed("no reading".to_owned())),
                };
            }
            if !s.reading {
                s.reading = true;
                s.started += 1;
                drop(s);
                let mut leading = Leading {
                    shared: self,
                    outcome: None,
                };
                let result = read();
                leading.outcome = Some(result.as_ref().map(|v| *v).map_err(ToString::to_string));
                return result;
            }
            s = self
                .finished
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    use super::*;

    fn failed(detail: String) -> StoreError {
        StoreError::Constraint(detail)
    }

    /// Every caller sees a value at least as new as the counter when it called (joining a
    /// reading already under way would break this).
    #[test]
    fn no_caller_gets_a_reading_that_began_before_its_call() {
        let shared = Arc::new(Coalesced::default());
        let counter = Arc::new(AtomicI64::new(0));
        let reads = Arc::new(AtomicUsize::new(0));
        let threads = 8;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (shared, counter, reads, barrier) = (
                    shared.clone(),
                    counter.clone(),
                    reads.clone(),
                    barrier.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..200 {
                        // A commit, then a call: the reading must include it.
                        let floor = counter.fetch_add(1, Ordering::SeqCst) + 1;
                        let got = shared
                            .read(
                                || {
                                    // The snapshot is taken when the reading starts.
                                    let seen = counter.load(Ordering::SeqCst);
                                    reads.fetch_add(1, Ordering::SeqCst);
                                    std::thread::yield_now();
                                    Ok(seen)
                                },
                                failed,
                            )
                            .unwrap();
                        assert!(got >= floor, "{got} < {floor}");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let reads = reads.load(Ordering::SeqCst);
        eprintln!("{reads} readings for {} calls", threads * 200);
    }

    #[test]
    fn a_failure_reaches_the_waiters_and_a_panicking_reader_does_not_stall_the_next() {
        let shared = Coalesced::default();
        let err = shared.read(|| Err(failed("down".into())), failed);
        assert!(matches!(err, Err(StoreError::Constraint(d)) if d.contains("down")));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shared.read(|| panic!("reader fails"), failed)
        }));
        assert!(panicked.is_err());
        assert_eq!(
            shared.read(|| Ok(7), failed).unwrap(),
            7,
            "the next caller reads"
        );
    }
}
