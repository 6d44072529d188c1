//! `/auth`: register, login, refresh, logout.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{Value, json};

use super::extract::{AuthUser, ClientIp, JsonBody};
use crate::auth::password::Verdict;
use crate::auth::{self, TokenPair};
use crate::domain::ids::UserId;
use crate::domain::user::{Credentials, Registration, User};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::StoreError;

pub fn routes(state: &AppState) -> Router<AppState> {
    let limited = Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_by_ip));
    Router::new().merge(limited).route("/auth/logout", post(logout))
}

/// Register, login and refresh are limited per client IP (`RATE_LIMIT_MAX_REQUESTS` per
/// `RATE_LIMIT_WINDOW_MS`), with `RateLimit-*` headers on every answer.
async fn limit_by_ip(State(state): State<AppState>, ClientIp(ip): ClientIp, request: Request, next: Next) -> Response {
    match state.auth_limiter.hit(&ip.to_string()).await {
        Some(decision) if !decision.allowed => ApiError::TooManyRequests {
            message: "Too many requests from this IP, please try again later.",
            retry_after: decision.info.reset_after,
            limit: Some(decision.info),
        }
        .into_response(),
        Some(decision) => {
            let mut response = next.run(request).await;
            decision.info.write_headers(response.headers_mut());
            response
        }
        None => next.run(request).await,
    }
}

/// The body of a successful register or login. `token` repeats `accessToken` for the existing
/// frontend, which reads `token` and `user`.
fn session_body(message: &str, tokens: &TokenPair, user: &User) -> Value {
    json!({
        "status": "success",
        "message": message,
        "accessToken": tokens.access.token,
        "refreshToken": tokens.refresh,
        "token": tokens.access.token,
        "userId": user.id,
        "user": { "id": user.id, "name": user.name.as_str(), "email": user.email.as_str() },
    })
}

async fn register(State(state): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<(StatusCode, Json<Value>)> {
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
        Json(session_body("User registered successfully", &tokens, &user)),
    ))
}

async fn login(State(state): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let credentials = Credentials::parse(&body).map_err(ApiError::Validation)?;
    let throttle_key = credentials.email.as_str();
    if let Some(decision) = state.login_failures.exceeded(throttle_key).await {
        return Err(ApiError::TooManyRequests {
            message: "Too many failed login attempts for this account, please try again later.",
            retry_after: decision.info.reset_after,
            limit: None,
        });
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
    Ok(Json(session_body("Login successful", &tokens, &user)))
}

/// Reads an optional `refreshToken` string from a body.
fn refresh_token_field(body: &Value) -> ApiResult<Option<&str>> {
    match body.get("refreshToken") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(_) => Err(ApiError::BadRequest("refreshToken must be a string".into())),
    }
}

async fn refresh(State(state): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let token = refresh_token_field(&body)?.ok_or(ApiError::BadRequest("Refresh token is required".into()))?;
    let tokens = auth::refresh(&state, token).await?;
    Ok(Json(json!({
        "status": "success",
        "accessToken": tokens.access.token,
        "token": tokens.access.token,
        "refreshToken": tokens.refresh,
    })))
}

async fn logout(State(state): State<AppState>, caller: AuthUser, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let refresh_token = refresh_token_field(&body)?;
    auth::logout(&state, &caller.token, refresh_token).await?;
    Ok(Json(
        json!({ "status": "success", "message": "Logged out successfully" }),
    ))
}
