//! Bounded rejection records. Every valid-key use is one durable row; a refused token is one
//! row only while its source keeps to a small burst: per source address (an IPv6 address by
//! its /64), reason and key (the key only when the token's signature told it), the first
//! [`BURST`] refusals of each [`WINDOW`] are written, the rest are counted, and the count is
//! written into the next row of that bucket (detail `suppressed`). Counts no row has carried
//! are written on their own when their bucket is evicted, at the latest one window after it
//! went quiet, and when the committer stops. A flood of garbage tokens costs memory for at
//! most [`MAX_BUCKETS`] buckets (the oldest is evicted, its count written), not a row and an
//! fsync each.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Rows written per bucket per window before refusals are only counted.
pub const BURST: u32 = 10;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Buckets kept at most; beyond, the oldest is evicted and its count written.
pub const MAX_BUCKETS: usize = 4096;

#[derive(Clone, PartialEq, Eq, Hash)]
struct BucketKey {
    source: Option<String>,
    code: &'static str,
    key: Option<String>,
}

struct Bucket {
    window_start: Instant,
    written: u32,
    suppressed: u64,
}

/// What to do with one refusal.
pub(crate) enum Admit {
    /// Write its row, carrying this many refusals counted but not written before it.
    Write { suppressed: u64 },
    /// Count it only.
    Count,
}

pub(crate) struct Limiter {
    state: Mutex<State>,
}

struct State {
    buckets: HashMap<BucketKey, Bucket>,
    last_sweep: Instant,
}

impl Default for Limiter {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                buckets: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }
}

/// A bucket's counted refusals that no row has carried yet.
pub(crate) struct Pending {
    pub(crate) source: Option<String>,
    pub(crate) code: &'static str,
    pub(crate) key: Option<String>,
    pub(crate) suppressed: u64,
}

fn pending(k: BucketKey, b: &Bucket) -> Pending {
    Pending {
        source: k.source,
        code: k.code,
        key: k.key,
        suppressed: b.suppressed,
    }
}

/// The bucket of a source: its address without the port; an IPv6 address by its /64 (one
/// host usually holds a whole /64).
fn source_bucket(s: &str) -> String {
    let ip = s
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| s.parse::<std::net::IpAddr>());
    match ip {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let seg = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", seg[0], seg[1], seg[2], seg[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => v6.to_canonical().to_string(),
        Ok(ip) => ip.to_string(),
        Err(_) => s.to_owned(),
    }
}

impl Limiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Decides one refusal; also returns counts that must now be written on their own (a
    /// bucket evicted to make room).
    pub(crate) fn admit(
        &self,
        source: Option<&str>,
        code: &'static str,
        key: Option<&str>,
        now: Instant,
    ) -> (Admit, Option<Pending>) {
        let mut st = self.lock();
        let k = BucketKey {
            source: source.map(source_bucket),
            code,
            key: key.map(str::to_owned),
        };
        let mut evicted = None;
        if !st.buckets.contains_key(&k) && st.buckets.len() >= MAX_BUCKETS {
            let oldest = st
                .buckets
                .iter()
                .min_by_key(|(_, b)| b.window_start)
                .map(|(k, _)| k.clone());
            if let Some(old) = oldest
                && let Some(b) = st.buckets.remove(&old)
                && b.suppressed > 0
            {
                evicted = Some(pending(old, &b));
            }
        }
        let b = st.buckets.entry(k).or_insert(Bucket {
            window_start: now,
            written: 0,
            suppressed: 0,
        });
        if now.duration_since(b.window_start) >= WINDOW {
            b.window_start = now;
            b.written = 0;
        }
        let admit = if b.written < BURST {
            b.written += 1;
            Admit::Write {
                suppressed: std::mem::take(&mut b.suppressed),
            }
        } else {
            b.suppressed += 1;
            Admit::Count
        };
        (admit, evicted)
    }

    /// At most once a window: takes the counts of buckets quiet for a whole window (to be
    /// written on their own) and forgets those buckets.
    pub(crate) fn take_due(&self, now: Instant) -> Vec<Pending> {
        let mut st = self.lock();
        if now.duration_since(st.last_sweep) < WINDOW {
            return Vec::new();
        }
        st.last_sweep = now;
        let quiet: Vec<BucketKey> = st
            .buckets
            .iter()
            .filter(|(_, b)| now.duration_since(b.window_start) >= WINDOW)
            .map(|(k, _)| k.clone())
            .collect();
        quiet
            .into_iter()
            .filter_map(|k| {
                let b = st.buckets.remove(&k)?;
                (b.suppressed > 0).then(|| pending(k, &b))
            })
            .collect()
    }

    /// Takes every count no row has carried yet (when the committer stops).
    pub(crate) fn drain(&self) -> Vec<Pending> {
        self.lock()
            .buckets
            .drain()
            .filter(|(_, b)| b.suppressed > 0)
            .map(|(k, b)| pending(k, &b))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admit(l: &Limiter, src: &str, code: &'static str, at: Instant) -> Admit {
        l.admit(Some(src), code, None, at).0
    }

    #[test]
    fn a_burst_is_written_the_rest_counted_and_carried_by_the_next_row() {
        let l = Limiter::default();
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
        let l = Limiter::default();
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
        assert!(l.lock().buckets.len() <= MAX_BUCKETS);
    }

    #[test]
    fn quiet_buckets_are_swept_once_a_window() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..BURST + 3 {
            admit(&l, "10.0.0.9", "malformed", t0);
        }
        assert!(l.take_due(t0).is_empty(), "not yet a window");
        let due = l.take_due(t0 + WINDOW + WINDOW);
        assert_eq!(due.iter().map(|p| p.suppressed).sum::<u64>(), 3);
        assert!(l.drain().is_empty());
    }
}
