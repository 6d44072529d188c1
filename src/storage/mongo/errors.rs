//! What a driver error means for the API: sorted by the server's numeric code, never by message
//! text (servers and stand-ins word them differently), and scrubbed of the connection string's
//! password before anything prints it.

use mongodb::error::{Error as DriverError, ErrorKind, WriteFailure};
use secrecy::{ExposeSecret, SecretString};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// E11000: a unique index refused the write.
    Duplicate,
    /// No server could be reached: opens the circuit breaker.
    Unreachable,
    /// The server answered but cannot serve right now (primary stepped down, shutting down…).
    Transient,
    Other,
}

const DUPLICATE_KEY: i32 = 11000;
/// Legacy duplicate-key codes some server versions still send from updates and index builds.
const DUPLICATE_KEY_LEGACY: [i32; 2] = [11001, 12582];
/// Server codes that mean "try again later", not "your request is wrong": HostUnreachable,
/// HostNotFound, NetworkTimeout, ShutdownInProgress, PrimarySteppedDown, ExceededTimeLimit,
/// SocketException, NotWritablePrimary, InterruptedAtShutdown, InterruptedDueToReplStateChange,
/// NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary.
const TRANSIENT_CODES: [i32; 12] = [6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436];

/// The server's error code, wherever the driver put it (it has no public accessor).
pub fn error_code(error: &DriverError) -> Option<i32> {
    match error.kind.as_ref() {
        ErrorKind::Command(e) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteError(e)) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(e)) => Some(e.code),
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()
            .and_then(|errors| errors.first())
            .map(|e| e.code)
            .or_else(|| e.write_concern_error.as_ref().map(|e| e.code)),
        ErrorKind::BulkWrite(e) => e
            .write_errors
            .values()
            .next()
            .map(|e| e.code)
            .or_else(|| e.write_concern_errors.first().map(|e| e.code)),
        _ => None,
    }
}

/// The server's own words and code, without the driver's dump of the raw reply.
pub(crate) fn error_summary(error: &DriverError) -> String {
    match error.kind.as_ref() {
        ErrorKind::Command(e) => format!("{} (code {})", e.message, e.code),
        ErrorKind::Write(WriteFailure::WriteError(e)) => format!("{} (code {})", e.message, e.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(e)) => format!("{} (code {})", e.message, e.code),
        _ => error.to_string(),
    }
}

/// By numeric code, never by message text (servers and stand-ins word them differently).
pub fn classify_error(error: &DriverError) -> ErrorClass {
    let duplicate = |code: i32| code == DUPLICATE_KEY || DUPLICATE_KEY_LEGACY.contains(&code);
    match error.kind.as_ref() {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. } => ErrorClass::Unreachable,
        ErrorKind::InsertMany(e) if e.write_errors.iter().flatten().any(|w| duplicate(w.code)) => ErrorClass::Duplicate,
        ErrorKind::BulkWrite(e) if e.write_errors.values().any(|w| duplicate(w.code)) => ErrorClass::Duplicate,
        ErrorKind::Write(WriteFailure::WriteConcernError(_)) => ErrorClass::Transient,
        _ => match error_code(error) {
            Some(code) if duplicate(code) => ErrorClass::Duplicate,
            Some(code) if TRANSIENT_CODES.contains(&code) => ErrorClass::Transient,
            _ if error.contains_label("RetryableWriteError") => ErrorClass::Transient,
            _ => ErrorClass::Other,
        },
    }
}

/// A driver message with the connection string's password (should it quote it) replaced.
pub(crate) fn scrub(message: String, url: &SecretString) -> String {
    crate::config::redact_url_password(&message, url.expose_secret())
}
