//! Logging: structured JSON lines in production, compact human-readable lines in development.
//! `LOG_LEVEL` sets our level; `RUST_LOG`, when set, overrides everything (standard filter syntax).
//!
//! Lines are handed to a writer thread and written in batches: a request never waits for the
//! terminal or the log file. None is dropped (a full queue makes the logger wait instead), and the
//! guard returned by [`init`] flushes what is queued when the process ends.

use std::io::{BufWriter, Write};
use std::os::fd::AsFd;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Dependencies that are chatty at `info`.
const QUIET_DEPENDENCIES: &str = "hyper=warn,hyper_util=warn,h2=warn,tower=warn,reqwest=warn,mongodb=warn";

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

/// Installs the global subscriber; keep the guard alive for as long as logs should be written. A
/// second call (tests) installs nothing and returns `None`.
pub fn init(level: &str, format: LogFormat) -> Option<WorkerGuard> {
    let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(stdout_writer());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_writer(writer);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder
            .compact()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init(),
    };
    installed.ok().map(|()| guard)
}
