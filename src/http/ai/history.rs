//! `/ai/history`: the caller's conversation with the coach (the newest 200 messages are kept), to
//! read or clear. It is the caller's data, so it answers whether or not an AI provider is
//! configured, and it is not counted against the AI limit.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::envelope::{ErrorBody, MessageResponse, Success};
use super::super::error::{ApiError, ApiResult};
use super::super::extract::{ApiQuery, AuthUser};
use crate::domain::coach::{HistoryLimit, HistoryMessage, Role};
use crate::domain::day::format_timestamp;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct HistoryQuery {
    /// How many of the newest messages (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

/// One message of the conversation (also the export's `aiHistory` items).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    role: Role,
    /// The user's question as sanitized, or the coach's reply.
    content: String,
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<HistoryMessage> for HistoryView {
    fn from(message: HistoryMessage) -> Self {
        Self {
            role: message.role,
            content: message.content,
            created_at: format_timestamp(message.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct HistoryResponse {
    status: Success,
    count: usize,
    /// Oldest first.
    data: Vec<HistoryView>,
}

/// The caller's newest messages with the coach, oldest first.
#[utoipa::path(
    get, path = "/ai/history", tag = "ai",
    params(HistoryQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The conversation, oldest first", body = HistoryResponse,
            example = json!({"status": "success", "count": 2, "data": [
                {"role": "user", "content": "How can I sleep better?", "createdAt": "2026-12-01T08:00:00.000Z"},
                {"role": "assistant", "content": "Keep a regular bedtime...", "createdAt": "2026-12-01T08:00:02.412Z"}]})),
        (status = 400, description = "Bad limit", body = ErrorBody,
            example = json!({"status": "error", "message": "limit must be an integer between 1 and 100", "details": [{"path": "limit", "msg": "limit must be an integer between 1 and 100", "value": "0"}]})),
    )
)]
pub(super) async fn history(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<HistoryResponse>> {
    let limit = HistoryLimit::parse(query.limit.as_deref()).map_err(ApiError::Validation)?;
    let messages = state.store.ai_history(caller.id, limit.get()).await?;
    Ok(Json(HistoryResponse {
        status: Success::Success,
        count: messages.len(),
        data: messages.into_iter().map(HistoryView::from).collect(),
    }))
}

/// Forget the caller's conversation with the coach.
#[utoipa::path(
    delete, path = "/ai/history", tag = "ai",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Cleared", body = MessageResponse,
            example = json!({"status": "success", "message": "History cleared"})),
    )
)]
pub(super) async fn clear_history(State(state): State<AppState>, caller: AuthUser) -> ApiResult<Json<MessageResponse>> {
    state.store.clear_ai_history(caller.id).await?;
    Ok(Json(MessageResponse::new("History cleared")))
}
