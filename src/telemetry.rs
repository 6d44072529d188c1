//! Logging: structured JSON lines in production, compact human-readable lines in development.
//! `LOG_LEVEL` sets our level; `RUST_LOG`, when set, overrides everything (standard filter syntax).
//!
//! Every line is appended to one shared buffer ([`LogWriter`]) and a thread of its own writes the
//! buffer out a few milliseconds later, many lines per `write`: a request never waits for the
//! terminal or the log file, and costs no channel message, no wake-up of another thread and no
//! copy of its line (tracing-appender's channel did all three per line: a quarter of the CPU of a
//! liveness probe, BENCHMARKS.md). A logger never waits for the output (it is often a tokio
//! worker): while 8 MiB are unwritten — an output that stalls, or a writer thread that could not
//! start — new lines are dropped and counted, and a WARN line with the count follows once the output
//! moves again. The guard returned by [`init`] writes what is left when the process ends.
//!
//! The per-request access line is the one log line every request writes. In JSON it is formatted
//! here, directly into the buffer, in the same shape as every other line: tracing's general-purpose
//! JSON formatter cost ~20% of the CPU of a cheap request. It still obeys the filter.

use std::io::{BufWriter, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Dependencies that are chatty at `info`.
const QUIET_DEPENDENCIES: &str = "hyper=warn,hyper_util=warn,h2=warn,tower=warn,reqwest=warn,mongodb=warn";
/// How long lines gather before they are written (unless there are many already).
const GATHER: Duration = Duration::from_millis(20);
/// Written at once when this much has gathered.
const WRITE_AT: usize = 256 * 1024;
/// Lines are dropped (and counted) while this much is still unwritten (an output that stalls).
const MAX_UNWRITTEN: usize = 8 * 1024 * 1024;

pub fn filter(level: &str) -> EnvFilter {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("{level},{QUIET_DEPENDENCIES}")))
}

/// Standard output without Rust's line buffering (the writer thread batches), or the buffered
/// handle when the descriptor cannot be duplicated.
fn stdout_writer() -> Box<dyn Write + Send> {
    match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(BufWriter::with_capacity(64 * 1024, std::fs::File::from(fd))),
        Err(_) => Box::new(std::io::stdout()),
    }
}

struct Shared {
    pending: Mutex<Pending>,
    /// The writer thread waits here for lines.
    changed: Condvar,
    /// Lines dropped since the writer last reported them.
    dropped: AtomicU64,
    /// The format of the line that reports them.
    json: bool,
}

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    closed: bool,
}

/// Where every log line goes (see the module comment). Cloned freely: one buffer behind it.
#[derive(Clone)]
pub struct LogWriter(Arc<Shared>);

impl LogWriter {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A logger that panicked mid-line leaves at worst a torn line; keep logging.
        self.0.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends what `line` writes, as one piece; or, while [`MAX_UNWRITTEN`] bytes wait for an output
    /// that does not keep up (or a writer thread that never started), drops it and counts it: a
    /// logger never waits for the output (it may be a tokio worker).
    fn append(&self, line: impl FnOnce(&mut Vec<u8>)) {
        let mut pending = self.pending();
        if pending.lines.len() >= MAX_UNWRITTEN {
            drop(pending);
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let was_empty = pending.lines.is_empty();
        line(&mut pending.lines);
        // The writer sleeps until the first line of a batch, and wakes early for a big one.
        if was_empty || pending.lines.len() >= WRITE_AT {
            self.0.changed.notify_all();
        }
    }

    fn run(self, mut out: Box<dyn Write + Send>) {
        let mut batch = Vec::new();
        loop {
            {
                let mut pending = self.pending();
                while pending.lines.is_empty() && !pending.closed {
                    pending = self
                        .0
                        .changed
                        .wait(pending)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                if pending.lines.len() < WRITE_AT && !pending.closed {
                    pending = self
                        .0
                        .changed
                        .wait_timeout(pending, GATHER)
                        .map_or_else(|poisoned| poisoned.into_inner().0, |(guard, _)| guard);
                }
                if pending.lines.is_empty() && pending.closed {
                    let _ = out.flush();
                    return;
                }
                std::mem::swap(&mut pending.lines, &mut batch);
            }
            // The lines dropped while this batch waited came after it.
            let dropped = self.0.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                self.dropped_notice(dropped, &mut batch);
            }
            // Nowhere to report a failing log output to; keep serving.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
            // Not kept at the size of a backlog: a stall must not hold 2 × MAX_UNWRITTEN for good.
            batch.shrink_to(WRITE_AT);
        }
    }
}

impl LogWriter {
    /// The line that says how many lines were lost, in the format of the others.
    fn dropped_notice(&self, dropped: u64, out: &mut Vec<u8>) {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ");
        let message = "log lines dropped: the log output did not keep up";
        let _ = if self.0.json {
            writeln!(
                out,
                r#"{{"timestamp":"{now}","level":"WARN","message":"{message}","target":"healthtracker::telemetry","dropped":{dropped}}}"#
            )
        } else {
            writeln!(out, "{now}  WARN healthtracker::telemetry: {message} dropped={dropped}")
        };
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.append(|lines| lines.extend_from_slice(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        self.clone()
    }
}

/// Writes what is left and stops the writer thread when dropped (at the end of `main`).
pub struct LogGuard {
    writer: LogWriter,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.writer.pending().closed = true;
        self.writer.0.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Installs the global subscriber; keep the guard alive for as long as logs should be written. A
/// second call (tests) installs nothing and returns `None`.
pub fn init(level: &str, format: LogFormat) -> Option<LogGuard> {
    let writer = LogWriter(Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        changed: Condvar::new(),
        dropped: AtomicU64::new(0),
        json: format == LogFormat::Json,
    }));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_writer(writer.clone());
    let installed = match format {
        // A handler's own log lines carry the request's span (its `request_id`).
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .fmt_fields(JsonSpanFields)
            .try_init(),
        LogFormat::Pretty => builder
            .compact()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init(),
    };
    installed.ok()?;
    if format == LogFormat::Json {
        let _ = JSON_ACCESS_LOG.set(writer.clone());
    }
    let thread = {
        let writer = writer.clone();
        let out = stdout_writer();
        let spawned = std::thread::Builder::new()
            .name("log-writer".to_owned())
            .spawn(move || writer.run(out));
        if let Err(error) = &spawned {
            // Loggers then drop their lines once the buffer is full (they never wait).
            eprintln!("cannot start the log writer thread ({error}); log lines will be lost");
        }
        spawned.ok()
    };
    Some(LogGuard { writer, thread })
}

/// A span's fields as the JSON object the JSON event format embeds (`"span":{…}`), written
/// directly. Every request opens a span (its `request_id`, for the lines its handler logs), and
/// tracing's own field formatter builds a map of JSON values for it first: ~2,500 instructions of a
/// ~47,000-instruction liveness probe, counted with callgrind.
struct JsonSpanFields;

impl<'writer> tracing_subscriber::fmt::FormatFields<'writer> for JsonSpanFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: tracing_subscriber::fmt::format::Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        let mut visitor = JsonObjectVisitor {
            text: String::with_capacity(64),
            empty: true,
        };
        fields.record(&mut visitor);
        visitor.text.push('}');
        if visitor.empty {
            return Ok(());
        }
        writer.write_str(&visitor.text)
    }

    fn add_fields(
        &self,
        current: &'writer mut tracing_subscriber::fmt::FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> std::fmt::Result {
        // Merges into the object already written: `{"a":1}` + b → `{"a":1,"b":2}`.
        let mut visitor = JsonObjectVisitor {
            text: current.fields.trim_end_matches('}').to_owned(),
            empty: current.fields.is_empty(),
        };
        fields.record(&mut visitor);
        visitor.text.push('}');
        current.fields = if visitor.empty { String::new() } else { visitor.text };
        Ok(())
    }
}

struct JsonObjectVisitor {
    text: String,
    empty: bool,
}

impl JsonObjectVisitor {
    fn key(&mut self, field: &tracing::field::Field) {
        self.text.push(if self.empty { '{' } else { ',' });
        self.empty = false;
        self.string(field.name());
        self.text.push(':');
    }

    fn string(&mut self, value: &str) {
        #[allow(clippy::expect_used)]
        let quoted = serde_json::to_string(value).expect("a string always serializes");
        self.text.push_str(&quoted);
    }
}

impl tracing::field::Visit for JsonObjectVisitor {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.key(field);
        self.string(value);
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.key(field);
        self.text.push_str(&value.to_string());
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.key(field);
        self.text.push_str(&value.to_string());
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.key(field);
        self.text.push_str(if value { "true" } else { "false" });
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.key(field);
        self.string(&format!("{value:?}"));
    }
}

/// Where JSON access lines go, once `init` installed JSON logging.
static JSON_ACCESS_LOG: OnceLock<LogWriter> = OnceLock::new();

/// One request's access line.
pub struct AccessLine<'a> {
    /// A 5xx: logged at ERROR, the others at INFO.
    pub error: bool,
    pub request_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub latency_ms: f64,
    pub user_id: Option<&'a str>,
}

/// Writes the access line as JSON when JSON logging is installed and the filter lets it through;
/// `false` when the caller should log it through `tracing` instead.
pub fn write_access_line(line: &AccessLine<'_>) -> bool {
    let Some(writer) = JSON_ACCESS_LOG.get() else {
        return false;
    };
    let enabled = if line.error {
        tracing::enabled!(target: "http", tracing::Level::ERROR)
    } else {
        tracing::enabled!(target: "http", tracing::Level::INFO)
    };
    if enabled {
        let now = chrono::Utc::now();
        writer.append(|lines| {
            format_access_line(line, now, lines);
            lines.push(b'\n');
        });
    }
    true
}

/// The JSON access line, written into `out` (no allocation of its own).
fn format_access_line(line: &AccessLine<'_>, now: chrono::DateTime<chrono::Utc>, out: &mut Vec<u8>) {
    use chrono::{Datelike, Timelike};
    // Writing into a Vec cannot fail; serde_json quotes and escapes the strings.
    let quoted = |out: &mut Vec<u8>, s: &str| {
        let _ = serde_json::to_writer(&mut *out, s);
    };
    let _ = write!(
        out,
        r#"{{"timestamp":"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z","level":"{}""#,
        now.year(),
        now.month(),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.timestamp_subsec_micros().min(999_999),
        if line.error { "ERROR" } else { "INFO" }
    );
    out.extend_from_slice(br#","message":"request","target":"http","request_id":"#);
    quoted(out, line.request_id);
    out.extend_from_slice(br#","method":"#);
    quoted(out, line.method);
    out.extend_from_slice(br#","path":"#);
    quoted(out, line.path);
    let _ = write!(out, r#","status":{},"latency_ms":"#, line.status);
    let _ = serde_json::to_writer(&mut *out, &line.latency_ms);
    if let Some(user_id) = line.user_id {
        out.extend_from_slice(br#","user_id":"#);
        quoted(out, user_id);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_lines_are_json_objects() {
        let line = AccessLine {
            error: false,
            request_id: "abc\"123",
            method: "GET",
            path: "/api/entries/\u{1b}[31m",
            status: 200,
            latency_ms: 1.25,
            user_id: Some("6745c0ffee0ddba11deadbee"),
        };
        let mut text = Vec::new();
        format_access_line(&line, chrono::Utc::now(), &mut text);
        let parsed: serde_json::Value = serde_json::from_slice(&text).expect("valid JSON");
        assert_eq!(parsed["level"], "INFO");
        assert_eq!(parsed["message"], "request");
        assert_eq!(parsed["request_id"], "abc\"123");
        assert_eq!(parsed["path"], "/api/entries/\u{1b}[31m");
        assert_eq!(parsed["status"], 200);
        assert_eq!(parsed["latency_ms"], 1.25);
        assert_eq!(parsed["user_id"], "6745c0ffee0ddba11deadbee");
        let mut anonymous = Vec::new();
        format_access_line(
            &AccessLine {
                user_id: None,
                error: true,
                ..line
            },
            chrono::Utc::now(),
            &mut anonymous,
        );
        let parsed: serde_json::Value = serde_json::from_slice(&anonymous).expect("valid JSON");
        assert_eq!(parsed["level"], "ERROR");
        assert!(parsed.get("user_id").is_none());
    }

    #[test]
    fn every_line_reaches_the_output_whole_and_in_order() {
        let writer = new_writer();
        let out = Arc::new(Mutex::new(Vec::new()));
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("sink").extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let thread = {
            let (writer, sink) = (writer.clone(), Sink(Arc::clone(&out)));
            std::thread::spawn(move || writer.run(Box::new(sink)))
        };
        let loggers: Vec<_> = (0..4)
            .map(|t| {
                let mut writer = writer.clone();
                std::thread::spawn(move || {
                    for n in 0..5_000 {
                        writer.write_all(format!("{t} {n}\n").as_bytes()).expect("write");
                    }
                })
            })
            .collect();
        for logger in loggers {
            logger.join().expect("logger");
        }
        drop(LogGuard {
            writer,
            thread: Some(thread),
        });
        let text = String::from_utf8(out.lock().expect("sink").clone()).expect("utf-8");
        let mut next = [0u32; 4];
        for line in text.lines() {
            let (t, n) = line.split_once(' ').expect("a whole line");
            let (t, n): (usize, u32) = (t.parse().expect("thread"), n.parse().expect("number"));
            assert_eq!(n, next[t], "thread {t}'s lines out of order");
            next[t] += 1;
        }
        assert_eq!(next, [5_000; 4]);
    }

    fn new_writer() -> LogWriter {
        LogWriter(Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            changed: Condvar::new(),
            dropped: AtomicU64::new(0),
            json: true,
        }))
    }

    /// Runs `log` on a thread of its own; `Some(elapsed)` if it returned within `patience`, `None`
    /// when it was still blocked (the thread is then left behind).
    fn returns_within(patience: Duration, log: impl FnOnce() + Send + 'static) -> Option<Duration> {
        let (done, finished) = std::sync::mpsc::channel();
        let started = std::time::Instant::now();
        std::thread::spawn(move || {
            log();
            let _ = done.send(());
        });
        finished.recv_timeout(patience).ok().map(|()| started.elapsed())
    }

    /// 20 MiB of 100-byte lines, more than the buffer holds.
    fn log_20_mib(mut writer: LogWriter) {
        let line = format!("{}\n", "x".repeat(99));
        for _ in 0..(20 * 1024 * 1024 / line.len()) {
            let _ = writer.write_all(line.as_bytes());
        }
    }

    #[test]
    fn without_a_writer_thread_logging_drops_and_counts_lines_instead_of_blocking() {
        // The thread that should write the buffer out never started.
        let writer = new_writer();
        let logger = writer.clone();
        let returned = returns_within(Duration::from_secs(20), move || log_20_mib(logger));
        assert!(
            returned.is_some(),
            "a logger blocked for good once 8 MiB were unwritten"
        );
        // At most one line beyond the cap.
        assert!(
            writer.pending().lines.len() < MAX_UNWRITTEN + 1024,
            "the buffer grew past its cap"
        );
        let dropped = writer.0.dropped.load(Ordering::Relaxed);
        assert!(dropped > 100_000, "{dropped} lines counted as dropped");
    }

    /// An output whose `write` blocks until it is opened (a stalled terminal or pipe).
    struct Stalled {
        open: Arc<(Mutex<bool>, Condvar)>,
        out: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (open, opened) = &*self.open;
            let mut is_open = open.lock().expect("gate");
            while !*is_open {
                is_open = opened.wait(is_open).expect("gate");
            }
            self.out.lock().expect("sink").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_output_never_blocks_loggers_and_the_drop_is_reported_once_it_moves() {
        let writer = new_writer();
        let open = Arc::new((Mutex::new(false), Condvar::new()));
        let out = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let sink = Stalled {
                open: Arc::clone(&open),
                out: Arc::clone(&out),
            };
            let writer = writer.clone();
            std::thread::spawn(move || writer.run(Box::new(sink)))
        };
        let logger = writer.clone();
        let returned = returns_within(Duration::from_secs(20), move || log_20_mib(logger));
        let dropped = writer.0.dropped.load(Ordering::Relaxed);
        println!("FIGURES stalled output: 20 MiB of log lines returned after {returned:?}, {dropped} lines dropped");
        assert!(returned.is_some(), "loggers blocked behind a stalled output");
        assert!(dropped > 0, "nothing counted as dropped");
        // The output moves again: what was kept is written, then a line saying how many were lost.
        {
            let (is_open, opened) = &*open;
            *is_open.lock().expect("gate") = true;
            opened.notify_all();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !writer.pending().lines.is_empty() {
            assert!(std::time::Instant::now() < deadline, "the output did not catch up");
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut logger = writer.clone();
        logger.write_all(b"after\n").expect("write");
        drop(LogGuard {
            writer,
            thread: Some(thread),
        });
        let text = String::from_utf8(out.lock().expect("sink").clone()).expect("utf-8");
        let notice = text
            .lines()
            .find(|line| line.contains("log lines dropped"))
            .expect("a line reporting the dropped lines");
        let notice: serde_json::Value = serde_json::from_str(notice).expect("the notice is a JSON line");
        assert_eq!(notice["level"], "WARN");
        assert!(notice["dropped"].as_u64().is_some_and(|n| n > 0), "{notice}");
        assert!(text.ends_with("after\n"), "the line logged after the stall was lost");
    }
}
