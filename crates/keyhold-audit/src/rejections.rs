//! Bounded rejection records. Every valid-key use is one durable row; a refused token is one
//! row only while its source keeps to a small burst: per source address (an IPv6 address by
//! its /64), reason and key (the key only when the token's signature told it), the first
//! [`BURST`] refusals of each [`WINDOW`] are written, the rest are counted, and the count is
//! written into the next row of that bucket (detail `suppressed`). Counts no row has carried
//! are written on their own when their bucket is evicted, at the latest one window after it
//! went quiet, and when the committer stops. A flood of garbage tokens costs memory for at
//! most [`MAX_BUCKETS`] buckets (the oldest is evicted, its count written), not a row and an
//! fsync each.
//!
//! The caller supplies the time ([`Instant`]s it read): this module reads no clock.

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Write its row, carrying this many refusals counted but not written before it.
    Write {
        /// Refusals of its bucket counted, not written, since its last row.
        suppressed: u64,
    },
    /// Count it only.
    Count,
}

/// The buckets, shared by every thread that refuses a token.
pub struct Limiter {
    state: Mutex<State>,
}

struct State {
    buckets: HashMap<BucketKey, Bucket>,
    last_sweep: Instant,
}

/// A bucket's counted refusals that no row has carried yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The bucket's source (an address without its port, or an IPv6 /64).
    pub source: Option<String>,
    /// The reason code.
    pub code: &'static str,
    /// The key, when the token's signature told it.
    pub key: Option<String>,
    /// Refusals counted and not yet written.
    pub suppressed: u64,
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
        .parse::<core::net::SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| s.parse::<core::net::IpAddr>());
    match ip {
        Ok(core::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let seg = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", seg[0], seg[1], seg[2], seg[3])
        }
        Ok(core::net::IpAddr::V6(v6)) => v6.to_canonical().to_string(),
        Ok(ip) => ip.to_string(),
        Err(_) => s.to_owned(),
    }
}

impl Limiter {
    /// No buckets; the first sweep of quiet buckets is due one [`WINDOW`] after `now`.
    pub fn new(now: Instant) -> Self {
        Self {
            state: Mutex::new(State {
                buckets: HashMap::new(),
                last_sweep: now,
            }),
        }
    }

    /// Buckets held right now (at most [`MAX_BUCKETS`]).
    pub fn buckets(&self) -> usize {
        self.lock().buckets.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Decides one refusal; also returns counts that must now be written on their own (a
    /// bucket evicted to make room).
    pub fn admit(
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
    pub fn take_due(&self, now: Instant) -> Vec<Pending> {
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
    pub fn drain(&self) -> Vec<Pending> {
        self.lock()
            .buckets
            .drain()
            .filter(|(_, b)| b.suppressed > 0)
            .map(|(k, b)| pending(k, &b))
            .collect()
    }
}
