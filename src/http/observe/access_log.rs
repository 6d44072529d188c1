//! The one access line per request. Never bodies, query strings or headers, so no password or
//! token reaches the log.

/// The request path for the log, cut at 200 bytes.
pub(super) fn loggable_path(path: &str) -> String {
    if path.len() <= 200 {
        return path.to_owned();
    }
    let mut cut = 200;
    while !path.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &path[..cut])
}

/// The one line per request: written directly as JSON in production, through `tracing` otherwise.
pub(super) fn log_access(access: &crate::telemetry::AccessLine<'_>) {
    if crate::telemetry::write_access_line(access) {
        return;
    }
    macro_rules! log {
        ($level:ident) => {
            tracing::$level!(
                target: "http",
                request_id = %access.request_id,
                method = %access.method,
                path = %access.path,
                status = access.status,
                latency_ms = access.latency_ms,
                user_id = access.user_id,
                "request"
            )
        };
    }
    if access.error {
        log!(error);
    } else {
        log!(info);
    }
}
