//! Daily entries: the one place that defines what a valid entry is (API.md's entries table), how a
//! request body becomes a typed entry or change set, and how a change set applies.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::day::{Day, format_timestamp};
use super::ids::{EntryId, UserId};
use super::numbers::serialize_js_number;
use super::validation::{FieldError, Problems, body_object, boolean, string, supplied};

/// The entries table of API.md: each field's rule, shared by the parsers below and the API
/// documentation.
pub mod rules {
    use crate::domain::validation::{DecimalRule, IntegerRule, TextRule};

    pub const CALORIES: IntegerRule = IntegerRule {
        label: "Calories",
        max: 10_000,
    };
    pub const SLEEP_HOURS: DecimalRule = DecimalRule {
        label: "Sleep",
        max: 24,
    };
    pub const FOOD_ITEMS_MAX: usize = 50;
    pub const FOOD: TextRule = TextRule {
        label: "Food",
        min: 1,
        max: 200,
    };
    pub const FOOD_CALORIES: IntegerRule = IntegerRule {
        label: "Food calories",
        max: 5_000,
    };
    pub const HEART_RATE: IntegerRule = IntegerRule {
        label: "Heart rate",
        max: 220,
    };
    pub const STEPS: IntegerRule = IntegerRule {
        label: "Steps",
        max: 200_000,
    };
    pub const SYMPTOMS_MAX: usize = 10;
    pub const SYMPTOM: TextRule = TextRule {
        label: "Each symptom",
        min: 1,
        max: 100,
    };
    pub const WATER_LITRES: DecimalRule = DecimalRule {
        label: "Water intake",
        max: 100,
    };
    pub const NOTES: TextRule = TextRule {
        label: "Notes",
        min: 0,
        max: 1_000,
    };
}

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
        }
    }

    /// The document as JSON text.
    pub fn document_json(&self) -> DocumentJson {
        // Serializing plain data to a string cannot fail.
        DocumentJson(serde_json::to_string(&self.document()).unwrap_or_default())
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
}

/// A validated change set: every field optional. `POST` needs `date` and fills the rest with
/// defaults; `PUT` applies just what was sent. Fields that are not part of an entry (`user`, `_id`,
/// `createdAt`, …) are never read, so they can never be written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntryChanges {
    pub date: Option<Day>,
    pub calories: Option<i64>,
    pub sleep: Option<f64>,
    pub workouts: Option<bool>,
    pub food_intake: Option<Vec<FoodItem>>,
    pub heart_rate: Option<i64>,
    pub steps: Option<i64>,
    pub symptoms: Option<Vec<String>>,
    pub mood: Option<Mood>,
    pub water_intake: Option<f64>,
    pub notes: Option<String>,
}

/// A new entry for `POST /entries`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEntry {
    pub date: Day,
    pub log: DayLog,
}

impl NewEntry {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let object = body_object(body)?;
        let mut problems = Problems::new();
        let changes = EntryChanges::read(object, &mut problems);
        if changes.date.is_none() && supplied(object, "date").is_none() {
            problems.add("date", "Date is required", object.get("date"));
        }
        let Some(date) = changes.date.filter(|_| problems.is_empty()) else {
            return Err(problems.into_vec());
        };
        let mut log = DayLog::default();
        changes.apply(&mut log);
        Ok(Self { date, log })
    }
}

impl EntryChanges {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let object = body_object(body)?;
        let mut problems = Problems::new();
        let changes = Self::read(object, &mut problems);
        problems.finish(|| changes)
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Applies every supplied field except `date` (the caller decides about moving days).
    pub fn apply(self, log: &mut DayLog) {
        let Self {
            date: _,
            calories,
            sleep,
            workouts,
            food_intake,
            heart_rate,
            steps,
            symptoms,
            mood,
            water_intake,
            notes,
        } = self;
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = $field { log.$field = v; } )* };
        }
        set!(
            calories,
            sleep,
            workouts,
            food_intake,
            heart_rate,
            steps,
            symptoms,
            mood,
            water_intake,
            notes
        );
    }

    fn read(object: &Map<String, Value>, problems: &mut Problems) -> Self {
        use rules::*;
        let mut changes = Self::default();

        if let Some(v) = supplied(object, "date") {
            changes.date = problems.check("date", v, |v| {
                string(v, "Date")
                    .ok()
                    .and_then(Day::parse)
                    .ok_or_else(|| "Date must be a valid date (YYYY-MM-DD or ISO 8601)".to_string())
            });
        }
        if let Some(v) = supplied(object, "calories") {
            changes.calories = problems.check("calories", v, |v| CALORIES.read(v));
        }
        // `sleepHours` is what the existing frontend's form sends; `sleep` wins when both are sent,
        // but both must be valid.
        let sleep = supplied(object, "sleep").and_then(|v| problems.check("sleep", v, |v| SLEEP_HOURS.read(v)));
        let sleep_hours =
            supplied(object, "sleepHours").and_then(|v| problems.check("sleepHours", v, |v| SLEEP_HOURS.read(v)));
        changes.sleep = sleep.or(sleep_hours);
        if let Some(v) = supplied(object, "workouts") {
            changes.workouts = problems.check("workouts", v, |v| boolean(v, "Workouts"));
        }
        if let Some(v) = supplied(object, "foodIntake") {
            changes.food_intake = read_food_intake(v, problems);
        }
        if let Some(v) = supplied(object, "heartRate") {
            changes.heart_rate = problems.check("heartRate", v, |v| HEART_RATE.read(v));
        }
        if let Some(v) = supplied(object, "steps") {
            changes.steps = problems.check("steps", v, |v| STEPS.read(v));
        }
        if let Some(v) = supplied(object, "symptoms") {
            changes.symptoms = read_symptoms(v, problems);
        }
        if let Some(v) = supplied(object, "mood") {
            changes.mood = problems.check("mood", v, |v| {
                v.as_str()
                    .and_then(Mood::parse)
                    .ok_or_else(|| "Mood must be one of: poor, fair, neutral, good, excellent".to_string())
            });
        }
        if let Some(v) = supplied(object, "waterIntake") {
            changes.water_intake = problems.check("waterIntake", v, |v| WATER_LITRES.read(v));
        }
        if let Some(v) = supplied(object, "notes") {
            changes.notes = problems.check("notes", v, |v| NOTES.read(v));
        }
        changes
    }
}

fn read_food_intake(value: &Value, problems: &mut Problems) -> Option<Vec<FoodItem>> {
    use rules::*;
    let Some(items) = value.as_array() else {
        problems.add("foodIntake", "Food intake must be an array", Some(value));
        return None;
    };
    if items.len() > FOOD_ITEMS_MAX {
        problems.add(
            "foodIntake",
            format!("Food intake can have at most {FOOD_ITEMS_MAX} items"),
            None,
        );
        return None;
    }
    let mut parsed = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = |field: &str| format!("foodIntake[{i}].{field}");
        let Some(object) = item.as_object() else {
            problems.add(
                format!("foodIntake[{i}]"),
                "Each food item must be an object",
                Some(item),
            );
            continue;
        };
        let meal = match supplied(object, "meal") {
            None => {
                problems.add(path("meal"), "Meal is required", object.get("meal"));
                None
            }
            Some(v) => problems.check(&path("meal"), v, |v| {
                v.as_str()
                    .and_then(Meal::parse)
                    .ok_or_else(|| "Meal must be one of: breakfast, lunch, dinner, snack".to_string())
            }),
        };
        let food = match object.get("food") {
            None | Some(Value::Null) => {
                problems.add(path("food"), "Food is required", None);
                None
            }
            Some(v) => problems.check(&path("food"), v, |v| FOOD.read(v)),
        };
        let calories = match supplied(object, "calories") {
            None => Some(0),
            Some(v) => problems.check(&path("calories"), v, |v| FOOD_CALORIES.read(v)),
        };
        if let (Some(meal), Some(food), Some(calories)) = (meal, food, calories) {
            parsed.push(FoodItem { meal, food, calories });
        }
    }
    // Any failing item was reported and left out.
    (parsed.len() == items.len()).then_some(parsed)
}

fn read_symptoms(value: &Value, problems: &mut Problems) -> Option<Vec<String>> {
    use rules::*;
    let Some(items) = value.as_array() else {
        problems.add("symptoms", "Symptoms must be an array of strings", Some(value));
        return None;
    };
    if items.len() > SYMPTOMS_MAX {
        problems.add(
            "symptoms",
            format!("Symptoms can have at most {SYMPTOMS_MAX} items"),
            None,
        );
        return None;
    }
    let mut parsed = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        parsed.extend(problems.check(&format!("symptoms[{i}]"), item, |v| SYMPTOM.read(v)));
    }
    (parsed.len() == items.len()).then_some(parsed)
}

/// `GET /entries` query: an optional day range and a page size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EntryRange {
    pub from: Option<Day>,
    pub to: Option<Day>,
    pub limit: u32,
}

impl EntryRange {
    pub const DEFAULT_LIMIT: u32 = 30;
    pub const MAX_LIMIT: u32 = 366;

    pub fn parse(from: Option<&str>, to: Option<&str>, limit: Option<&str>) -> Result<Self, Vec<FieldError>> {
        let mut problems = Problems::new();
        let mut day = |name: &str, raw: Option<&str>| {
            let raw = raw?;
            let day = Day::parse_ymd(raw);
            if day.is_none() {
                problems.add(
                    name,
                    format!("{name} must be a date in YYYY-MM-DD format"),
                    Some(&Value::from(raw)),
                );
            }
            day
        };
        let from_day = day("from", from);
        let to_day = day("to", to);
        let limit = match limit {
            None => Self::DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=Self::MAX_LIMIT).contains(&n) => n,
                _ => {
                    problems.add(
                        "limit",
                        format!("limit must be an integer between 1 and {}", Self::MAX_LIMIT),
                        Some(&Value::from(raw)),
                    );
                    Self::DEFAULT_LIMIT
                }
            },
        };
        problems.finish(|| Self {
            from: from_day,
            to: to_day,
            limit,
        })
    }

    /// The last `days` days up to and including `today`.
    pub fn last_days(today: Day, days: u64) -> Self {
        Self {
            from: Some(today.minus_days(days.saturating_sub(1))),
            to: Some(today),
            limit: days as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn create_applies_defaults_and_aliases() {
        let entry = NewEntry::parse(&json!({
            "date": "2026-11-28", "calories": "2000", "sleepHours": "7.5", "heartRate": "",
            "mood": "good", "symptoms": ["<b>headache</b>"], "notes": "", "workouts": "true",
            "user": "507f1f77bcf86cd799439011", "_id": "x", "createdAt": "1970-01-01"
        }));
        let Ok(entry) = entry else { panic!("{entry:?}") };
        assert_eq!(entry.date.to_ymd(), "2026-11-28");
        assert_eq!(entry.log.calories, 2000);
        assert_eq!(entry.log.sleep, 7.5);
        assert_eq!(entry.log.heart_rate, 0);
        assert!(entry.log.workouts);
        assert_eq!(entry.log.mood, Mood::Good);
        assert_eq!(entry.log.symptoms, ["headache"]);
    }

    #[test]
    fn create_lists_every_failure() {
        let errors = NewEntry::parse(&json!({
            "calories": 10001, "sleep": -1, "foodIntake": [{"meal": "brunch", "food": "", "calories": 1.5}],
            "mood": "ecstatic", "symptoms": ["x".repeat(101)], "waterIntake": "lots"
        }))
        .err()
        .unwrap_or_default();
        assert_eq!(
            paths(&errors),
            [
                "calories",
                "sleep",
                "foodIntake[0].meal",
                "foodIntake[0].food",
                "foodIntake[0].calories",
                "symptoms[0]",
                "mood",
                "waterIntake",
                "date"
            ]
        );
    }

    #[test]
    fn too_many_items_are_refused() {
        let food: Vec<_> = (0..51).map(|_| json!({"meal": "snack", "food": "apple"})).collect();
        let errors = NewEntry::parse(&json!({"date": "2026-11-28", "foodIntake": food, "symptoms": vec!["a"; 11]}))
            .err()
            .unwrap_or_default();
        assert_eq!(paths(&errors), ["foodIntake", "symptoms"]);
    }

    #[test]
    fn changes_apply_only_what_was_sent() {
        let mut log = DayLog {
            calories: 1800,
            steps: 4000,
            ..DayLog::default()
        };
        let changes = EntryChanges::parse(&json!({"steps": 9000})).unwrap_or_default();
        changes.apply(&mut log);
        assert_eq!((log.calories, log.steps), (1800, 9000));
    }

    #[test]
    fn range_query_rules() {
        assert_eq!(EntryRange::parse(None, None, None).map(|r| r.limit), Ok(30));
        // An empty range is not an error: it just has no entries.
        assert!(EntryRange::parse(Some("2026-11-30"), Some("2026-11-01"), None).is_ok());
        assert!(EntryRange::parse(None, None, Some("0")).is_err());
        assert!(EntryRange::parse(None, None, Some("367")).is_err());
        assert!(EntryRange::parse(Some("yesterday"), None, None).is_err());
    }
}
