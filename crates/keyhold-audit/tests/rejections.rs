//! Bounded rejection records: the burst per bucket, the carried counts, the bound on buckets
//! and the sweep of quiet buckets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use keyhold_audit::rejections::{Admit, BURST, Limiter, MAX_BUCKETS, WINDOW};

fn admit(l: &Limiter, src: &str, code: &'static str, at: Instant) -> Admit {
    l.admit(Some(src), code, None, at).0
}

#[test]
fn a_burst_is_written_the_rest_counted_and_carried_by_the_next_row() {
    let l = Limiter::new(Instant::now());
    let t0 = Instant::now();
    for _ in 0..BURST {
        assert!(matches!(
            admit(&l, "10.0.0.1", "malformed", t0),
            Admit::Write { suppressed: 0 }
        ));
    }
    for _ in 0..5 {
        assert!(matches!(
            admit(&l, "10.0.0.1", "malformed", t0),
            Admit::Count
        ));
    }
    // Another port of the same address shares the bucket; so does a neighbour in its /64.
    assert!(matches!(
        admit(&l, "10.0.0.1:4000", "malformed", t0),
        Admit::Count
    ));
    for _ in 0..BURST {
        admit(&l, "[2001:db8::1]:1", "malformed", t0);
    }
    assert!(matches!(
        admit(&l, "[2001:db8::ffff:2]:9", "malformed", t0),
        Admit::Count
    ));
    // Another source or reason has its own bucket.
    assert!(matches!(
        admit(&l, "10.0.0.2", "malformed", t0),
        Admit::Write { .. }
    ));
    assert!(matches!(
        admit(&l, "10.0.0.1", "bad_signature", t0),
        Admit::Write { .. }
    ));
    assert!(matches!(
        admit(&l, "10.0.0.1", "malformed", t0 + WINDOW),
        Admit::Write { suppressed: 6 }
    ));
    let left: u64 = l.drain().iter().map(|p| p.suppressed).sum();
    assert_eq!(left, 1, "the /64's one count is still to be written");
}

#[test]
fn buckets_stay_bounded_and_an_evicted_count_is_handed_back() {
    let l = Limiter::new(Instant::now());
    let t0 = Instant::now();
    for _ in 0..=BURST {
        admit(&l, "first", "malformed", t0);
    }
    let mut handed_back = 0;
    for i in 0..MAX_BUCKETS {
        let (_, evicted) = l.admit(
            Some(&format!("src{i}")),
            "malformed",
            None,
            t0 + Duration::from_millis(1),
        );
        handed_back += evicted.map_or(0, |p| p.suppressed);
    }
    assert_eq!(
        handed_back, 1,
        "the oldest bucket was evicted with its count"
    );
    assert!(l.buckets() <= MAX_BUCKETS);
}

#[test]
fn quiet_buckets_are_swept_once_a_window() {
    let l = Limiter::new(Instant::now());
    let t0 = Instant::now();
    for _ in 0..BURST + 3 {
        admit(&l, "10.0.0.9", "malformed", t0);
    }
    assert!(l.take_due(t0).is_empty(), "not yet a window");
    let due = l.take_due(t0 + WINDOW + WINDOW);
    assert_eq!(due.iter().map(|p| p.suppressed).sum::<u64>(), 3);
    assert!(l.drain().is_empty());
}
