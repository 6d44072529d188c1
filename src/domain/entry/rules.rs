//! The entries table of API.md as data: the one description of an entry's fields. Everything that
//! handles an entry field walks these tables instead of naming the field: the body parser
//! ([`super::EntryChanges`]), the document an entry is served as, the dashboard's day summary, the
//! trends' metrics, the CSV columns, the coach's week figures, the request and response schemas of
//! the API documentation, and both storage backends' mappings (a SQLite column, a MongoDB key).
//!
//! A new numeric field is a [`Measure`] variant and a row of [`MEASURES`] and of [`FIELDS`] (and of
//! [`CSV_COLUMNS`] to export it); SQLite needs one migration adding its column (and, when it is a
//! trend, the covering index). Stored SQLite documents are re-rendered by themselves: their format
//! version is derived from what [`super::Entry::document_json`] writes.

use crate::domain::validation::{DecimalRule, IntegerRule, TextRule};

pub const FOOD_ITEMS_MAX: usize = 50;
pub const FOOD: TextRule = TextRule {
    label: "Food",
    min: 1,
    max: 200,
};
pub const FOOD_CALORIES: IntegerRule = IntegerRule::up_to("Food calories", 5_000);
pub const SYMPTOMS_MAX: usize = 10;
pub const SYMPTOM: TextRule = TextRule {
    label: "Each symptom",
    min: 1,
    max: 100,
};
pub const NOTES: TextRule = TextRule {
    label: "Notes",
    min: 0,
    max: 1_000,
};

/// A number recorded about a day. Its position is its index in [`MEASURES`] (checked by a test).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    Calories,
    Sleep,
    HeartRate,
    Steps,
    WaterIntake,
    Weight,
    RestingHeartRate,
    Systolic,
    Diastolic,
    ActiveEnergy,
}

/// What a measure's value must be.
#[derive(Clone, Copy, Debug)]
pub enum NumberRule {
    Integer(IntegerRule),
    Decimal(DecimalRule),
}

impl NumberRule {
    pub fn is_integer(self) -> bool {
        matches!(self, NumberRule::Integer(_))
    }

    /// Whether a body could set `value`: the same check a JSON number sent for the field gets (a
    /// device's figures are held to the rules a person's are).
    pub fn allows(self, value: f64) -> bool {
        let value = serde_json::Value::from(value);
        match self {
            NumberRule::Integer(rule) => rule.read(&value).is_ok(),
            NumberRule::Decimal(rule) => rule.read(&value).is_ok(),
        }
    }
}

/// What an entry says of a measure nobody recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unrecorded {
    /// `0`, as the old backend stored and answered it (its fields all defaulted to 0); `null` on
    /// input counts as absent.
    Zero,
    /// `null` (0 would be a measurement, as for a weight); `null` on input clears it.
    Null,
}

/// The line a week's average of a measure makes in the coach's prompt, and its key in the weekly
/// summary (`avg` + the measure's name: `avgCalories`).
#[derive(Clone, Copy, Debug)]
pub struct WeekLine {
    /// "Average daily calories".
    pub label: &'static str,
    /// After the value, with its space (`" kcal"`), or `""`.
    pub unit: &'static str,
    /// Rounding of the average: 0 gives an integer.
    pub decimals: u8,
}

/// How a measure shows in the trends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trend {
    /// Not at all.
    No,
    /// In every bucket as `{avg,min,max,sum}` (SQLite: also in the covering index
    /// `entries_user_day_figures`, so the trends never read the table's rows).
    Sums,
    /// The same, plus the bucket's `first`, `last` and `change` (last − first): a weight is
    /// followed by how it changes, not by its sum.
    SumsAndChange,
}

/// One measure: every place it shows, by name.
#[derive(Clone, Copy, Debug)]
pub struct MeasureSpec {
    pub measure: Measure,
    /// The key in bodies, documents and MongoDB (`heartRate`); inside [`MeasureSpec::parent`]
    /// when it has one.
    pub name: &'static str,
    /// The object a measure is one part of (`bloodPressure: {systolic, diastolic}`), whose own
    /// field in [`FIELDS`] reads and writes the parts together.
    pub parent: Option<&'static str>,
    /// The SQLite column (`heart_rate`).
    pub column: &'static str,
    pub rule: NumberRule,
    pub unrecorded: Unrecorded,
    pub trend: Trend,
    /// Whether a person may set a goal on it (`GET/PUT /goals`).
    pub goal: bool,
    /// In the coach's week figures.
    pub week: Option<WeekLine>,
    /// A value for the documentation.
    pub example: f64,
}

/// Every measure, in [`Measure`]'s order.
pub const MEASURES: [MeasureSpec; 10] = [
    MeasureSpec {
        measure: Measure::Calories,
        name: "calories",
        parent: None,
        column: "calories",
        rule: NumberRule::Integer(IntegerRule::up_to("Calories", 10_000)),
        unrecorded: Unrecorded::Zero,
        trend: Trend::Sums,
        goal: true,
        week: Some(WeekLine {
            label: "Average daily calories",
            unit: " kcal",
            decimals: 0,
        }),
        example: 2100.0,
    },
    MeasureSpec {
        measure: Measure::Sleep,
        name: "sleep",
        parent: None,
        column: "sleep",
        rule: NumberRule::Decimal(DecimalRule::up_to("Sleep", 24)),
        unrecorded: Unrecorded::Zero,
        trend: Trend::Sums,
        goal: true,
        week: Some(WeekLine {
            label: "Average sleep",
            unit: " hours",
            decimals: 1,
        }),
        example: 7.5,
    },
    MeasureSpec {
        measure: Measure::HeartRate,
        name: "heartRate",
        parent: None,
        column: "heart_rate",
        rule: NumberRule::Integer(IntegerRule::up_to("Heart rate", 220)),
        unrecorded: Unrecorded::Zero,
        trend: Trend::Sums,
        goal: true,
        week: None,
        example: 64.0,
    },
    MeasureSpec {
        measure: Measure::Steps,
        name: "steps",
        parent: None,
        column: "steps",
        rule: NumberRule::Integer(IntegerRule::up_to("Steps", 200_000)),
        unrecorded: Unrecorded::Zero,
        trend: Trend::Sums,
        goal: true,
        week: Some(WeekLine {
            label: "Average daily steps",
            unit: "",
            decimals: 0,
        }),
        example: 9500.0,
    },
    MeasureSpec {
        measure: Measure::WaterIntake,
        name: "waterIntake",
        parent: None,
        column: "water_intake",
        rule: NumberRule::Decimal(DecimalRule::up_to("Water intake", 100)),
        unrecorded: Unrecorded::Zero,
        // Water is the client's unit (the existing frontend counts glasses), so none is named.
        trend: Trend::Sums,
        goal: true,
        week: Some(WeekLine {
            label: "Average daily water intake",
            unit: "",
            decimals: 1,
        }),
        example: 2.5,
    },
    MeasureSpec {
        measure: Measure::Weight,
        name: "weight",
        parent: None,
        column: "weight",
        rule: NumberRule::Decimal(DecimalRule {
            label: "Weight",
            min: 20,
            max: 400,
        }),
        unrecorded: Unrecorded::Null,
        trend: Trend::SumsAndChange,
        goal: true,
        // The week's change is the coach's figure (`WeekFigures::weight_change`), not an average.
        week: None,
        example: 72.4,
    },
    MeasureSpec {
        measure: Measure::RestingHeartRate,
        name: "restingHeartRate",
        parent: None,
        column: "resting_heart_rate",
        rule: NumberRule::Integer(IntegerRule {
            label: "Resting heart rate",
            min: 20,
            max: 220,
        }),
        unrecorded: Unrecorded::Null,
        trend: Trend::Sums,
        goal: true,
        week: Some(WeekLine {
            label: "Average resting heart rate",
            unit: " bpm",
            decimals: 0,
        }),
        example: 58.0,
    },
    MeasureSpec {
        measure: Measure::Systolic,
        name: "systolic",
        parent: Some(BLOOD_PRESSURE),
        column: "systolic",
        rule: NumberRule::Integer(IntegerRule {
            label: "Systolic blood pressure",
            min: 60,
            max: 260,
        }),
        unrecorded: Unrecorded::Null,
        trend: Trend::Sums,
        goal: false,
        week: Some(WeekLine {
            label: "Average systolic blood pressure",
            unit: " mmHg",
            decimals: 0,
        }),
        example: 118.0,
    },
    MeasureSpec {
        measure: Measure::Diastolic,
        name: "diastolic",
        parent: Some(BLOOD_PRESSURE),
        column: "diastolic",
        rule: NumberRule::Integer(IntegerRule {
            label: "Diastolic blood pressure",
            min: 30,
            max: 160,
        }),
        unrecorded: Unrecorded::Null,
        trend: Trend::Sums,
        goal: false,
        week: Some(WeekLine {
            label: "Average diastolic blood pressure",
            unit: " mmHg",
            decimals: 0,
        }),
        example: 76.0,
    },
    MeasureSpec {
        measure: Measure::ActiveEnergy,
        name: "activeEnergy",
        parent: None,
        column: "active_energy",
        rule: NumberRule::Integer(IntegerRule::up_to("Active energy", 20_000)),
        unrecorded: Unrecorded::Null,
        trend: Trend::Sums,
        goal: true,
        week: Some(WeekLine {
            label: "Average daily active energy",
            unit: " kcal",
            decimals: 0,
        }),
        example: 450.0,
    },
];

/// The field of the blood pressure's two measures.
pub const BLOOD_PRESSURE: &str = "bloodPressure";

impl MeasureSpec {
    /// The same measure as a part that is always recorded when its whole is (blood pressure's
    /// parts, inside a recorded `bloodPressure`).
    pub const fn without_null(&self) -> Self {
        Self {
            unrecorded: Unrecorded::Zero,
            ..*self
        }
    }
}

impl Measure {
    pub const COUNT: usize = MEASURES.len();

    pub fn spec(self) -> &'static MeasureSpec {
        &MEASURES[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Every measure, in table order.
    pub fn all() -> impl Iterator<Item = Measure> {
        MEASURES.iter().map(|spec| spec.measure)
    }

    /// The measures of the trends buckets, in table order.
    pub fn trends() -> impl Iterator<Item = Measure> {
        MEASURES
            .iter()
            .filter(|spec| spec.trend != Trend::No)
            .map(|spec| spec.measure)
    }

    /// The measures a goal may be set on, in table order.
    pub fn goals() -> impl Iterator<Item = Measure> {
        MEASURES.iter().filter(|spec| spec.goal).map(|spec| spec.measure)
    }

    /// The measure named `name` (top-level names only: `weight`, not `systolic`).
    pub fn named(name: &str) -> Option<Measure> {
        MEASURES
            .iter()
            .find(|spec| spec.parent.is_none() && spec.name == name)
            .map(|spec| spec.measure)
    }
}

/// Which part of an entry a body field sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKey {
    Date,
    Measure(Measure),
    /// `{systolic, diastolic}`: [`Measure::Systolic`] and [`Measure::Diastolic`] together.
    BloodPressure,
    Workouts,
    FoodIntake,
    Symptoms,
    Mood,
    Notes,
}

/// What a field's value must be.
#[derive(Clone, Copy, Debug)]
pub enum FieldRule {
    /// `YYYY-MM-DD` or an RFC 3339 timestamp.
    Day,
    /// The measure's own rule ([`MeasureSpec::rule`]).
    Number(NumberRule),
    /// `{systolic, diastolic}`, each by its measure's rule, systolic above diastolic.
    BloodPressure,
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

/// One field of an entry body (and of its document, aliases aside).
#[derive(Clone, Copy, Debug)]
pub struct EntryField {
    /// The key in the JSON body and document.
    pub name: &'static str,
    pub key: FieldKey,
    pub rule: FieldRule,
    /// The field this one is an alias of on input (documented as deprecated): it sets that field
    /// unless the field itself is sent.
    pub alias_of: Option<&'static str>,
}

impl EntryField {
    /// The same field under another name.
    const fn alias(self, name: &'static str) -> Self {
        Self {
            name,
            alias_of: Some(self.name),
            ..self
        }
    }
}

const fn field(name: &'static str, key: FieldKey, rule: FieldRule) -> EntryField {
    EntryField {
        name,
        key,
        rule,
        alias_of: None,
    }
}

const fn measure(measure: Measure) -> EntryField {
    let spec = &MEASURES[measure as usize];
    field(spec.name, FieldKey::Measure(measure), FieldRule::Number(spec.rule))
}

/// Every field, in the order a body is read (and its problems listed) and a document written.
pub const FIELDS: [EntryField; 16] = [
    field("date", FieldKey::Date, FieldRule::Day),
    measure(Measure::Calories),
    measure(Measure::Sleep),
    // What the existing frontend's form sends.
    measure(Measure::Sleep).alias("sleepHours"),
    field("workouts", FieldKey::Workouts, FieldRule::Boolean { label: "Workouts" }),
    field("foodIntake", FieldKey::FoodIntake, FieldRule::FoodItems),
    measure(Measure::HeartRate),
    measure(Measure::Steps),
    field("symptoms", FieldKey::Symptoms, FieldRule::Symptoms),
    field("mood", FieldKey::Mood, FieldRule::Mood),
    measure(Measure::WaterIntake),
    field("notes", FieldKey::Notes, FieldRule::Text(NOTES)),
    measure(Measure::Weight),
    measure(Measure::RestingHeartRate),
    field(BLOOD_PRESSURE, FieldKey::BloodPressure, FieldRule::BloodPressure),
    measure(Measure::ActiveEnergy),
];

/// The CSV export's columns after `date`, in order: the first eleven are the ones spreadsheets
/// already have, so new fields are appended.
pub const CSV_COLUMNS: [FieldKey; 14] = [
    FieldKey::Measure(Measure::Calories),
    FieldKey::Measure(Measure::Sleep),
    FieldKey::Workouts,
    FieldKey::Measure(Measure::HeartRate),
    FieldKey::Measure(Measure::Steps),
    FieldKey::Mood,
    FieldKey::Measure(Measure::WaterIntake),
    FieldKey::Notes,
    FieldKey::Symptoms,
    FieldKey::FoodIntake,
    FieldKey::Measure(Measure::Weight),
    FieldKey::Measure(Measure::RestingHeartRate),
    FieldKey::BloodPressure,
    FieldKey::Measure(Measure::ActiveEnergy),
];

/// The fields as a document has them: the table without its input aliases.
pub fn document_fields() -> impl Iterator<Item = &'static EntryField> {
    FIELDS.iter().filter(|field| field.alias_of.is_none())
}

/// The name of a (non-alias) field.
pub fn name_of(key: FieldKey) -> &'static str {
    document_fields()
        .find(|field| field.key == key)
        .map_or("", |field| field.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_measure_sits_at_its_own_index() {
        for (index, spec) in MEASURES.iter().enumerate() {
            assert_eq!(spec.measure as usize, index, "{}", spec.name);
        }
    }

    #[test]
    fn every_field_is_in_the_body_table_once_and_every_column_names_one() {
        for measure in Measure::all().filter(|m| m.spec().parent.is_none()) {
            let rows = document_fields()
                .filter(|f| f.key == FieldKey::Measure(measure))
                .count();
            assert_eq!(rows, 1, "{measure:?}");
        }
        for key in CSV_COLUMNS {
            assert!(!name_of(key).is_empty(), "{key:?} has no field");
        }
    }
}
