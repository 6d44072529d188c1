//! The entries table of API.md as data: every field a body may set, the rule its value must meet,
//! in the order problems are reported. The parser ([`super::EntryChanges`]) reads a body by walking
//! [`FIELDS`], and the API documentation builds the request schemas from the same table, so the two
//! cannot list different fields.

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

/// Which part of an entry a body field sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKey {
    Date,
    Calories,
    Sleep,
    /// `sleepHours`, what the existing frontend's form sends: sets `sleep` unless `sleep` is sent.
    SleepHours,
    Workouts,
    FoodIntake,
    HeartRate,
    Steps,
    Symptoms,
    Mood,
    WaterIntake,
    Notes,
}

/// What a field's value must be.
#[derive(Clone, Copy, Debug)]
pub enum FieldRule {
    /// `YYYY-MM-DD` or an RFC 3339 timestamp.
    Day,
    Integer(IntegerRule),
    Decimal(DecimalRule),
    /// A boolean, 0/1, or one of [`crate::domain::validation::BOOLEAN_STRINGS`].
    Boolean {
        label: &'static str,
    },
    /// At most [`FOOD_ITEMS_MAX`] items of `{meal, food (FOOD), calories (FOOD_CALORIES)}`.
    FoodItems,
    /// At most [`SYMPTOMS_MAX`] strings, each [`SYMPTOM`].
    Symptoms,
    /// One of [`super::Mood::ALL`].
    Mood,
    Text(TextRule),
}

/// One field of an entry body.
#[derive(Clone, Copy, Debug)]
pub struct EntryField {
    /// The key in the JSON body.
    pub name: &'static str,
    pub key: FieldKey,
    pub rule: FieldRule,
    /// The field this one is an alias of (documented as deprecated).
    pub alias_of: Option<&'static str>,
}

const fn field(name: &'static str, key: FieldKey, rule: FieldRule) -> EntryField {
    EntryField {
        name,
        key,
        rule,
        alias_of: None,
    }
}

/// Every field, in the order a body is read (and its problems listed).
pub const FIELDS: [EntryField; 12] = [
    field("date", FieldKey::Date, FieldRule::Day),
    field("calories", FieldKey::Calories, FieldRule::Integer(CALORIES)),
    field("sleep", FieldKey::Sleep, FieldRule::Decimal(SLEEP_HOURS)),
    EntryField {
        alias_of: Some("sleep"),
        ..field("sleepHours", FieldKey::SleepHours, FieldRule::Decimal(SLEEP_HOURS))
    },
    field("workouts", FieldKey::Workouts, FieldRule::Boolean { label: "Workouts" }),
    field("foodIntake", FieldKey::FoodIntake, FieldRule::FoodItems),
    field("heartRate", FieldKey::HeartRate, FieldRule::Integer(HEART_RATE)),
    field("steps", FieldKey::Steps, FieldRule::Integer(STEPS)),
    field("symptoms", FieldKey::Symptoms, FieldRule::Symptoms),
    field("mood", FieldKey::Mood, FieldRule::Mood),
    field("waterIntake", FieldKey::WaterIntake, FieldRule::Decimal(WATER_LITRES)),
    field("notes", FieldKey::Notes, FieldRule::Text(NOTES)),
];
