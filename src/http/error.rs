//! The one error type handlers return, and the one place errors become HTTP responses: every error
//! is JSON in the envelope API.md describes (`{status:"error", message, details?, errorId?}`).
//! Server-side failures get an `errorId` that is also in their one log line, and never show
//! internal text. The other layers' errors (`AuthError`, `StoreError`) and a rate limiter's refusal
//! are mapped here, so handlers just use `?`.

use std::borrow::Cow;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::AuthError;
use crate::domain::validation::FieldError;
use crate::ratelimit::{Decision, RateLimitInfo};
use crate::storage::StoreError;

/// `RateLimit-Limit/-Remaining/-Reset` (IETF draft 6, what express-rate-limit sends).
pub fn write_rate_limit_headers(info: &RateLimitInfo, headers: &mut HeaderMap) {
    let reset = info.reset_after.as_secs_f64().ceil() as u64;
    headers.insert("ratelimit-limit", HeaderValue::from(info.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(info.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(reset));
}

/// The 429 for a request a limiter refused: `Retry-After` always, `RateLimit-*` when `with_headers`.
pub fn too_many_requests(decision: Decision, message: &'static str, with_headers: bool) -> ApiError {
    ApiError::TooManyRequests {
        message,
        retry_after: decision.info.reset_after,
        limit: with_headers.then_some(decision.info),
    }
}

/// The 415 of a route that takes a JSON body.
pub const JSON_ONLY: &str = "Content-Type must be application/json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Authenticated, but not allowed (a personal token outside its scopes, an account route).
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(&'static str),
    #[error("request body too large")]
    PayloadTooLarge,
    /// 415: the message names what the route takes ([`JSON_ONLY`] for a JSON body).
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("{message}")]
    TooManyRequests {
        message: &'static str,
        retry_after: Duration,
        limit: Option<RateLimitInfo>,
    },
    #[error("{0}")]
    BadGateway(&'static str),
    #[error("{0}")]
    ServiceUnavailable(&'static str),
    /// The database cannot serve (the reason is logged with the response's error id).
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    /// A part the operator left out (the AI provider): said once at start-up, so answered quietly.
    #[error("{0}")]
    NotConfigured(&'static str),
    /// `REQUEST_TIMEOUT_SECS` passed before the handler answered.
    #[error("request timed out")]
    RequestTimedOut,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            // Handlers that can conflict map this to their own message first; reaching here means an
            // unexpected uniqueness clash.
            StoreError::Conflict => ApiError::Conflict("Resource already exists"),
            // A write that came in just as its account was deleted: the caller's token is now one
            // of a user that does not exist.
            StoreError::NoSuchUser => ApiError::Unauthorized("Invalid or expired token"),
            StoreError::Unavailable(reason) => ApiError::DatabaseUnavailable(reason),
            StoreError::Other(e) => ApiError::Internal(e),
        }
    }
}

/// What the account rules refused, as the contract words it.
impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::EmailTaken => ApiError::Conflict("User already exists"),
            // 400, not 401: the existing frontend treats any 401 as "session over" and reloads.
            AuthError::InvalidCredentials => ApiError::BadRequest("Invalid credentials".into()),
            AuthError::LoginThrottled(info) => ApiError::TooManyRequests {
                message: "Too many failed login attempts for this account, please try again later.",
                retry_after: info.reset_after,
                limit: None,
            },
            AuthError::InvalidToken => ApiError::Unauthorized("Invalid or expired token"),
            AuthError::RevokedToken => ApiError::Unauthorized("Token has been revoked"),
            AuthError::InvalidRefreshToken => ApiError::Unauthorized("Invalid or expired refresh token"),
            AuthError::RevokedRefreshToken => ApiError::Unauthorized("Refresh token has been revoked"),
            AuthError::CurrentPasswordIncorrect => ApiError::BadRequest("Current password is incorrect".into()),
            AuthError::PasswordIncorrect => ApiError::BadRequest("Password is incorrect".into()),
            AuthError::UnknownLogin => ApiError::NotFound("Session not found"),
            AuthError::UnknownPersonalToken => ApiError::NotFound("Token not found"),
            AuthError::AccountDisabled => ApiError::Forbidden("Account disabled".into()),
            AuthError::RegistrationClosed => ApiError::Forbidden("Registration is closed".into()),
            AuthError::InviteRequired => ApiError::BadRequest("A valid invite code is required".into()),
            AuthError::InvalidChallenge => {
                ApiError::BadRequest("Login challenge is invalid or expired; please log in again".into())
            }
            AuthError::InvalidTwoFactorCode => ApiError::BadRequest("Invalid two-factor code".into()),
            AuthError::TwoFactorCodeRequired => ApiError::BadRequest(
                "Two-factor code required: send `code` from your authenticator app (or `recoveryCode`)".into(),
            ),
            AuthError::TwoFactorAlreadyOn => ApiError::Conflict("Two-factor login is already on"),
            AuthError::TwoFactorNotSetUp => ApiError::BadRequest("Set up two-factor login first".into()),
            AuthError::TwoFactorNotOn => ApiError::BadRequest("Two-factor login is not on".into()),
            AuthError::AdminRequired => ApiError::Forbidden("Admin access required".into()),
            AuthError::LastAdmin => ApiError::Conflict(
                "The last administrator cannot be disabled, demoted or deleted; make another administrator first",
            ),
            AuthError::UnknownUser => ApiError::NotFound("User not found"),
            AuthError::UnknownInvite => ApiError::NotFound("Invite not found"),
            AuthError::Store(error) => error.into(),
            AuthError::Internal(error) => ApiError::Internal(error),
        }
    }
}

/// Marks a 5xx that is the configured state of the server rather than a failure (its access line is
/// not logged as an error).
#[derive(Clone, Copy, Debug)]
pub struct Expected;

/// A short random id that ties a 5xx response to its log line.
pub fn new_error_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// The error envelope.
pub fn error_body(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "status": "error", "message": message }))).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message): (StatusCode, Cow<'static, str>) = match &self {
            ApiError::Validation(details) => {
                // The existing frontend shows only `message`: it names the first failing rule, so a
                // person reads what to change ("Password is too easy to guess …"), not just that
                // something failed. `details` still lists every field.
                let message = details.first().map_or("Validation failed", |first| first.msg.as_str());
                let body = json!({ "status": "error", "message": message, "details": details });
                return (StatusCode::BAD_REQUEST, Json(body)).into_response();
            }
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, Cow::Borrowed(*m)),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, Cow::Borrowed(*m)),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "Method not allowed".into()),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, Cow::Borrowed(*m)),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Request body too large".into()),
            ApiError::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, Cow::Borrowed(*m)),
            ApiError::TooManyRequests {
                message,
                retry_after,
                limit,
            } => {
                let mut response = error_body(StatusCode::TOO_MANY_REQUESTS, message);
                let headers = response.headers_mut();
                let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
                if let Some(limit) = limit {
                    write_rate_limit_headers(limit, headers);
                }
                return response;
            }
            ApiError::BadGateway(m) => (StatusCode::BAD_GATEWAY, Cow::Borrowed(*m)),
            ApiError::ServiceUnavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, Cow::Borrowed(*m)),
            ApiError::DatabaseUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "Database unavailable".into()),
            ApiError::NotConfigured(m) => (StatusCode::SERVICE_UNAVAILABLE, Cow::Borrowed(*m)),
            ApiError::RequestTimedOut => (StatusCode::SERVICE_UNAVAILABLE, "Request timed out".into()),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error".into()),
        };

        if status.is_server_error() {
            let error_id = new_error_id();
            match &self {
                ApiError::Internal(e) => {
                    tracing::error!(error_id = %error_id, error = format!("{e:#}"), "request failed")
                }
                ApiError::NotConfigured(_) => {
                    tracing::debug!(error_id = %error_id, error = %self, "request could not be served")
                }
                other => tracing::warn!(error_id = %error_id, error = %other, "request could not be served"),
            }
            let body = json!({ "status": "error", "message": message, "errorId": error_id });
            let mut response = (status, Json(body)).into_response();
            if matches!(self, ApiError::NotConfigured(_)) {
                response.extensions_mut().insert(Expected);
            }
            return response;
        }
        error_body(status, &message)
    }
}
