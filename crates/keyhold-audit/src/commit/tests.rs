//! Group commit under contention, failure, panics, abandoned tickets and a committer thread.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use super::*;

/// What a test's commit returns (the error is a stand-in for the disk's).
type Disk = Result<(), &'static str>;

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
                    gc.submit(item, |batch| -> Disk {
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
                    let r = gc.submit(t, |batch| -> Disk {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        // The second transaction fails, whatever it holds.
                        if calls.fetch_add(1, Ordering::SeqCst) == 1 {
                            Err("disk full")
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
        .submit(1, |_| -> Disk { Err("disk full") })
        .expect_err("fails");
    assert_eq!(err, CommitError::BatchFailed);
    gc.submit(2, |_| -> Disk { Ok(()) })
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
    ticket: super::Ticket,
    commit: &'a (dyn Fn(Vec<u32>) -> Result<(), &'static str> + Sync),
}

impl std::future::Future for Ticket<'_> {
    type Output = Result<(), CommitError>;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), CommitError>> {
        self.gc.poll_ticket(&self.ticket, cx, self.commit)
    }
}

#[test]
fn with_a_committer_thread_futures_resolve_only_after_their_commit() {
    let gc = GroupCommit::<u32>::default();
    let committed = Mutex::new(Vec::new());
    let commits = AtomicUsize::new(0);
    let commit = |batch: Vec<u32>| -> Disk {
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
        gc.wait(&t, &commit).expect("durable");
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
        .wait(&kept, &|_| -> Disk { Err("disk full") })
        .expect_err("the batch failed");
    assert_eq!(err, CommitError::BatchFailed);
    let st = gc.lock();
    assert!(st.failed.is_empty() && st.abandoned.is_empty());
}

#[test]
fn without_a_committer_a_polled_ticket_commits_itself() {
    let gc = GroupCommit::<u32>::default();
    let commit = |b: Vec<u32>| -> Disk {
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
        .wait(&t, &|_| -> Disk { panic!("disk driver bug") })
        .expect_err("failed");
    assert_eq!(err, CommitError::BatchFailed);
    let t = gc.enqueue(2);
    gc.wait(&t, &|_| -> Disk { Ok(()) })
        .expect("the next batch commits");
}

#[test]
fn a_ticket_of_another_queue_is_never_reported_durable() {
    let (a, b) = (GroupCommit::<u32>::default(), GroupCommit::<u32>::default());
    let t = a.enqueue(1);
    let err = b.wait(&t, &|_| -> Disk { Ok(()) }).expect_err("not b's");
    assert_eq!(err, CommitError::BatchFailed);
    b.abandon(t);
    assert!(b.lock().abandoned.is_empty(), "b forgot it");
    assert_eq!(a.queued(), 1, "a still holds it");
}
