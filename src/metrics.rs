//! Prometheus metrics: HTTP traffic by route template, the AI provider, the job queue, dependency
//! health and the process itself. Each application owns its registry (no global state), so several
//! instances in one process — the test suite — do not mix their figures.
//!
//! Served at `/metrics` as OpenMetrics text when the scraper asks for it (Prometheus does) and in
//! the classic Prometheus text format (0.0.4) otherwise.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Request latency buckets, seconds: 1 ms … 30 s (AI calls are the slow end).
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: &'static str,
    /// The route template (`/api/entries/{id}`), never the raw path, so the label set stays small.
    pub route: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: &'static str,
    pub route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `success` or `failure`.
    pub outcome: &'static str,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum JobOutcome {
    Completed,
    Failed,
    /// An attempt failed and another will follow.
    Retried,
}

impl JobOutcome {
    fn label(self) -> &'static str {
        match self {
            JobOutcome::Completed => "completed",
            JobOutcome::Failed => "failed",
            JobOutcome::Retried => "retried",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub job: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DependencyLabels {
    pub dependency: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub http_in_flight: Gauge,
    pub ai_calls: Family<OutcomeLabels, Counter>,
    pub ai_call_duration: Histogram,
    pub ai_jobs: Family<JobLabels, Counter>,
    pub ai_job_attempts: Histogram,
    pub ai_jobs_queued: Gauge,
    pub dependency_up: Family<DependencyLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            http_requests.clone(),
        );
        let http_duration =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by method and route template",
            Unit::Seconds,
            http_duration.clone(),
        );
        let http_in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being answered now",
            http_in_flight.clone(),
        );

        let ai_calls = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "healthtracker_ai_provider_calls",
            "Calls to the AI provider (retries included)",
            ai_calls.clone(),
        );
        let ai_call_duration = latency_histogram();
        registry.register_with_unit(
            "healthtracker_ai_provider_call_duration",
            "Time for one AI provider call",
            Unit::Seconds,
            ai_call_duration.clone(),
        );
        let ai_jobs = Family::<JobLabels, Counter>::default();
        registry.register(
            "healthtracker_ai_jobs",
            "AI job attempts run by this process's worker, by job and outcome",
            ai_jobs.clone(),
        );
        let ai_job_attempts = Histogram::new([1.0, 2.0, 3.0, 5.0, 10.0, 25.0]);
        registry.register(
            "healthtracker_ai_job_attempts",
            "Attempts a finished AI job took",
            ai_job_attempts.clone(),
        );
        let ai_jobs_queued = Gauge::default();
        registry.register(
            "healthtracker_ai_jobs_queued",
            "AI jobs waiting in the queue (all instances)",
            ai_jobs_queued.clone(),
        );
        let dependency_up = Family::<DependencyLabels, Gauge>::default();
        registry.register(
            "healthtracker_dependency_up",
            "1 when a dependency answers, 0 when it does not",
            dependency_up.clone(),
        );

        Self {
            registry,
            http_requests,
            http_duration,
            http_in_flight,
            ai_calls,
            ai_call_duration,
            ai_jobs,
            ai_job_attempts,
            ai_jobs_queued,
            dependency_up,
        }
    }

    pub fn set_dependency(&self, dependency: &str, up: bool) {
        self.dependency_up
            .get_or_create(&DependencyLabels {
                dependency: dependency.to_owned(),
            })
            .set(i64::from(up));
    }

    pub fn record_http(&self, method: &'static str, route: &'static str, status: u16, elapsed: Duration) {
        self.http_duration
            .get_or_create(&RouteLabels { method, route })
            .observe(elapsed.as_secs_f64());
        self.http_requests
            .get_or_create(&HttpLabels { method, route, status })
            .inc();
    }

    pub fn record_ai_call(&self, succeeded: bool, elapsed: Duration) {
        let outcome = if succeeded { "success" } else { "failure" };
        self.ai_calls.get_or_create(&OutcomeLabels { outcome }).inc();
        self.ai_call_duration.observe(elapsed.as_secs_f64());
    }

    pub fn record_job(&self, job: &'static str, outcome: JobOutcome, attempt: u32) {
        self.ai_jobs
            .get_or_create(&JobLabels {
                job,
                outcome: outcome.label(),
            })
            .inc();
        if outcome != JobOutcome::Retried {
            self.ai_job_attempts.observe(f64::from(attempt));
        }
    }

    /// The exposition, in OpenMetrics text or the classic Prometheus text format.
    pub fn render(&self, openmetrics: bool) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut text, &self.registry);
        let _ = process::encode(&mut text);
        if openmetrics {
            text.push_str("# EOF\n");
            text
        } else {
            to_prometheus_text(&text)
        }
    }
}

/// OpenMetrics text to the Prometheus 0.0.4 format: counters are named with their `_total`
/// suffix in HELP/TYPE, and there are no UNIT lines.
fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Process figures from `/proc` (Linux); nothing elsewhere.
mod process {
    use std::fmt::Write;

    /// The kernel reports CPU times in USER_HZ ticks, fixed at 100 on the platforms we build for.
    const TICKS_PER_SECOND: f64 = 100.0;

    pub fn encode(out: &mut String) -> std::fmt::Result {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return Ok(());
        };
        // Fields after the command name, which is in parentheses and may contain spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
        if let (Some(user), Some(system)) = (field(14), field(15)) {
            metric(
                out,
                "process_cpu_seconds",
                "counter",
                "User and system CPU time spent, seconds",
                (user + system) / TICKS_PER_SECOND,
            )?;
        }
        if let Some(threads) = field(20) {
            metric(out, "process_threads", "gauge", "OS threads", threads)?;
        }
        if let Some(start) = field(22).zip(boot_time()) {
            metric(
                out,
                "process_start_time_seconds",
                "gauge",
                "Start time since the Unix epoch, seconds",
                start.1 + start.0 / TICKS_PER_SECOND,
            )?;
        }
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            let kib = |key: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            };
            if let Some(rss) = kib("VmRSS:") {
                metric(
                    out,
                    "process_resident_memory_bytes",
                    "gauge",
                    "Resident memory, bytes",
                    rss * 1024.0,
                )?;
            }
            if let Some(virtual_memory) = kib("VmSize:") {
                metric(
                    out,
                    "process_virtual_memory_bytes",
                    "gauge",
                    "Virtual memory, bytes",
                    virtual_memory * 1024.0,
                )?;
            }
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            metric(
                out,
                "process_open_fds",
                "gauge",
                "Open file descriptors",
                fds.count() as f64,
            )?;
        }
        if let Some(max) = max_open_files() {
            metric(out, "process_max_fds", "gauge", "Limit on open file descriptors", max)?;
        }
        Ok(())
    }

    fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: f64) -> std::fmt::Result {
        let sample = if kind == "counter" {
            format!("{name}_total")
        } else {
            name.to_owned()
        };
        writeln!(out, "# HELP {name} {help}.")?;
        writeln!(out, "# TYPE {name} {kind}")?;
        writeln!(out, "{sample} {value}")
    }

    fn boot_time() -> Option<f64> {
        std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
    }

    fn max_open_files() -> Option<f64> {
        std::fs::read_to_string("/proc/self/limits")
            .ok()?
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse().ok())
    }
}

/// A shared handle.
pub type SharedMetrics = Arc<Metrics>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_text_formats() {
        let metrics = Metrics::new();
        metrics.record_http("GET", "/api/entries/{id}", 200, Duration::from_millis(3));
        metrics.set_dependency("database", true);
        let openmetrics = metrics.render(true);
        assert!(
            openmetrics.contains("http_requests_total{method=\"GET\",route=\"/api/entries/{id}\",status=\"200\"} 1"),
            "{openmetrics}"
        );
        assert!(openmetrics.ends_with("# EOF\n"));
        let classic = metrics.render(false);
        assert!(classic.contains("# TYPE http_requests_total counter"), "{classic}");
        assert!(!classic.contains("# EOF") && !classic.contains("# UNIT"));
        assert!(classic.contains("http_request_duration_seconds_bucket{"));
        assert!(classic.contains("healthtracker_dependency_up{dependency=\"database\"} 1"));
        if cfg!(target_os = "linux") {
            for name in [
                "process_resident_memory_bytes ",
                "process_cpu_seconds_total ",
                "process_open_fds ",
            ] {
                assert!(classic.contains(name), "{name} missing");
            }
        }
    }
}
