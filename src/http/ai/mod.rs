//! `/ai`: the AI coach. Queued in Redis when async jobs are on and the queue takes the job (202 with
//! a job id), answered inline otherwise (200): a queue outage costs the caller time, never an error.
//! Too many of the caller's jobs in flight is a 429; job status answers 503 while Redis is down.
//! A chat asked for as `text/event-stream` is streamed inline (`stream.rs`); every chat carries the
//! caller's last 7 days and the newest turns of their conversation (`history.rs`).

mod history;
mod stream;

pub use self::history::HistoryView;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{ErrorBody, Success};
use super::error::{ApiError, ApiResult, too_many_requests, write_rate_limit_headers};
use super::extract::{AuthUser, JsonBody, PathParam};
use super::openapi::{ChatRequest, WeeklyReportRequest};
use crate::ai::{AiAnswer, AiClient, AiTask, TaskKind};
use crate::coach;
use crate::domain::coach::{ChatMessage, WeeklySummary};
use crate::domain::day::format_timestamp;
use crate::domain::ids::UserId;
use crate::domain::validation::body_object;
use crate::jobs::{EnqueueError, JobRecord, JobState};
use crate::ratelimit::RateLimitInfo;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(chat))
        .routes(routes!(weekly_report))
        .routes(routes!(job_status))
        .routes(routes!(history::history, history::clear_history))
}

const NOT_CONFIGURED: ApiError = ApiError::NotConfigured("AI service is not configured");
const QUEUE_UNAVAILABLE: ApiError = ApiError::ServiceUnavailable("Queue not available");

/// `mode` of an answer given inline: `"sync"`.
#[derive(Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum InlineMode {
    Sync,
}

/// `mode` of a request queued as a job: `"async"`.
#[derive(Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum QueuedMode {
    Async,
}

/// A chat answered inline.
#[derive(Serialize, ToSchema)]
pub struct ChatReply {
    status: Success,
    mode: InlineMode,
    /// The coach's answer.
    reply: String,
    /// The same as `reply` (the existing frontend reads `message`).
    message: String,
}

/// A weekly report answered inline.
#[derive(Serialize, ToSchema)]
pub struct ReportReply {
    status: Success,
    mode: InlineMode,
    report: String,
    summary: WeeklySummary,
}

/// A request queued as a job.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Queued {
    status: Success,
    mode: QueuedMode,
    #[schema(pattern = "^[0-9A-HJKMNP-TV-Z]{26}$")]
    job_id: String,
    message: &'static str,
    /// Where to poll for the result.
    check_status_url: String,
}

/// A queued job as its owner sees it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    id: String,
    name: TaskKind,
    /// `delayed`: an attempt failed and the next waits out its backoff.
    state: JobState,
    #[schema(minimum = 0, maximum = 100)]
    progress: u8,
    /// Attempts made so far.
    attempts: u32,
    /// The answer, once completed.
    result: Option<AiAnswer>,
    /// Why the last attempt failed.
    failed_reason: Option<String>,
    #[schema(format = DateTime)]
    created_at: Option<String>,
    #[schema(format = DateTime)]
    finished_at: Option<String>,
}

impl From<JobRecord> for JobView {
    fn from(record: JobRecord) -> Self {
        Self {
            id: record.id,
            name: record.name,
            state: record.state,
            progress: record.progress.min(100),
            attempts: record.attempts,
            result: record.result,
            failed_reason: record.failed_reason,
            created_at: record.created_at.map(format_timestamp),
            finished_at: record.finished_at.map(format_timestamp),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct JobStatusResponse {
    status: Success,
    job: JobView,
}

fn client(state: &AppState) -> ApiResult<&AiClient> {
    state.ai.as_ref().ok_or(NOT_CONFIGURED)
}

/// AI POST routes: `AI_RATE_LIMIT_MAX` per user per `AI_RATE_LIMIT_WINDOW_MS`. Called once the
/// request is known valid, so an invalid one costs nothing.
async fn count_request(state: &AppState, user: UserId) -> ApiResult<RateLimitInfo> {
    let decision = state.ai_limiter.hit(&user.to_string()).await;
    if !decision.allowed {
        return Err(too_many_requests(
            decision,
            "Too many AI requests, please try again later.",
            true,
        ));
    }
    Ok(decision.info)
}

/// Ask the coach a question. The prompt carries the caller's last 7 days and the newest turns of
/// their conversation; the question and the answer join the conversation once answered. With
/// `Accept: text/event-stream` the answer is streamed as it is written (inline, even with async
/// jobs on): `delta` events `{"text"}`, then one `done` `{"reply","message"}`, or an `error`
/// `{"message":"AI service unavailable"}` when the provider fails after the stream began (before
/// it, the usual 502). A request refused as invalid (400) is not counted against the AI limit.
#[utoipa::path(
    post, path = "/ai/chat", tag = "ai",
    request_body = ChatRequest,
    params(("Accept" = Option<String>, Header, description = "`text/event-stream` to have the answer streamed")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Answered inline (no queue, or the queue could not take it), or streamed", content(
            (ChatReply = "application/json"),
            (String = "text/event-stream", example = json!("event: delta\ndata: {\"text\":\"Keep \"}\n\nevent: delta\ndata: {\"text\":\"it up!\"}\n\nevent: done\ndata: {\"reply\":\"Keep it up!\",\"message\":\"Keep it up!\"}\n\n")),
        )),
        (status = 202, description = "Queued; poll `checkStatusUrl`", body = Queued,
            links(("JobStatus" = (operation_id = "job_status", parameters(("job_id" = "$response.body#/jobId")))))),
        (status = 400, description = "Validation failed or malformed JSON", body = ErrorBody,
            example = json!({"status": "error", "message": "Message must be between 1 and 2000 characters", "details": [{"path": "message", "msg": "Message must be between 1 and 2000 characters", "value": ""}]})),
        (status = 429, description = "Too many AI requests, or too many of the caller's jobs in flight", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many AI requests, please try again later."})),
        (status = 502, description = "The AI provider failed", body = ErrorBody,
            example = json!({"status": "error", "message": "AI service unavailable", "errorId": "85697787a5f85350"})),
        (status = 503, description = "No AI provider is configured", body = ErrorBody,
            example = json!({"status": "error", "message": "AI service is not configured", "errorId": "85697787a5f85350"})),
    )
)]
async fn chat(
    State(state): State<AppState>,
    caller: AuthUser,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    // Validated before it is counted: a request that cannot be answered spends none of the quota.
    let message = ChatMessage::parse(&body).map_err(ApiError::Validation)?;
    let client = client(&state)?;
    let limit = count_request(&state, caller.id).await?;
    let today = state.clock.today_in(caller.timezone);
    let task = coach::chat(&*state.store, caller.id, today, message, Utc::now()).await?;
    if stream::wants_event_stream(&headers) {
        return stream::chat_events(&state, client, caller.id, task, limit).await;
    }
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

/// A report on the caller's last 7 days (today and the 6 before), compared with the 7 days before
/// them (`summary.previous`, `null` when nothing was logged then).
#[utoipa::path(
    post, path = "/ai/weekly-report", tag = "ai",
    request_body(content = Option<WeeklyReportRequest>, description = "Optional; no fields"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Answered inline", body = ReportReply),
        (status = 202, description = "Queued; poll `checkStatusUrl`", body = Queued,
            links(("JobStatus" = (operation_id = "job_status", parameters(("job_id" = "$response.body#/jobId")))))),
        (status = 400, description = "Malformed body", body = ErrorBody,
            example = json!({"status": "error", "message": "Malformed JSON in request body: expected value at line 1 column 1"})),
        (status = 404, description = "No entries in the last 7 days", body = ErrorBody,
            example = json!({"status": "error", "message": "No health data found for the past week"})),
        (status = 429, description = "Too many AI requests, or too many of the caller's jobs in flight", body = ErrorBody,
            example = json!({"status": "error", "message": "Too many AI requests, please try again later."})),
        (status = 502, description = "The AI provider failed", body = ErrorBody,
            example = json!({"status": "error", "message": "AI service unavailable", "errorId": "85697787a5f85350"})),
        (status = 503, description = "No AI provider is configured", body = ErrorBody,
            example = json!({"status": "error", "message": "AI service is not configured", "errorId": "85697787a5f85350"})),
    )
)]
async fn weekly_report(
    State(state): State<AppState>,
    caller: AuthUser,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    body_object(&body).map_err(ApiError::Validation)?;
    let client = client(&state)?;
    let limit = count_request(&state, caller.id).await?;
    let today = state.clock.today_in(caller.timezone);
    let task = coach::weekly_report(&*state.store, caller.id, today)
        .await?
        .ok_or(ApiError::NotFound("No health data found for the past week"))?;
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
    queued_message: &'static str,
    limit: RateLimitInfo,
) -> ApiResult<Response> {
    let mut response = match enqueue(state, user, &task).await? {
        Some(job_id) => {
            let body = Queued {
                status: Success::Success,
                mode: QueuedMode::Async,
                check_status_url: format!("/api/ai/job-status/{job_id}"),
                job_id,
                message: queued_message,
            };
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        None => {
            let answer = task.run(client).await.map_err(|error| {
                tracing::warn!(job = task.kind().as_str(), error = %error, "AI request failed");
                ApiError::BadGateway("AI service unavailable")
            })?;
            coach::remember(&*state.store, user, &task, &answer).await;
            match answer {
                AiAnswer::Chat(chat) => Json(ChatReply {
                    status: Success::Success,
                    mode: InlineMode::Sync,
                    reply: chat.reply,
                    message: chat.message,
                })
                .into_response(),
                AiAnswer::Report(report) => Json(ReportReply {
                    status: Success::Success,
                    mode: InlineMode::Sync,
                    report: report.report,
                    summary: report.summary,
                })
                .into_response(),
            }
        }
    };
    write_rate_limit_headers(&limit, response.headers_mut());
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

/// A queued job's state and, once finished, its result. Only the job's owner sees it.
#[utoipa::path(
    get, path = "/ai/job-status/{job_id}", tag = "ai",
    params(("job_id" = String, Path, description = "The `jobId` of a 202 answer", pattern = "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The job", body = JobStatusResponse),
        (status = 404, description = "No such job, or not the caller's", body = ErrorBody,
            example = json!({"status": "error", "message": "Job not found"})),
        (status = 503, description = "No AI provider is configured, or the queue is unavailable", body = ErrorBody,
            example = json!({"status": "error", "message": "Queue not available", "errorId": "85697787a5f85350"})),
    )
)]
async fn job_status(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(job_id): PathParam,
) -> ApiResult<Json<JobStatusResponse>> {
    client(&state)?;
    let queue = state.jobs.as_ref().ok_or(QUEUE_UNAVAILABLE)?;
    let record = queue.status(caller.id, &job_id).await.map_err(|error| {
        tracing::warn!(error = %error, "job status unavailable");
        QUEUE_UNAVAILABLE
    })?;
    // Another user's job is indistinguishable from a missing one.
    let record = record.ok_or(ApiError::NotFound("Job not found"))?;
    Ok(Json(JobStatusResponse {
        status: Success::Success,
        job: JobView::from(record),
    }))
}
