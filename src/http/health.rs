//! Health probes: `/health` reports each dependency (503 when the database is unreachable, so a
//! probe sees the outage); `/health/live` only says the process answers.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{Value, json};

use crate::ai::client::ProviderHealth;
use crate::domain::day::format_timestamp;
use crate::state::AppState;

const DATABASE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
}

async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = async {
        matches!(
            tokio::time::timeout(DATABASE_CHECK_TIMEOUT, state.store.ping()).await,
            Ok(Ok(()))
        )
    };
    let redis = async {
        match &state.redis {
            None => "not-configured",
            Some(redis) if redis.ping().await => "connected",
            Some(_) => "disconnected",
        }
    };
    let (database_up, redis_status) = tokio::join!(database, redis);
    let ai_status = match &state.ai {
        None => "not-configured",
        Some(client) if client.health() == ProviderHealth::Failing => "disconnected",
        Some(_) => "connected",
    };
    let (status, outcome, message) = if database_up {
        (StatusCode::OK, "success", "Server is running")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "error", "Database unavailable")
    };
    let body = json!({
        "status": outcome,
        "message": message,
        "timestamp": format_timestamp(Utc::now()),
        "uptime": state.started_at.elapsed().as_secs_f64(),
        "services": {
            "database": if database_up { "connected" } else { "disconnected" },
            "redis": redis_status,
            "ai": ai_status,
        },
        "environment": state.settings.environment.as_str(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    (status, Json(body))
}

async fn live() -> Json<Value> {
    Json(json!({ "status": "success", "message": "alive" }))
}
