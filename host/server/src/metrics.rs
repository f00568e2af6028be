//! Counters and latency histograms in Prometheus' text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;
use std::time::Duration;

use crate::store::WRITER_STATS;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What `/metrics` reports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (route, status) → latency histogram.
    requests: Mutex<BTreeMap<(String, u16), Histogram>>,
    /// (policy, entry, outcome) → count.
    decisions: Mutex<BTreeMap<(String, String, String), u64>>,
    /// Requests turned away because the server was saturated.
    rejected: std::sync::atomic::AtomicU64,
    /// Policies installed after start (published, reloaded, picked up).
    reloads: std::sync::atomic::AtomicU64,
}

impl Metrics {
    /// Records one finished request.
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let histogram = requests.entry((route.to_string(), status)).or_default();
        let seconds = elapsed.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(histogram.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// Records one decision's outcome (`decided`, `undetermined`, or an
    /// error kind).
    pub fn decision(&self, policy: &str, entry: &str, outcome: &str) {
        let mut decisions = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        *decisions
            .entry((policy.to_string(), entry.to_string(), outcome.to_string()))
            .or_default() += 1;
    }

    /// Records a request turned away with 503.
    pub fn rejected(&self) {
        self.rejected.fetch_add(1, Relaxed);
    }

    /// Records a policy installed after start.
    pub fn reloaded(&self) {
        self.reloads.fetch_add(1, Relaxed);
    }

    /// The text exposition.
    pub fn render(&self, in_flight: usize, permits_total: usize) -> String {
        let mut out = String::new();
        out.push_str("# TYPE eligo_http_request_duration_seconds histogram\n");
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        for ((route, status), h) in requests.iter() {
            for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "eligo_http_request_duration_seconds_bucket{{route=\"{route}\",status=\"{status}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "eligo_http_request_duration_seconds_bucket{{route=\"{route}\",status=\"{status}\",le=\"+Inf\"}} {}\n\
                 eligo_http_request_duration_seconds_sum{{route=\"{route}\",status=\"{status}\"}} {}\n\
                 eligo_http_request_duration_seconds_count{{route=\"{route}\",status=\"{status}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        drop(requests);
        out.push_str("# TYPE eligo_decisions_total counter\n");
        let decisions = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        for ((policy, entry, outcome), count) in decisions.iter() {
            let _ = writeln!(
                out,
                "eligo_decisions_total{{policy=\"{policy}\",entry=\"{entry}\",outcome=\"{outcome}\"}} {count}"
            );
        }
        drop(decisions);
        let _ = writeln!(
            out,
            "# TYPE eligo_rejected_total counter\neligo_rejected_total {}\n# TYPE eligo_policy_reloads_total counter\neligo_policy_reloads_total {}",
            self.rejected.load(Relaxed),
            self.reloads.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE eligo_in_flight gauge\neligo_in_flight {in_flight}\n# TYPE eligo_in_flight_limit gauge\neligo_in_flight_limit {permits_total}"
        );
        let _ = writeln!(
            out,
            "# TYPE eligo_audit_batches_total counter\neligo_audit_batches_total {}\n\
             # TYPE eligo_audit_records_total counter\neligo_audit_records_total {}\n\
             # TYPE eligo_audit_commit_seconds_total counter\neligo_audit_commit_seconds_total {}",
            WRITER_STATS.batches.load(Relaxed),
            WRITER_STATS.records.load(Relaxed),
            WRITER_STATS.commit_micros.load(Relaxed) as f64 / 1e6
        );
        out
    }
}

/// Each policy's instance pool: instances alive and idle, the limit, and
/// the calls that waited for a free instance.
pub fn render_pools(policies: &[std::sync::Arc<crate::state::Policy>]) -> String {
    let mut out = String::from(
        "# TYPE eligo_pool_instances gauge\n# TYPE eligo_pool_idle gauge\n# TYPE eligo_pool_limit gauge\n# TYPE eligo_pool_waits_total counter\n",
    );
    for policy in policies {
        let stats = policy.runtime.pool_stats();
        let name = &policy.name;
        let _ = writeln!(
            out,
            "eligo_pool_instances{{policy=\"{name}\"}} {}\neligo_pool_idle{{policy=\"{name}\"}} {}\neligo_pool_limit{{policy=\"{name}\"}} {}\neligo_pool_waits_total{{policy=\"{name}\"}} {}",
            stats.live, stats.idle, stats.limit, stats.waits
        );
    }
    out
}
