//! Prometheus metrics, kept in memory and rendered as text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    verify: BTreeMap<&'static str, u64>,
}

/// Counters and histograms of the running server.
#[derive(Default)]
pub struct Metrics(Mutex<Inner>);

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records one finished request on `route` (a template, never a raw path).
    pub fn request(&self, route: &'static str, status: u16, took: Duration) {
        let mut m = self.lock();
        *m.requests.entry((route, status)).or_default() += 1;
        let h = m.latency.entry(route).or_default();
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Records the outcome of a token verification (`ok` or the error code).
    pub fn verification(&self, outcome: &'static str) {
        *self.lock().verify.entry(outcome).or_default() += 1;
    }

    /// The text exposition format.
    pub fn render(&self, audit_queue: usize) -> String {
        let m = self.lock();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP keyhold_http_requests_total HTTP requests by route and status."
        );
        let _ = writeln!(out, "# TYPE keyhold_http_requests_total counter");
        for ((route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "keyhold_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP keyhold_http_request_duration_seconds Request latency by route."
        );
        let _ = writeln!(
            out,
            "# TYPE keyhold_http_request_duration_seconds histogram"
        );
        for (route, h) in &m.latency {
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "keyhold_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "keyhold_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "keyhold_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "keyhold_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP keyhold_token_verifications_total Token verifications by outcome code."
        );
        let _ = writeln!(out, "# TYPE keyhold_token_verifications_total counter");
        for (outcome, n) in &m.verify {
            let _ = writeln!(
                out,
                "keyhold_token_verifications_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP keyhold_audit_queue_depth Use records waiting for their durable commit."
        );
        let _ = writeln!(out, "# TYPE keyhold_audit_queue_depth gauge");
        let _ = writeln!(out, "keyhold_audit_queue_depth {audit_queue}");
        out
    }
}
