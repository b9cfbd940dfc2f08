//! Request counts and latencies in Prometheus text format. Kept by hand: a few
//! counters behind one mutex cost less than a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Tables {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

#[derive(Default)]
pub struct Metrics {
    tables: Mutex<Tables>,
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let Ok(mut t) = self.tables.lock() else {
            return;
        };
        *t.requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        let h = t.latency.entry(route.to_owned()).or_default();
        let secs = elapsed.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter_mut()) {
            if secs <= *bound {
                *count += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// The Prometheus exposition; `pool` is (open, idle) database connections.
    pub fn render(&self, pool: (u32, usize)) -> String {
        let mut out = String::new();
        let Ok(t) = self.tables.lock() else {
            return out;
        };
        out.push_str("# HELP rongshu_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE rongshu_http_requests_total counter\n");
        for ((method, route, status), n) in &t.requests {
            let _ = writeln!(
                out,
                "rongshu_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP rongshu_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE rongshu_http_request_duration_seconds histogram\n");
        for (route, h) in &t.latency {
            let route = escape(route);
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "rongshu_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "rongshu_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "rongshu_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "rongshu_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP rongshu_db_pool_connections Database connections by state.\n");
        out.push_str("# TYPE rongshu_db_pool_connections gauge\n");
        let (open, idle) = pool;
        let _ = writeln!(out, "rongshu_db_pool_connections{{state=\"open\"}} {open}");
        let _ = writeln!(out, "rongshu_db_pool_connections{{state=\"idle\"}} {idle}");
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"")
}
