//! `/auth/tokens`: personal access tokens — create (the token shown once), list, revoke. A login's
//! token only (`http::scopes` makes these routes account routes).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{ErrorBody, MessageResponse, Success};
use super::error::{ApiError, ApiResult};
use super::extract::{AuthUser, ClientInfo, JsonBody, PathParam};
use super::openapi::PersonalTokenRequest;
use crate::auth::personal::NewPersonalToken;
use crate::auth::scopes::Scope;
use crate::auth::two_factor::SecondFactor;
use crate::domain::day::format_timestamp;
use crate::state::AppState;
use crate::storage::PersonalToken;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// A personal token as its owner sees it (never the token itself).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    #[schema(pattern = "^[0-9a-f]{24}$", example = "6745c0ffee0ddba11deadbee")]
    id: String,
    name: String,
    #[schema(example = json!(["entries:read", "entries:write"]))]
    scopes: Vec<&'static str>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
    /// The last request made with it, to the minute (`null`: never used).
    #[schema(format = DateTime)]
    last_used_at: Option<String>,
}

impl From<&PersonalToken> for TokenView {
    fn from(token: &PersonalToken) -> Self {
        Self {
            id: token.id.to_string(),
            name: token.name.clone(),
            scopes: token.scopes.iter().map(Scope::as_str).collect(),
            created_at: format_timestamp(token.created_at),
            expires_at: format_timestamp(token.expires_at),
            last_used_at: token.last_used_at.map(format_timestamp),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TokenCreated {
    status: Success,
    /// The token (`htp_…`): shown this once, stored only as a hash.
    #[schema(example = "htp_3f1c…")]
    token: String,
    data: TokenView,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    status: Success,
    count: usize,
    /// Newest first; expired tokens are not listed.
    data: Vec<TokenView>,
}

/// Create a personal access token for scripts, apps and assistants: `Authorization: Bearer htp_…`
/// on the routes its scopes cover. The token is in this answer only.
#[utoipa::path(
    post, path = "/auth/tokens", tag = "account",
    request_body = PersonalTokenRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Created; `token` is shown this once", body = TokenCreated),
        (status = 400, description = "Validation failed (every failing field in `details`)", body = ErrorBody,
            example = json!({"status": "error", "message": "Unknown scope \"entries:delete\"; the scopes are: entries:read, entries:write, goals:read, goals:write, ai", "details": [{"path": "scopes[0]", "msg": "Unknown scope \"entries:delete\"; the scopes are: entries:read, entries:write, goals:read, goals:write, ai", "value": "entries:delete"}]})),
    )
)]
async fn create_token(
    State(state): State<AppState>,
    caller: AuthUser,
    ClientInfo(client): ClientInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let new = NewPersonalToken::parse(&body).map_err(ApiError::Validation)?;
    let second = SecondFactor::from_body_checked(&body).map_err(ApiError::Validation)?;
    let (token, record) = state
        .accounts
        .create_personal_token(&caller, new, second.as_ref(), &client)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            status: Success::Success,
            token,
            data: TokenView::from(&record),
        }),
    ))
}

/// The caller's personal access tokens (names, scopes, dates; never the tokens).
#[utoipa::path(
    get, path = "/auth/tokens", tag = "account",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The tokens", body = TokenList))
)]
async fn list_tokens(State(state): State<AppState>, caller: AuthUser) -> ApiResult<Json<TokenList>> {
    let data: Vec<TokenView> = state
        .accounts
        .personal_tokens(caller.id)
        .await?
        .iter()
        .map(TokenView::from)
        .collect();
    Ok(Json(TokenList {
        status: Success::Success,
        count: data.len(),
        data,
    }))
}

/// Revoke a personal access token: refused from the next request on, on every instance.
#[utoipa::path(
    delete, path = "/auth/tokens/{id}", tag = "account",
    params(("id" = String, Path, description = "A token's `id`", pattern = "^[0-9a-fA-F]{24}$")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Revoked", body = MessageResponse),
        (status = 404, description = "No such token, or not the caller's", body = ErrorBody,
            example = json!({"status": "error", "message": "Token not found"})),
    )
)]
async fn revoke_token(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(id): PathParam,
) -> ApiResult<Json<MessageResponse>> {
    state.accounts.revoke_personal_token(caller.id, &id).await?;
    Ok(Json(MessageResponse::new("Token revoked")))
}
