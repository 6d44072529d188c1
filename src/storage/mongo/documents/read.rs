//! Reading documents leniently: every version of the old backend's shapes reads, a missing or odd
//! value as the API's default.

use chrono::{DateTime, Utc};
use mongodb::bson::{Bson, Document, doc};

use crate::domain::entry::rules::{FIELDS, FieldKey, NumberRule};
use crate::domain::entry::{DayLog, Entry, FoodItem, Meal, Measure, Measures, Mood};
use crate::domain::goals::GoalsMet;
use crate::domain::ids::{EntryId, ObjectId, UserId};
use crate::domain::stats::{DayFigures, LoggedDay};
use crate::domain::timezone::TimeZone;
use crate::domain::user::{Email, User, UserName};
use crate::storage::{Login, RefreshToken};

use super::*;

pub(super) fn number(value: Option<&Bson>) -> Option<f64> {
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

pub(super) fn bool_field(doc: &Document, key: &str) -> bool {
    match doc.get(key) {
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        other => number(other).is_some_and(|n| n != 0.0),
    }
}

pub(super) fn string_field(doc: &Document, key: &str) -> String {
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

pub(super) fn object_id_field(doc: &Document, key: &str) -> Option<ObjectId> {
    match doc.get(key)? {
        Bson::ObjectId(id) => Some(ObjectId::from_bytes(id.bytes())),
        Bson::String(s) => ObjectId::parse(s),
        _ => None,
    }
}

/// When a document has no `createdAt`/`updatedAt`, its ObjectId still says when it was made.
pub(super) fn id_time(id: ObjectId) -> DateTime<Utc> {
    let b = id.bytes();
    DateTime::from_timestamp(i64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])), 0).unwrap_or_default()
}

pub(super) fn food_item(value: &Bson) -> Option<FoodItem> {
    let item = value.as_document()?;
    Some(FoodItem {
        // The old schema's enum had the same four meals; anything else is kept as a snack rather
        // than failing the whole entry.
        meal: item.get_str("meal").ok().and_then(Meal::parse).unwrap_or(Meal::Snack),
        food: string_field(item, "food"),
        calories: int_field(item, "calories"),
    })
}

pub(super) fn symptoms(value: Option<&Bson>) -> Vec<String> {
    match value {
        Some(Bson::Array(items)) => items.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
        Some(Bson::String(s)) if !s.trim().is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Why a stored document cannot be served at all (no usable id or date).
/// verbatim may carry it).
/// The top-level keys a measure may be stored under: its name (or the object it is a part of),
/// then its input aliases (`sleepHours` is what the old frontend sent; a document saved from it
pub(super) fn measure_keys(measure: Measure) -> impl Iterator<Item = &'static str> {
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
pub(super) fn measure_field(doc: &Document, measure: Measure) -> Option<f64> {
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
pub(super) fn measures_from_doc(doc: &Document, measures: impl Iterator<Item = Measure>) -> Measures {
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

/// A user's role, disabled flag and TOTP (`role`, `disabled`, `twoFactor`: ours, all optional, so a
/// document the old backend wrote reads as an enabled plain user without 2FA).
pub fn flags_from_doc(doc: &Document) -> crate::storage::security::AccountFlags {
    use crate::storage::security::{AccountFlags, Role, TwoFactorRecord};
    let two_factor = doc.get_document("twoFactor").ok().and_then(|t| {
        let secret = t.get_str("secret").ok()?;
        Some(TwoFactorRecord {
            secret: secret.to_owned(),
            enabled: bool_field(t, "enabled"),
            last_step: t
                .get("lastStep")
                .filter(|b| !matches!(b, Bson::Null))
                .map(|_| int_field(t, "lastStep")),
        })
    });
    AccountFlags {
        role: Role::from_stored(doc.get_str("role").ok()),
        disabled: bool_field(doc, "disabled"),
        two_factor,
    }
}

/// The fields [`flags_from_doc`] reads.
pub fn flags_projection() -> Document {
    doc! { "role": 1, "disabled": 1, "twoFactor.secret": 1, "twoFactor.enabled": 1, "twoFactor.lastStep": 1 }
}
