//! Daily entries: what an entry holds and the document it is served as. What a valid entry is
//! (API.md's entries table) is `rules`; how a body becomes a change set is `changes`.

mod changes;
mod range;
pub mod rules;

pub use self::changes::{EntryChanges, NewEntry};
pub use self::range::EntryRange;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::day::{Day, format_timestamp};
use super::ids::{EntryId, UserId};
use super::numbers::serialize_js_number;

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
    pub calories: i64,
    pub sleep: f64,
    pub workouts: bool,
    pub food_intake: Vec<FoodItem>,
    pub heart_rate: i64,
    pub steps: i64,
    pub symptoms: Vec<String>,
    pub mood: Mood,
    pub water_intake: f64,
    pub notes: String,
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
        EntryDocument {
            mongo_id: self.id,
            id: self.id,
            user: self.user,
            date: self.date.to_iso_midnight(),
            calories: self.log.calories,
            sleep: self.log.sleep,
            workouts: self.log.workouts,
            food_intake: &self.log.food_intake,
            heart_rate: self.log.heart_rate,
            steps: self.log.steps,
            symptoms: &self.log.symptoms,
            mood: self.log.mood,
            water_intake: self.log.water_intake,
            notes: &self.log.notes,
            created_at: format_timestamp(self.created_at),
            updated_at: format_timestamp(self.updated_at),
            sleep_hours: self.log.sleep,
        }
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
}

/// An entry document: Mongoose's shape (`_id`, `user`, `date` as UTC midnight) plus `id`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Entry)]
pub struct EntryDocument<'a> {
    #[serde(rename = "_id")]
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$")]
    mongo_id: EntryId,
    /// The same as `_id`.
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$")]
    id: EntryId,
    /// The owner's id.
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$")]
    user: UserId,
    /// The entry's day as UTC midnight.
    #[schema(format = DateTime, example = "2026-11-28T00:00:00.000Z")]
    date: String,
    calories: i64,
    #[serde(serialize_with = "serialize_js_number")]
    sleep: f64,
    workouts: bool,
    #[schema(value_type = Vec<FoodItem>)]
    food_intake: &'a [FoodItem],
    heart_rate: i64,
    steps: i64,
    #[schema(value_type = Vec<String>)]
    symptoms: &'a [String],
    mood: Mood,
    #[serde(serialize_with = "serialize_js_number")]
    water_intake: f64,
    notes: &'a str,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// The same as `sleep`: the name the existing frontend reads (and sends). Last, so that the
    /// documents stored before it existed get it by appending (migration 20261210000006).
    #[serde(serialize_with = "serialize_js_number")]
    sleep_hours: f64,
}
