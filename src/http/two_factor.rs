//! `/auth/2fa/*` and `/auth/login/2fa`: two-factor login (TOTP) — setup, enabling, disabling, and
//! the login's second step. A personal token never reaches them: the route rules
//! (`http::scopes`, `AccountOnly`) refuse it in the `AuthUser` extractor.

use axum::Json;
use axum::extract::State;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::SessionResponse;
use super::envelope::{ErrorBody, MessageResponse, Success};
use super::error::{ApiError, ApiResult};
use super::extract::{AuthUser, ClientInfo, JsonBody};
use crate::auth::two_factor::SecondFactor;
use crate::state::AppState;

/// The routes of an authenticated caller.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(setup))
        .routes(routes!(enable))
        .routes(routes!(disable))
}

/// The login's second step: limited per client IP like login itself.
pub fn limited_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login_second_step))
}

/// The answer of a password login when the account has two-factor login on: no token yet.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeResponse {
    status: Success,
    /// Always `true`.
    two_factor_required: bool,
    /// For POST /auth/login/2fa: lives five minutes, works once, authenticates nothing else.
    challenge_token: String,
}

impl ChallengeResponse {
    pub fn new(challenge_token: String) -> Self {
        Self {
            status: Success::Success,
            two_factor_required: true,
            challenge_token,
        }
    }
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PasswordRequest {
    /// The account's password.
    password: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CodeRequest {
    /// The current code from the authenticator app.
    #[schema(pattern = "^[0-9]{6}$", example = "123456")]
    code: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(as = DisableTwoFactorRequest)]
pub struct DisableRequest {
    password: String,
    /// The current code (or send `recoveryCode` instead).
    #[schema(pattern = "^[0-9]{6}$", example = "123456")]
    code: Option<String>,
    #[schema(rename = "recoveryCode")]
    recovery_code: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SecondStepRequest {
    /// From the password login's answer.
    #[schema(rename = "challengeToken")]
    challenge_token: String,
    /// The current code from the authenticator app…
    #[schema(pattern = "^[0-9]{6}$", example = "123456")]
    code: Option<String>,
    /// …or an unused recovery code (each works once).
    #[schema(rename = "recoveryCode")]
    recovery_code: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupResponse {
    status: Success,
    /// Base32, for typing into the app.
    secret: String,
    /// `otpauth://totp/…` for the app (as a link or a QR code).
    otpauth_url: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnabledResponse {
    status: Success,
    message: &'static str,
    /// Ten codes, shown this once (stored hashed); each logs in once instead of a code.
    recovery_codes: Vec<String>,
}

/// A required string field of the body, or 400 naming it.
fn required<'a>(body: &'a Value, name: &'static str) -> ApiResult<&'a str> {
    match body.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(ApiError::BadRequest(format!("{name} is required").into())),
    }
}

/// Start setting up two-factor login, given the password: a secret for the authenticator app. Not
/// on until POST /auth/2fa/enable sees a code from the app.
#[utoipa::path(
    post, path = "/auth/2fa/setup", tag = "two-factor",
    request_body = PasswordRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The secret and its otpauth URL", body = SetupResponse),
        (status = 400, description = "Wrong or no password", body = ErrorBody,
            example = json!({"status": "error", "message": "Password is incorrect"})),
        (status = 409, description = "Two-factor login is already on", body = ErrorBody,
            example = json!({"status": "error", "message": "Two-factor login is already on"})),
        (status = 429, description = "Too many wrong passwords for this account", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many failed login attempts for this account, please try again later."})),
    )
)]
async fn setup(
    State(state): State<AppState>,
    caller: AuthUser,
    ClientInfo(client): ClientInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<SetupResponse>> {
    let password = SecretString::from(required(&body, "password")?.to_owned());
    let setup = state.accounts.setup_two_factor(&caller, &password, &client).await?;
    Ok(Json(SetupResponse {
        status: Success::Success,
        secret: setup.secret,
        otpauth_url: setup.otpauth_url,
    }))
}

/// Turn two-factor login on with a code from the app; the answer carries the recovery codes, once.
#[utoipa::path(
    post, path = "/auth/2fa/enable", tag = "two-factor",
    request_body = CodeRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "On; the recovery codes", body = EnabledResponse),
        (status = 400, description = "No or wrong code (a wrong code counts as a failed login), or no setup", body = ErrorBody,
            example = json!({"status": "error", "message": "Invalid two-factor code"})),
        (status = 409, description = "Two-factor login is already on", body = ErrorBody,
            example = json!({"status": "error", "message": "Two-factor login is already on"})),
        (status = 429, description = "Too many failed attempts for this account", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many failed login attempts for this account, please try again later."})),
    )
)]
async fn enable(
    State(state): State<AppState>,
    caller: AuthUser,
    ClientInfo(client): ClientInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<EnabledResponse>> {
    let Some(SecondFactor::Code(code)) = SecondFactor::from_body(&body) else {
        return Err(ApiError::BadRequest("code is required".into()));
    };
    let recovery_codes = state.accounts.enable_two_factor(&caller, &code, &client).await?;
    Ok(Json(EnabledResponse {
        status: Success::Success,
        message: "Two-factor login enabled",
        recovery_codes,
    }))
}

/// Turn two-factor login off, given the password and a current code (or a recovery code).
#[utoipa::path(
    post, path = "/auth/2fa/disable", tag = "two-factor",
    request_body = DisableRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Off", body = MessageResponse),
        (status = 400, description = "Wrong password, no or wrong code, or two-factor login is not on", body = ErrorBody,
            example = json!({"status": "error", "message": "Invalid two-factor code"})),
        (status = 429, description = "Too many failed attempts for this account", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many failed login attempts for this account, please try again later."})),
    )
)]
async fn disable(
    State(state): State<AppState>,
    caller: AuthUser,
    ClientInfo(client): ClientInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<MessageResponse>> {
    let password = SecretString::from(required(&body, "password")?.to_owned());
    let second = SecondFactor::from_body(&body);
    state
        .accounts
        .disable_two_factor(&caller, &password, second.as_ref(), &client)
        .await?;
    Ok(Json(MessageResponse::new("Two-factor login disabled")))
}

/// The second step of a login with two-factor login on: the challenge from POST /auth/login and a
/// current code (accepted once) or a recovery code (once ever). Wrong codes count as failed logins.
#[utoipa::path(
    post, path = "/auth/login/2fa", tag = "auth",
    request_body = SecondStepRequest,
    responses(
        (status = 200, description = "Logged in", body = SessionResponse),
        (status = 400, description = "No or wrong code, or a challenge that is unknown, expired (5 minutes) or used", body = ErrorBody,
            example = json!({"status": "error", "message": "Invalid two-factor code"})),
        (status = 403, description = "The account was disabled", body = ErrorBody,
            example = json!({"status": "error", "message": "Account disabled"})),
        (status = 429, description = "Too many failed attempts for this account, or too many requests from this IP", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many failed login attempts for this account, please try again later."})),
    )
)]
async fn login_second_step(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<SessionResponse>> {
    let challenge = required(&body, "challengeToken")?;
    let second =
        SecondFactor::from_body(&body).ok_or(ApiError::BadRequest("code or recoveryCode is required".into()))?;
    let logged_in = state.accounts.login_second_step(challenge, &second, &client).await?;
    Ok(Json(SessionResponse::new("Login successful", logged_in)))
}
