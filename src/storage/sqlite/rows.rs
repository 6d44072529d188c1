//! Rows and the values they hold: how each type is written to a column and read back.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rusqlite::Row;
use rusqlite::types::Value;

use crate::domain::day::{Day, format_timestamp};
use crate::domain::entry::rules::{MEASURES, NumberRule};
use crate::domain::entry::{DayLog, DocumentJson, Entry, EntryRange, Measure, Measures, Mood};
use crate::domain::ids::{EntryId, UserId};
use crate::domain::stats::DayFigures;
use crate::domain::timezone::TimeZone;
use crate::domain::user::{Email, User, UserName};
use crate::storage::{Login, RefreshToken};

/// A decoding failure of a stored value: the row is not what this code wrote.
pub(super) fn corrupt(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("bad {what} {value:?}").into())
}

pub(super) fn ts(t: DateTime<Utc>) -> String {
    format_timestamp(t)
}

pub(super) fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| corrupt("timestamp", s))
}

/// An expiry stored as Unix seconds (so the purge can compare numbers).
pub(super) fn parse_epoch(seconds: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0).ok_or_else(|| corrupt("expiry", &seconds.to_string()))
}

pub(super) fn parse_id<T>(s: &str, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(s).ok_or_else(|| corrupt("object id", s))
}

pub(super) fn json<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|_| corrupt("JSON", s))
}

pub(super) const USER_COLUMNS: &str = "id, name, email, password_hash, created_at, updated_at, timezone";

pub(super) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: parse_id(row.get_ref(0)?.as_str()?, UserId::parse)?,
        name: UserName::from_stored(row.get(1)?),
        email: Email::from_stored(row.get(2)?),
        password_hash: row.get(3)?,
        created_at: parse_ts(row.get_ref(4)?.as_str()?)?,
        updated_at: parse_ts(row.get_ref(5)?.as_str()?)?,
        timezone: row.get_ref(6)?.as_str_or_null()?.and_then(TimeZone::from_stored),
    })
}

pub(super) const LOGIN_COLUMNS: &str = "id, user_id, created_at, last_used_at, user_agent";

pub(super) fn login_from_row(row: &Row<'_>) -> rusqlite::Result<Login> {
    Ok(Login {
        id: row.get(0)?,
        user_id: parse_id(row.get_ref(1)?.as_str()?, UserId::parse)?,
        created_at: parse_ts(row.get_ref(2)?.as_str()?)?,
        last_used_at: parse_ts(row.get_ref(3)?.as_str()?)?,
        user_agent: row.get(4)?,
    })
}

pub(super) const REFRESH_TOKEN_COLUMNS: &str =
    "token_hash, user_id, family_id, created_at, expires_at, rotated_at, revoked_at";

pub(super) fn refresh_token_from_row(row: &Row<'_>) -> rusqlite::Result<RefreshToken> {
    let optional_ts = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        row.get_ref(i)?.as_str_or_null()?.map(parse_ts).transpose()
    };
    Ok(RefreshToken {
        token_hash: row.get(0)?,
        user_id: parse_id(row.get_ref(1)?.as_str()?, UserId::parse)?,
        login_id: row.get(2)?,
        created_at: parse_ts(row.get_ref(3)?.as_str()?)?,
        expires_at: parse_epoch(row.get(4)?)?,
        rotated_at: optional_ts(5)?,
        revoked_at: optional_ts(6)?,
        // Kept on the login, not on each token.
        user_agent: None,
    })
}

/// The entry columns in `entry_from_row`'s order: ten fixed ones, then one per measure of the field
/// table (`MeasureSpec::column`), in table order.
pub(super) static ENTRY_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    let mut columns =
        String::from("id, user_id, day, workouts, food_intake, symptoms, mood, notes, created_at, updated_at");
    for spec in &MEASURES {
        columns.push_str(", ");
        columns.push_str(spec.column);
    }
    columns
});
const FIRST_MEASURE_COLUMN: usize = 10;

/// `SELECT <entry columns> FROM entries <rest>`.
pub(super) fn select_entries(rest: &str) -> String {
    format!("SELECT {} FROM entries {rest}", *ENTRY_COLUMNS)
}

/// Writes an entry: `?1`… the entry columns, then its document and the document's format.
pub(super) static INSERT_ENTRY: LazyLock<String> = LazyLock::new(|| {
    let values: Vec<String> = (1..=ENTRY_COLUMN_COUNT + 2).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO entries ({}, document, document_format) VALUES ({})",
        *ENTRY_COLUMNS,
        values.join(", ")
    )
});

/// Replaces an entry's values (the same numbered values as [`INSERT_ENTRY`]); its id, owner and
/// `created_at` stay.
pub(super) static UPDATE_ENTRY: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<&str> = ENTRY_COLUMNS
        .split(", ")
        .chain(["document", "document_format"])
        .collect();
    let set: Vec<String> = columns
        .iter()
        .enumerate()
        .filter(|(_, column)| !matches!(**column, "id" | "user_id" | "created_at"))
        .map(|(i, column)| format!("{column} = ?{}", i + 1))
        .collect();
    format!("UPDATE entries SET {} WHERE id = ?1 AND user_id = ?2", set.join(", "))
});

const ENTRY_COLUMN_COUNT: usize = FIRST_MEASURE_COLUMN + Measure::COUNT;

/// A measure's column: NULL is unrecorded (0 for the old fields, whose columns are NOT NULL).
fn measure_from_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<f64>> {
    row.get(index)
}

pub(super) fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<Entry> {
    let text = |i: usize| -> rusqlite::Result<&str> { Ok(row.get_ref(i)?.as_str()?) };
    let mut measures = Measures::default();
    for (i, measure) in Measure::all().enumerate() {
        measures.set(measure, measure_from_column(row, FIRST_MEASURE_COLUMN + i)?);
    }
    Ok(Entry {
        id: parse_id(text(0)?, EntryId::parse)?,
        user: parse_id(text(1)?, UserId::parse)?,
        date: stored_day(text(2)?)?,
        log: DayLog {
            measures,
            workouts: row.get(3)?,
            food_intake: json(text(4)?)?,
            symptoms: json(text(5)?)?,
            mood: Mood::parse(text(6)?).ok_or_else(|| corrupt("mood", text(6).unwrap_or_default()))?,
            notes: row.get(7)?,
        },
        created_at: parse_ts(text(8)?)?,
        updated_at: parse_ts(text(9)?)?,
    })
}

/// What the trends read of an entry: `day, workouts, mood`, then the trend measures' columns —
/// all in the covering index `entries_user_day_figures`, so the table rows are never visited.
pub(super) static FIGURE_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    let mut columns = String::from("day, workouts, mood");
    for measure in Measure::trends() {
        columns.push_str(", ");
        columns.push_str(measure.spec().column);
    }
    columns
});

pub(super) fn day_from_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Day> {
    stored_day(row.get_ref(index)?.as_str()?)
}

/// A `day` column: `YYYY-MM-DD`, or a signed year an older version let in (`-0001-12-31`), which is
/// still served.
pub(super) fn stored_day(text: &str) -> rusqlite::Result<Day> {
    Day::from_stored(text).ok_or_else(|| corrupt("day", text))
}

pub(super) fn figures_from_row(row: &Row<'_>) -> rusqlite::Result<DayFigures> {
    let mood = row.get_ref(2)?.as_str()?;
    let mut measures = Measures::default();
    for (i, measure) in Measure::trends().enumerate() {
        measures.set(measure, measure_from_column(row, 3 + i)?);
    }
    Ok(DayFigures {
        day: day_from_column(row, 0)?,
        workouts: row.get(1)?,
        mood: Mood::parse(mood).ok_or_else(|| corrupt("mood", mood))?,
        measures,
    })
}

/// The values `entries` stores for an entry: [`ENTRY_COLUMNS`] in order, then its document and
/// the document's format.
pub(super) struct EntryRow(Vec<Value>);

/// Plain data (lists of strings and numbers) as JSON text.
pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    #[allow(clippy::expect_used)]
    serde_json::to_string(value).expect("lists of strings and numbers always serialize")
}

impl EntryRow {
    pub(super) fn new(entry: &Entry) -> Self {
        let log = &entry.log;
        let mut values = Vec::with_capacity(ENTRY_COLUMN_COUNT + 2);
        values.extend([
            Value::Text(entry.id.to_string()),
            Value::Text(entry.user.to_string()),
            Value::Text(entry.date.to_ymd()),
            Value::Integer(i64::from(log.workouts)),
            Value::Text(to_json(&log.food_intake)),
            Value::Text(to_json(&log.symptoms)),
            Value::Text(log.mood.as_str().to_owned()),
            Value::Text(log.notes.clone()),
            Value::Text(ts(entry.created_at)),
            Value::Text(ts(entry.updated_at)),
        ]);
        for (measure, value) in log.measures.iter() {
            values.push(match (value, measure.spec().rule) {
                (None, _) => Value::Null,
                (Some(n), NumberRule::Integer(_)) => Value::Integer(n as i64),
                (Some(n), NumberRule::Decimal(_)) => Value::Real(n),
            });
        }
        values.push(Value::Text(entry.document_json().into_string()));
        values.push(Value::Integer(DocumentJson::format()));
        Self(values)
    }

    /// `?1`…: the values in order.
    pub(super) fn params(&self) -> rusqlite::ParamsFromIter<std::slice::Iter<'_, Value>> {
        rusqlite::params_from_iter(self.0.iter())
    }
}

/// An entry's stored document, from a row holding `document`, whether its format is the current
/// one, and the entry's id at `at`, `at + 1`, `at + 2`: a document of another format (written by an
/// older build, or by an older instance still running) is rendered anew from the columns, never
/// served stale.
pub(super) fn stored_document(c: &rusqlite::Connection, row: &Row<'_>, at: usize) -> rusqlite::Result<DocumentJson> {
    if row.get::<_, Option<bool>>(at + 1)? == Some(true)
        && let Some(document) = row.get::<_, Option<String>>(at)?
    {
        return Ok(DocumentJson::from_stored(document));
    }
    let id: String = row.get(at + 2)?;
    c.prepare_cached(&select_entries("WHERE id = ?1"))?
        .query_row([id], entry_from_row)
        .map(|entry| entry.document_json())
}

/// A range's bounds as the `day` column compares them. Without a first day, from the first row:
/// a day an older version stored with a signed year (`-0001-…`, `+10000-…`) sorts before `0001`.
pub(super) fn day_bounds(range: &EntryRange) -> (String, String) {
    (
        range.from.map_or_else(String::new, |d| d.to_ymd()),
        range.to.map_or_else(|| "9999-12-31".to_owned(), |d| d.to_ymd()),
    )
}
