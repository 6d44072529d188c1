//! The documents, as the old Mongoose backend wrote them and as we write them.
//!
//! Reading is lenient on purpose: an existing database holds documents from every version of the old
//! backend, with fields missing (`heartRate`… came late), numbers as Int32, Int64 or Double (the Node
//! driver writes a JS number as Int32 when it fits), `mood: "neutral"` that its own enum refused, `__v`,
//! Mongoose `_id`s inside `foodIntake`, and `date` at the server's *local* midnight. None of that may
//! fail a read: a missing or odd value reads as the API's default. Writing keeps the Mongoose shape
//! (`__v`, BSON dates, ObjectId references) so the old backend could still read what we wrote.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use mongodb::bson::{self, Bson, Document, doc};

use crate::domain::day::Day;
use crate::domain::entry::rules::{FIELDS, FieldKey, NumberRule, document_fields};
use crate::domain::entry::{DayLog, Entry, EntryChanges, FoodItem, Meal, Measure, Measures, Mood};
use crate::domain::goals::GoalsMet;
use crate::domain::ids::{EntryId, ObjectId, UserId};
use crate::domain::stats::{DayFigures, LoggedDay};
use crate::domain::timezone::TimeZone;
use crate::domain::user::{Email, User, UserName};
use crate::storage::{Login, RefreshToken};

pub const USERS: &str = "users";
pub const ENTRIES: &str = "entries";
/// Ours: refresh sessions (hashed tokens), expired by a TTL index.
pub const REFRESH_SESSIONS: &str = "refresh_sessions";
/// Ours: access tokens revoked by logout, expired by a TTL index.
pub const REVOKED_TOKENS: &str = "revoked_tokens";
/// Ours: logins (their refresh tokens carry the login's id in `family`), expired by a TTL index.
pub const SESSIONS: &str = "sessions";
/// Ours: the conversation with the AI coach, the newest 200 messages per user.
pub const AI_MESSAGES: &str = "aimessages";

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
fn chrono_date(t: bson::DateTime) -> Option<DateTime<Utc>> {
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

fn number(value: Option<&Bson>) -> Option<f64> {
    match value? {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(n) if n.is_finite() => Some(*n),
        // Mongoose casts numeric strings on save, but a document edited by hand may still hold one.
        Bson::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

/// An integer field: Int32, Int64, or a Double (a fraction, which an old schema allowed, is rounded).
pub fn int_field(doc: &Document, key: &str) -> i64 {
    match doc.get(key) {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        other => number(other).map_or(0, |n| n.round() as i64),
    }
}

pub fn float_field(doc: &Document, key: &str) -> f64 {
    number(doc.get(key)).unwrap_or(0.0)
}

fn bool_field(doc: &Document, key: &str) -> bool {
    match doc.get(key) {
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        other => number(other).is_some_and(|n| n != 0.0),
    }
}

fn string_field(doc: &Document, key: &str) -> String {
    match doc.get(key) {
        Some(Bson::String(s)) => s.clone(),
        _ => String::new(),
    }
}

pub fn date_field(doc: &Document, key: &str) -> Option<DateTime<Utc>> {
    match doc.get(key)? {
        Bson::DateTime(t) => chrono_date(*t),
        Bson::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

fn object_id_field(doc: &Document, key: &str) -> Option<ObjectId> {
    match doc.get(key)? {
        Bson::ObjectId(id) => Some(ObjectId::from_bytes(id.bytes())),
        Bson::String(s) => ObjectId::parse(s),
        _ => None,
    }
}

/// When a document has no `createdAt`/`updatedAt`, its ObjectId still says when it was made.
fn id_time(id: ObjectId) -> DateTime<Utc> {
    let b = id.bytes();
    DateTime::from_timestamp(i64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])), 0).unwrap_or_default()
}

fn food_item(value: &Bson) -> Option<FoodItem> {
    let item = value.as_document()?;
    Some(FoodItem {
        // The old schema's enum had the same four meals; anything else is kept as a snack rather
        // than failing the whole entry.
        meal: item.get_str("meal").ok().and_then(Meal::parse).unwrap_or(Meal::Snack),
        food: string_field(item, "food"),
        calories: int_field(item, "calories"),
    })
}

fn symptoms(value: Option<&Bson>) -> Vec<String> {
    match value {
        Some(Bson::Array(items)) => items.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
        Some(Bson::String(s)) if !s.trim().is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Why a stored document cannot be served at all (no usable id or date).
#[derive(Debug, thiserror::Error)]
#[error("{collection} document {id}: {problem}")]
pub struct Unreadable {
    pub collection: &'static str,
    pub id: String,
    pub problem: &'static str,
}

fn unreadable(collection: &'static str, doc: &Document, problem: &'static str) -> Unreadable {
    Unreadable {
        collection,
        id: doc
            .get("_id")
            .map_or_else(|| "(no _id)".to_owned(), ToString::to_string),
        problem,
    }
}

/// The top-level keys a measure may be stored under: its name (or the object it is a part of),
/// then its input aliases (`sleepHours` is what the old frontend sent; a document saved from it
/// verbatim may carry it).
fn measure_keys(measure: Measure) -> impl Iterator<Item = &'static str> {
    let spec = measure.spec();
    std::iter::once(spec.parent.unwrap_or(spec.name)).chain(
        FIELDS
            .iter()
            .filter(move |field| field.alias_of.is_some() && field.key == FieldKey::Measure(measure))
            .map(|field| field.name),
    )
}

/// A measure as stored: an integer one rounded (an old schema allowed fractions); missing, `null`
/// or not a number reads as unrecorded. A part is read inside its object.
fn measure_field(doc: &Document, measure: Measure) -> Option<f64> {
    let spec = measure.spec();
    let holder = match spec.parent {
        Some(parent) => doc.get_document(parent).ok()?,
        None => doc,
    };
    let name = spec.name;
    let value = std::iter::once(name)
        .chain(measure_keys(measure).skip(1))
        .find_map(|key| holder.get(key).filter(|v| !matches!(v, Bson::Null)))?;
    let n = number(Some(value))?;
    Some(match measure.spec().rule {
        NumberRule::Integer(_) => n.round(),
        NumberRule::Decimal(_) => n,
    })
}

/// The measures of `measures` read from a document (the others left unrecorded).
fn measures_from_doc(doc: &Document, measures: impl Iterator<Item = Measure>) -> Measures {
    let mut values = Measures::default();
    for measure in measures {
        values.set(measure, measure_field(doc, measure));
    }
    values
}

/// The fields the trends read (`figures_from_doc`): a projection keeps the rest on the server.
pub fn figures_projection() -> Document {
    let mut projection = doc! {"_id": 0, "date": 1, "workouts": 1, "mood": 1};
    for measure in Measure::trends() {
        for key in measure_keys(measure) {
            projection.insert(key, 1);
        }
    }
    projection
}

/// A day's trend figures, read as leniently as `entry_from_doc` reads the entry (`None`: no date).
pub fn figures_from_doc(doc: &Document) -> Option<DayFigures> {
    Some(DayFigures {
        day: day_of(date_field(doc, "date")?),
        workouts: bool_field(doc, "workouts"),
        mood: doc.get_str("mood").ok().and_then(Mood::parse).unwrap_or_default(),
        measures: measures_from_doc(doc, Measure::trends()),
    })
}

/// A logged day and whether it had a workout (`None`: no date).
pub fn logged_day_from_doc(doc: &Document) -> Option<LoggedDay> {
    Some(LoggedDay {
        day: day_of(date_field(doc, "date")?),
        workouts: bool_field(doc, "workouts"),
        goals_met: GoalsMet::default(),
    })
}

pub fn entry_from_doc(doc: &Document) -> Result<Entry, Unreadable> {
    let id = object_id_field(doc, "_id").ok_or_else(|| unreadable(ENTRIES, doc, "_id is not an ObjectId"))?;
    let user = object_id_field(doc, "user").ok_or_else(|| unreadable(ENTRIES, doc, "user is not an ObjectId"))?;
    let date = date_field(doc, "date").ok_or_else(|| unreadable(ENTRIES, doc, "date is missing or not a date"))?;
    let created_at = date_field(doc, "createdAt").unwrap_or_else(|| id_time(id));
    Ok(Entry {
        id: EntryId(id),
        user: UserId(user),
        date: day_of(date),
        log: DayLog {
            measures: measures_from_doc(doc, Measure::all()),
            workouts: bool_field(doc, "workouts"),
            food_intake: match doc.get("foodIntake") {
                Some(Bson::Array(items)) => items.iter().filter_map(food_item).collect(),
                _ => Vec::new(),
            },
            symptoms: symptoms(doc.get("symptoms")),
            mood: doc.get_str("mood").ok().and_then(Mood::parse).unwrap_or_default(),
            notes: string_field(doc, "notes"),
        },
        created_at,
        updated_at: date_field(doc, "updatedAt").unwrap_or(created_at),
    })
}

pub fn user_from_doc(doc: &Document) -> Result<User, Unreadable> {
    let id = object_id_field(doc, "_id").ok_or_else(|| unreadable(USERS, doc, "_id is not an ObjectId"))?;
    let created_at = date_field(doc, "createdAt").unwrap_or_else(|| id_time(id));
    Ok(User {
        id: UserId(id),
        name: UserName::from_stored(string_field(doc, "name")),
        // Mongoose lower-cased it (`lowercase: true`); a hand-edited document may not be.
        email: Email::from_stored(string_field(doc, "email").trim().to_lowercase()),
        // bcrypt from the old backend, argon2id from us; a missing one matches no password.
        password_hash: string_field(doc, "password"),
        // Ours; the old backend's documents have none (the server's default zone applies).
        timezone: doc.get_str("timezone").ok().and_then(TimeZone::from_stored),
        created_at,
        updated_at: date_field(doc, "updatedAt").unwrap_or(created_at),
    })
}

/// What reads of a user load: not the token arrays, which the old backend grew with every login.
pub fn user_projection() -> Document {
    doc! { "name": 1, "email": 1, "password": 1, "timezone": 1, "createdAt": 1, "updatedAt": 1 }
}

pub fn login_from_doc(doc: &Document) -> Result<Login, Unreadable> {
    let id = doc
        .get_str("_id")
        .map_err(|_| unreadable(SESSIONS, doc, "_id is not a session id"))?;
    let user = object_id_field(doc, "user").ok_or_else(|| unreadable(SESSIONS, doc, "user is missing"))?;
    let created_at = date_field(doc, "createdAt").ok_or_else(|| unreadable(SESSIONS, doc, "createdAt is missing"))?;
    Ok(Login {
        id: id.to_owned(),
        user_id: UserId(user),
        created_at,
        last_used_at: date_field(doc, "lastUsedAt").unwrap_or(created_at),
        user_agent: doc.get_str("userAgent").ok().map(str::to_owned),
    })
}

pub fn refresh_token_from_doc(doc: &Document) -> Result<RefreshToken, Unreadable> {
    let token_hash = doc
        .get_str("_id")
        .map_err(|_| unreadable(REFRESH_SESSIONS, doc, "_id is not a token hash"))?;
    let user = object_id_field(doc, "user").ok_or_else(|| unreadable(REFRESH_SESSIONS, doc, "user is missing"))?;
    let expires_at =
        date_field(doc, "expiresAt").ok_or_else(|| unreadable(REFRESH_SESSIONS, doc, "expiresAt is missing"))?;
    Ok(RefreshToken {
        token_hash: token_hash.to_owned(),
        user_id: UserId(user),
        login_id: string_field(doc, "family"),
        created_at: date_field(doc, "createdAt").unwrap_or(expires_at),
        expires_at,
        rotated_at: date_field(doc, "rotatedAt"),
        revoked_at: date_field(doc, "revokedAt"),
        // Kept on the login, not on each token.
        user_agent: None,
    })
}

// --- writers ---------------------------------------------------------------------------------

/// A JS number as the Node driver stores it: Int32 when it fits.
fn js_int(n: i64) -> Bson {
    i32::try_from(n).map_or(Bson::Int64(n), Bson::Int32)
}

/// A measure as the Node driver stores a JS number; `null` when unrecorded.
fn measure_bson(measure: Measure, value: Option<f64>) -> Bson {
    match (value, measure.spec().rule) {
        (None, _) => Bson::Null,
        (Some(n), NumberRule::Integer(_)) => js_int(n as i64),
        (Some(n), NumberRule::Decimal(_)) => Bson::Double(n),
    }
}

/// The fields a PUT may change, shaped as Mongoose stored them.
fn log_fields(log: &DayLog) -> Document {
    let food: Vec<Bson> = log
        .food_intake
        .iter()
        .map(|item| {
            // Mongoose gave every array subdocument its own `_id`.
            Bson::Document(doc! {
                "_id": bson::oid::ObjectId::new(),
                "meal": item.meal.as_str(),
                "food": &item.food,
                "calories": js_int(item.calories),
            })
        })
        .collect();
    let mut fields = Document::new();
    for field in document_fields() {
        match field.key {
            FieldKey::Date => {}
            FieldKey::Measure(measure) => {
                fields.insert(field.name, measure_bson(measure, log.get(measure)));
            }
            FieldKey::BloodPressure => {
                let value = match log.blood_pressure() {
                    Some((systolic, diastolic)) => Bson::Document(doc! {
                        Measure::Systolic.name(): measure_bson(Measure::Systolic, Some(systolic)),
                        Measure::Diastolic.name(): measure_bson(Measure::Diastolic, Some(diastolic)),
                    }),
                    None => Bson::Null,
                };
                fields.insert(field.name, value);
            }
            FieldKey::Workouts => {
                fields.insert(field.name, log.workouts);
            }
            FieldKey::FoodIntake => {
                fields.insert(field.name, food.clone());
            }
            FieldKey::Symptoms => {
                fields.insert(field.name, &log.symptoms);
            }
            FieldKey::Mood => {
                fields.insert(field.name, log.mood.as_str());
            }
            FieldKey::Notes => {
                fields.insert(field.name, &log.notes);
            }
        }
    }
    fields
}

pub fn entry_to_doc(entry: &Entry) -> Document {
    let mut doc = doc! {
        "_id": entry_oid(entry.id),
        "user": user_oid(entry.user),
        "date": bson_date(entry.date.midnight_utc()),
    };
    doc.extend(log_fields(&entry.log));
    doc.extend(doc! {
        "createdAt": bson_date(entry.created_at),
        "updatedAt": bson_date(entry.updated_at),
        "__v": 0,
    });
    doc
}

/// `$set` of a partial update's fields (as [`entry_to_doc`] writes them) and its time; `date` is
/// the caller's to add.
pub fn entry_changes(changes: &EntryChanges, at: DateTime<Utc>) -> Document {
    let mut log = DayLog::default();
    changes.apply(&mut log);
    let all = log_fields(&log);
    let mut set = Document::new();
    for key in changes.sent() {
        let name = crate::domain::entry::rules::name_of(key);
        if let Some(value) = all.get(name) {
            set.insert(name, value.clone());
        }
    }
    set.insert("updatedAt", bson_date(at));
    set
}

/// `$set` replacing every field of an entry kept on its day (an import's `replace`): its stored
/// `date` stays as it is (an old backend's local midnight included).
pub fn entry_replacement(entry: &Entry) -> Document {
    let mut set = log_fields(&entry.log);
    set.insert("updatedAt", bson_date(entry.updated_at));
    doc! { "$set": set }
}

pub fn user_to_doc(user: &User) -> Document {
    let mut doc = doc! {
        "_id": user_oid(user.id),
        "name": user.name.as_str(),
        "email": user.email.as_str(),
        "password": &user.password_hash,
        // The old backend's arrays, kept so its code could still load the document; we never add
        // to them (our sessions live in their own collection).
        "refreshTokens": [],
        "revokedTokens": [],
        "createdAt": bson_date(user.created_at),
        "updatedAt": bson_date(user.updated_at),
        "__v": 0,
    };
    if let Some(zone) = user.timezone {
        doc.insert("timezone", zone.name());
    }
    doc
}

pub fn refresh_token_to_doc(s: &RefreshToken) -> Document {
    doc! {
        "_id": &s.token_hash,
        "user": user_oid(s.user_id),
        "family": &s.login_id,
        "createdAt": bson_date(s.created_at),
        "expiresAt": bson_date(s.expires_at),
        "rotatedAt": s.rotated_at.map(bson_date),
        "revokedAt": s.revoked_at.map(bson_date),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn a_local_midnight_is_the_day_it_was_meant_as() {
        for (stored, day) in [
            ("2026-11-28T00:00:00Z", "2026-11-28"),
            ("2026-11-27T23:00:00Z", "2026-11-28"), // UTC+1
            ("2026-11-28T05:00:00Z", "2026-11-28"), // UTC-5
            ("2026-11-27T12:00:00Z", "2026-11-28"), // UTC+12
            ("2026-11-28T11:59:59Z", "2026-11-28"), // UTC-11:59
            ("1969-12-31T23:00:00Z", "1970-01-01"),
        ] {
            assert_eq!(day_of(at(stored)).to_ymd(), day, "{stored}");
        }
        let (start, end) = day_window(Day::parse_ymd("2026-11-28").expect("a day"));
        assert_eq!(start.timestamp_millis(), at("2026-11-27T12:00:00Z").timestamp_millis());
        assert_eq!(end.timestamp_millis(), at("2026-11-28T12:00:00Z").timestamp_millis());
    }

    #[test]
    fn old_documents_read_with_defaults() {
        let id = bson::oid::ObjectId::new();
        let user = bson::oid::ObjectId::new();
        let old = doc! {
            "_id": id, "user": user, "date": bson_date(at("2026-11-27T23:00:00Z")),
            "calories": 2100.0, "sleep": 7, "workouts": true, "mood": "neutral", "__v": 0,
            "foodIntake": [{"_id": bson::oid::ObjectId::new(), "meal": "lunch", "food": "Soup", "calories": Bson::Int64(300)}],
            "somethingElse": {"nested": true},
        };
        let entry = entry_from_doc(&old).map_err(|e| e.to_string());
        let Ok(entry) = entry else { panic!("{entry:?}") };
        assert_eq!(entry.date.to_ymd(), "2026-11-28");
        assert_eq!(entry.log.figure(Measure::Calories), 2100.0);
        assert_eq!(entry.log.figure(Measure::Sleep), 7.0);
        assert_eq!(entry.log.food_intake[0].calories, 300);
        assert_eq!(
            (entry.log.figure(Measure::HeartRate), entry.log.figure(Measure::Steps)),
            (0.0, 0.0)
        );
        assert_eq!(entry.log.mood, Mood::Neutral);
        assert_eq!(entry.log.notes, "");
        assert_eq!(entry.created_at.timestamp(), id.timestamp().timestamp_millis() / 1000);

        let odd = doc! { "_id": id, "user": user, "date": bson_date(at("2026-11-28T00:00:00Z")), "mood": "ecstatic", "calories": 1.6, "symptoms": "cough" };
        let entry = entry_from_doc(&odd).map_err(|e| e.to_string());
        let Ok(entry) = entry else { panic!("{entry:?}") };
        assert_eq!(entry.log.mood, Mood::Neutral);
        assert_eq!(entry.log.figure(Measure::Calories), 2.0);
        assert_eq!(entry.log.symptoms, ["cough"]);

        assert!(entry_from_doc(&doc! { "_id": id, "user": user }).is_err());
    }

    /// What an older version stored (or the old backend's JavaScript `Date` could hold) outside the
    /// years 0001–9999 reads as the day it is, so each read still serves the document. (The
    /// MongoDB stand-in of the HTTP suite cannot hold such dates: this is where they are read.)
    #[test]
    fn dates_outside_the_years_still_read() {
        let (id, user) = (bson::oid::ObjectId::new(), bson::oid::ObjectId::new());
        for (millis, day) in [
            (-62_167_305_600_000_i64, "-0001-12-31"),
            (253_402_300_800_000, "+10000-01-01"),
            (-62_154_086_400_000, "0000-06-01"),
        ] {
            let stored = doc! {"_id": id, "user": user, "date": bson::DateTime::from_millis(millis), "calories": 5};
            let entry = entry_from_doc(&stored).map_err(|e| e.to_string());
            let Ok(entry) = entry else { panic!("{entry:?}") };
            assert_eq!((entry.date.to_ymd().as_str(), entry.date.is_in_range()), (day, false));
            let document = entry.document_json();
            assert!(
                document.as_str().contains(&format!(r#""date":"{day}T00:00:00.000Z""#)),
                "{document:?}"
            );
            assert_eq!(figures_from_doc(&stored).map(|f| f.day), Some(entry.date));
            assert_eq!(logged_day_from_doc(&stored).map(|d| d.day), Some(entry.date));
            // A day window for it exists (a PUT that keeps its day, the export's pages).
            let (start, end) = day_window(entry.date);
            assert!(start.timestamp_millis() <= millis && millis < end.timestamp_millis());
        }
        // Beyond what chrono holds: the nearest it can, never an unreadable document.
        for millis in [i64::MIN, i64::MAX, 8_640_000_000_000_000] {
            let stored = doc! {"_id": id, "user": user, "date": bson::DateTime::from_millis(millis)};
            let entry = entry_from_doc(&stored).map_err(|e| e.to_string());
            let Ok(entry) = entry else {
                panic!("{millis}: {entry:?}")
            };
            assert!(!entry.date.is_in_range(), "{millis}");
            assert_eq!(
                entry.date.date() < NaiveDate::MIN.succ_opt().unwrap_or(NaiveDate::MIN),
                millis < 0
            );
        }
    }

    #[test]
    fn written_entries_keep_the_mongoose_shape() {
        let entry = Entry {
            id: EntryId::new(),
            user: UserId::new(),
            date: Day::parse_ymd("2026-11-28").expect("a day"),
            log: DayLog::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let doc = entry_to_doc(&entry);
        assert!(matches!(doc.get("user"), Some(Bson::ObjectId(_))));
        assert!(matches!(doc.get("date"), Some(Bson::DateTime(_))));
        assert_eq!(doc.get("__v"), Some(&Bson::Int32(0)));
        assert_eq!(doc.get("calories"), Some(&Bson::Int32(0)));
        let read = entry_from_doc(&doc).map_err(|e| e.to_string());
        assert_eq!(read.map(|e| (e.id, e.date)), Ok((entry.id, entry.date)));
    }
}
