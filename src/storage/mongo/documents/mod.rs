//! The documents, as the old Mongoose backend wrote them and as we write them.
//!
//! Reading is lenient on purpose: an existing database holds documents from every version of the old
//! backend, with fields missing (`heartRate`… came late), numbers as Int32, Int64 or Double (the Node
//! driver writes a JS number as Int32 when it fits), `mood: "neutral"` that its own enum refused, `__v`,
//! Mongoose `_id`s inside `foodIntake`, and `date` at the server's *local* midnight. None of that may
//! fail a read: a missing or odd value reads as the API's default. Writing keeps the Mongoose shape
//! (`__v`, BSON dates, ObjectId references) so the old backend could still read what we wrote.
//!
//! `read` holds the lenient readers, `write` the Mongoose-shaped writers; the collections, ids and
//! dates both use are here.

mod read;
#[cfg(test)]
mod tests;
mod write;

pub use self::read::*;
pub use self::write::*;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use mongodb::bson::{self, Document};

use crate::domain::day::Day;
use crate::domain::ids::{EntryId, ObjectId, UserId};

pub const USERS: &str = "users";
pub const ENTRIES: &str = "entries";
/// Ours: refresh sessions (hashed tokens), expired by a TTL index.
pub const REFRESH_SESSIONS: &str = "refresh_sessions";
/// Ours: access tokens revoked by logout, expired by a TTL index.
pub const REVOKED_TOKENS: &str = "revoked_tokens";
/// Ours: logins (their refresh tokens carry the login's id in `family`), expired by a TTL index.
pub const SESSIONS: &str = "sessions";
/// Ours: personal access tokens (hashed), expired by a TTL index.
pub const PERSONAL_TOKENS: &str = "personaltokens";
/// Ours: the conversation with the AI coach, the newest 200 messages per user.
pub const AI_MESSAGES: &str = "aimessages";
/// Ours: two-factor login challenges (hashed), expired by a TTL index.
pub const TWO_FACTOR_CHALLENGES: &str = "twofactorchallenges";
/// Ours: invite codes, expired by a TTL index.
pub const INVITES: &str = "invites";

/// The old backend stored an entry's day as the server's local midnight; every real offset lies within
/// ±12 h of UTC midnight, so the nearest UTC midnight is the day that was meant.
const HALF_DAY_MS: i64 = 12 * 60 * 60 * 1000;
const DAY_MS: i64 = 2 * HALF_DAY_MS;

pub fn oid(id: ObjectId) -> bson::oid::ObjectId {
    bson::oid::ObjectId::from_bytes(id.bytes())
}

pub fn user_oid(id: UserId) -> bson::oid::ObjectId {
    oid(id.0)
}

pub fn entry_oid(id: EntryId) -> bson::oid::ObjectId {
    oid(id.0)
}

pub fn bson_date(t: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(t.timestamp_millis())
}

/// A BSON date as chrono's; one beyond chrono's ±262,000 years (BSON reaches ±292 million, and
/// JavaScript's `Date` ±275,760 years) reads as the nearest chrono can hold, so the document is
/// still served.
pub(super) fn chrono_date(t: bson::DateTime) -> Option<DateTime<Utc>> {
    let millis = t.timestamp_millis();
    Some(DateTime::from_timestamp_millis(millis).unwrap_or(if millis < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    }))
}

/// The calendar day a stored `date` stands for: its nearest UTC midnight. (A date an older
/// version stored outside the years 0001–9999 stays the day it is, to be served and reported.)
pub fn day_of(stored: DateTime<Utc>) -> Day {
    let days = stored.timestamp_millis().saturating_add(HALF_DAY_MS).div_euclid(DAY_MS);
    let date = DateTime::from_timestamp_millis(days.saturating_mul(DAY_MS))
        .map_or(if days < 0 { NaiveDate::MIN } else { NaiveDate::MAX }, |t| {
            t.date_naive()
        });
    Day::from_date(date)
}

/// Every stored `date` that stands for `day`: `[midnight − 12 h, midnight + 12 h)` — except that the
/// first day's window starts at its own midnight, not in year 0: a bound outside the years
/// 0001–9999 is refused by some MongoDB-compatible servers (those on Python's `datetime`), and no
/// entry was ever stored at a local midnight of year 1.
pub fn day_window(day: Day) -> (bson::DateTime, bson::DateTime) {
    let midnight = day.midnight_utc();
    let half = TimeDelta::milliseconds(HALF_DAY_MS);
    let start = if day == Day::MIN { midnight } else { midnight - half };
    (bson_date(start), bson_date(midnight + half))
}

// --- lenient readers -------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
#[error("{collection} document {id}: {problem}")]
pub struct Unreadable {
    pub collection: &'static str,
    pub id: String,
    pub problem: &'static str,
}

pub(super) fn unreadable(collection: &'static str, doc: &Document, problem: &'static str) -> Unreadable {
    Unreadable {
        collection,
        id: doc
            .get("_id")
            .map_or_else(|| "(no _id)".to_owned(), ToString::to_string),
        problem,
    }
}
