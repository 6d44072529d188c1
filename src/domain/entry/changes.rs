//! A request body becomes a typed change set here, by walking the field table ([`super::rules`]):
//! each supplied field is read by its rule, and every failing field is listed.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::rules::{self, FIELDS, FieldKey, FieldRule, Measure, NumberRule, Unrecorded};
use super::{DayLog, Entry, FoodItem, Meal, Mood};
use crate::domain::day::Day;
use crate::domain::ids::{EntryId, UserId};
use crate::domain::timezone::TimeZone;
use crate::domain::validation::{FieldError, Problems, body_object, boolean, string, supplied};

/// What a body does to a measure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Change {
    Set(f64),
    /// `null` sent for a measure that is `null` when unrecorded: it is no longer recorded.
    Clear,
}

/// A validated change set: every field optional. `POST` needs `date` and fills the rest with
/// defaults; `PUT` applies just what was sent. Fields that are not part of an entry (`user`, `_id`,
/// `createdAt`, …) are never read, so they can never be written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntryChanges {
    pub date: Option<Day>,
    pub measures: [Option<Change>; Measure::COUNT],
    pub workouts: Option<bool>,
    pub food_intake: Option<Vec<FoodItem>>,
    pub symptoms: Option<Vec<String>>,
    pub mood: Option<Mood>,
    pub notes: Option<String>,
}

/// A new entry for `POST /entries`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEntry {
    pub date: Day,
    pub log: DayLog,
}

impl NewEntry {
    /// The user's new entry, with a fresh id, created and updated `now` (the server's times: a
    /// client's or a file's are never taken).
    pub fn into_entry(self, user: UserId, now: DateTime<Utc>) -> Entry {
        Entry {
            id: EntryId::new(),
            user,
            date: self.date,
            log: self.log,
            created_at: now,
            updated_at: now,
        }
    }

    /// A timestamp `date` lands on its day in `zone`, the user's.
    pub fn parse(body: &Value, zone: TimeZone) -> Result<Self, Vec<FieldError>> {
        let object = body_object(body)?;
        let mut problems = Problems::new();
        let changes = EntryChanges::read(object, zone, &mut problems);
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

impl Entry {
    /// A partial update, as `PUT /entries/{id}` makes it: the fields sent change (`date` moves the
    /// entry to that day), the others stay, and the entry was updated `now`. The stores apply it
    /// atomically, so two updates of different fields never lose one of them.
    pub fn apply(&mut self, changes: &EntryChanges, now: DateTime<Utc>) {
        if let Some(day) = changes.date {
            self.date = day;
        }
        changes.apply(&mut self.log);
        self.updated_at = now;
    }
}

/// A field's value once its rule accepted it.
enum FieldValue {
    Day(Day),
    Number(Change),
    /// Systolic, diastolic.
    Pair(Change, Change),
    Boolean(bool),
    FoodItems(Vec<FoodItem>),
    Texts(Vec<String>),
    Mood(Mood),
    Text(String),
}

impl FieldRule {
    /// Reads `value` for the field at `path`, recording what fails.
    fn read(self, path: &str, value: &Value, zone: TimeZone, problems: &mut Problems) -> Option<FieldValue> {
        match self {
            FieldRule::Day => problems
                .check(path, value, |v| {
                    string(v, "Date")
                        .ok()
                        .and_then(|raw| Day::parse_in(raw, zone))
                        .ok_or_else(|| {
                            "Date must be a valid date (YYYY-MM-DD or ISO 8601) from 0001-01-01 to 9999-12-31"
                                .to_string()
                        })
                })
                .map(FieldValue::Day),
            FieldRule::Number(NumberRule::Integer(rule)) => problems
                .check(path, value, |v| rule.read(v))
                .map(|n| FieldValue::Number(Change::Set(n as f64))),
            FieldRule::Number(NumberRule::Decimal(rule)) => problems
                .check(path, value, |v| rule.read(v))
                .map(|n| FieldValue::Number(Change::Set(n))),
            FieldRule::BloodPressure => read_blood_pressure(path, value, problems)
                .map(|(systolic, diastolic)| FieldValue::Pair(Change::Set(systolic), Change::Set(diastolic))),
            FieldRule::Boolean { label } => problems
                .check(path, value, |v| boolean(v, label))
                .map(FieldValue::Boolean),
            FieldRule::FoodItems => read_food_intake(path, value, problems).map(FieldValue::FoodItems),
            FieldRule::Symptoms => read_symptoms(path, value, problems).map(FieldValue::Texts),
            FieldRule::Mood => problems
                .check(path, value, |v| {
                    v.as_str()
                        .and_then(Mood::parse)
                        .ok_or_else(|| "Mood must be one of: poor, fair, neutral, good, excellent".to_string())
                })
                .map(FieldValue::Mood),
            FieldRule::Text(rule) => problems.check(path, value, |v| rule.read(v)).map(FieldValue::Text),
        }
    }
}

impl EntryChanges {
    /// A timestamp `date` lands on its day in `zone`, the user's.
    pub fn parse(body: &Value, zone: TimeZone) -> Result<Self, Vec<FieldError>> {
        let object = body_object(body)?;
        let mut problems = Problems::new();
        let changes = Self::read(object, zone, &mut problems);
        problems.finish(|| changes)
    }

    /// What the body does to `measure` (`None`: nothing).
    pub fn measure(&self, measure: Measure) -> Option<Change> {
        self.measures[measure as usize]
    }

    /// Every field the body sets, `date` aside, in table order: what a store writes for a partial
    /// update.
    pub fn sent(&self) -> impl Iterator<Item = FieldKey> + '_ {
        rules::document_fields()
            .map(|field| field.key)
            .filter(|key| match *key {
                FieldKey::Date => false,
                FieldKey::Measure(measure) => self.measure(measure).is_some(),
                FieldKey::BloodPressure => self.measure(Measure::Systolic).is_some(),
                FieldKey::Workouts => self.workouts.is_some(),
                FieldKey::FoodIntake => self.food_intake.is_some(),
                FieldKey::Symptoms => self.symptoms.is_some(),
                FieldKey::Mood => self.mood.is_some(),
                FieldKey::Notes => self.notes.is_some(),
            })
    }

    /// Applies every supplied field except `date` (the caller decides about moving days).
    pub fn apply(&self, log: &mut DayLog) {
        for measure in Measure::all() {
            match self.measure(measure) {
                Some(Change::Set(value)) => log.measures.set(measure, Some(value)),
                Some(Change::Clear) => log.measures.set(measure, None),
                None => {}
            }
        }
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = &self.$field { log.$field = v.clone(); } )* };
        }
        set!(workouts, food_intake, symptoms, mood, notes);
    }

    fn read(object: &Map<String, Value>, zone: TimeZone, problems: &mut Problems) -> Self {
        let mut changes = Self::default();
        for field in &FIELDS {
            let null = object.get(field.name) == Some(&Value::Null);
            let value = match (supplied(object, field.name), field.key) {
                (Some(value), _) => field.rule.read(field.name, value, zone, problems),
                // `null` clears a measure that can be unrecorded; for the others it is absence.
                (None, FieldKey::Measure(measure)) if null && measure.spec().unrecorded == Unrecorded::Null => {
                    Some(FieldValue::Number(Change::Clear))
                }
                (None, FieldKey::BloodPressure) if null => Some(FieldValue::Pair(Change::Clear, Change::Clear)),
                (None, _) => None,
            };
            if let Some(value) = value {
                changes.set(field.key, field.alias_of.is_some(), value);
            }
        }
        changes
    }

    /// Stores a value its rule produced. Each key's rule yields that key's type (the table is checked
    /// against this by `every_field_of_the_table_lands_in_its_own_slot`). An alias sets its field
    /// only when the field itself was not sent (it is read first).
    fn set(&mut self, key: FieldKey, alias: bool, value: FieldValue) {
        match (key, value) {
            (FieldKey::Date, FieldValue::Day(day)) => self.date = Some(day),
            (FieldKey::Measure(measure), FieldValue::Number(change)) => {
                let slot = &mut self.measures[measure as usize];
                if !(alias && slot.is_some()) {
                    *slot = Some(change);
                }
            }
            (FieldKey::BloodPressure, FieldValue::Pair(systolic, diastolic)) => {
                self.measures[Measure::Systolic as usize] = Some(systolic);
                self.measures[Measure::Diastolic as usize] = Some(diastolic);
            }
            (FieldKey::Workouts, FieldValue::Boolean(b)) => self.workouts = Some(b),
            (FieldKey::FoodIntake, FieldValue::FoodItems(items)) => self.food_intake = Some(items),
            (FieldKey::Symptoms, FieldValue::Texts(symptoms)) => self.symptoms = Some(symptoms),
            (FieldKey::Mood, FieldValue::Mood(mood)) => self.mood = Some(mood),
            (FieldKey::Notes, FieldValue::Text(notes)) => self.notes = Some(notes),
            (key, _) => debug_assert!(false, "the field table gives {key:?} a rule of another type"),
        }
    }
}

fn read_food_intake(path: &str, value: &Value, problems: &mut Problems) -> Option<Vec<FoodItem>> {
    use rules::{FOOD, FOOD_CALORIES, FOOD_ITEMS_MAX};
    let Some(items) = value.as_array() else {
        problems.add(path, "Food intake must be an array", Some(value));
        return None;
    };
    if items.len() > FOOD_ITEMS_MAX {
        problems.add(
            path,
            format!("Food intake can have at most {FOOD_ITEMS_MAX} items"),
            None,
        );
        return None;
    }
    let mut parsed = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = |field: &str| format!("{path}[{i}].{field}");
        let Some(object) = item.as_object() else {
            problems.add(format!("{path}[{i}]"), "Each food item must be an object", Some(item));
            continue;
        };
        let meal = match supplied(object, "meal") {
            None => {
                problems.add(at("meal"), "Meal is required", object.get("meal"));
                None
            }
            Some(v) => problems.check(&at("meal"), v, |v| {
                v.as_str()
                    .and_then(Meal::parse)
                    .ok_or_else(|| "Meal must be one of: breakfast, lunch, dinner, snack".to_string())
            }),
        };
        let food = match object.get("food") {
            None | Some(Value::Null) => {
                problems.add(at("food"), "Food is required", None);
                None
            }
            Some(v) => problems.check(&at("food"), v, |v| FOOD.read(v)),
        };
        let calories = match supplied(object, "calories") {
            None => Some(0),
            Some(v) => problems.check(&at("calories"), v, |v| FOOD_CALORIES.read(v)),
        };
        if let (Some(meal), Some(food), Some(calories)) = (meal, food, calories) {
            parsed.push(FoodItem { meal, food, calories });
        }
    }
    // Any failing item was reported and left out.
    (parsed.len() == items.len()).then_some(parsed)
}

/// Whether a body could set this blood pressure (the rule of `bloodPressure`, on numbers).
pub fn blood_pressure_allowed(systolic: f64, diastolic: f64) -> bool {
    let value = serde_json::json!({ "systolic": systolic, "diastolic": diastolic });
    read_blood_pressure("bloodPressure", &value, &mut Problems::new()).is_some()
}

/// `{systolic, diastolic}`: both required, each by its measure's rule, systolic above diastolic.
fn read_blood_pressure(path: &str, value: &Value, problems: &mut Problems) -> Option<(f64, f64)> {
    let Some(object) = value.as_object() else {
        problems.add(
            path,
            "Blood pressure must be an object {systolic, diastolic}",
            Some(value),
        );
        return None;
    };
    let mut part = |measure: Measure| {
        let name = measure.name();
        let at = format!("{path}.{name}");
        let NumberRule::Integer(rule) = measure.spec().rule else {
            return None;
        };
        match supplied(object, name) {
            None => {
                problems.add(at, format!("{} is required", rule.label), object.get(name));
                None
            }
            Some(v) => problems.check(&at, v, |v| rule.read(v)).map(|n| n as f64),
        }
    };
    let (systolic, diastolic) = (part(Measure::Systolic), part(Measure::Diastolic));
    let (systolic, diastolic) = (systolic?, diastolic?);
    if systolic <= diastolic {
        problems.add(path, "Systolic blood pressure must be above diastolic", Some(value));
        return None;
    }
    Some((systolic, diastolic))
}

fn read_symptoms(path: &str, value: &Value, problems: &mut Problems) -> Option<Vec<String>> {
    use rules::{SYMPTOM, SYMPTOMS_MAX};
    let Some(items) = value.as_array() else {
        problems.add(path, "Symptoms must be an array of strings", Some(value));
        return None;
    };
    if items.len() > SYMPTOMS_MAX {
        problems.add(path, format!("Symptoms can have at most {SYMPTOMS_MAX} items"), None);
        return None;
    }
    let mut parsed = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        parsed.extend(problems.check(&format!("{path}[{i}]"), item, |v| SYMPTOM.read(v)));
    }
    (parsed.len() == items.len()).then_some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::entry::Measures;
    use serde_json::json;

    fn paths(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn create_applies_defaults_and_aliases() {
        let entry = NewEntry::parse(
            &json!({
                "date": "2026-11-28", "calories": "2000", "sleepHours": "7.5", "heartRate": "",
                "mood": "good", "symptoms": ["<b>headache</b>"], "notes": "", "workouts": "true",
                "user": "507f1f77bcf86cd799439011", "_id": "x", "createdAt": "1970-01-01"
            }),
            TimeZone::UTC,
        );
        let Ok(entry) = entry else { panic!("{entry:?}") };
        assert_eq!(entry.date.to_ymd(), "2026-11-28");
        assert_eq!(entry.log.figure(Measure::Calories), 2000.0);
        assert_eq!(entry.log.figure(Measure::Sleep), 7.5);
        assert_eq!(entry.log.figure(Measure::HeartRate), 0.0);
        assert!(entry.log.workouts);
        assert_eq!(entry.log.mood, Mood::Good);
        assert_eq!(entry.log.symptoms, ["headache"]);
    }

    #[test]
    fn create_lists_every_failure() {
        let errors = NewEntry::parse(
            &json!({
                "calories": 10001, "sleep": -1, "foodIntake": [{"meal": "brunch", "food": "", "calories": 1.5}],
                "mood": "ecstatic", "symptoms": ["x".repeat(101)], "waterIntake": "lots"
            }),
            TimeZone::UTC,
        )
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
        let errors = NewEntry::parse(
            &json!({"date": "2026-11-28", "foodIntake": food, "symptoms": vec!["a"; 11]}),
            TimeZone::UTC,
        )
        .err()
        .unwrap_or_default();
        assert_eq!(paths(&errors), ["foodIntake", "symptoms"]);
    }

    #[test]
    fn changes_apply_only_what_was_sent() {
        let mut log = DayLog {
            measures: Measures::default()
                .with(Measure::Calories, 1800.0)
                .with(Measure::Steps, 4000.0),
            ..DayLog::default()
        };
        let changes = EntryChanges::parse(&json!({"steps": 9000}), TimeZone::UTC).unwrap_or_default();
        changes.apply(&mut log);
        assert_eq!(
            (log.figure(Measure::Calories), log.figure(Measure::Steps)),
            (1800.0, 9000.0)
        );
    }

    #[test]
    fn sleep_wins_over_its_alias() {
        let changes = EntryChanges::parse(&json!({"sleep": 6, "sleepHours": "8"}), TimeZone::UTC).unwrap_or_default();
        assert_eq!(changes.measure(Measure::Sleep), Some(Change::Set(6.0)));
        let changes = EntryChanges::parse(&json!({"sleepHours": "8"}), TimeZone::UTC).unwrap_or_default();
        assert_eq!(changes.measure(Measure::Sleep), Some(Change::Set(8.0)));
    }

    /// Every row of the table pairs its key with a rule of the key's type: a valid value for each
    /// field, sent alone, changes exactly one thing.
    #[test]
    fn every_field_of_the_table_lands_in_its_own_slot() {
        for field in &FIELDS {
            let sample = match field.rule {
                FieldRule::Day => json!("2026-11-28"),
                FieldRule::BloodPressure => json!({"systolic": 120, "diastolic": 80}),
                FieldRule::Number(NumberRule::Integer(rule)) => json!(rule.max),
                FieldRule::Number(NumberRule::Decimal(rule)) => json!(rule.max),
                FieldRule::Boolean { .. } => json!(true),
                FieldRule::FoodItems => json!([{"meal": "lunch", "food": "soup"}]),
                FieldRule::Symptoms => json!(["cough"]),
                FieldRule::Mood => json!("good"),
                FieldRule::Text(_) => json!("text"),
            };
            let changes = EntryChanges::parse(&json!({ field.name: sample }), TimeZone::UTC);
            let Ok(changes) = changes else {
                panic!("{}: {changes:?}", field.name)
            };
            assert_ne!(
                changes,
                EntryChanges::default(),
                "{} was read but not stored",
                field.name
            );
        }
    }
}
