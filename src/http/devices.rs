//! Data from devices: `POST /import/apple-health`. The upload is spooled to a temporary file as it
//! arrives (counted: past `DEVICE_IMPORT_LIMIT`, 413 and the rest is never read), then read on the
//! blocking pool by the Apple reader into the day aggregator (src/devices/), and only once the
//! whole file has been read are the days written: a file refused anywhere writes nothing.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, header};
use chrono::Utc;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{ErrorBody, Success};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiQuery, AuthUser, media_type};
use crate::devices::apple::{self, Refusal};
use crate::devices::{DayAggregator, DeviceConflict, DeviceDays, WriteCounts, write_days};
use crate::domain::ids::UserId;
use crate::domain::validation::FieldError;
use crate::state::AppState;

/// The upload's path under either mount: it has its own deadline (`DEVICE_IMPORT_TIMEOUT_SECS`,
/// kept by the request observer) and body limit.
pub const APPLE_HEALTH_PATH: &str = "/import/apple-health";

pub fn routes() -> OpenApiRouter<AppState> {
    // The upload is read as a stream under its own limit, never buffered: the global body limit
    // (`BODY_LIMIT`) is not this route's.
    OpenApiRouter::new()
        .routes(routes!(apple_health))
        .layer(DefaultBodyLimit::disable())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceImportQuery {
    /// `fill` (the default: a field the day already has is kept, missing ones filled) or `replace`
    /// (the device's figures overwrite).
    #[param(value_type = Option<String>, pattern = "^(fill|replace)$")]
    #[serde(rename = "onConflict")]
    pub on_conflict: Option<String>,
}

impl DeviceImportQuery {
    pub fn mode(&self) -> ApiResult<DeviceConflict> {
        DeviceConflict::parse(self.on_conflict.as_deref()).ok_or_else(|| {
            ApiError::Validation(vec![FieldError {
                path: "onConflict".into(),
                msg: "onConflict must be fill or replace".into(),
                value: self.on_conflict.clone().map(serde_json::Value::from),
            }])
        })
    }
}

/// What a device import did.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceImportResponse {
    status: Success,
    /// Days that had no entry.
    created: u64,
    /// Days whose entry changed.
    updated: u64,
    /// Days whose entry already held the device's figures (or, with `fill`, the person's own).
    unchanged: u64,
    /// Records (samples) in the file, of every type.
    records_read: u64,
    /// Records of a mapped type read into a day.
    records_used: u64,
    /// Records of the types not mapped, by type.
    skipped_types: BTreeMap<String, u64>,
    /// Values dropped: a day's figure outside its field's rule, or a record whose value, unit or
    /// date cannot be read.
    dropped: u64,
    /// The first and last day with a figure (`YYYY-MM-DD`), `null` when none.
    from: Option<String>,
    to: Option<String>,
}

impl DeviceImportResponse {
    /// The answer of any device import: what was read, and what the write did.
    pub fn new(days: DeviceDays, counts: WriteCounts) -> Self {
        let day = |day: Option<&crate::domain::day::Day>| day.map(|d| d.to_ymd());
        Self {
            status: Success::Success,
            created: counts.created,
            updated: counts.updated,
            unchanged: counts.unchanged,
            records_read: days.tally.records_read,
            records_used: days.tally.records_used,
            from: day(days.days.keys().next()),
            to: day(days.days.keys().next_back()),
            skipped_types: days.tally.skipped_types,
            dropped: days.tally.dropped,
        }
    }
}

/// Documentation only: the uploaded file.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(value_type = String, format = Binary)]
pub struct AppleHealthFile(Vec<u8>);

/// The media types the route takes (the reader tells a zip from XML by its first bytes).
const ACCEPTED: [&str; 5] = [
    "application/zip",
    "application/x-zip-compressed",
    "application/xml",
    "text/xml",
    "application/octet-stream",
];

/// Import the iPhone's Health export: the `export.zip` the Health app writes (Health → your
/// picture → Export All Health Data) or the `export.xml` inside it, read as a stream (memory does
/// not grow with the file), up to `DEVICE_IMPORT_LIMIT` (1 GiB by default; 413 beyond). Each day,
/// in the user's time zone, gets steps (the device with the most that day, never phone and watch
/// summed), sleep (asleep stages merged, on the day the sleep ends), mean heart rate, the last
/// resting heart rate, weight and blood pressure of the day, active energy, dietary energy
/// (`calories`) and water (cups) summed, and `workouts` when a workout starts that day; a value
/// outside its field's rule is dropped. Importing the same file again changes nothing. Refused
/// with 400, writing nothing: a zip without `export.xml`, one unpacking beyond
/// `DEVICE_IMPORT_MAX_UNZIPPED` (4 GiB) or at over 200:1, XML entity declarations (never
/// expanded or fetched), a truncated or malformed file. The upload and its import have
/// `DEVICE_IMPORT_TIMEOUT_SECS` (15 minutes by default) in place of `REQUEST_TIMEOUT_SECS`: a slow
/// link's upload is not cut off after a minute; one still arriving at the deadline gets 503 and
/// writes nothing. At most `DEVICE_IMPORT_MAX_UPLOADS` (2) uploads are read at once; more wait.
/// One account uploads one file at a time (409 for a second while one is under way).
#[utoipa::path(
    post, path = "/import/apple-health", tag = "data",
    params(DeviceImportQuery),
    request_body(description = "The Health app's export.zip, or its export.xml", content(
        (AppleHealthFile = "application/zip"),
        (AppleHealthFile = "application/xml"),
    )),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Imported", body = DeviceImportResponse),
        (status = 400, description = "Not an Apple Health export, a hostile or truncated file, or a bad `onConflict`", body = ErrorBody,
            example = json!({"status": "error", "message": "The zip holds no export.xml: send the export.zip the Health app writes"})),
        (status = 413, description = "Over `DEVICE_IMPORT_LIMIT`", body = ErrorBody,
            example = json!({"status": "error", "message": "Request body too large"})),
        (status = 415, description = "Neither a zip nor XML", body = ErrorBody,
            example = json!({"status": "error", "message": "Content-Type must be application/zip or application/xml"})),
        (status = 409, description = "An upload of this account is already under way", body = ErrorBody,
            example = json!({"status": "error", "message": "An Apple Health import of this account is under way: wait for it to finish"})),
        (status = 503, description = "Not answered within `DEVICE_IMPORT_TIMEOUT_SECS`", body = ErrorBody,
            example = json!({"status": "error", "message": "Request timed out", "errorId": "4e86bb14dcff737a"})),
    )
)]
async fn apple_health(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(query): ApiQuery<DeviceImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<DeviceImportResponse>> {
    let mode = query.mode()?;
    if !media_type(&headers).is_some_and(|media| ACCEPTED.contains(&media.as_str())) {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/zip or application/xml",
        ));
    }
    let _uploading = OneUpload::claim(&state, caller.id).ok_or(ApiError::Conflict(
        "An Apple Health import of this account is under way: wait for it to finish",
    ))?;
    let limits = state.settings.device_import;
    let file = spool(&headers, body, limits.limit).await?;
    let zone = caller.timezone;
    let days = tokio::task::spawn_blocking(move || {
        let mut aggregator = DayAggregator::new(zone);
        apple::with_export_xml(file, limits.max_unzipped, |input| {
            apple::read_export(input, &mut aggregator)
        })?;
        Ok::<_, Refusal>(aggregator.finish())
    })
    .await
    .map_err(|error| ApiError::Internal(error.into()))?
    .map_err(refused)?;
    let counts = write_days(state.store.as_ref(), caller.id, &days.days, mode, Utc::now()).await?;
    crate::memory::release_freed_memory();
    Ok(Json(DeviceImportResponse::new(days, counts)))
}

/// An account's one upload under way on this instance: a second is refused with 409, so stalled
/// uploads of one account cannot hold every `DEVICE_IMPORT_MAX_UPLOADS` permit. Released on drop
/// (the answer, an error, or the request timing out).
struct OneUpload<'a> {
    state: &'a AppState,
    user: UserId,
}

impl<'a> OneUpload<'a> {
    fn claim(state: &'a AppState, user: UserId) -> Option<Self> {
        let claimed = state
            .device_uploaders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(user);
        // Built only when claimed, and with the lock released: a value built for a refused claim
        // would, dropped, free the first upload's claim (and take the lock it was built under).
        claimed.then(|| Self { state, user })
    }
}

impl Drop for OneUpload<'_> {
    fn drop(&mut self) {
        let mut uploaders = self
            .state
            .device_uploaders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        uploaders.remove(&self.user);
    }
}

fn refused(refusal: Refusal) -> ApiError {
    match (refusal.message(), refusal) {
        (Some(message), _) => ApiError::BadRequest(message.into()),
        (None, Refusal::Io(error)) => ApiError::Internal(anyhow::anyhow!("reading a device upload: {error}")),
        (None, _) => ApiError::Internal(anyhow::anyhow!("reading a device upload")),
    }
}

/// The body, written to an unnamed temporary file as it arrives (removed when dropped). A declared
/// length over `limit` is refused before a byte is read; a chunked body as soon as it passes it.
pub async fn spool(headers: &HeaderMap, body: Body, limit: u64) -> ApiResult<std::fs::File> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge);
    }
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|error| ApiError::Internal(error.into()))?
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("a temporary file for an upload: {error}")))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(file));
    let mut stream = body.into_data_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest("The upload was cut off".into()))?;
        total += chunk.len() as u64;
        if total > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        out.write_all(&chunk).await.map_err(write_failed)?;
    }
    out.flush().await.map_err(write_failed)?;
    Ok(out.into_inner().into_std().await)
}

fn write_failed(error: std::io::Error) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("spooling an upload: {error}"))
}
