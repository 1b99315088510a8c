//! A small Prometheus registry. Routes are labelled by their template (`/api/v1/org/nodes/{id}`),
//! never the raw path, so no identifier reaches a label and cardinality stays bounded.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 11] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    durations: BTreeMap<String, Histogram>,
    audit_failures: u64,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Metrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *m.requests.entry((route.to_string(), method.to_string(), status)).or_default() += 1;
        let h = m.durations.entry(route.to_string()).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    pub fn audit_write_failed(&self) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).audit_failures += 1;
    }

    pub fn render(&self, pools: &[(&str, u32, usize)]) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP http_requests_total Requests answered, by route template, method and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for ((route, method, status), n) in &m.requests {
            let _ =
                writeln!(out, "http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP http_request_duration_seconds Time to answer, by route template.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (route, h) in &m.durations {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(out, "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
        }
        out.push_str(
            "# HELP db_pool_connections Open database connections, by pool.\n# TYPE db_pool_connections gauge\n",
        );
        out.push_str("# HELP db_pool_idle_connections Idle database connections, by pool.\n# TYPE db_pool_idle_connections gauge\n");
        for (name, size, idle) in pools {
            let _ = writeln!(out, "db_pool_connections{{pool=\"{name}\"}} {size}");
            let _ = writeln!(out, "db_pool_idle_connections{{pool=\"{name}\"}} {idle}");
        }
        out.push_str(
            "# HELP audit_write_failures_total Audit entries that could not be written (each failed its request).\n",
        );
        out.push_str("# TYPE audit_write_failures_total counter\n");
        let _ = writeln!(out, "audit_write_failures_total {}", m.audit_failures);
        out
    }
}
