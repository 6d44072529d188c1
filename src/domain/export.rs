//! The user's data as a file: the export document (JSON, and its CSV form) and the import of one.
//!
//! An import takes an export of this or any other account — and the shapes the old backend's
//! MongoDB data takes when exported with `mongoexport` (extended JSON such as `{"$date": …}` or
//! `{"$numberInt": "5"}`, days stored at the server's local midnight). Each entry passes the rules
//! of `POST /entries`; what is not an entry's field (ids, owner, timestamps) is never read.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::day::Day;
use super::entry::rules::{self, CSV_COLUMNS, FieldKey};
use super::entry::{FoodItem, Measure, NewEntry};
use super::goals::Goals;
use super::numbers::js_number_text;
use super::timezone::TimeZone;
use super::validation::{FieldError, Problems, body_object};

pub const FORMAT: &str = "healthtracker-export";
pub const VERSION: u64 = 1;
/// The fewest bytes an entry takes in an export this server writes: its document (three ids, three
/// timestamps and every field: 300 bytes and more, see `an_exported_entry_is_never_shorter`) and
/// a comma.
pub const MIN_EXPORTED_ENTRY_BYTES: usize = 256;

/// Entries one import may hold with a body limit (`BODY_LIMIT`) of `body_limit` bytes: one per
/// [`MIN_EXPORTED_ENTRY_BYTES`], so every export that fits the limit imports, while a body of tiny
/// made-up entries (`{"date":"…"}`, 21 bytes) cannot ask for twelve times the work.
pub const fn max_entries(body_limit: usize) -> usize {
    body_limit / MIN_EXPORTED_ENTRY_BYTES
}

/// [`max_entries`] at the default `BODY_LIMIT` of 10 MiB (40,960): what the OpenAPI document states.
pub const MAX_ENTRIES: usize = max_entries(10 * 1024 * 1024);

/// The CSV export's header: `date`, then the field table's [`CSV_COLUMNS`].
pub fn csv_header() -> Vec<String> {
    std::iter::once("date")
        .chain(CSV_COLUMNS.iter().map(|key| rules::name_of(*key)))
        .map(str::to_owned)
        .collect()
}

/// An entry of an import that did not pass, by its place in the file.
#[derive(Debug, PartialEq)]
pub struct ImportProblem {
    pub index: usize,
    /// The day it was for, as the file gave it.
    pub date: Option<String>,
    pub details: Vec<FieldError>,
}

/// An import document, read: the entries that pass (one per day) and those that do not, and the
/// goals when the file has them.
#[derive(Debug)]
pub struct ImportDocument {
    pub entries: Vec<NewEntry>,
    pub problems: Vec<ImportProblem>,
    pub goals: Option<Goals>,
}

impl ImportDocument {
    /// `Err` when the body is not an export document at all (wrong format or version, no list) or
    /// holds more than `max_entries` entries ([`max_entries`] of the body limit). `zone` (the
    /// user's) places a timestamp `date` as `POST /entries` does.
    pub fn parse(body: &Value, zone: TimeZone, max_entries: usize) -> Result<Self, Vec<FieldError>> {
        let object = body_object(body)?;
        let mut problems = Problems::new();
        if object.get("format").and_then(Value::as_str) != Some(FORMAT) {
            problems.add(
                "format",
                format!("Not an export document: format must be \"{FORMAT}\""),
                object.get("format"),
            );
        }
        if object.get("version").and_then(Value::as_u64) != Some(VERSION) {
            problems.add(
                "version",
                format!("Only version {VERSION} of the export format can be imported"),
                object.get("version"),
            );
        }
        let entries = match object.get("entries") {
            Some(Value::Array(entries)) if entries.len() <= max_entries => Some(entries),
            Some(Value::Array(_)) => {
                problems.add(
                    "entries",
                    format!(
                        "An import holds at most {max_entries} entries (one per {MIN_EXPORTED_ENTRY_BYTES} bytes of the body limit; every export within the limit fits)"
                    ),
                    None,
                );
                None
            }
            other => {
                problems.add("entries", "entries must be a list of entries", other);
                None
            }
        };
        // An export of this server carries the account's goals (by the rules of PUT /goals).
        let goals = match object.get("goals") {
            None | Some(Value::Null) => None,
            Some(goals) => match Goals::parse(goals) {
                Ok(goals) => Some(goals),
                Err(details) => {
                    for detail in details {
                        problems.add(format!("goals.{}", detail.path), detail.msg, detail.value.as_ref());
                    }
                    None
                }
            },
        };
        let Some(entries) = entries.filter(|_| problems.is_empty()) else {
            return Err(problems.into_vec());
        };
        let mut document = Self {
            entries: Vec::with_capacity(entries.len()),
            problems: Vec::new(),
            goals,
        };
        let mut days = HashSet::new();
        for (index, raw) in entries.iter().enumerate() {
            let entry = as_entry_body(raw);
            let date = entry.get("date").and_then(Value::as_str).map(str::to_owned);
            match NewEntry::parse(&Value::Object(entry), zone) {
                Ok(new) if days.insert(new.date) => document.entries.push(new),
                Ok(_) => document.problems.push(ImportProblem {
                    index,
                    date,
                    details: vec![FieldError {
                        path: "date".into(),
                        msg: "Another entry of the file is for this day".into(),
                        value: None,
                    }],
                }),
                Err(details) => document.problems.push(ImportProblem { index, date, details }),
            }
        }
        Ok(document)
    }
}

/// An entry of the file as a `POST /entries` body: extended JSON unwrapped. A `date` is placed
/// exactly as `POST /entries` places it (an export writes each day's own form, UTC midnight with
/// `Z`), except the old backend's `{"$date": …}` values (what `mongoexport` writes of its
/// documents): it stored the server's local midnight, so such a date stands for the day whose UTC
/// midnight it is nearest (within ±12 h).
fn as_entry_body(raw: &Value) -> Map<String, Value> {
    let legacy_date = raw
        .get("date")
        .and_then(Value::as_object)
        .is_some_and(|date| date.len() == 1 && date.contains_key("$date"));
    let Value::Object(mut object) = unwrap_extended_json(raw) else {
        return Map::new();
    };
    if legacy_date
        && let Some(Value::String(date)) = object.get("date")
        && let Ok(at) = chrono::DateTime::parse_from_rfc3339(date)
    {
        let nearest = at.with_timezone(&chrono::Utc) + chrono::TimeDelta::hours(12);
        object.insert(
            "date".into(),
            Value::from(Day::from_date(nearest.date_naive()).to_ymd()),
        );
    }
    object
}

/// MongoDB's extended JSON (what `mongoexport` writes) as plain values.
fn unwrap_extended_json(value: &Value) -> Value {
    match value {
        Value::Object(object) if object.len() == 1 => {
            let (key, inner) = object
                .iter()
                .next()
                .map_or(("", &Value::Null), |(k, v)| (k.as_str(), v));
            match (key, inner) {
                ("$date", Value::String(date)) => Value::from(date.as_str()),
                // `{"$date": {"$numberLong": "…"}}`: milliseconds, unwrapped to a number.
                ("$date", Value::Object(_)) => match unwrap_extended_json(inner) {
                    Value::String(millis) => millis
                        .parse::<i64>()
                        .ok()
                        .and_then(chrono::DateTime::from_timestamp_millis)
                        .map_or(Value::Null, |t| Value::from(t.to_rfc3339())),
                    Value::Number(millis) => millis
                        .as_i64()
                        .and_then(chrono::DateTime::from_timestamp_millis)
                        .map_or(Value::Null, |t| Value::from(t.to_rfc3339())),
                    other => other,
                },
                ("$date", Value::Number(millis)) => millis
                    .as_i64()
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map_or(Value::Null, |t| Value::from(t.to_rfc3339())),
                ("$numberInt" | "$numberLong", Value::String(n)) => n.parse::<i64>().map_or(Value::Null, Value::from),
                ("$numberDouble", Value::String(n)) => n.parse::<f64>().map_or(Value::Null, Value::from),
                ("$oid", Value::String(id)) => Value::from(id.as_str()),
                _ => Value::Object(
                    object
                        .iter()
                        .map(|(k, v)| (k.clone(), unwrap_extended_json(v)))
                        .collect(),
                ),
            }
        }
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(k, v)| (k.clone(), unwrap_extended_json(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(unwrap_extended_json).collect()),
        other => other.clone(),
    }
}

/// The CSV row of a stored entry document, every cell in [`csv_header`]'s order: numbers as
/// JavaScript writes them (a blank cell for an unrecorded measure), lists joined with `; `, food
/// items as `meal:food:calories`, text that a spreadsheet would run neutralised.
pub fn csv_row(day: Day, document: &str) -> Result<Vec<String>, serde_json::Error> {
    let document: Map<String, Value> = serde_json::from_str(document)?;
    let mut row = Vec::with_capacity(CSV_COLUMNS.len() + 1);
    row.push(day.to_ymd());
    for key in CSV_COLUMNS {
        let value = document.get(rules::name_of(key)).unwrap_or(&Value::Null);
        row.push(match key {
            FieldKey::Measure(_) => value.as_f64().map(js_number_text).unwrap_or_default(),
            // `120/80`, as it is written down.
            FieldKey::BloodPressure => {
                let part = |measure: Measure| value.get(measure.name()).and_then(Value::as_f64);
                match (part(Measure::Systolic), part(Measure::Diastolic)) {
                    (Some(systolic), Some(diastolic)) => {
                        format!("{}/{}", js_number_text(systolic), js_number_text(diastolic))
                    }
                    _ => String::new(),
                }
            }
            FieldKey::Workouts => value.as_bool().unwrap_or_default().to_string(),
            FieldKey::Mood => value.as_str().unwrap_or_default().to_owned(),
            FieldKey::Notes => neutralise_formula(value.as_str().unwrap_or_default()),
            FieldKey::Symptoms => {
                let symptoms: Vec<String> = serde_json::from_value(value.clone())?;
                neutralise_formula(&symptoms.join("; "))
            }
            FieldKey::FoodIntake => {
                let food: Vec<FoodItem> = serde_json::from_value(value.clone())?;
                let food: Vec<String> = food
                    .iter()
                    .map(|item| format!("{}:{}:{}", item.meal.as_str(), item.food, item.calories))
                    .collect();
                neutralise_formula(&food.join("; "))
            }
            FieldKey::Date => day.to_ymd(),
        });
    }
    Ok(row)
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab or carriage return
/// before one — OWASP's list) is prefixed with `'`, which makes it text.
pub fn neutralise_formula(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(entries: Value) -> Value {
        json!({"format": FORMAT, "version": 1, "entries": entries})
    }

    #[test]
    fn not_an_export_document() {
        for bad in [
            json!({}),
            json!({"format": "x", "version": 1, "entries": []}),
            json!({"format": FORMAT, "version": 2, "entries": []}),
            json!([]),
        ] {
            assert!(
                ImportDocument::parse(&bad, TimeZone::UTC, MAX_ENTRIES).is_err(),
                "{bad}"
            );
        }
        let too_many: Vec<Value> = (0..=10).map(|_| json!({})).collect();
        assert!(ImportDocument::parse(&document(Value::from(too_many.clone())), TimeZone::UTC, 10).is_err());
        assert!(ImportDocument::parse(&document(Value::from(too_many)), TimeZone::UTC, 11).is_ok());
    }

    #[test]
    fn entries_are_checked_one_by_one_and_days_once() {
        let parsed = ImportDocument::parse(
            &document(json!([
                {"date": "2026-11-01T00:00:00.000Z", "calories": 1800, "_id": "x", "user": "y", "createdAt": "z"},
                {"date": "2026-11-02", "calories": 99999},
                {"calories": 5},
                {"date": "2026-11-01", "steps": 1},
            ])),
            TimeZone::UTC,
            MAX_ENTRIES,
        )
        .expect("an export document");
        assert_eq!(parsed.entries.len(), 1);
        assert_eq!(parsed.entries[0].log.figure(Measure::Calories), 1800.0);
        let failed: Vec<(usize, Option<&str>)> = parsed.problems.iter().map(|p| (p.index, p.date.as_deref())).collect();
        assert_eq!(failed, [(1, Some("2026-11-02")), (2, None), (3, Some("2026-11-01"))]);
    }

    #[test]
    fn the_old_backends_documents_read_as_entries() {
        let parsed = ImportDocument::parse(&document(json!([{
            "_id": {"$oid": "507f1f77bcf86cd799439011"},
            "user": {"$oid": "507f1f77bcf86cd799439012"},
            // Local midnight in UTC+1, as the old backend stored it.
            "date": {"$date": "2026-11-27T23:00:00.000Z"},
            "calories": {"$numberInt": "2100"},
            "sleep": {"$numberDouble": "7.5"},
            "foodIntake": [{"_id": {"$oid": "507f1f77bcf86cd799439013"}, "meal": "lunch", "food": "Soup", "calories": {"$numberLong": "300"}}],
            "__v": {"$numberInt": "0"}
        }])), TimeZone::UTC, MAX_ENTRIES)
        .expect("an export document");
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let entry = &parsed.entries[0];
        assert_eq!(entry.date.to_ymd(), "2026-11-28");
        assert_eq!(
            (entry.log.figure(Measure::Calories), entry.log.figure(Measure::Sleep)),
            (2100.0, 7.5)
        );
        assert_eq!(entry.log.food_intake[0].calories, 300);
    }

    /// The cap on entries relies on this: the shortest entry an export can hold (every field at
    /// its default or empty, the shortest mood) is longer than [`MIN_EXPORTED_ENTRY_BYTES`].
    #[test]
    fn an_exported_entry_is_never_shorter() {
        use crate::domain::entry::{DayLog, Entry, Mood};
        use crate::domain::ids::{EntryId, UserId};
        let shortest = Entry {
            id: EntryId::new(),
            user: UserId::new(),
            date: Day::MIN,
            log: DayLog {
                mood: Mood::Poor,
                ..DayLog::default()
            },
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        };
        let length = shortest.document_json().as_str().len();
        assert!(length > MIN_EXPORTED_ENTRY_BYTES, "{length}");
        assert_eq!(max_entries(10 * 1024 * 1024), 40_960);
    }

    #[test]
    fn a_timestamp_is_placed_as_post_entries_places_it_and_only_mongoexport_dates_are_rounded() {
        let new_york = TimeZone::parse("America/New_York").expect("zone");
        let parsed = ImportDocument::parse(
            &document(json!([
                {"date": "2026-11-30T23:30:00-05:00"},
                {"date": "2026-06-01T20:00:00Z"},
                {"date": "2026-08-01T00:00:00.000Z"},
                {"date": {"$date": "2026-11-27T23:00:00.000Z"}},
                {"date": {"$date": "2026-10-02T05:00:00.000Z"}},
            ])),
            new_york,
            MAX_ENTRIES,
        )
        .expect("an export document");
        let days: Vec<String> = parsed.entries.iter().map(|e| e.date.to_ymd()).collect();
        assert_eq!(
            days,
            ["2026-11-30", "2026-06-01", "2026-08-01", "2026-11-28", "2026-10-02"]
        );
    }

    #[test]
    fn formulas_are_neutralised() {
        for (cell, safe) in [
            ("=1+1", "'=1+1"),
            ("+SUM(A1)", "'+SUM(A1)"),
            ("-2", "'-2"),
            ("@cmd", "'@cmd"),
            ("fine", "fine"),
            ("", ""),
        ] {
            assert_eq!(neutralise_formula(cell), safe);
        }
    }
}
