//! `/entries`: one entry per user per calendar day, always scoped to the caller; "today" and the day
//! a timestamp lands on are the caller's time zone's.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::conditional::{IfNoneMatch, json_with_etag};
use super::envelope::{ErrorBody, MessageResponse, Success};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiQuery, AuthUser, JsonBody, PathParam};
use super::observe::{Mount, split_mount};
use super::openapi::{EntryInput, EntryUpdate};

use crate::auth::Caller;
use crate::domain::dashboard::DaySummary;
use crate::domain::entry::{Entry, EntryChanges, EntryDocument, EntryRange, NewEntry};
use crate::domain::ids::EntryId;
use crate::domain::validation::{FieldError, Problems};
use crate::state::AppState;
use crate::storage::StoreError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(summary))
        .routes(routes!(fetch, update, remove))
}

/// Room per entry in a page (a document is ~580 bytes, ~800 with every field filled): a default
/// page fits at once; growing it copied the whole page (~17,000 instructions, callgrind).
const PAGE_BYTES_PER_ENTRY: usize = 1024;

const DAY_TAKEN: ApiError = ApiError::Conflict("Entry already exists for this date");
pub(crate) const NOT_FOUND: ApiError = ApiError::NotFound("Entry not found");

/// Documentation only: `list` writes these shapes itself from the stored documents.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct EntryListResponse<'a> {
    status: Success,
    count: usize,
    /// Newest day first.
    data: Vec<EntryDocument<'a>>,
}

/// `GET /entries`'s body: a bare array under `/api` (the pre-upgrade shape the existing React
/// frontend's history maps over), the envelope at the root mount (the upgraded Node backend's shape,
/// for scripts written against it).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum EntryList<'a> {
    /// Under `/api`: the entries themselves, newest day first.
    Bare(Vec<EntryDocument<'a>>),
    /// At the root mount: `{status, count, data}`.
    Envelope(EntryListResponse<'a>),
}

#[derive(Serialize, ToSchema)]
pub struct EntryResponse<'a> {
    status: Success,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
    data: EntryDocument<'a>,
}

impl<'a> EntryResponse<'a> {
    pub(crate) fn new(message: Option<&'static str>, entry: &'a Entry) -> Self {
        Self {
            status: Success::Success,
            message,
            data: entry.document(),
        }
    }
}

/// The figures twice: in `data`, and at the top level, where the existing frontend's dashboard
/// reads them (the pre-upgrade backend's shape).
#[derive(Serialize, ToSchema)]
pub struct SummaryResponse<'a> {
    status: Success,
    #[serde(flatten)]
    figures: &'a DaySummary<'a>,
    /// Zeros, `neutral` and empty lists for what was not recorded (`null` for the measures that
    /// are `null` when unrecorded).
    data: &'a DaySummary<'a>,
}

/// A path id: malformed ids are a 400, not a 404 (they cannot name any entry).
fn entry_id(raw: &str) -> ApiResult<EntryId> {
    EntryId::parse(raw).ok_or_else(|| {
        ApiError::Validation(vec![FieldError {
            path: "id".into(),
            msg: "Invalid entry id".into(),
            value: Some(serde_json::Value::from(raw)),
        }])
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// First day (inclusive), YYYY-MM-DD.
    #[param(value_type = Option<String>, format = Date)]
    pub(crate) from: Option<String>,
    /// Last day (inclusive), YYYY-MM-DD.
    #[param(value_type = Option<String>, format = Date)]
    pub(crate) to: Option<String>,
    /// How many entries, newest first (default 30).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 366)]
    pub(crate) limit: Option<String>,
}

/// The caller's entries, newest day first: the last 30, or a range.
#[utoipa::path(
    get, path = "/entries", tag = "entries",
    params(ListQuery, ("If-None-Match" = Option<String>, Header, description = "An `ETag` of an earlier answer: 304 when it is still current")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Entries, newest day first (with an `ETag`): under `/api` a bare array, at the root mount `{status, count, data}`", body = EntryList,
            headers(("ETag" = String, description = "Strong validator of this answer"))),
        (status = 304, description = "Not modified: the `If-None-Match` tag is current"),
        (status = 400, description = "Bad query (every failing parameter in `details`)", body = ErrorBody,
            example = json!({"status": "error", "message": "limit must be an integer between 1 and 366", "details": [{"path": "limit", "msg": "limit must be an integer between 1 and 366", "value": "0"}]})),
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: AuthUser,
    if_none_match: IfNoneMatch,
    OriginalUri(uri): OriginalUri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let range = EntryRange::parse(query.from.as_deref(), query.to.as_deref(), query.limit.as_deref())
        .map_err(ApiError::Validation)?;
    let (count, items) = entry_page(&state, &caller, &range).await?;
    let body = if split_mount(uri.path()).0 == Mount::Root {
        let mut body = Vec::with_capacity(items.len() + 64);
        body.extend_from_slice(br#"{"status":"success","count":"#);
        body.extend_from_slice(count.to_string().as_bytes());
        body.extend_from_slice(br#","data":"#);
        body.extend_from_slice(&items);
        body.push(b'}');
        body
    } else {
        items
    };
    Ok(json_with_etag(&if_none_match, body))
}

/// The caller's entries in `range`, newest day first, as a JSON array, and how many there are. The
/// stored documents are copied into the page as they are: no entry is decoded and re-encoded.
pub(crate) async fn entry_page(state: &AppState, caller: &Caller, range: &EntryRange) -> ApiResult<(usize, Vec<u8>)> {
    let mut items = Vec::with_capacity(2 + PAGE_BYTES_PER_ENTRY * range.limit.min(EntryRange::DEFAULT_LIMIT) as usize);
    items.push(b'[');
    let count = state.store.write_entry_documents(caller.id, range, &mut items).await?;
    items.push(b']');
    Ok((count, items))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SummaryQuery {
    /// The day, YYYY-MM-DD (default: today in the caller's time zone).
    #[param(value_type = Option<String>, format = Date)]
    date: Option<String>,
}

/// One day's figures for the dashboard: today (in the caller's time zone) unless `date` is given.
#[utoipa::path(
    get, path = "/entries/dashboard/summary", tag = "entries",
    params(SummaryQuery, ("If-None-Match" = Option<String>, Header, description = "An `ETag` of an earlier answer: 304 when it is still current")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The day's figures (with an `ETag`)", body = SummaryResponse,
            headers(("ETag" = String, description = "Strong validator of this answer"))),
        (status = 304, description = "Not modified: the `If-None-Match` tag is current"),
        (status = 400, description = "Bad `date`", body = ErrorBody,
            example = json!({"status": "error", "message": "date must be a date in YYYY-MM-DD format, from 0001-01-01 to 9999-12-31", "details": [{"path": "date", "msg": "date must be a date in YYYY-MM-DD format, from 0001-01-01 to 9999-12-31", "value": "28/11/2026"}]})),
    )
)]
async fn summary(
    State(state): State<AppState>,
    caller: AuthUser,
    if_none_match: IfNoneMatch,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> ApiResult<Response> {
    let mut problems = Problems::new();
    let day = match problems.query_day("date", query.date.as_deref()) {
        None => state.clock.today_in(caller.timezone),
        Some(Some(day)) => day,
        Some(None) => return Err(ApiError::Validation(problems.into_vec())),
    };
    let (entry, goals) = tokio::try_join!(state.store.entry_on_day(caller.id, day), state.store.goals(caller.id))?;
    let log = entry.map(|e| e.log).unwrap_or_default();
    let figures = DaySummary {
        day,
        log: &log,
        goals: &goals,
    };
    let body = serde_json::to_vec(&SummaryResponse {
        status: Success::Success,
        figures: &figures,
        data: &figures,
    })
    .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(json_with_etag(&if_none_match, body))
}

/// One of the caller's entries.
#[utoipa::path(
    get, path = "/entries/{id}", tag = "entries",
    params(("id" = String, Path, description = "The entry's id", pattern = "^[0-9a-fA-F]{24}$")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The entry", body = EntryResponse),
        (status = 400, description = "Malformed id", body = ErrorBody,
            example = json!({"status": "error", "message": "Invalid entry id", "details": [{"path": "id", "msg": "Invalid entry id", "value": "not-an-id"}]})),
        (status = 404, description = "No such entry, or not the caller's", body = ErrorBody,
            example = json!({"status": "error", "message": "Entry not found"})),
    )
)]
async fn fetch(State(state): State<AppState>, caller: AuthUser, PathParam(id): PathParam) -> ApiResult<Response> {
    let id = entry_id(&id)?;
    let entry = state.store.entry_by_id(caller.id, id).await?.ok_or(NOT_FOUND)?;
    Ok(Json(EntryResponse::new(None, &entry)).into_response())
}

/// Record a day. One entry per user per calendar day; a timestamp `date` counts for the day it falls
/// on in the caller's time zone.
#[utoipa::path(
    post, path = "/entries", tag = "entries",
    request_body = EntryInput,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Created", body = EntryResponse, links(
            ("GetEntry" = (operation_id = "fetch", parameters(("id" = "$response.body#/data/id")))),
            ("UpdateEntry" = (operation_id = "update", parameters(("id" = "$response.body#/data/id")))),
            ("DeleteEntry" = (operation_id = "remove", parameters(("id" = "$response.body#/data/id")))),
        )),
        (status = 400, description = "Validation failed (every failing field in `details`) or malformed JSON", body = ErrorBody,
            example = json!({"status": "error", "message": "Calories must be an integer between 0 and 10000", "details": [{"path": "calories", "msg": "Calories must be an integer between 0 and 10000", "value": 10001}]})),
        (status = 409, description = "The day already has an entry", body = ErrorBody,
            example = json!({"status": "error", "message": "Entry already exists for this date"})),
    )
)]
async fn create(State(state): State<AppState>, caller: AuthUser, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let new = NewEntry::parse(&body, caller.timezone).map_err(ApiError::Validation)?;
    let entry = insert_entry(&state, &caller, new).await?;
    let body = EntryResponse::new(Some("Entry created successfully"), &entry);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Stores the caller's new entry: 409 when the day already has one.
pub(crate) async fn insert_entry(state: &AppState, caller: &Caller, new: NewEntry) -> ApiResult<Entry> {
    let entry = new.into_entry(caller.id, Utc::now());
    match state.store.insert_entry(&entry).await {
        Err(StoreError::Conflict) => Err(DAY_TAKEN),
        other => other.map(|()| entry).map_err(ApiError::from),
    }
}

/// Applies `changes` to the caller's entry `id`: 404 when there is none, 409 when `date` moves it
/// onto a day that has one.
pub(crate) async fn change_entry(
    state: &AppState,
    caller: &Caller,
    id: EntryId,
    changes: &EntryChanges,
) -> ApiResult<Entry> {
    match state.store.update_entry(caller.id, id, changes, Utc::now()).await {
        Err(StoreError::Conflict) => Err(DAY_TAKEN),
        other => other?.ok_or(NOT_FOUND),
    }
}

/// Change some of an entry's fields; `date` moves it to another day.
#[utoipa::path(
    put, path = "/entries/{id}", tag = "entries",
    params(("id" = String, Path, description = "The entry's id", pattern = "^[0-9a-fA-F]{24}$")),
    request_body(content = Option<EntryUpdate>, description = "The fields to change (an empty body changes nothing)"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Updated", body = EntryResponse),
        (status = 400, description = "Malformed id, validation failed or malformed JSON", body = ErrorBody,
            example = json!({"status": "error", "message": "Sleep must be a number between 0 and 24", "details": [{"path": "sleep", "msg": "Sleep must be a number between 0 and 24", "value": 25}]})),
        (status = 404, description = "No such entry, or not the caller's", body = ErrorBody,
            example = json!({"status": "error", "message": "Entry not found"})),
        (status = 409, description = "The new day already has an entry", body = ErrorBody,
            example = json!({"status": "error", "message": "Entry already exists for this date"})),
    )
)]
async fn update(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = entry_id(&id)?;
    let changes = EntryChanges::parse(&body, caller.timezone).map_err(ApiError::Validation)?;
    let entry = change_entry(&state, &caller, id, &changes).await?;
    Ok(Json(EntryResponse::new(Some("Entry updated successfully"), &entry)).into_response())
}

/// Delete one of the caller's entries.
#[utoipa::path(
    delete, path = "/entries/{id}", tag = "entries",
    params(("id" = String, Path, description = "The entry's id", pattern = "^[0-9a-fA-F]{24}$")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Deleted", body = MessageResponse),
        (status = 400, description = "Malformed id", body = ErrorBody,
            example = json!({"status": "error", "message": "Invalid entry id", "details": [{"path": "id", "msg": "Invalid entry id", "value": "not-an-id"}]})),
        (status = 404, description = "No such entry, or not the caller's", body = ErrorBody,
            example = json!({"status": "error", "message": "Entry not found"})),
    )
)]
async fn remove(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(id): PathParam,
) -> ApiResult<Json<MessageResponse>> {
    let id = entry_id(&id)?;
    if !state.store.delete_entry(caller.id, id).await? {
        return Err(NOT_FOUND);
    }
    Ok(Json(MessageResponse::new("Entry deleted successfully")))
}
