//! Writing documents in the Mongoose shape (`__v`, BSON dates, ObjectId references), so the old
//! backend could still read what we write.

use chrono::{DateTime, Utc};
use mongodb::bson::{self, Bson, Document, doc};

use crate::domain::entry::rules::{FieldKey, NumberRule, document_fields};
use crate::domain::entry::{DayLog, Entry, EntryChanges, Measure};
use crate::domain::user::User;
use crate::storage::RefreshToken;

use super::*;

/// A JS number as the Node driver stores it: Int32 when it fits.
pub(super) fn js_int(n: i64) -> Bson {
    i32::try_from(n).map_or(Bson::Int64(n), Bson::Int32)
}

/// A measure as the Node driver stores a JS number; `null` when unrecorded.
pub(super) fn measure_bson(measure: Measure, value: Option<f64>) -> Bson {
    match (value, measure.spec().rule) {
        (None, _) => Bson::Null,
        (Some(n), NumberRule::Integer(_)) => js_int(n as i64),
        (Some(n), NumberRule::Decimal(_)) => Bson::Double(n),
    }
}

/// The fields a PUT may change, shaped as Mongoose stored them.
pub(super) fn log_fields(log: &DayLog) -> Document {
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
