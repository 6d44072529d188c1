//! `/auth`: register, login, refresh, logout.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AuthUser, ClientIp, JsonBody};
use super::openapi::{
    ErrorBody, LoginRequest, LogoutRequest, MessageResponse, RefreshRequest, RegisterRequest, Success,
};
use crate::auth::password::Verdict;
use crate::auth::{self, TokenPair};
use crate::domain::ids::UserId;
use crate::domain::user::{Credentials, Registration, User};
use crate::domain::validation::NOT_AN_OBJECT;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::StoreError;

pub fn routes(state: &AppState) -> OpenApiRouter<AppState> {
    let limited = OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_by_ip));
    OpenApiRouter::new().merge(limited).routes(routes!(logout))
}

/// Register, login and refresh are limited per client IP (`RATE_LIMIT_MAX_REQUESTS` per
/// `RATE_LIMIT_WINDOW_MS`), with `RateLimit-*` headers on every answer.
async fn limit_by_ip(State(state): State<AppState>, ClientIp(ip): ClientIp, request: Request, next: Next) -> Response {
    let decision = state.auth_limiter.hit(&ip.to_string()).await;
    if !decision.allowed {
        return decision
            .reject("Too many requests from this IP, please try again later.", true)
            .into_response();
    }
    let mut response = next.run(request).await;
    decision.info.write_headers(response.headers_mut());
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
    fn new(message: &str, tokens: TokenPair, user: &User) -> Self {
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
        (status = 400, description = "Validation failed (every failing field in `details`) or malformed JSON", body = ErrorBody,
            example = json!({"status": "error", "message": "Validation failed", "details": [{"path": "password", "msg": "Password must contain at least one uppercase letter, one lowercase letter, and one number"}]})),
        (status = 409, description = "The e-mail is taken", body = ErrorBody,
            example = json!({"status": "error", "message": "User already exists"})),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 429, description = "Too many requests from this IP", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many requests from this IP, please try again later."})),
    )
)]
async fn register(
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<SessionResponse>)> {
    let registration = Registration::parse(&body).map_err(ApiError::Validation)?;
    const TAKEN: ApiError = ApiError::Conflict("User already exists");
    // Checked before hashing so a taken e-mail costs no hash; the insert still catches races.
    if state.store.user_by_email(&registration.email).await?.is_some() {
        return Err(TAKEN);
    }
    let now = Utc::now();
    let user = User {
        id: UserId::new(),
        name: registration.name,
        email: registration.email,
        password_hash: state.passwords.hash(registration.password.expose()).await?,
        created_at: now,
        updated_at: now,
    };
    match state.store.insert_user(&user).await {
        Err(StoreError::Conflict) => return Err(TAKEN),
        other => other?,
    }
    let tokens = auth::issue_tokens(&state, user.id, None).await?;
    tracing::info!(user_id = %user.id, "user registered");
    Ok((
        StatusCode::CREATED,
        Json(SessionResponse::new("User registered successfully", tokens, &user)),
    ))
}

/// Log in.
///
/// A wrong password and an unknown e-mail get the same 400 (not 401: the existing frontend treats
/// any 401 as "session over"). Failed logins are throttled per e-mail.
#[utoipa::path(
    post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = SessionResponse),
        (status = 400, description = "Validation failed, or `Invalid credentials`", body = ErrorBody,
            example = json!({"status": "error", "message": "Invalid credentials"})),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 429, description = "Too many requests from this IP, or too many failed logins for this e-mail", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many failed login attempts for this account, please try again later."})),
    )
)]
async fn login(State(state): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Json<SessionResponse>> {
    let credentials = Credentials::parse(&body).map_err(ApiError::Validation)?;
    let throttle_key = credentials.email.as_str();
    if let Some(decision) = state.login_failures.exceeded(throttle_key).await {
        return Err(decision.reject(
            "Too many failed login attempts for this account, please try again later.",
            false,
        ));
    }

    let user = state.store.user_by_email(&credentials.email).await?;
    // Unknown e-mails are checked against a decoy hash: same answer, similar time.
    let verdict = state
        .passwords
        .verify(&credentials.password, user.as_ref().map(|u| u.password_hash.clone()))
        .await?;
    let (Some(user), Verdict::Match { upgrade }) = (user, verdict) else {
        state.login_failures.hit(throttle_key).await;
        // 400, not 401: the existing frontend treats any 401 as "session over" and reloads.
        return Err(ApiError::BadRequest("Invalid credentials".into()));
    };
    state.login_failures.reset(throttle_key).await;

    if upgrade {
        // A bcrypt hash from the old backend (or weaker argon2 parameters): store today's hash.
        use secrecy::ExposeSecret;
        match state.passwords.hash(credentials.password.expose_secret()).await {
            Ok(hash) => {
                state.store.set_password_hash(user.id, &hash).await?;
                tracing::info!(user_id = %user.id, "password hash upgraded to argon2id");
            }
            Err(error) => {
                tracing::warn!(user_id = %user.id, error = format!("{error:#}"), "could not upgrade password hash")
            }
        }
    }
    let tokens = auth::issue_tokens(&state, user.id, None).await?;
    Ok(Json(SessionResponse::new("Login successful", tokens, &user)))
}

/// Reads an optional `refreshToken` string from a body that must be a JSON object.
fn refresh_token_field(body: &Value) -> ApiResult<Option<&str>> {
    let object = body.as_object().ok_or(ApiError::BadRequest(NOT_AN_OBJECT.into()))?;
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
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 429, description = "Too many requests from this IP", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many requests from this IP, please try again later."})),
    )
)]
async fn refresh(State(state): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Json<RefreshResponse>> {
    let token = refresh_token_field(&body)?.ok_or(ApiError::BadRequest("Refresh token is required".into()))?;
    let tokens = auth::refresh(&state, token).await?;
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
        (status = 401, description = "No token, or an invalid, expired or revoked one", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    )
)]
async fn logout(
    State(state): State<AppState>,
    caller: AuthUser,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<MessageResponse>> {
    let refresh_token = refresh_token_field(&body)?;
    auth::logout(&state, &caller.token, refresh_token).await?;
    Ok(Json(MessageResponse::new("Logged out successfully")))
}
