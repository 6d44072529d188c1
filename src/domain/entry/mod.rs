//! Daily entries: what an entry holds and the document it is served as. What a valid entry is
//! (API.md's entries table) is `rules`; how a body becomes a change set is `changes`.

mod changes;
mod measures;
mod range;
pub mod rules;

pub use self::changes::{Change, EntryChanges, NewEntry, blood_pressure_allowed};
pub use self::measures::Measures;
pub use self::range::EntryRange;
pub use self::rules::{FIELDS, FieldKey, Measure};

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::day::{Day, format_timestamp};
use super::ids::{EntryId, ObjectId, UserId};
use super::numbers::serialize_optional_js_number;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mood {
    Poor,
    Fair,
    #[default]
    Neutral,
    Good,
    Excellent,
}

impl Mood {
    pub const ALL: [Mood; 5] = [Mood::Poor, Mood::Fair, Mood::Neutral, Mood::Good, Mood::Excellent];

    pub fn as_str(self) -> &'static str {
        match self {
            Mood::Poor => "poor",
            Mood::Fair => "fair",
            Mood::Neutral => "neutral",
            Mood::Good => "good",
            Mood::Excellent => "excellent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// How many days had each mood (a trends bucket's, a week's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MoodCounts {
    pub poor: u32,
    pub fair: u32,
    pub neutral: u32,
    pub good: u32,
    pub excellent: u32,
}

impl MoodCounts {
    /// Counts one day with `mood`.
    pub fn add(&mut self, mood: Mood) {
        let count = match mood {
            Mood::Poor => &mut self.poor,
            Mood::Fair => &mut self.fair,
            Mood::Neutral => &mut self.neutral,
            Mood::Good => &mut self.good,
            Mood::Excellent => &mut self.excellent,
        };
        *count += 1;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Meal {
    Breakfast,
    Lunch,
    Dinner,
    Snack,
}

impl Meal {
    pub const ALL: [Meal; 4] = [Meal::Breakfast, Meal::Lunch, Meal::Dinner, Meal::Snack];

    pub fn as_str(self) -> &'static str {
        match self {
            Meal::Breakfast => "breakfast",
            Meal::Lunch => "lunch",
            Meal::Dinner => "dinner",
            Meal::Snack => "snack",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FoodItem {
    pub meal: Meal,
    pub food: String,
    pub calories: i64,
}

/// What a person records about a day.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct DayLog {
    pub measures: Measures,
    pub workouts: bool,
    pub food_intake: Vec<FoodItem>,
    pub symptoms: Vec<String>,
    pub mood: Mood,
    pub notes: String,
}

impl DayLog {
    /// A measure's value; `None` when it was not recorded (never for the old backend's fields,
    /// which are 0 then).
    pub fn get(&self, measure: Measure) -> Option<f64> {
        self.measures.get(measure)
    }

    /// A measure as a figure: 0 when it was not recorded.
    pub fn figure(&self, measure: Measure) -> f64 {
        self.measures.figure(measure)
    }

    /// Systolic and diastolic, when both were recorded.
    pub fn blood_pressure(&self) -> Option<(f64, f64)> {
        Some((self.get(Measure::Systolic)?, self.get(Measure::Diastolic)?))
    }
}

/// A number as JavaScript writes it (`7`, not `7.0`).
struct JsNumber(f64);

impl Serialize for JsNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::domain::numbers::serialize_js_number(&self.0, serializer)
    }
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: EntryId,
    pub user: UserId,
    pub date: Day,
    pub log: DayLog,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Entry {
    /// The entry as a document: the shape the API returns and the old backend's Mongoose wrote.
    pub fn document(&self) -> EntryDocument<'_> {
        EntryDocument(self)
    }

    /// The document as JSON text.
    pub fn document_json(&self) -> DocumentJson {
        #[allow(clippy::expect_used)]
        let text = serde_json::to_string(&self.document())
            .expect("an entry document (strings, numbers, lists) always serializes");
        DocumentJson(text)
    }
}

/// An entry document as JSON text: what `Entry::document_json` produced, now or when it was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentJson(String);

impl DocumentJson {
    /// Text that `Entry::document_json` produced when the entry was written.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// A fingerprint of what [`Entry::document_json`] writes: the hash of the document of an entry
    /// with every field set. Stored with each kept document (SQLite), so a document written in
    /// another format — a field added, a number written differently — is rendered again instead of
    /// being served stale. Nobody has to remember to bump it.
    pub fn format() -> i64 {
        static FORMAT: LazyLock<i64> = LazyLock::new(|| {
            let sample = Entry {
                id: EntryId(ObjectId::from_bytes([1; 12])),
                user: UserId(ObjectId::from_bytes([2; 12])),
                date: Day::from_date(chrono::NaiveDate::MIN),
                log: DayLog {
                    measures: Measures::sample(),
                    workouts: true,
                    food_intake: vec![FoodItem {
                        meal: Meal::Lunch,
                        food: "f".into(),
                        calories: 1,
                    }],
                    symptoms: vec!["s".into()],
                    mood: Mood::Good,
                    notes: "n".into(),
                },
                created_at: DateTime::UNIX_EPOCH,
                updated_at: DateTime::UNIX_EPOCH,
            };
            xxhash_rust::xxh3::xxh3_64(sample.document_json().as_str().as_bytes()) as i64
        });
        *FORMAT
    }
}

/// An entry document: Mongoose's shape (`_id`, `user`, `date` as UTC midnight) plus `id`, then
/// every field of the table ([`rules::document_fields`]), then the times, then the input aliases
/// with their field's value (`sleepHours`).
pub struct EntryDocument<'a>(&'a Entry);

impl Serialize for EntryDocument<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entry = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("_id", &entry.id)?;
        map.serialize_entry("id", &entry.id)?;
        map.serialize_entry("user", &entry.user)?;
        for field in rules::document_fields() {
            match field.key {
                FieldKey::Date => map.serialize_entry(field.name, &entry.date.to_iso_midnight())?,
                key => map.serialize_entry(field.name, &FieldOf(&entry.log, key))?,
            }
        }
        map.serialize_entry("createdAt", &format_timestamp(entry.created_at))?;
        map.serialize_entry("updatedAt", &format_timestamp(entry.updated_at))?;
        // The input aliases too (`sleepHours`, what the existing frontend's history reads).
        for field in FIELDS.iter().filter(|field| field.alias_of.is_some()) {
            map.serialize_entry(field.name, &FieldOf(&entry.log, field.key))?;
        }
        map.end()
    }
}

/// One field of a day's log as the API writes it (`date` is the entry's, not the log's).
pub struct FieldOf<'a>(pub &'a DayLog, pub FieldKey);

impl Serialize for FieldOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let FieldOf(log, key) = *self;
        match key {
            FieldKey::Measure(measure) => serialize_optional_js_number(&log.get(measure), serializer),
            FieldKey::BloodPressure => match log.blood_pressure() {
                Some((systolic, diastolic)) => {
                    let mut map = serializer.serialize_map(Some(2))?;
                    map.serialize_entry(Measure::Systolic.name(), &JsNumber(systolic))?;
                    map.serialize_entry(Measure::Diastolic.name(), &JsNumber(diastolic))?;
                    map.end()
                }
                None => serializer.serialize_none(),
            },
            FieldKey::Workouts => serializer.serialize_bool(log.workouts),
            FieldKey::FoodIntake => log.food_intake.serialize(serializer),
            FieldKey::Symptoms => log.symptoms.serialize(serializer),
            FieldKey::Mood => log.mood.serialize(serializer),
            FieldKey::Notes => serializer.serialize_str(&log.notes),
            FieldKey::Date => serializer.serialize_none(),
        }
    }
}

/// The documentation names these shapes; their schemas are derived from the field table by the
/// API document (`http::openapi`), which replaces these placeholders.
macro_rules! table_schema {
    ($($type:ty => $name:literal),* $(,)?) => {
        $(
            impl utoipa::PartialSchema for $type {
                fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                    utoipa::openapi::schema::Object::new().into()
                }
            }

            impl utoipa::ToSchema for $type {
                fn name() -> std::borrow::Cow<'static, str> {
                    std::borrow::Cow::Borrowed($name)
                }
            }
        )*
    };
}

table_schema!(EntryDocument<'_> => "Entry");
pub(crate) use table_schema;

#[cfg(test)]
mod tests {
    use super::*;

    /// The document format's fingerprint renders every field with a value of its own, so a change
    /// in how any field is written changes the format.
    #[test]
    fn the_format_sample_sets_every_field() {
        let sample = Measures::sample();
        for measure in Measure::all() {
            assert!(
                sample.get(measure).is_some_and(|v| v != 0.0),
                "{measure:?} is not set in the format's sample"
            );
        }
        assert_ne!(DocumentJson::format(), 0);
    }
}
