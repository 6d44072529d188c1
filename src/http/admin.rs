//! `/admin/*`: the administrators' routes (a login token of an administrator; 403 otherwise) —
//! users (list, disable, enable, delete) and invite codes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{ErrorBody, MessageResponse, Success};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiQuery, AuthUser, JsonBody, PathParam};
use crate::auth::admin::{INVITE_DEFAULT_DAYS, INVITE_MAX_DAYS, INVITE_MAX_USES};
use crate::domain::day::format_timestamp;
use crate::domain::ids::UserId;
use crate::state::AppState;
use crate::storage::security::{AdminUserRow, Invite};

const MAX_PAGE_SIZE: u32 = 100;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(delete_user))
        .routes(routes!(create_invite, list_invites))
        .routes(routes!(delete_invite))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based (default 1).
    page: Option<String>,
    /// 1–100 (default 20).
    limit: Option<String>,
}

/// A whole number in `min..=max`, or 400 naming the parameter.
fn number(value: Option<&str>, name: &'static str, default: u32, min: u32, max: u32) -> ApiResult<u32> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| ApiError::BadRequest(format!("{name} must be a whole number from {min} to {max}").into())),
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUserView {
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$")]
    id: UserId,
    name: String,
    email: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(example = "user")]
    role: &'static str,
    disabled: bool,
    two_factor: bool,
    /// How many entries the user has.
    entries: u64,
}

impl From<AdminUserRow> for AdminUserView {
    fn from(row: AdminUserRow) -> Self {
        Self {
            id: row.user.id,
            name: row.user.name.as_str().to_owned(),
            email: row.user.email.as_str().to_owned(),
            created_at: format_timestamp(row.user.created_at),
            role: row.flags.role.as_str(),
            disabled: row.flags.disabled,
            two_factor: row.flags.two_factor_on(),
            entries: row.entries,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AdminUserList {
    status: Success,
    /// Users on this page.
    count: usize,
    /// Users in all.
    total: u64,
    page: u32,
    limit: u32,
    /// Oldest account first.
    data: Vec<AdminUserView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteView {
    /// What `POST /auth/register` takes as `inviteCode`.
    code: String,
    uses_left: u32,
    #[schema(format = DateTime)]
    expires_at: String,
    #[schema(format = DateTime)]
    created_at: String,
    /// The administrator who made it (none: the operator's command).
    #[schema(value_type = Option<String>)]
    created_by: Option<UserId>,
}

impl From<Invite> for InviteView {
    fn from(invite: Invite) -> Self {
        Self {
            code: invite.code,
            uses_left: invite.uses_left,
            expires_at: format_timestamp(invite.expires_at),
            created_at: format_timestamp(invite.created_at),
            created_by: invite.created_by,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct InviteCreated {
    status: Success,
    code: String,
    data: InviteView,
}

#[derive(Serialize, ToSchema)]
pub struct InviteList {
    status: Success,
    count: usize,
    /// Invites still usable, newest first.
    data: Vec<InviteView>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InviteRequest {
    /// How many registrations it admits (1–1000, default 1).
    uses: Option<u32>,
    /// Days it lives (1–365, default 7).
    #[schema(rename = "expiresInDays")]
    expires_in_days: Option<u32>,
}

fn target(id: &str) -> ApiResult<UserId> {
    UserId::parse(id).ok_or(ApiError::NotFound("User not found"))
}

/// A body number field (a JSON number or a numeric string), or the default.
fn body_number(body: &Value, name: &'static str, default: u32, max: u32) -> ApiResult<u32> {
    let raw = match body.get(name) {
        None | Some(Value::Null) => return Ok(default),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => String::from("x"),
    };
    number(Some(&raw), name, default, 1, max)
}

/// Every user, a page at a time, with their role, state and entry count.
#[utoipa::path(
    get, path = "/admin/users", tag = "admin",
    params(PageQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of users", body = AdminUserList),
        (status = 400, description = "Bad page or limit", body = ErrorBody,
            example = json!({"status": "error", "message": "limit must be a whole number from 1 to 100"})),
        (status = 403, description = "Not an administrator's login token", body = ErrorBody,
            example = json!({"status": "error", "message": "Admin access required"})),
    )
)]
async fn list_users(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<AdminUserList>> {
    let admin = state.accounts.require_admin(&caller).await?;
    let page = number(query.page.as_deref(), "page", 1, 1, u32::MAX)?;
    let limit = number(query.limit.as_deref(), "limit", 20, 1, MAX_PAGE_SIZE)?;
    let (rows, total) = state.accounts.admin_users(&admin, page, limit).await?;
    let data: Vec<AdminUserView> = rows.into_iter().map(AdminUserView::from).collect();
    Ok(Json(AdminUserList {
        status: Success::Success,
        count: data.len(),
        total,
        page,
        limit,
        data,
    }))
}

/// Disable a user: every session and token of theirs ends at once, on every instance; their login
/// answers 403 `Account disabled`. The last administrator cannot be disabled.
#[utoipa::path(
    post, path = "/admin/users/{id}/disable", tag = "admin",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Disabled", body = MessageResponse),
        (status = 403, description = "Not an administrator's login token", body = ErrorBody,
            example = json!({"status": "error", "message": "Admin access required"})),
        (status = 404, description = "No such user", body = ErrorBody,
            example = json!({"status": "error", "message": "User not found"})),
        (status = 409, description = "The last administrator", body = ErrorBody,
            example = json!({"status": "error", "message": "The last administrator cannot be disabled, demoted or deleted; make another administrator first"})),
    )
)]
async fn disable_user(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(id): PathParam,
) -> ApiResult<Json<MessageResponse>> {
    let admin = state.accounts.require_admin(&caller).await?;
    state.accounts.admin_disable(&admin, target(&id)?).await?;
    Ok(Json(MessageResponse::new("User disabled")))
}

/// Enable a disabled user again (they log in anew).
#[utoipa::path(
    post, path = "/admin/users/{id}/enable", tag = "admin",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Enabled", body = MessageResponse),
        (status = 403, description = "Not an administrator's login token", body = ErrorBody,
            example = json!({"status": "error", "message": "Admin access required"})),
        (status = 404, description = "No such user", body = ErrorBody,
            example = json!({"status": "error", "message": "User not found"})),
    )
)]
async fn enable_user(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(id): PathParam,
) -> ApiResult<Json<MessageResponse>> {
    let admin = state.accounts.require_admin(&caller).await?;
    state.accounts.admin_enable(&admin, target(&id)?).await?;
    Ok(Json(MessageResponse::new("User enabled")))
}

/// Delete a user and everything of theirs, as account deletion does. Not the last administrator.
#[utoipa::path(
    delete, path = "/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Deleted", body = MessageResponse),
        (status = 403, description = "Not an administrator's login token", body = ErrorBody,
            example = json!({"status": "error", "message": "Admin access required"})),
        (status = 404, description = "No such user", body = ErrorBody,
            example = json!({"status": "error", "message": "User not found"})),
        (status = 409, description = "The last administrator", body = ErrorBody,
            example = json!({"status": "error", "message": "The last administrator cannot be disabled, demoted or deleted; make another administrator first"})),
    )
)]
async fn delete_user(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(id): PathParam,
) -> ApiResult<Json<MessageResponse>> {
    let admin = state.accounts.require_admin(&caller).await?;
    let deleted = state.accounts.admin_delete(&admin, target(&id)?).await?;
    state.forget_user(deleted.id).await;
    Ok(Json(MessageResponse::new("User deleted")))
}

/// A new invite code (for REGISTRATION=invite).
#[utoipa::path(
    post, path = "/admin/invites", tag = "admin",
    request_body(content = Option<InviteRequest>, description = "Optional"),
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Created", body = InviteCreated),
        (status = 400, description = "Bad uses or expiresInDays", body = ErrorBody,
            example = json!({"status": "error", "message": "uses must be a whole number from 1 to 1000"})),
        (status = 403, description = "Not an administrator's login token", body = ErrorBody,
            example = json!({"status": "error", "message": "Admin access required"})),
    )
)]
async fn create_invite(
    State(state): State<AppState>,
    caller: AuthUser,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<InviteCreated>)> {
    let admin = state.accounts.require_admin(&caller).await?;
    let uses = body_number(&body, "uses", 1, INVITE_MAX_USES)?;
    let days = body_number(&body, "expiresInDays", INVITE_DEFAULT_DAYS, INVITE_MAX_DAYS)?;
    let invite = state.accounts.admin_create_invite(&admin, uses, days).await?;
    Ok((
        StatusCode::CREATED,
        Json(InviteCreated {
            status: Success::Success,
            code: invite.code.clone(),
            data: invite.into(),
        }),
    ))
}

/// The invite codes still usable.
#[utoipa::path(
    get, path = "/admin/invites", tag = "admin",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The invites", body = InviteList),
        (status = 403, description = "Not an administrator's login token", body = ErrorBody,
            example = json!({"status": "error", "message": "Admin access required"})),
    )
)]
async fn list_invites(State(state): State<AppState>, caller: AuthUser) -> ApiResult<Json<InviteList>> {
    let admin = state.accounts.require_admin(&caller).await?;
    let data: Vec<InviteView> = state
        .accounts
        .admin_invites(&admin)
        .await?
        .into_iter()
        .map(InviteView::from)
        .collect();
    Ok(Json(InviteList {
        status: Success::Success,
        count: data.len(),
        data,
    }))
}

/// Withdraw an invite code.
#[utoipa::path(
    delete, path = "/admin/invites/{code}", tag = "admin",
    params(("code" = String, Path, description = "The invite code")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Deleted", body = MessageResponse),
        (status = 403, description = "Not an administrator's login token", body = ErrorBody,
            example = json!({"status": "error", "message": "Admin access required"})),
        (status = 404, description = "No such invite", body = ErrorBody,
            example = json!({"status": "error", "message": "Invite not found"})),
    )
)]
async fn delete_invite(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(code): PathParam,
) -> ApiResult<Json<MessageResponse>> {
    let admin = state.accounts.require_admin(&caller).await?;
    state.accounts.admin_delete_invite(&admin, &code).await?;
    Ok(Json(MessageResponse::new("Invite deleted")))
}
