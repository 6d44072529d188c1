//! `/auth`: register, login, refresh, logout.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{ErrorBody, MessageResponse, Success};
use super::error::{ApiError, ApiResult, too_many_requests, write_rate_limit_headers};
use super::extract::{AuthUser, ClientInfo, ClientIp, JsonBody};
use super::openapi::{LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest};
use crate::auth::LoggedIn;
use crate::auth::two_factor::LoginOutcome;
use crate::domain::ids::UserId;
use crate::domain::user::{Credentials, Registration};
use crate::domain::validation::body_object;
use crate::state::AppState;

pub fn routes(state: &AppState) -> OpenApiRouter<AppState> {
    let limited = OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .merge(super::two_factor::limited_routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_by_ip));
    OpenApiRouter::new().merge(limited).routes(routes!(logout))
}

/// Register, login and refresh are limited per client IP (`RATE_LIMIT_MAX_REQUESTS` per
/// `RATE_LIMIT_WINDOW_MS`), with `RateLimit-*` headers on every answer.
async fn limit_by_ip(State(state): State<AppState>, ClientIp(ip): ClientIp, request: Request, next: Next) -> Response {
    let decision = state.auth_limiter.hit(&ip.to_string()).await;
    if !decision.allowed {
        return too_many_requests(
            decision,
            "Too many requests from this IP, please try again later.",
            true,
        )
        .into_response();
    }
    let mut response = next.run(request).await;
    write_rate_limit_headers(&decision.info, response.headers_mut());
    response
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$", example = "6745c0ffee0ddba11deadbee")]
    pub id: UserId,
    pub name: String,
    pub email: String,
}

/// A successful register or login. `token` repeats `accessToken` for the existing frontend, which
/// reads `token` and `user`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    pub status: Success,
    pub message: String,
    /// HS256 JWT, valid 15 minutes.
    pub access_token: String,
    /// HS256 JWT, valid 7 days; exchange it at /auth/refresh.
    pub refresh_token: String,
    /// The same as `accessToken` (legacy field).
    pub token: String,
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$")]
    pub user_id: UserId,
    pub user: UserView,
}

impl SessionResponse {
    pub(super) fn new(message: &str, LoggedIn { user, tokens }: LoggedIn) -> Self {
        Self {
            status: Success::Success,
            message: message.to_owned(),
            token: tokens.access.token.clone(),
            access_token: tokens.access.token,
            refresh_token: tokens.refresh,
            user_id: user.id,
            user: UserView {
                id: user.id,
                name: user.name.as_str().to_owned(),
                email: user.email.as_str().to_owned(),
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshResponse {
    pub status: Success,
    pub access_token: String,
    /// The same as `accessToken` (legacy field).
    pub token: String,
    /// A new refresh token (the presented one stops working), or the same one when rotation is off.
    pub refresh_token: String,
}

/// Register a new account and log it in.
#[utoipa::path(
    post, path = "/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered and logged in", body = SessionResponse),
        (status = 400, description = "Validation failed (every failing field in `details`), malformed JSON, or (REGISTRATION=invite) no usable `inviteCode`: `A valid invite code is required`", body = ErrorBody,
            example = json!({"status": "error", "message": "Password must contain at least one uppercase letter, one lowercase letter, and one number", "details": [{"path": "password", "msg": "Password must contain at least one uppercase letter, one lowercase letter, and one number"}]})),
        (status = 403, description = "REGISTRATION=closed", body = ErrorBody,
            example = json!({"status": "error", "message": "Registration is closed"})),
        (status = 409, description = "The e-mail is taken", body = ErrorBody,
            example = json!({"status": "error", "message": "User already exists"})),
        (status = 429, description = "Too many requests from this IP", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many requests from this IP, please try again later."})),
    )
)]
async fn register(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<SessionResponse>)> {
    // On the blocking pool: the password's strength estimate (zxcvbn) takes milliseconds for a long
    // one, which the async workers serving everyone else should not spend.
    let invite = match body.get("inviteCode") {
        Some(Value::String(code)) if !code.trim().is_empty() => Some(code.trim().to_owned()),
        _ => None,
    };
    let registration = tokio::task::spawn_blocking(move || Registration::parse(&body))
        .await
        .map_err(|error| ApiError::Internal(error.into()))?
        .map_err(ApiError::Validation)?;
    let logged_in = state
        .accounts
        .register(registration, invite.as_deref(), &client)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionResponse::new("User registered successfully", logged_in)),
    ))
}

/// Log in.
///
/// A wrong password and an unknown e-mail get the same 400 (not 401: the existing frontend treats
/// any 401 as "session over"). Failed logins are throttled per e-mail and client address, and per
/// e-mail across all addresses at a much higher count.
#[utoipa::path(
    post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; or, for an account with two-factor login, `{status, twoFactorRequired: true, challengeToken}` (no tokens: send the challenge with a code to POST /auth/login/2fa)", body = SessionResponse),
        (status = 400, description = "Validation failed, or `Invalid credentials`", body = ErrorBody,
            example = json!({"status": "error", "message": "Invalid credentials"})),
        (status = 403, description = "The right password of an account an administrator disabled", body = ErrorBody,
            example = json!({"status": "error", "message": "Account disabled"})),
        (status = 429, description = "Too many requests from this IP, or too many failed logins for this e-mail", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many failed login attempts for this account, please try again later."})),
    )
)]
async fn login(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let credentials = Credentials::parse(&body).map_err(ApiError::Validation)?;
    Ok(match state.accounts.login(credentials, &client).await? {
        LoginOutcome::LoggedIn(logged_in) => Json(SessionResponse::new("Login successful", logged_in)).into_response(),
        LoginOutcome::TwoFactorRequired { challenge } => {
            Json(super::two_factor::ChallengeResponse::new(challenge)).into_response()
        }
    })
}

/// Reads an optional `refreshToken` string from a body that must be a JSON object.
fn refresh_token_field(body: &Value) -> ApiResult<Option<&str>> {
    let object = body_object(body).map_err(ApiError::Validation)?;
    match object.get("refreshToken") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::BadRequest("refreshToken must be a string".into())),
    }
}

/// Exchange a refresh token for a new access token (and, with rotation, a new refresh token).
///
/// Presenting a refresh token that was already exchanged revokes every token descended from the
/// same login (theft detection).
#[utoipa::path(
    post, path = "/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = RefreshResponse),
        (status = 400, description = "No refresh token in the body", body = ErrorBody,
            example = json!({"status": "error", "message": "Refresh token is required"})),
        (status = 401, description = "Invalid, expired, revoked or not a refresh token", body = ErrorBody,
            example = json!({"status": "error", "message": "Invalid or expired refresh token"})),
        (status = 429, description = "Too many requests from this IP", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many requests from this IP, please try again later."})),
    )
)]
async fn refresh(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<RefreshResponse>> {
    let token = refresh_token_field(&body)?.ok_or(ApiError::BadRequest("Refresh token is required".into()))?;
    let tokens = state.accounts.refresh(token, &client).await?;
    Ok(Json(RefreshResponse {
        status: Success::Success,
        token: tokens.access.token.clone(),
        access_token: tokens.access.token,
        refresh_token: tokens.refresh,
    }))
}

/// Log out: the access token used for this call stops working at once, on every instance; so does
/// the given refresh token (or all of the caller's refresh tokens when none is given).
#[utoipa::path(
    post, path = "/auth/logout", tag = "auth",
    request_body(content = Option<LogoutRequest>, description = "Optional"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Logged out", body = MessageResponse),
        (status = 400, description = "Malformed body", body = ErrorBody,
            example = json!({"status": "error", "message": "Malformed JSON in request body: expected value at line 1 column 1"})),
    )
)]
async fn logout(
    State(state): State<AppState>,
    caller: AuthUser,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<MessageResponse>> {
    let refresh_token = refresh_token_field(&body)?;
    state.accounts.logout(&caller.0, refresh_token).await?;
    Ok(Json(MessageResponse::new("Logged out successfully")))
}
