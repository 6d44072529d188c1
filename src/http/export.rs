//! `/export` and `/import`: the caller's data as a file, and back.
//!
//! The export is streamed page by page (entries are read [`PAGE`] at a time, oldest first), so its
//! memory does not grow with the account; JSON is the stored documents written out as they are,
//! CSV is RFC 4180 through the `csv` crate. The import is one request holding an export document,
//! each entry checked by the rules of `POST /entries`, written in one transaction (SQLite) or in
//! bulk (MongoDB).

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ai::HistoryView;
use super::envelope::{ErrorBody, Success};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiQuery, AuthUser, JsonBody};
use super::openapi::ImportDocument as ImportDocumentSchema;
use crate::domain::coach::HISTORY_KEEP;
use crate::domain::day::{Day, format_timestamp};
use crate::domain::entry::Entry;
use crate::domain::export::{self, FORMAT, ImportDocument, VERSION, csv_header, csv_row};
use crate::domain::fhir;
use crate::domain::ids::UserId;
use crate::domain::validation::FieldError;
use crate::state::AppState;
use crate::storage::{OnConflict, Storage, StoreError};

/// Entries read at a time while exporting.
const PAGE: u32 = 500;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export)).routes(routes!(import))
}

fn invalid(path: &str, msg: &str, value: Option<&str>) -> ApiError {
    ApiError::Validation(vec![FieldError {
        path: path.to_owned(),
        msg: msg.to_owned(),
        value: value.map(serde_json::Value::from),
    }])
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// `json` (the default: an export document, which `POST /import` takes), `csv`, or `fhir` (a
    /// FHIR R4 `Bundle` for a clinician's system).
    #[param(value_type = Option<String>, pattern = "^(json|csv|fhir)$")]
    format: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    Json,
    Csv,
    Fhir,
}

/// Documentation only: the JSON export's shape (it is written as a stream, not from this type).
/// The account in an export document: who it was (no role, no two-factor state: an import never
/// takes those).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
pub struct ExportUser {
    #[schema(pattern = "^[0-9a-f]{24}$", example = "6745c0ffee0ddba11deadbee")]
    id: String,
    name: String,
    email: String,
    #[schema(example = "Asia/Kolkata")]
    timezone: String,
    #[schema(format = DateTime)]
    created_at: String,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
#[schema(as = ExportDocument)]
pub struct ExportDocumentSchema {
    /// `healthtracker-export`
    format: String,
    /// 1
    version: u32,
    #[schema(format = DateTime)]
    exported_at: String,
    user: ExportUser,
    /// The account's goals (`{}` when none is set); an import sets them where the account has
    /// none, or over its own with `onConflict=replace`.
    goals: crate::domain::goals::Goals,
    /// Every entry in its API shape, oldest day first.
    entries: Vec<crate::domain::entry::EntryDocument<'static>>,
    /// The conversation with the coach (its newest 200 messages), oldest first. `POST /import`
    /// ignores it.
    ai_history: Vec<HistoryView>,
}

/// Documentation only: the FHIR export's outline (it is written as a stream, not from this type).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
#[schema(as = FhirBundle)]
pub struct FhirBundleSchema {
    /// `Bundle`
    resource_type: String,
    id: String,
    /// `collection`
    #[serde(rename = "type")]
    kind: String,
    #[schema(format = DateTime)]
    timestamp: String,
    /// `{fullUrl, resource}`: the `Patient` first, then the `Observation`s, oldest day first.
    #[schema(value_type = Vec<Object>)]
    entry: Vec<serde_json::Value>,
}

/// All the caller's data as a file: the profile, every entry (oldest day first) and, in JSON, the
/// conversation with the coach. Streamed:
/// any size of account takes the same memory.
///
/// `fhir`: a FHIR R4 `Bundle` (`collection`, `application/fhir+json`) of one `Patient` (the name and
/// id, no e-mail) and one `Observation` per recorded value per day (`final`, LOINC-coded, UCUM
/// units, `effectiveDateTime` the day): steps 41950-7, heart rate 8867-4, resting heart rate
/// 40443-4, body weight 29463-7, blood pressure 85354-9 (components 8480-6, 8462-4), sleep 93832-4,
/// calories eaten 9052-2, active energy 41979-6. Water intake is left out (no code for its unit).
#[utoipa::path(
    get, path = "/export", tag = "data",
    params(ExportQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The export, as an attachment", content(
            (ExportDocumentSchema = "application/json"),
            (String = "text/csv"),
            (FhirBundleSchema = "application/fhir+json"),
        )),
        (status = 400, description = "An unknown format", body = ErrorBody,
            example = json!({"status": "error", "message": "format must be json, csv or fhir", "details": [{"path": "format", "msg": "format must be json, csv or fhir", "value": "xml"}]})),
    )
)]
async fn export(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let format = match query.format.as_deref() {
        None | Some("json") => ExportFormat::Json,
        Some("csv") => ExportFormat::Csv,
        Some("fhir") => ExportFormat::Fhir,
        Some(other) => return Err(invalid("format", "format must be json, csv or fhir", Some(other))),
    };
    let (user, goals) = tokio::try_join!(
        async { state.accounts.profile(&caller).await.map_err(ApiError::from) },
        async { state.store.goals(caller.id).await.map_err(ApiError::from) }
    )?;
    let today = state.clock.today_in(caller.timezone);
    let (content_type, extension, head) = match format {
        ExportFormat::Json => {
            let profile = serde_json::json!({
                "id": user.id,
                "name": user.name.as_str(),
                "email": user.email.as_str(),
                "timezone": caller.timezone.name(),
                "createdAt": format_timestamp(user.created_at),
            });
            let head = format!(
                r#"{{"format":"{FORMAT}","version":{VERSION},"exportedAt":"{}","user":{profile},"goals":{},"entries":["#,
                format_timestamp(Utc::now()),
                serde_json::to_string(&goals).unwrap_or_else(|_| "{}".to_owned())
            );
            ("application/json", "json", head)
        }
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv", csv_line(&csv_header())),
        ExportFormat::Fhir => (
            "application/fhir+json",
            "fhir.json",
            fhir::bundle_head(&user.id.to_string(), user.name.as_str(), &format_timestamp(Utc::now())),
        ),
    };
    let body = Body::from_stream(pages(Arc::clone(&state.store), user.id, format, head));
    let disposition = format!(
        "attachment; filename=\"healthtracker-export-{}.{extension}\"",
        today.to_ymd()
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// One CSV record, RFC 4180-quoted, with its line ending.
fn csv_line(cells: &[String]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing into memory cannot fail.
    let _ = writer.write_record(cells);
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The export's body: the head, then a chunk per page of entries, then the tail.
fn pages(
    store: Arc<dyn Storage>,
    user: UserId,
    format: ExportFormat,
    head: String,
) -> impl futures_util::Stream<Item = Result<Bytes, StoreError>> + Send {
    enum Next {
        Page { after: Option<Day>, first: bool },
        Done,
    }
    let head = futures_util::stream::once(async move { Ok(Bytes::from(head)) });
    // Every FHIR Observation references the Patient: its URL (a hash of the user id) once per export.
    let patient: Arc<str> = fhir::patient_url(&user.to_string()).into();
    let body = futures_util::stream::unfold(
        Next::Page {
            after: None,
            first: true,
        },
        move |next| {
            let store = Arc::clone(&store);
            let patient = Arc::clone(&patient);
            async move {
                let Next::Page { after, first } = next else { return None };
                let page = match store.entry_documents_after(user, after, PAGE).await {
                    Ok(page) => page,
                    Err(error) => return Some((Err(error), Next::Done)),
                };
                let last_page = page.len() < PAGE as usize;
                let mut chunk = String::new();
                for (i, (day, document)) in page.iter().enumerate() {
                    let written = match format {
                        ExportFormat::Json => {
                            if !(first && i == 0) {
                                chunk.push(',');
                            }
                            chunk.push_str(document.as_str());
                            Ok(())
                        }
                        ExportFormat::Csv => {
                            csv_row(*day, document.as_str()).map(|row| chunk.push_str(&csv_line(&row)))
                        }
                        ExportFormat::Fhir => fhir::observation_entries(&patient, *day, document.as_str())
                            .map(|entries| chunk.push_str(&entries)),
                    };
                    if let Err(error) = written {
                        return Some((
                            Err(StoreError::Other(anyhow::anyhow!("a stored entry document: {error}"))),
                            Next::Done,
                        ));
                    }
                }
                if last_page && format == ExportFormat::Fhir {
                    chunk.push_str(fhir::BUNDLE_TAIL);
                }
                if last_page && format == ExportFormat::Json {
                    match store.ai_history(user, HISTORY_KEEP).await {
                        Ok(history) => {
                            let history: Vec<HistoryView> = history.into_iter().map(HistoryView::from).collect();
                            // Serializing plain strings cannot fail.
                            let history = serde_json::to_string(&history).unwrap_or_else(|_| "[]".to_owned());
                            chunk.push_str(r#"],"aiHistory":"#);
                            chunk.push_str(&history);
                            chunk.push('}');
                        }
                        Err(error) => return Some((Err(error), Next::Done)),
                    }
                }
                let next = match page.last() {
                    Some((day, _)) if !last_page => Next::Page {
                        after: Some(*day),
                        first: false,
                    },
                    _ => Next::Done,
                };
                Some((Ok(Bytes::from(chunk)), next))
            }
        },
    );
    head.chain(body)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// What to do with a day the account already has: `skip` (the default) or `replace`.
    #[param(value_type = Option<String>, pattern = "^(skip|replace)$")]
    #[serde(rename = "onConflict")]
    on_conflict: Option<String>,
}

/// An entry of the file that was not imported, and why.
#[derive(Serialize, ToSchema)]
pub struct ImportError {
    /// Its place in the file's `entries`.
    index: usize,
    date: Option<String>,
    details: Vec<FieldError>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportResponse {
    status: Success,
    created: u64,
    updated: u64,
    skipped: u64,
    errors: Vec<ImportError>,
}

/// Import an export document (of this or any other account). Each entry is checked by the rules of
/// `POST /entries` (a timestamp `date` is placed as `POST /entries` places it; only the old
/// backend's `{"$date": …}` values stand for the day whose UTC midnight they are nearest) and keyed
/// by its day; invalid ones are listed by index in `errors` and the rest imported. Ids, owners and
/// timestamps in the file are never trusted.
///
/// Caps: the body limit (`BODY_LIMIT`, 10 MiB by default; 413 beyond), and one entry per 256 bytes
/// of it (40,960 entries at the default; 400 beyond) — more entries than any export within the
/// body limit holds, so every export that fits imports.
#[utoipa::path(
    post, path = "/import", tag = "data",
    params(ImportQuery),
    request_body = ImportDocumentSchema,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Imported (see `errors` for the entries that were not)", body = ImportResponse),
        (status = 400, description = "Not an export document, or a bad `onConflict`", body = ErrorBody,
            example = json!({"status": "error", "message": "Not an export document: format must be \"healthtracker-export\"", "details": [{"path": "format", "msg": "Not an export document: format must be \"healthtracker-export\""}]})),
    )
)]
async fn import(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(query): ApiQuery<ImportQuery>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<ImportResponse>> {
    let on_conflict = match query.on_conflict.as_deref() {
        None | Some("skip") => OnConflict::Skip,
        Some("replace") => OnConflict::Replace,
        Some(other) => return Err(invalid("onConflict", "onConflict must be skip or replace", Some(other))),
    };
    // Thousands of entries to check (their text sanitized): on the blocking pool.
    let (zone, max_entries) = (caller.timezone, export::max_entries(state.settings.body_limit));
    let document = tokio::task::spawn_blocking(move || {
        let document = ImportDocument::parse(&body, zone, max_entries);
        drop(body);
        crate::memory::release_freed_memory();
        document
    })
    .await
    .map_err(|error| ApiError::Internal(error.into()))?
    .map_err(ApiError::Validation)?;
    let now = Utc::now();
    let entries: Vec<Entry> = document
        .entries
        .into_iter()
        .map(|new| new.into_entry(caller.id, now))
        .collect();
    let counts = state.store.import_entries(caller.id, &entries, on_conflict).await?;
    drop(entries);
    // The file's goals: set where the account has none, or over its own with `replace`.
    if let Some(goals) = document.goals.filter(|goals| !goals.is_empty())
        && (on_conflict == OnConflict::Replace || state.store.goals(caller.id).await?.is_empty())
    {
        state.store.set_goals(caller.id, &goals).await?;
    }
    crate::memory::release_freed_memory();
    Ok(Json(ImportResponse {
        status: Success::Success,
        created: counts.created,
        updated: counts.updated,
        skipped: counts.skipped,
        errors: document
            .problems
            .into_iter()
            .map(|problem| ImportError {
                index: problem.index,
                date: problem.date,
                details: problem.details,
            })
            .collect(),
    }))
}
