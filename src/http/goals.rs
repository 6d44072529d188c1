//! `/goals`: the caller's goals — for some measures, the range a day's value should be in. The rules
//! are `domain::goals`; the dashboard, the trends and the coach read the same goals.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{ErrorBody, Success};
use super::error::{ApiError, ApiResult};
use super::extract::{AuthUser, RequiredJsonBody};
use super::openapi::GoalsInput;
use crate::domain::goals::Goals;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_goals, put_goals))
}

#[derive(Serialize, ToSchema)]
pub struct GoalsResponse {
    status: Success,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
    /// `{<measure>: {min?, max?}}`; `{}` when none is set.
    data: Goals,
}

impl GoalsResponse {
    pub(crate) fn new(message: Option<&'static str>, data: Goals) -> Self {
        Self {
            status: Success::Success,
            message,
            data,
        }
    }
}

/// The caller's goals.
#[utoipa::path(
    get, path = "/goals", tag = "goals",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The goals (`{}` when none is set)", body = GoalsResponse,
            example = json!({"status": "success", "data": {"steps": {"min": 8000}, "sleep": {"min": 7, "max": 9}, "weight": {"max": 75}}})),
    )
)]
async fn get_goals(State(state): State<AppState>, caller: AuthUser) -> ApiResult<Json<GoalsResponse>> {
    let goals = state.store.goals(caller.id).await?;
    Ok(Json(GoalsResponse::new(None, goals)))
}

/// Replace the caller's goals with the map sent (`{}` clears them).
#[utoipa::path(
    put, path = "/goals", tag = "goals",
    request_body = GoalsInput,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The goals now set", body = GoalsResponse,
            example = json!({"status": "success", "message": "Goals updated", "data": {"steps": {"min": 8000}}})),
        (status = 400, description = "Validation failed (every failing goal in `details`), no body, or malformed JSON", body = ErrorBody,
            example = json!({"status": "error", "message": "A goal's min must not be above its max", "details": [{"path": "steps", "msg": "A goal's min must not be above its max", "value": {"min": 9000, "max": 8000}}]})),
    )
)]
async fn put_goals(
    State(state): State<AppState>,
    caller: AuthUser,
    RequiredJsonBody(body): RequiredJsonBody,
) -> ApiResult<Json<GoalsResponse>> {
    let goals = Goals::parse(&body).map_err(ApiError::Validation)?;
    if !state.store.set_goals(caller.id, &goals).await? {
        // The account was deleted while this request was on its way.
        return Err(ApiError::Unauthorized("Invalid or expired token"));
    }
    Ok(Json(GoalsResponse::new(Some("Goals updated"), goals)))
}
