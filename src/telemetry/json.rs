//! JSON lines written directly: a span's fields, and the per-request access line.

use std::io::Write;
use std::sync::OnceLock;

use super::writer::LogWriter;

/// ~47,000-instruction liveness probe, counted with callgrind.
/// A span's fields as the JSON object the JSON event format embeds (`"span":{…}`), written
/// directly. Every request opens a span (its `request_id`, for the lines its handler logs), and
/// tracing's own field formatter builds a map of JSON values for it first: ~2,500 instructions of a
/// ~47,000-instruction liveness probe, counted with callgrind.
pub(super) struct JsonSpanFields;

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
pub(super) static JSON_ACCESS_LOG: OnceLock<LogWriter> = OnceLock::new();

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
}
