//! Logging: structured JSON lines in production, compact human-readable lines in development.
//! `LOG_LEVEL` sets our level; `RUST_LOG`, when set, overrides everything (standard filter syntax).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Dependencies that are chatty at `info`.
const QUIET_DEPENDENCIES: &str = "sqlx=warn,hyper=warn,hyper_util=warn,h2=warn,tower=warn,reqwest=warn,mongodb=warn";

pub fn filter(level: &str) -> EnvFilter {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("{level},{QUIET_DEPENDENCIES}")))
}

/// Installs the global subscriber. A second call (tests) is harmless.
pub fn init(level: &str, format: LogFormat) {
    let builder = tracing_subscriber::fmt().with_env_filter(filter(level));
    let _ = match format {
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
}
