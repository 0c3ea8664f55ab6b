//! Bounded rejection records. Every valid-key use is one durable row; a refused token is one
//! row only while its source keeps to a small burst: per source address, reason and key (the
//! key only when the token's signature told it), the first [`BURST`] refusals of each
//! [`WINDOW`] are written, the rest are counted, and the count is written into the next row of
//! that bucket (detail `suppressed`) — or, when the committer stops, into one row of its own. A
//! flood of garbage tokens costs memory for its buckets (at most [`MAX_BUCKETS`]; beyond that,
//! sources share one bucket per reason), not a row and an fsync each.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Rows written per bucket per window before refusals are only counted.
pub const BURST: u32 = 10;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Buckets kept at most; beyond, sources are pooled per reason.
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

#[derive(Default)]
pub(crate) struct Limiter {
    buckets: Mutex<HashMap<BucketKey, Bucket>>,
}

/// A bucket's counted refusals that no row has carried yet.
pub(crate) struct Pending {
    pub(crate) source: Option<String>,
    pub(crate) code: &'static str,
    pub(crate) key: Option<String>,
    pub(crate) suppressed: u64,
}

impl Limiter {
    pub(crate) fn admit(
        &self,
        source: Option<&str>,
        code: &'static str,
        key: Option<&str>,
        now: Instant,
    ) -> Admit {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            // Forget windows that ended with nothing to carry; if still full, pool the source.
            buckets.retain(|_, b| now.duration_since(b.window_start) < WINDOW || b.suppressed > 0);
        }
        // A client picks its port freely: the bucket is its address.
        let source = source.map(|s| {
            s.parse::<std::net::SocketAddr>()
                .map_or_else(|_| s.to_owned(), |a| a.ip().to_string())
        });
        let mut k = BucketKey {
            source,
            code,
            key: key.map(str::to_owned),
        };
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&k) {
            k = BucketKey {
                source: None,
                code,
                key: None,
            };
        }
        let b = buckets.entry(k).or_insert(Bucket {
            window_start: now,
            written: 0,
            suppressed: 0,
        });
        if now.duration_since(b.window_start) >= WINDOW {
            b.window_start = now;
            b.written = 0;
        }
        if b.written < BURST {
            b.written += 1;
            Admit::Write {
                suppressed: std::mem::take(&mut b.suppressed),
            }
        } else {
            b.suppressed += 1;
            Admit::Count
        }
    }

    /// Takes every count no row has carried yet (at shutdown).
    pub(crate) fn drain(&self) -> Vec<Pending> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let out = buckets
            .iter_mut()
            .filter(|(_, b)| b.suppressed > 0)
            .map(|(k, b)| Pending {
                source: k.source.clone(),
                code: k.code,
                key: k.key.clone(),
                suppressed: std::mem::take(&mut b.suppressed),
            })
            .collect();
        buckets.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_written_the_rest_counted_and_carried_by_the_next_row() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..BURST {
            assert!(matches!(
                l.admit(Some("10.0.0.1"), "malformed", None, t0),
                Admit::Write { suppressed: 0 }
            ));
        }
        for _ in 0..5 {
            assert!(matches!(
                l.admit(Some("10.0.0.1"), "malformed", None, t0),
                Admit::Count
            ));
        }
        // Another port of the same address shares the bucket.
        assert!(matches!(
            l.admit(Some("10.0.0.1:4000"), "malformed", None, t0),
            Admit::Count
        ));
        // Another source or reason has its own bucket.
        assert!(matches!(
            l.admit(Some("10.0.0.2"), "malformed", None, t0),
            Admit::Write { .. }
        ));
        assert!(matches!(
            l.admit(Some("10.0.0.1"), "bad_signature", None, t0),
            Admit::Write { .. }
        ));
        assert!(matches!(
            l.admit(Some("10.0.0.1"), "malformed", None, t0 + WINDOW),
            Admit::Write { suppressed: 6 }
        ));
        l.admit(Some("10.0.0.1"), "malformed", None, t0 + WINDOW);
        assert!(l.drain().is_empty(), "nothing left to carry");
    }

    #[test]
    fn counts_not_yet_carried_are_drained_and_buckets_stay_bounded() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for i in 0..(MAX_BUCKETS + 100) {
            let src = format!("src{i}");
            for _ in 0..=BURST {
                l.admit(Some(&src), "malformed", None, t0);
            }
        }
        let pending = l.drain();
        let total: u64 = pending.iter().map(|p| p.suppressed).sum();
        assert!(pending.len() <= MAX_BUCKETS + 1);
        // Every source beyond the first MAX_BUCKETS was pooled: all its refusals past the
        // pooled bucket's burst are counted.
        assert!(total >= MAX_BUCKETS as u64, "{total}");
    }
}
