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

mod json;
mod writer;

pub use self::json::{AccessLine, write_access_line};
use self::json::{JSON_ACCESS_LOG, JsonSpanFields};
pub use self::writer::LogWriter;
use self::writer::stdout_writer;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Dependencies that are chatty at `info`.
// rmcp (`POST /mcp`): an info line per stateless request, and at debug every tool's arguments and
// result, which are the user's health data.
const QUIET_DEPENDENCIES: &str = "hyper=warn,hyper_util=warn,h2=warn,tower=warn,reqwest=warn,mongodb=warn,rmcp=warn";
pub fn filter(level: &str) -> EnvFilter {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("{level},{QUIET_DEPENDENCIES}")))
}

/// Writes what is left and stops the writer thread when dropped (at the end of `main`).
pub struct LogGuard {
    writer: LogWriter,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.writer.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Installs the global subscriber; keep the guard alive for as long as logs should be written. A
/// second call (tests) installs nothing and returns `None`.
pub fn init(level: &str, format: LogFormat) -> Option<LogGuard> {
    let writer = LogWriter::new(format == LogFormat::Json);
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
