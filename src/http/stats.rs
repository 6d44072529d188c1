//! `GET /entries/stats`: the caller's trends per day, ISO week or calendar month over a range of
//! their days, and their streaks. The rules are `domain::stats`; this reads the figures and
//! streak days (two indexed reads at once), answers with an `ETag`, and keeps the answer while the
//! caller's entries are unchanged (`trends_cache`).

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use axum::body::Bytes;

use super::conditional::{IfNoneMatch, etag_of, tagged_json};
use super::envelope::{ErrorBody, Success};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiQuery, AuthUser};
use crate::auth::Caller;
use crate::domain::day::Day;
use crate::domain::stats::{self, Bucket, BucketStats, LoggedDay, StatsQuery, Streaks};
use crate::state::AppState;
use crate::trends_cache::{CachedAnswer, TrendsKey};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(entry_stats))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsParams {
    /// First day (inclusive), YYYY-MM-DD (default: 27 days before `to`).
    #[param(value_type = Option<String>, format = Date)]
    pub(crate) from: Option<String>,
    /// Last day (inclusive), YYYY-MM-DD (default: today in the caller's time zone). At most 3,660
    /// days from `from`.
    #[param(value_type = Option<String>, format = Date)]
    pub(crate) to: Option<String>,
    /// Bucket size (default `week`: ISO weeks, Monday to Sunday).
    #[param(value_type = Option<Bucket>, inline)]
    pub(crate) bucket: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StatsResponse {
    status: Success,
    #[schema(format = Date)]
    from: String,
    #[schema(format = Date)]
    to: String,
    bucket: Bucket,
    /// The zone "today" was taken in (the caller's).
    timezone: &'static str,
    /// One bucket per day, week or month of the range, oldest first; the first and last clipped
    /// to the range.
    data: Vec<BucketStats>,
    /// Over the caller's whole history, not just the range.
    streaks: Streaks,
}

/// The caller's trends: per bucket, the days logged, workout days, moods, and for calories, sleep,
/// steps, heart rate and water the average, minimum and maximum over the logged days whose value
/// is not 0 (`null` when there is none) and the sum; and the logging and workout streaks.
#[utoipa::path(
    get, path = "/entries/stats", tag = "entries",
    params(StatsParams, ("If-None-Match" = Option<String>, Header, description = "An `ETag` of an earlier answer: 304 when it is still current")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The trends (with an `ETag`)", body = StatsResponse,
            headers(("ETag" = String, description = "Strong validator of this answer")),
            example = json!({"status": "success", "from": "2026-11-30", "to": "2026-12-01", "bucket": "week", "timezone": "Asia/Kolkata",
                "data": [{"start": "2026-11-30", "end": "2026-12-01", "days": 2, "daysLogged": 2, "workoutDays": 1,
                    "moods": {"poor": 0, "fair": 0, "neutral": 1, "good": 1, "excellent": 0},
                    "calories": {"avg": 1950, "min": 1800, "max": 2100, "sum": 3900},
                    "sleep": {"avg": 7.25, "min": 6.5, "max": 8, "sum": 14.5},
                    "steps": {"avg": 8000, "min": 8000, "max": 8000, "sum": 8000},
                    "heartRate": {"avg": null, "min": null, "max": null, "sum": 0},
                    "waterIntake": {"avg": 2.5, "min": 2, "max": 3, "sum": 5}}],
                "streaks": {"currentLogging": 2, "longestLogging": 9, "currentWorkout": 0, "longestWorkout": 3}})),
        (status = 304, description = "Not modified: the `If-None-Match` tag is current"),
        (status = 400, description = "Bad query (every failing parameter in `details`)", body = ErrorBody,
            example = json!({"status": "error", "message": "from must not be after to", "details": [{"path": "from", "msg": "from must not be after to", "value": "2026-12-02"}]})),
    )
)]
async fn entry_stats(
    State(state): State<AppState>,
    caller: AuthUser,
    if_none_match: IfNoneMatch,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> ApiResult<Response> {
    let computed = trends(&state, &caller, &params).await?;
    Ok(tagged_json(&if_none_match, computed.body, computed.etag))
}

/// The trends body for `params`: kept while the caller's entries are unchanged, computed otherwise.
pub(crate) async fn trends(state: &AppState, caller: &Caller, params: &StatsParams) -> ApiResult<CachedAnswer> {
    let today = state.clock.today_in(caller.timezone);
    let query = StatsQuery::parse(
        params.from.as_deref(),
        params.to.as_deref(),
        params.bucket.as_deref(),
        today,
    )
    .map_err(ApiError::Validation)?;
    let key = TrendsKey {
        user: caller.id,
        query,
        today,
        zone: caller.timezone,
    };
    if let Some(kept) = state.trends.get(&key, caller.entries_version) {
        return Ok(kept);
    }
    let (figures, goals) = tokio::try_join!(
        state.store.day_figures(caller.id, query.from, query.to),
        state.store.goals(caller.id),
    )?;
    // The streaks run over the whole history: the days alone, or with their figures when there
    // are goals to meet.
    let logged: Vec<LoggedDay> = if goals.is_empty() {
        state.store.logged_days(caller.id).await?
    } else {
        let history = state.store.day_figures(caller.id, Day::MIN, Day::MAX).await?;
        history.iter().map(|day| day.logged(&goals)).collect()
    };
    let body = StatsResponse {
        status: Success::Success,
        from: query.from.to_ymd(),
        to: query.to.to_ymd(),
        bucket: query.bucket,
        timezone: caller.timezone.name(),
        data: stats::buckets(&query, &figures, &goals),
        streaks: stats::streaks(&logged, today, &goals),
    };
    let body = Bytes::from(serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.into()))?);
    let computed = CachedAnswer {
        etag: etag_of(&body),
        body,
    };
    state.trends.put(key, caller.entries_version, computed.clone());
    Ok(computed)
}
