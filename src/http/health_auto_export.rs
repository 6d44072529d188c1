//! `POST /import/health-auto-export`: what the iOS app Health Auto Export posts from a REST API
//! automation (docs/health-auto-export-format.md), read by its reader into the same day aggregator
//! and written by the same fill/replace step as the Apple Health export (src/devices/). The body is
//! JSON under the usual `BODY_LIMIT` (10 MB): a daily-aggregated year is about 0.3 MB and a week of
//! the app's default per-minute points a few MB; a larger backfill is the Apple Health export's
//! route. Read whole before anything is written: a payload refused writes nothing.
//!
//! The app pushes the same days again (its *Default* period is the whole previous day plus today so
//! far, several times a day), so a day's figures are recomputed from that day's points in the push:
//! the same points give the same figures (`unchanged`). With `fill` a stored field is never
//! touched, so a day not yet over in the user's zone (today) is not written at all — its first,
//! partial push would otherwise stay as the day's figure — and is filled by the first push after
//! it ends. With `replace` every day in the push is written, today included, and follows the pushes
//! through the day (a push holding only part of a past day, such as *Since Last Sync*, overwrites
//! that day with the part: use a period of whole days).

use axum::Json;
use axum::extract::{Request, State};
use chrono::Utc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::devices::{DeviceImportQuery, DeviceImportResponse};
use super::envelope::ErrorBody;
use super::error::{ApiError, ApiResult, JSON_ONLY};
use super::extract::{ApiQuery, AuthUser, body_bytes, declares_json};
use crate::devices::health_auto_export::read_payload;
use crate::devices::{DayAggregator, DeviceConflict, write_days};
use crate::domain::day::Day;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health_auto_export))
}

/// Documentation only: the app's payload (docs/health-auto-export-format.md).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"data": {
    "metrics": [
        {"name": "step_count", "units": "count", "data": [
            {"date": "2024-06-01 00:00:00 -0700", "qty": 9412, "source": "Apple Watch|iPhone"}]},
        {"name": "heart_rate", "units": "count/min", "data": [
            {"date": "2024-06-01 00:00:00 -0700", "Min": 51, "Avg": 72.6, "Max": 148, "source": "Apple Watch"}]},
        {"name": "sleep_analysis", "units": "hr", "data": [
            {"date": "2024-06-01 00:00:00 -0700", "totalSleep": 7.36, "core": 5.27, "deep": 0.64, "rem": 1.45,
             "asleep": 0, "awake": 0.49, "sleepStart": "2024-05-31 23:04:17 -0700", "sleepEnd": "2024-06-01 07:15:58 -0700"}]}
    ],
    "workouts": [{"id": "1C78329D-E5D1-4F1D-8CF5-72AFEDACFF5B", "name": "Outdoor Run",
        "start": "2024-06-01 18:02:11 -0700", "end": "2024-06-01 18:39:40 -0700", "duration": 2249.1}]
}}))]
pub struct HealthAutoExportPayload {
    /// `{metrics: [{name, units, data: [point]}], workouts: [workout]}`; either array may be absent.
    data: serde_json::Value,
}

/// Import a push of the iOS app Health Auto Export (its REST API automation, JSON format): metrics
/// `step_count`, `sleep_analysis` (aggregated or per sample), `heart_rate` (`Avg`),
/// `resting_heart_rate`, `weight_body_mass`, `dietary_water`, `active_energy`, `dietary_energy`,
/// `blood_pressure`, and `workouts` (export version 1 or 2), mapped onto each day in the user's time
/// zone by the same rules as `POST /import/apple-health`; other metrics are counted in
/// `skippedTypes`. Dates are `yyyy-MM-dd HH:mm:ss Z`; a daily point dated at local midnight counts
/// on its day. A repeated push changes nothing (`unchanged`). With `fill` (the default) a day not
/// yet over in the user's zone is left for a later push, so a partial day never becomes the day's
/// figure; `replace` writes every day of the push, today included.
#[utoipa::path(
    post, path = "/import/health-auto-export", tag = "data",
    params(DeviceImportQuery),
    request_body(content = HealthAutoExportPayload, content_type = "application/json",
        description = "The payload Health Auto Export posts (up to BODY_LIMIT)"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Imported", body = DeviceImportResponse),
        (status = 400, description = "Malformed JSON, not the app's payload shape, or a bad `onConflict`; nothing written", body = ErrorBody,
            example = json!({"status": "error", "message": "Not a Health Auto Export payload (expected {\"data\": {\"metrics\": [...], \"workouts\": [...]}}): missing field `data` at line 1 column 2"})),
        (status = 413, description = "Over `BODY_LIMIT`", body = ErrorBody,
            example = json!({"status": "error", "message": "Request body too large"})),
        (status = 415, description = "Not declared as JSON", body = ErrorBody,
            example = json!({"status": "error", "message": "Content-Type must be application/json"})),
    )
)]
async fn health_auto_export(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(query): ApiQuery<DeviceImportQuery>,
    request: Request,
) -> ApiResult<Json<DeviceImportResponse>> {
    let mode = query.mode()?;
    if !declares_json(request.headers()) {
        return Err(ApiError::UnsupportedMediaType(JSON_ONLY));
    }
    let body = body_bytes(request, &state).await?;
    let zone = caller.timezone;
    // A few MB of JSON is tens of milliseconds of parsing: off the async workers.
    let mut days = tokio::task::spawn_blocking(move || {
        let mut aggregator = DayAggregator::new(zone);
        read_payload(&body, zone, &mut aggregator)?;
        Ok::<_, crate::devices::health_auto_export::NotAPayload>(aggregator.finish())
    })
    .await
    .map_err(|error| ApiError::Internal(error.into()))?
    .map_err(|refusal| ApiError::BadRequest(refusal.message().into()))?;
    if mode == DeviceConflict::Fill {
        let today = Day::at(Utc::now(), zone);
        days.days.retain(|day, _| *day < today);
    }
    let counts = write_days(state.store.as_ref(), caller.id, &days.days, mode, Utc::now()).await?;
    Ok(Json(DeviceImportResponse::new(days, counts)))
}
