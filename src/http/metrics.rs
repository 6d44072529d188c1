//! `/metrics`: the Prometheus scrape endpoint. Dependency health and the queue depth are read at
//! scrape time; everything else is counted as it happens.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::ErrorBody;
use super::error::ApiError;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(scrape))
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Prometheus metrics (text exposition; OpenMetrics when the scraper accepts it).
#[utoipa::path(
    get, path = "/metrics", tag = "meta",
    security((), ("metricsToken" = [])),
    responses(
        (status = 200, description = "The metrics", content(
            (String = "text/plain"),
            (String = "application/openmetrics-text"),
        )),
        (status = 401, description = "`METRICS_TOKEN` is set and the request does not carry it", body = ErrorBody,
            example = json!({"status": "error", "message": "A valid metrics token is required"})),
    )
)]
async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if !token_accepted(&headers, state.settings.metrics_token.as_ref()) {
        return Err(ApiError::Unauthorized("A valid metrics token is required"));
    }

    let metrics = &state.metrics;
    let database = super::health::database_reachable(&state, PROBE_TIMEOUT).await;
    metrics.set_dependency("database", database);
    if let Some(redis) = &state.redis {
        metrics.set_dependency("redis", redis.ping().await);
    }
    if let Some(queue) = &state.jobs
        && let Ok(Ok(queued)) = tokio::time::timeout(PROBE_TIMEOUT, queue.queued()).await
    {
        metrics.ai_jobs_queued.set(queued as i64);
    }

    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    let content_type = if openmetrics { OPENMETRICS } else { PROMETHEUS_TEXT };
    Ok(([(header::CONTENT_TYPE, content_type)], metrics.render(openmetrics)).into_response())
}

/// Whether the request may read the metrics: no `METRICS_TOKEN` set, or `Authorization: Bearer`
/// with it (compared in constant time). Shared by the API's and the worker's `/metrics`.
pub fn token_accepted(headers: &HeaderMap, expected: Option<&secrecy::SecretString>) -> bool {
    let Some(expected) = expected else { return true };
    let presented = super::extract::bearer_token(headers).unwrap_or_default();
    constant_time_eq(presented.as_bytes(), expected.expose_secret().as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
