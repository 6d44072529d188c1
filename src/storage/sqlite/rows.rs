//! Rows and the values they hold: how each type is written to a column and read back.

use chrono::{DateTime, Utc};
use rusqlite::Row;

use crate::domain::day::{Day, format_timestamp};
use crate::domain::entry::{DayLog, Entry, EntryRange, Mood};
use crate::domain::ids::{EntryId, UserId};
use crate::domain::stats::DayFigures;
use crate::domain::timezone::TimeZone;
use crate::domain::user::{Email, User, UserName};
use crate::storage::{RefreshSession, Session};

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

pub(super) fn login_from_row(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: row.get(0)?,
        user_id: parse_id(row.get_ref(1)?.as_str()?, UserId::parse)?,
        created_at: parse_ts(row.get_ref(2)?.as_str()?)?,
        last_used_at: parse_ts(row.get_ref(3)?.as_str()?)?,
        user_agent: row.get(4)?,
    })
}

pub(super) const SESSION_COLUMNS: &str =
    "token_hash, user_id, family_id, created_at, expires_at, rotated_at, revoked_at";

pub(super) fn session_from_row(row: &Row<'_>) -> rusqlite::Result<RefreshSession> {
    let optional_ts = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        row.get_ref(i)?.as_str_or_null()?.map(parse_ts).transpose()
    };
    Ok(RefreshSession {
        token_hash: row.get(0)?,
        user_id: parse_id(row.get_ref(1)?.as_str()?, UserId::parse)?,
        family_id: row.get(2)?,
        created_at: parse_ts(row.get_ref(3)?.as_str()?)?,
        expires_at: parse_epoch(row.get(4)?)?,
        rotated_at: optional_ts(5)?,
        revoked_at: optional_ts(6)?,
        // Kept on the login, not on each token.
        user_agent: None,
    })
}

/// The entry columns in `entry_from_row`'s order (a macro so queries stay `&'static str`).
macro_rules! entry_columns {
    () => {
        "id, user_id, day, calories, sleep, workouts, food_intake, heart_rate, steps, \
         symptoms, mood, water_intake, notes, created_at, updated_at"
    };
}

pub(super) fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<Entry> {
    let text = |i: usize| -> rusqlite::Result<&str> { Ok(row.get_ref(i)?.as_str()?) };
    Ok(Entry {
        id: parse_id(text(0)?, EntryId::parse)?,
        user: parse_id(text(1)?, UserId::parse)?,
        date: stored_day(text(2)?)?,
        log: DayLog {
            calories: row.get(3)?,
            sleep: row.get(4)?,
            workouts: row.get(5)?,
            food_intake: json(text(6)?)?,
            heart_rate: row.get(7)?,
            steps: row.get(8)?,
            symptoms: json(text(9)?)?,
            mood: Mood::parse(text(10)?).ok_or_else(|| corrupt("mood", text(10).unwrap_or_default()))?,
            water_intake: row.get(11)?,
            notes: row.get(12)?,
        },
        created_at: parse_ts(text(13)?)?,
        updated_at: parse_ts(text(14)?)?,
    })
}

/// What the trends read of an entry, in the order of the covering index that serves them.
macro_rules! figure_columns {
    () => {
        "day, workouts, calories, sleep, heart_rate, steps, water_intake, mood"
    };
}

pub(super) fn day_from_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Day> {
    stored_day(row.get_ref(index)?.as_str()?)
}

/// A `day` column: `YYYY-MM-DD`, or a signed year an older version let in (`-0001-12-31`), which is
/// still served.
pub(super) fn stored_day(text: &str) -> rusqlite::Result<Day> {
    Day::from_stored(text).ok_or_else(|| corrupt("day", text))
}

pub(super) fn figures_from_row(row: &Row<'_>) -> rusqlite::Result<DayFigures> {
    let mood = row.get_ref(7)?.as_str()?;
    Ok(DayFigures {
        day: day_from_column(row, 0)?,
        workouts: row.get(1)?,
        calories: row.get(2)?,
        sleep: row.get(3)?,
        heart_rate: row.get(4)?,
        steps: row.get(5)?,
        water_intake: row.get(6)?,
        mood: Mood::parse(mood).ok_or_else(|| corrupt("mood", mood))?,
    })
}

/// The values `entries` stores for an entry: `entry_columns!` in order, then its document.
pub(super) struct EntryRow {
    id: String,
    user: String,
    day: String,
    calories: i64,
    sleep: f64,
    workouts: bool,
    food_intake: String,
    heart_rate: i64,
    steps: i64,
    symptoms: String,
    mood: &'static str,
    water_intake: f64,
    notes: String,
    created_at: String,
    updated_at: String,
    document: String,
}

/// Plain data (lists of strings and numbers) as JSON text.
pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    #[allow(clippy::expect_used)]
    serde_json::to_string(value).expect("lists of strings and numbers always serialize")
}

impl EntryRow {
    pub(super) fn new(entry: &Entry) -> Self {
        let log = &entry.log;
        Self {
            id: entry.id.to_string(),
            user: entry.user.to_string(),
            day: entry.date.to_ymd(),
            calories: log.calories,
            sleep: log.sleep,
            workouts: log.workouts,
            food_intake: to_json(&log.food_intake),
            heart_rate: log.heart_rate,
            steps: log.steps,
            symptoms: to_json(&log.symptoms),
            mood: log.mood.as_str(),
            water_intake: log.water_intake,
            notes: log.notes.clone(),
            created_at: ts(entry.created_at),
            updated_at: ts(entry.updated_at),
            document: entry.document_json().into_string(),
        }
    }

    /// `?1`…`?16`: the columns in `entry_columns!` order, then the document.
    pub(super) fn params(&self) -> [&dyn rusqlite::ToSql; 16] {
        [
            &self.id,
            &self.user,
            &self.day,
            &self.calories,
            &self.sleep,
            &self.workouts,
            &self.food_intake,
            &self.heart_rate,
            &self.steps,
            &self.symptoms,
            &self.mood,
            &self.water_intake,
            &self.notes,
            &self.created_at,
            &self.updated_at,
            &self.document,
        ]
    }
}

/// A range's bounds as the `day` column compares them. Without a first day, from the first row:
/// a day an older version stored with a signed year (`-0001-…`, `+10000-…`) sorts before `0001`.
pub(super) fn day_bounds(range: &EntryRange) -> (String, String) {
    (
        range.from.map_or_else(String::new, |d| d.to_ymd()),
        range.to.map_or_else(|| "9999-12-31".to_owned(), |d| d.to_ymd()),
    )
}

pub(super) use {entry_columns, figure_columns};
