//! Logging: structured JSON lines in production, compact human-readable lines in development.
//! `LOG_LEVEL` sets our level; `RUST_LOG`, when set, overrides everything (standard filter syntax).
//!
//! Every line is appended to one shared buffer ([`LogWriter`]) and a thread of its own writes the
//! buffer out a few milliseconds later, many lines per `write`: a request never waits for the
//! terminal or the log file, and costs no channel message, no wake-up of another thread and no
//! copy of its line (tracing-appender's channel did all three per line: a quarter of the CPU of a
//! liveness probe, BENCHMARKS.md). None is dropped: a buffer the disk cannot keep up with makes the
//! loggers wait. The guard returned by [`init`] writes what is left when the process ends.
//!
//! The per-request access line is the one log line every request writes. In JSON it is formatted
//! here, directly into the buffer, in the same shape as every other line: tracing's general-purpose
//! JSON formatter cost ~20% of the CPU of a cheap request. It still obeys the filter.

use std::io::{BufWriter, Write};
use std::os::fd::AsFd;
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
/// Loggers wait while this much is still unwritten (a disk that cannot keep up).
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
    /// The writer thread waits here for lines; loggers wait here for room.
    changed: Condvar,
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

    /// Appends what `line` writes, as one piece.
    fn append(&self, line: impl FnOnce(&mut Vec<u8>)) {
        let mut pending = self.pending();
        while pending.lines.len() >= MAX_UNWRITTEN && !pending.closed {
            pending = self
                .0
                .changed
                .wait(pending)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
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
            self.0.changed.notify_all();
            // Nowhere to report a failing log output to; keep serving.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
        }
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
        std::thread::Builder::new()
            .name("log-writer".to_owned())
            .spawn(move || writer.run(out))
            .ok()
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
        let writer = LogWriter(Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            changed: Condvar::new(),
        }));
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
}
