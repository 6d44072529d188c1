//! `/ai`: the AI coach. Queued in Redis when async jobs are on and the queue takes the job (202 with
//! a job id), answered inline otherwise (200) — the caller never sees a queue error.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::extract::{AuthUser, JsonBody, PathParam};
use crate::ai::{AiClient, AiTask};
use crate::domain::coach::{ChatMessage, REPORT_DAYS, WeeklySummary};
use crate::domain::day::Day;
use crate::domain::entry::EntryRange;
use crate::domain::ids::UserId;
use crate::error::{ApiError, ApiResult, RateLimitInfo};
use crate::jobs::EnqueueError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ai/chat", post(chat))
        .route("/ai/weekly-report", post(weekly_report))
        .route("/ai/job-status/{job_id}", get(job_status))
}

const NOT_CONFIGURED: ApiError = ApiError::ServiceUnavailable("AI service is not configured");
const QUEUE_UNAVAILABLE: ApiError = ApiError::ServiceUnavailable("Queue not available");

fn client(state: &AppState) -> ApiResult<&AiClient> {
    state.ai.as_ref().ok_or(NOT_CONFIGURED)
}

/// AI POST routes: `AI_RATE_LIMIT_MAX` per user per `AI_RATE_LIMIT_WINDOW_MS`.
async fn count_request(state: &AppState, user: UserId) -> ApiResult<Option<RateLimitInfo>> {
    match state.ai_limiter.hit(&user.to_string()).await {
        Some(decision) if !decision.allowed => Err(ApiError::TooManyRequests {
            message: "Too many AI requests, please try again later.",
            retry_after: decision.info.reset_after,
            limit: Some(decision.info),
        }),
        decision => Ok(decision.map(|d| d.info)),
    }
}

async fn chat(State(state): State<AppState>, caller: AuthUser, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let client = client(&state)?;
    let limit = count_request(&state, caller.id).await?;
    let message = ChatMessage::parse(&body).map_err(ApiError::Validation)?;
    let task = AiTask::Chat { message };
    respond(
        &state,
        client,
        caller.id,
        task,
        "Chat request queued for processing",
        limit,
    )
    .await
}

async fn weekly_report(State(state): State<AppState>, caller: AuthUser, JsonBody(_): JsonBody) -> ApiResult<Response> {
    let client = client(&state)?;
    let limit = count_request(&state, caller.id).await?;
    let week = EntryRange::last_days(Day::today(), REPORT_DAYS);
    let entries = state.store.list_entries(caller.id, &week).await?;
    let summary =
        WeeklySummary::from_entries(&entries).ok_or(ApiError::NotFound("No health data found for the past week"))?;
    let task = AiTask::WeeklyReport { summary };
    respond(
        &state,
        client,
        caller.id,
        task,
        "Weekly report request queued for processing",
        limit,
    )
    .await
}

/// Queues the task when possible, otherwise answers it now.
async fn respond(
    state: &AppState,
    client: &AiClient,
    user: UserId,
    task: AiTask,
    queued_message: &str,
    limit: Option<RateLimitInfo>,
) -> ApiResult<Response> {
    let mut response = match enqueue(state, user, &task).await? {
        Some(job_id) => {
            let body = json!({
                "status": "success",
                "mode": "async",
                "jobId": job_id,
                "message": queued_message,
                "checkStatusUrl": format!("/api/ai/job-status/{job_id}"),
            });
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        None => {
            let result = task.run(client).await.map_err(|error| {
                tracing::warn!(job = task.name(), error = %error, "AI request failed");
                ApiError::BadGateway("AI service unavailable")
            })?;
            let mut body = json!({ "status": "success", "mode": "sync" });
            if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), result) {
                body.extend(fields);
            }
            Json(body).into_response()
        }
    };
    if let Some(limit) = limit {
        limit.write_headers(response.headers_mut());
    }
    Ok(response)
}

/// `Some(job id)` when the queue took the task; `None` to answer inline (no queue, or it failed).
async fn enqueue(state: &AppState, user: UserId, task: &AiTask) -> ApiResult<Option<String>> {
    let Some(queue) = &state.jobs else { return Ok(None) };
    match queue.enqueue(user, task.clone()).await {
        Ok(job_id) => Ok(Some(job_id)),
        Err(EnqueueError::UserLimit) => Err(ApiError::TooManyRequests {
            message: "Too many AI jobs in progress, please wait for one to finish.",
            retry_after: std::time::Duration::from_secs(10),
            limit: None,
        }),
        Err(EnqueueError::Unavailable(reason)) => {
            tracing::warn!(%reason, "AI job queue unavailable; answering synchronously");
            Ok(None)
        }
    }
}

async fn job_status(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(job_id): PathParam,
) -> ApiResult<Json<Value>> {
    client(&state)?;
    let queue = state.jobs.as_ref().ok_or(QUEUE_UNAVAILABLE)?;
    let record = queue.status(caller.id, &job_id).await.map_err(|error| {
        tracing::warn!(error = %error, "job status unavailable");
        QUEUE_UNAVAILABLE
    })?;
    // Another user's job is indistinguishable from a missing one.
    let record = record.ok_or(ApiError::NotFound("Job not found"))?;
    Ok(Json(json!({ "status": "success", "job": record.to_json() })))
}
