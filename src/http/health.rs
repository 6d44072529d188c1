//! Health probes: `/health` reports each dependency (503 when the database is unreachable, so a
//! probe sees the outage); `/health/live` only says the process answers.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::Success;
use crate::ai::client::ProviderHealth;
use crate::domain::day::format_timestamp;
use crate::state::AppState;

const DATABASE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(live))
}

#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceStatus {
    Connected,
    Disconnected,
    NotConfigured,
}

#[derive(Serialize, ToSchema)]
pub struct Services {
    database: ServiceStatus,
    redis: ServiceStatus,
    /// `disconnected` when the last call to the provider failed.
    ai: ServiceStatus,
}

#[derive(Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum HealthOutcome {
    Success,
    Error,
}

#[derive(Serialize, ToSchema)]
pub struct HealthResponse {
    status: HealthOutcome,
    message: &'static str,
    #[schema(format = DateTime)]
    timestamp: String,
    /// Seconds since start.
    uptime: f64,
    services: Services,
    #[schema(example = "production")]
    environment: &'static str,
    version: &'static str,
}

/// Whether the database answers a ping within `timeout` (health and metrics both ask).
pub async fn database_reachable(state: &AppState, timeout: std::time::Duration) -> bool {
    matches!(tokio::time::timeout(timeout, state.store.ping()).await, Ok(Ok(())))
}

/// Readiness: each dependency's state; 503 when the database is unreachable.
#[utoipa::path(
    get, path = "/health", tag = "health",
    responses(
        (status = 200, description = "Serving", body = HealthResponse),
        (status = 503, description = "The database is unreachable (same body)", body = HealthResponse),
    )
)]
async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthResponse>) {
    let database = database_reachable(&state, DATABASE_CHECK_TIMEOUT);
    let redis = async {
        match &state.redis {
            None => ServiceStatus::NotConfigured,
            Some(redis) if redis.ping().await => ServiceStatus::Connected,
            Some(_) => ServiceStatus::Disconnected,
        }
    };
    let (database_up, redis) = tokio::join!(database, redis);
    let ai = match &state.ai {
        None => ServiceStatus::NotConfigured,
        Some(client) if client.health() == ProviderHealth::Failing => ServiceStatus::Disconnected,
        Some(_) => ServiceStatus::Connected,
    };
    let (code, status, message) = if database_up {
        (StatusCode::OK, HealthOutcome::Success, "Server is running")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            HealthOutcome::Error,
            "Database unavailable",
        )
    };
    let body = HealthResponse {
        status,
        message,
        timestamp: format_timestamp(Utc::now()),
        uptime: state.started_at.elapsed().as_secs_f64(),
        services: Services {
            database: if database_up {
                ServiceStatus::Connected
            } else {
                ServiceStatus::Disconnected
            },
            redis,
            ai,
        },
        environment: state.settings.environment.as_str(),
        version: env!("CARGO_PKG_VERSION"),
    };
    (code, Json(body))
}

#[derive(Serialize, ToSchema)]
pub struct LiveResponse {
    status: Success,
    message: &'static str,
}

/// Liveness: the process answers (no dependency is checked).
#[utoipa::path(
    get, path = "/health/live", tag = "health",
    responses((status = 200, description = "Alive", body = LiveResponse))
)]
async fn live() -> Json<LiveResponse> {
    Json(LiveResponse {
        status: Success::Success,
        message: "alive",
    })
}
