//! `/entries`: one entry per user per UTC day, always scoped to the caller.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::extract::{ApiQuery, AuthUser, JsonBody, PathParam};
use super::numbers::{js_number, serialize_js_number};
use crate::domain::day::{Day, format_timestamp};
use crate::domain::entry::{Entry, EntryChanges, EntryRange, FoodItem, Mood, NewEntry};
use crate::domain::ids::{EntryId, UserId};
use crate::domain::validation::FieldError;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::StoreError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/entries", get(list).post(create))
        .route("/entries/dashboard/summary", get(summary))
        .route("/entries/{id}", get(fetch).put(update).delete(remove))
}

const DAY_TAKEN: ApiError = ApiError::Conflict("Entry already exists for this date");
const NOT_FOUND: ApiError = ApiError::NotFound("Entry not found");

/// An entry as the API returns it: Mongoose's document shape (`_id`, `user`, `date` as UTC
/// midnight) plus `id`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryView<'a> {
    #[serde(rename = "_id")]
    mongo_id: EntryId,
    id: EntryId,
    user: UserId,
    date: String,
    calories: i64,
    #[serde(serialize_with = "serialize_js_number")]
    sleep: f64,
    workouts: bool,
    food_intake: &'a [FoodItem],
    heart_rate: i64,
    steps: i64,
    symptoms: &'a [String],
    mood: Mood,
    #[serde(serialize_with = "serialize_js_number")]
    water_intake: f64,
    notes: &'a str,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a Entry> for EntryView<'a> {
    fn from(e: &'a Entry) -> Self {
        Self {
            mongo_id: e.id,
            id: e.id,
            user: e.user,
            date: e.date.to_iso_midnight(),
            calories: e.log.calories,
            sleep: e.log.sleep,
            workouts: e.log.workouts,
            food_intake: &e.log.food_intake,
            heart_rate: e.log.heart_rate,
            steps: e.log.steps,
            symptoms: &e.log.symptoms,
            mood: e.log.mood,
            water_intake: e.log.water_intake,
            notes: &e.log.notes,
            created_at: format_timestamp(e.created_at),
            updated_at: format_timestamp(e.updated_at),
        }
    }
}

/// A path id: malformed ids are a 400, not a 404 (they cannot name any entry).
fn entry_id(raw: &str) -> ApiResult<EntryId> {
    EntryId::parse(raw).ok_or_else(|| {
        ApiError::Validation(vec![FieldError {
            path: "id".into(),
            msg: "Invalid entry id".into(),
            value: Some(Value::from(raw)),
        }])
    })
}

#[derive(Deserialize)]
struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let range = EntryRange::parse(query.from.as_deref(), query.to.as_deref(), query.limit.as_deref())
        .map_err(ApiError::Validation)?;
    let entries = state.store.list_entries(caller.id, &range).await?;
    let data: Vec<EntryView> = entries.iter().map(EntryView::from).collect();
    Ok(Json(json!({ "status": "success", "count": data.len(), "data": data })))
}

#[derive(Deserialize)]
struct SummaryQuery {
    date: Option<String>,
}

/// Today's figures (or `?date=`), zeros when nothing was recorded.
async fn summary(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> ApiResult<Json<Value>> {
    let day = match query.date.as_deref().filter(|d| !d.is_empty()) {
        None => Day::today(),
        Some(raw) => Day::parse_ymd(raw).ok_or_else(|| {
            ApiError::Validation(vec![FieldError {
                path: "date".into(),
                msg: "date must be a date in YYYY-MM-DD format".into(),
                value: Some(Value::from(raw)),
            }])
        })?,
    };
    let log = state
        .store
        .entry_on_day(caller.id, day)
        .await?
        .map(|e| e.log)
        .unwrap_or_default();
    Ok(Json(json!({
        "status": "success",
        "data": {
            "date": day.to_iso_midnight(),
            "calories": log.calories,
            "sleep": js_number(log.sleep),
            "workouts": u8::from(log.workouts),
            "heartRate": log.heart_rate,
            "steps": log.steps,
            "symptoms": log.symptoms,
            "mood": log.mood,
            "waterIntake": js_number(log.water_intake),
            "foodIntake": log.food_intake,
        }
    })))
}

async fn fetch(State(state): State<AppState>, caller: AuthUser, PathParam(id): PathParam) -> ApiResult<Json<Value>> {
    let id = entry_id(&id)?;
    let entry = state.store.entry_by_id(caller.id, id).await?.ok_or(NOT_FOUND)?;
    Ok(Json(json!({ "status": "success", "data": EntryView::from(&entry) })))
}

async fn create(
    State(state): State<AppState>,
    caller: AuthUser,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let new = NewEntry::parse(&body).map_err(ApiError::Validation)?;
    let now = Utc::now();
    let entry = Entry {
        id: EntryId::new(),
        user: caller.id,
        date: new.date,
        log: new.log,
        created_at: now,
        updated_at: now,
    };
    match state.store.insert_entry(&entry).await {
        Err(StoreError::Conflict) => return Err(DAY_TAKEN),
        other => other?,
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({ "status": "success", "message": "Entry created successfully", "data": EntryView::from(&entry) })),
    ))
}

/// Partial update: only the fields sent change; `date` moves the entry to another day (409 when
/// that day already has one).
async fn update(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let id = entry_id(&id)?;
    let changes = EntryChanges::parse(&body).map_err(ApiError::Validation)?;
    let mut entry = state.store.entry_by_id(caller.id, id).await?.ok_or(NOT_FOUND)?;
    if let Some(day) = changes.date {
        entry.date = day;
    }
    changes.apply(&mut entry.log);
    entry.updated_at = Utc::now();
    match state.store.update_entry(&entry).await {
        Err(StoreError::Conflict) => return Err(DAY_TAKEN),
        Ok(false) => return Err(NOT_FOUND),
        other => other?,
    };
    Ok(Json(
        json!({ "status": "success", "message": "Entry updated successfully", "data": EntryView::from(&entry) }),
    ))
}

async fn remove(State(state): State<AppState>, caller: AuthUser, PathParam(id): PathParam) -> ApiResult<Json<Value>> {
    let id = entry_id(&id)?;
    if !state.store.delete_entry(caller.id, id).await? {
        return Err(NOT_FOUND);
    }
    Ok(Json(
        json!({ "status": "success", "message": "Entry deleted successfully" }),
    ))
}
