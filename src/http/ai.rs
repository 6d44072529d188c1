//! `/ai`: the AI coach. Until a provider is configured every route answers 503.

use axum::Router;
use axum::routing::{get, post};

use super::extract::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ai/chat", post(not_configured))
        .route("/ai/weekly-report", post(not_configured))
        .route("/ai/job-status/{job_id}", get(not_configured))
}

async fn not_configured(_caller: AuthUser) -> ApiError {
    ApiError::ServiceUnavailable("AI service is not configured")
}
