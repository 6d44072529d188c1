//! `/auth/me`, `/auth/change-password`, `/auth/sessions`, `/auth/logout-all`: the account, its
//! password, its logins.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{ErrorBody, MessageResponse, Success};
use super::error::{ApiError, ApiResult};
use super::extract::{AuthUser, ClientInfo, JsonBody, PathParam};
use super::openapi::{ChangePasswordRequest, DeleteAccountRequest, ProfileUpdate};
use crate::auth::two_factor::SecondFactor;
use crate::domain::day::format_timestamp;
use crate::domain::ids::UserId;
use crate::domain::user::{AccountDeletion, PasswordChange, ProfileChanges, User};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(profile, update_profile, delete_account))
        .routes(routes!(change_password))
        .routes(routes!(sessions))
        .routes(routes!(end_session))
        .routes(routes!(logout_all))
}

/// An account as its owner sees it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$", example = "6745c0ffee0ddba11deadbee")]
    id: UserId,
    name: String,
    email: String,
    /// An IANA time zone name; the server's `DEFAULT_TIMEZONE` until the user sets one.
    #[schema(example = "Europe/Paris")]
    timezone: &'static str,
    #[schema(format = DateTime)]
    created_at: String,
    /// Whether logging in asks for a code from an authenticator app.
    two_factor: bool,
    #[schema(example = "user")]
    role: &'static str,
}

impl ProfileView {
    pub(crate) async fn new(state: &AppState, user: &User) -> ApiResult<Self> {
        let flags = state.accounts.flags(user).await?;
        Ok(Self {
            id: user.id,
            name: user.name.as_str().to_owned(),
            email: user.email.as_str().to_owned(),
            timezone: state.accounts.timezone_of(user).name(),
            created_at: format_timestamp(user.created_at),
            two_factor: flags.two_factor_on(),
            role: flags.role.as_str(),
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProfileResponse {
    status: Success,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
    user: ProfileView,
}

/// The caller's account.
#[utoipa::path(
    get, path = "/auth/me", tag = "account",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The account", body = ProfileResponse))
)]
async fn profile(State(state): State<AppState>, caller: AuthUser) -> ApiResult<Json<ProfileResponse>> {
    let user = state.accounts.profile(&caller).await?;
    Ok(Json(ProfileResponse {
        status: Success::Success,
        message: None,
        user: ProfileView::new(&state, &user).await?,
    }))
}

/// Change the name and/or the time zone (nothing else is writable here).
#[utoipa::path(
    patch, path = "/auth/me", tag = "account",
    request_body(content = Option<ProfileUpdate>, description = "The fields to change (an empty body changes nothing)"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Updated", body = ProfileResponse),
        (status = 400, description = "Validation failed (every failing field in `details`) or malformed JSON", body = ErrorBody,
            example = json!({"status": "error", "message": "Timezone must be an IANA time zone name such as Asia/Kolkata, America/New_York or UTC (not a fixed offset)", "details": [{"path": "timezone", "msg": "Timezone must be an IANA time zone name such as Asia/Kolkata, America/New_York or UTC (not a fixed offset)", "value": "GMT+4"}]})),
    )
)]
async fn update_profile(
    State(state): State<AppState>,
    caller: AuthUser,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<ProfileResponse>> {
    let changes = ProfileChanges::parse(&body).map_err(ApiError::Validation)?;
    let user = state.accounts.update_profile(&caller, changes).await?;
    Ok(Json(ProfileResponse {
        status: Success::Success,
        message: Some("Profile updated"),
        user: ProfileView::new(&state, &user).await?,
    }))
}

/// A new password and tokens: the caller stays logged in, every other login ends at once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChanged {
    status: Success,
    message: &'static str,
    access_token: String,
    refresh_token: String,
    /// The same as `accessToken` (legacy field).
    token: String,
}

/// Change the password, given the current one. Every other login of the account ends at once
/// (its refresh and access tokens are refused on every instance); the answer carries new tokens.
#[utoipa::path(
    post, path = "/auth/change-password", tag = "account",
    request_body = ChangePasswordRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Changed; new tokens", body = PasswordChanged),
        (status = 400, description = "Wrong current password, the new one fails the registration rules, or (2FA on) `code`/`recoveryCode` missing or wrong", body = ErrorBody,
            example = json!({"status": "error", "message": "Current password is incorrect"})),
        (status = 429, description = "Too many wrong passwords for this account", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many failed login attempts for this account, please try again later."})),
    )
)]
async fn change_password(
    State(state): State<AppState>,
    caller: AuthUser,
    ClientInfo(client): ClientInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<PasswordChanged>> {
    let second = SecondFactor::from_body(&body);
    let account = state.accounts.profile(&caller).await?;
    let personal = [account.name.as_str().to_owned(), account.email.as_str().to_owned()];
    // The strength estimate of the new password runs on the blocking pool, as at registration.
    let change = tokio::task::spawn_blocking(move || {
        let personal: Vec<&str> = personal.iter().map(String::as_str).collect();
        PasswordChange::parse(&body, &personal)
    })
    .await
    .map_err(|error| ApiError::Internal(error.into()))?
    .map_err(ApiError::Validation)?;
    let tokens = state
        .accounts
        .change_password(&caller, &account, change, second.as_ref(), &client)
        .await?;
    Ok(Json(PasswordChanged {
        status: Success::Success,
        message: "Password changed",
        token: tokens.access.token.clone(),
        access_token: tokens.access.token,
        refresh_token: tokens.refresh,
    }))
}

/// One login of the account.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginView {
    /// What `DELETE /auth/sessions/{id}` takes.
    #[schema(example = "9f3c2a1b0e8d7c6b5a493827")]
    id: String,
    #[schema(format = DateTime)]
    created_at: String,
    /// The last refresh (the login itself before the first one).
    #[schema(format = DateTime)]
    last_used_at: String,
    user_agent: Option<String>,
    /// The login of this request.
    current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    status: Success,
    count: usize,
    /// Newest first.
    data: Vec<LoginView>,
}

/// The account's logins (one per login; refreshing keeps its login), newest first.
#[utoipa::path(
    get, path = "/auth/sessions", tag = "account",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The logins", body = SessionList))
)]
async fn sessions(State(state): State<AppState>, caller: AuthUser) -> ApiResult<Json<SessionList>> {
    let data: Vec<LoginView> = state
        .accounts
        .logins(&caller)
        .await?
        .into_iter()
        .map(|view| LoginView {
            id: view.login.id,
            created_at: format_timestamp(view.login.created_at),
            last_used_at: format_timestamp(view.login.last_used_at),
            user_agent: view.login.user_agent,
            current: view.current,
        })
        .collect();
    Ok(Json(SessionList {
        status: Success::Success,
        count: data.len(),
        data,
    }))
}

/// End one login: its refresh tokens and its access tokens are refused at once, on every instance.
#[utoipa::path(
    delete, path = "/auth/sessions/{id}", tag = "account",
    params(("id" = String, Path, description = "A session's `id`", pattern = "^[0-9a-f]{1,64}$")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Ended", body = MessageResponse),
        (status = 404, description = "No such login, or not the caller's", body = ErrorBody,
            example = json!({"status": "error", "message": "Session not found"})),
    )
)]
async fn end_session(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(id): PathParam,
) -> ApiResult<Json<MessageResponse>> {
    state.accounts.end_login(&caller, &id).await?;
    Ok(Json(MessageResponse::new("Session revoked")))
}

/// End every login of the account, this one included.
#[utoipa::path(
    post, path = "/auth/logout-all", tag = "account",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "Logged out everywhere", body = MessageResponse))
)]
async fn logout_all(State(state): State<AppState>, caller: AuthUser) -> ApiResult<Json<MessageResponse>> {
    state.accounts.logout_everywhere(&caller).await?;
    Ok(Json(MessageResponse::new("Logged out everywhere")))
}

/// Delete the account and everything that belongs to it (entries, logins, AI job records and
/// history, rate-limit counters), given its password. Its tokens are refused afterwards, and the
/// e-mail can register again.
#[utoipa::path(
    delete, path = "/auth/me", tag = "account",
    request_body = DeleteAccountRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Deleted", body = MessageResponse),
        (status = 409, description = "The caller is the last administrator", body = ErrorBody,
            example = json!({"status": "error", "message": "The last administrator cannot be disabled, demoted or deleted; make another administrator first"})),
        (status = 400, description = "Wrong password, or no password, or (2FA on) `code`/`recoveryCode` missing or wrong", body = ErrorBody,
            example = json!({"status": "error", "message": "Password is incorrect"})),
        (status = 429, description = "Too many wrong passwords for this account", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many failed login attempts for this account, please try again later."})),
    )
)]
async fn delete_account(
    State(state): State<AppState>,
    caller: AuthUser,
    ClientInfo(client): ClientInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<MessageResponse>> {
    let deletion = AccountDeletion::parse(&body).map_err(ApiError::Validation)?;
    let second = SecondFactor::from_body(&body);
    let deleted = state
        .accounts
        .delete_account(&caller, deletion, second.as_ref(), &client)
        .await?;
    state.forget_user(deleted.id).await;
    Ok(Json(MessageResponse::new("Account deleted")))
}
