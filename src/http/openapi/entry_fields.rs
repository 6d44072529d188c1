//! The schemas of what the field table describes (`domain::entry::rules`): the entry bodies the
//! parser reads, and the entry document, the day summary, the trends bucket and the coach's week
//! figures the API writes. Each walks the same table as the code it documents, so a field added
//! there appears here too.

use serde_json::{Map, Value, json};

use super::{day, decimal, enumeration, integer, optional, text};
use crate::domain::entry::rules::{self as entry, FieldKey, FieldRule, MEASURES, NumberRule, Trend, Unrecorded};
use crate::domain::entry::{Meal, Measure, Mood};
use crate::domain::validation::BOOLEAN_STRINGS;

/// An example value for each entry field, for the documentation (a measure's is in the table).
fn entry_example(key: FieldKey) -> Value {
    match key {
        FieldKey::Date => json!("2026-11-28"),
        FieldKey::Measure(measure) => js_number(measure.spec().example),
        FieldKey::BloodPressure => json!({
            "systolic": js_number(Measure::Systolic.spec().example),
            "diastolic": js_number(Measure::Diastolic.spec().example),
        }),
        FieldKey::Workouts => json!(true),
        FieldKey::FoodIntake => json!([{"meal": "lunch", "food": "Grilled salmon", "calories": 450}]),
        FieldKey::Symptoms => json!(["headache"]),
        FieldKey::Mood => json!("good"),
        FieldKey::Notes => json!("Felt rested"),
    }
}

/// A number as the API writes it: `2100`, `7.5`.
fn js_number(n: f64) -> Value {
    serde_json::from_str(&crate::domain::numbers::js_number_text(n)).unwrap_or(Value::Null)
}

/// The schema of a value that meets `rule`.
fn rule_schema(rule: FieldRule, example: Value) -> Value {
    match rule {
        FieldRule::Day => day(),
        FieldRule::Number(NumberRule::Integer(rule)) => integer(rule, example),
        FieldRule::Number(NumberRule::Decimal(rule)) => decimal(rule, example),
        FieldRule::BloodPressure => {
            let part = |measure: Measure| match measure.spec().rule {
                NumberRule::Integer(rule) => integer(rule, js_number(measure.spec().example)),
                NumberRule::Decimal(rule) => decimal(rule, js_number(measure.spec().example)),
            };
            json!({
                "type": "object",
                "description": "Blood pressure in mmHg: systolic above diastolic (`null` clears it)",
                "required": ["systolic", "diastolic"],
                "properties": { "systolic": part(Measure::Systolic), "diastolic": part(Measure::Diastolic) },
                "examples": [example]
            })
        }
        FieldRule::Boolean { label } => json!({
            "description": format!("{label}: a boolean, 0/1, or \"true\"/\"false\"/\"1\"/\"0\""),
            "anyOf": [
                { "type": "boolean" },
                { "type": "integer", "enum": [0, 1] },
                { "type": "string", "enum": BOOLEAN_STRINGS }
            ],
            "examples": [example]
        }),
        FieldRule::FoodItems => json!({
            "type": "array",
            "maxItems": entry::FOOD_ITEMS_MAX,
            "items": {
                "type": "object",
                "required": ["meal", "food"],
                "properties": {
                    "meal": enumeration(&Meal::ALL, "lunch"),
                    "food": text(entry::FOOD, "Grilled salmon"),
                    "calories": optional(integer(entry::FOOD_CALORIES, 450)),
                }
            },
            "examples": [example]
        }),
        FieldRule::Symptoms => json!({
            "type": "array",
            "maxItems": entry::SYMPTOMS_MAX,
            "items": text(entry::SYMPTOM, "headache"),
            "examples": [example]
        }),
        FieldRule::Mood => enumeration(&Mood::ALL, example),
        FieldRule::Text(rule) => text(rule, example),
    }
}

/// The entry body's properties, from the field table the parser walks. `date` is required on
/// create (`date_required`), optional on update; every other field is optional.
pub(super) fn entry_properties(date_required: bool) -> Map<String, Value> {
    entry::FIELDS
        .iter()
        .map(|field| {
            let mut schema = rule_schema(field.rule, entry_example(field.key));
            if let Some(canonical) = field.alias_of {
                schema["description"] = json!(format!(
                    "Alias of `{canonical}` (what the existing frontend sends); `{canonical}` wins"
                ));
                schema["deprecated"] = json!(true);
            }
            let required = date_required && field.key == FieldKey::Date;
            (field.name.to_owned(), if required { schema } else { optional(schema) })
        })
        .collect()
}

/// The JSON Schema of a number as the API writes it (`null` when the measure can be unrecorded).
fn measure_schema(spec: &entry::MeasureSpec) -> Value {
    let (kind, label, min, max) = match spec.rule {
        NumberRule::Integer(rule) => ("integer", rule.label, rule.min, rule.max),
        NumberRule::Decimal(rule) => ("number", rule.label, rule.min, rule.max),
    };
    let number = json!({ "type": kind, "minimum": min, "maximum": max, "description": label, "examples": [js_number(spec.example)] });
    match spec.unrecorded {
        Unrecorded::Zero => number,
        Unrecorded::Null => {
            json!({ "anyOf": [number, { "type": "null" }], "description": format!("{label}; `null` when not recorded") })
        }
    }
}

/// A field's value as a document writes it.
fn written_schema(key: FieldKey) -> Value {
    let reference = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    match key {
        FieldKey::Date => {
            json!({ "type": "string", "format": "date-time", "description": "The entry's day as UTC midnight", "examples": ["2026-11-28T00:00:00.000Z"] })
        }
        FieldKey::Measure(measure) => measure_schema(measure.spec()),
        FieldKey::BloodPressure => json!({
            "anyOf": [
                {
                    "type": "object",
                    "required": ["systolic", "diastolic"],
                    "properties": {
                        "systolic": measure_schema(&Measure::Systolic.spec().without_null()),
                        "diastolic": measure_schema(&Measure::Diastolic.spec().without_null()),
                    }
                },
                { "type": "null" }
            ],
            "description": "Blood pressure in mmHg; `null` when not recorded"
        }),
        FieldKey::Workouts => json!({ "type": "boolean" }),
        FieldKey::FoodIntake => json!({ "type": "array", "items": reference("FoodItem") }),
        FieldKey::Symptoms => json!({ "type": "array", "items": { "type": "string" } }),
        FieldKey::Mood => json!({ "type": "string", "enum": Mood::ALL }),
        FieldKey::Notes => json!({ "type": "string" }),
    }
}

fn object_id(description: &str) -> Value {
    json!({ "type": "string", "pattern": "^[0-9a-f]{24}$", "description": description })
}

fn closed_object(properties: Map<String, Value>, description: &str) -> Value {
    let required: Vec<&String> = properties.keys().collect();
    json!({ "type": "object", "description": description, "required": required, "properties": properties })
}

/// The bounds of a goal on `spec`'s measure, by its rule.
fn goal_bound(spec: &entry::MeasureSpec) -> Value {
    match spec.rule {
        NumberRule::Integer(rule) => integer(rule, js_number(spec.example)),
        NumberRule::Decimal(rule) => decimal(rule, js_number(spec.example)),
    }
}

/// `PUT /goals`'s body and the goals as `GET /goals` writes them.
pub(super) fn goal_schemas() -> Vec<(&'static str, Value)> {
    let (mut input, mut output) = (Map::new(), Map::new());
    for spec in MEASURES.iter().filter(|spec| spec.goal) {
        let bounds = json!({ "min": goal_bound(spec), "max": goal_bound(spec) });
        input.insert(
            spec.name.into(),
            json!({
                "type": "object",
                "description": format!("A goal on `{}`: `min`, `max` or both (`min ≤ max`)", spec.name),
                "properties": bounds,
                "additionalProperties": false,
                "minProperties": 1
            }),
        );
        let number = measure_schema(&spec.without_null());
        output.insert(
            spec.name.into(),
            json!({ "type": "object", "properties": { "min": number, "max": number } }),
        );
    }
    vec![
        (
            "GoalsInput",
            json!({
                "type": "object",
                "description": "Every goal (replacing those set; `{}` clears them)",
                "properties": input,
                "additionalProperties": false,
                "examples": [{ "steps": { "min": 8000 }, "sleep": { "min": 7, "max": 9 } }]
            }),
        ),
        (
            "Goals",
            json!({ "type": "object", "description": "The goals set, by measure", "properties": output, "additionalProperties": false }),
        ),
    ]
}

/// The shapes the API writes from the table, named as the handlers' `ToSchema` placeholders are.
pub(super) fn response_schemas() -> Vec<(&'static str, Value)> {
    let metric = |name: &str| json!({ "$ref": "#/components/schemas/Metric", "description": format!("`{name}` over the bucket's logged days") });

    let mut document = Map::new();
    document.insert("_id".into(), object_id("The entry's id"));
    document.insert("id".into(), object_id("The same as `_id`"));
    document.insert("user".into(), object_id("The owner's id"));
    for field in entry::document_fields() {
        document.insert(field.name.into(), written_schema(field.key));
    }
    document.insert("createdAt".into(), json!({ "type": "string", "format": "date-time" }));
    document.insert("updatedAt".into(), json!({ "type": "string", "format": "date-time" }));

    let mut summary = Map::new();
    for field in entry::document_fields() {
        match field.key {
            FieldKey::Notes => {}
            FieldKey::Workouts => {
                summary.insert(
                    field.name.into(),
                    json!({ "type": "integer", "enum": [0, 1], "description": "1 when there was a workout, else 0" }),
                );
            }
            key => {
                summary.insert(field.name.into(), written_schema(key));
            }
        }
    }
    let mut day_goals = Map::new();
    for spec in MEASURES.iter().filter(|spec| spec.goal) {
        let number = json!({ "type": ["number", "null"] });
        day_goals.insert(
            spec.name.into(),
            json!({
                "type": "object",
                "required": ["min", "max", "value", "met"],
                "properties": { "min": number, "max": number, "value": number, "met": { "type": "boolean" } }
            }),
        );
    }
    summary.insert(
        "goals".into(),
        json!({ "type": "object", "description": "Each goal set, with the day's value and whether it met it", "properties": day_goals, "additionalProperties": false }),
    );

    let mut bucket = Map::new();
    bucket.insert(
        "start".into(),
        json!({ "type": "string", "format": "date", "description": "The bucket's first day inside the range" }),
    );
    bucket.insert(
        "end".into(),
        json!({ "type": "string", "format": "date", "description": "Its last day inside the range" }),
    );
    bucket.insert(
        "days".into(),
        json!({ "type": "integer", "minimum": 1, "description": "Days of the bucket inside the range" }),
    );
    bucket.insert("daysLogged".into(), json!({ "type": "integer", "minimum": 0 }));
    bucket.insert(
        "workoutDays".into(),
        json!({ "type": "integer", "minimum": 0, "description": "Logged days with `workouts: true`" }),
    );
    bucket.insert("moods".into(), json!({ "$ref": "#/components/schemas/MoodCounts" }));
    let mut parts = Map::new();
    for spec in MEASURES.iter().filter(|spec| spec.trend != Trend::No) {
        let schema = match spec.trend {
            Trend::SumsAndChange => json!({
                "allOf": [{ "$ref": "#/components/schemas/Metric" }, {
                    "type": "object",
                    "required": ["first", "last", "change"],
                    "properties": {
                        "first": { "type": ["number", "null"], "description": "The bucket's first measurement" },
                        "last": { "type": ["number", "null"], "description": "Its last" },
                        "change": { "type": ["number", "null"], "description": "`last − first`, rounded to 2 decimals" }
                    }
                }],
                "description": format!("`{}` over the bucket's logged days, and how it changed", spec.name)
            }),
            _ => metric(spec.name),
        };
        match spec.parent {
            None => {
                bucket.insert(spec.name.into(), schema);
            }
            Some(parent) => {
                let object = parts
                    .entry(parent.to_owned())
                    .or_insert_with(|| json!({ "type": "object", "properties": {}, "required": [] }));
                object["properties"][spec.name] = schema;
                if let Some(required) = object["required"].as_array_mut() {
                    required.push(json!(spec.name));
                }
            }
        }
    }
    for (parent, object) in parts {
        bucket.insert(parent, object);
    }
    let goal_counts: Map<String, Value> = MEASURES
        .iter()
        .filter(|spec| spec.goal)
        .map(|spec| (spec.name.to_owned(), json!({ "type": "integer", "minimum": 0 })))
        .collect();
    bucket.insert(
        "goalsMet".into(),
        json!({ "type": "object", "description": "Per goal set, the logged days that met it", "properties": goal_counts.clone(), "additionalProperties": false }),
    );
    let goal_runs: Map<String, Value> = MEASURES
        .iter()
        .filter(|spec| spec.goal)
        .map(|spec| {
            let count = json!({ "type": "integer", "minimum": 0 });
            (spec.name.to_owned(), json!({ "type": "object", "required": ["current", "longest"], "properties": { "current": count, "longest": count } }))
        })
        .collect();
    let count = |description: &str| json!({ "type": "integer", "minimum": 0, "description": description });
    let streaks = json!({
        "type": "object",
        "required": ["currentLogging", "longestLogging", "currentWorkout", "longestWorkout", "goals"],
        "properties": {
            "currentLogging": count("Consecutive logged days ending today (0 when today is not logged yet)"),
            "longestLogging": count("The longest run of consecutive logged days"),
            "currentWorkout": count("Consecutive days with a workout ending today"),
            "longestWorkout": count("The longest run of consecutive days with a workout"),
            "goals": { "type": "object", "description": "Per goal set, the runs of days that met it", "properties": goal_runs, "additionalProperties": false }
        }
    });

    let mut week = Map::new();
    week.insert(
        "totalDays".into(),
        json!({ "type": "integer", "minimum": 0, "maximum": 7, "description": "Days with an entry, out of 7" }),
    );
    for spec in &MEASURES {
        if let Some(line) = spec.week {
            // A measurement nobody recorded this week has no average (`null`); an old field's
            // unrecorded days count as 0, so it always has one.
            let (kind, over) = match spec.unrecorded {
                Unrecorded::Zero => (json!("number"), "the days with an entry"),
                Unrecorded::Null => (
                    json!(["number", "null"]),
                    "the days that recorded it; null when none did",
                ),
            };
            week.insert(
                crate::domain::coach::average_key(spec.measure).to_owned(),
                json!({ "type": kind, "description": format!("{} over {over}", line.label) }),
            );
        }
    }
    week.insert(
        "workoutDays".into(),
        json!({ "type": "integer", "minimum": 0, "maximum": 7, "description": "Days with a workout, out of 7" }),
    );
    week.insert(
        "moodCounts".into(),
        json!({ "$ref": "#/components/schemas/MoodCounts" }),
    );
    week.insert("foodItems".into(), json!({ "type": "array", "items": { "type": "string" }, "description": "Up to 20 items as `meal: food (N kcal)`, newest day first" }));
    week.insert(
        "weightChange".into(),
        json!({ "type": ["number", "null"], "description": "The week's last weight minus its first (kg); null unless two days recorded one" }),
    );
    week.insert(
        "goals".into(),
        json!({
            "type": "object",
            "description": "Per goal set: its bounds and the days of the week that met it",
            "additionalProperties": {
                "type": "object",
                "required": ["daysMet"],
                "properties": {
                    "min": { "type": "number" },
                    "max": { "type": "number" },
                    "daysMet": { "type": "integer", "minimum": 0, "maximum": 7 }
                }
            }
        }),
    );

    vec![
        (
            "Entry",
            closed_object(
                document,
                "An entry: the old backend's Mongoose document (`_id`, `user`, `date` as UTC midnight) plus `id`",
            ),
        ),
        (
            "DaySummary",
            closed_object(
                summary,
                "One day's figures: zeros, `neutral` and empty lists for what was not recorded",
            ),
        ),
        ("BucketStats", closed_object(bucket, "One bucket of the trends")),
        ("Streaks", streaks),
        (
            "WeekFigures",
            closed_object(week, "A week's figures, averaged over the days that have an entry"),
        ),
        (
            "WeeklySummary",
            json!({ "allOf": [
                { "$ref": "#/components/schemas/WeekFigures" },
                { "type": "object", "required": ["previous"], "properties": { "previous": {
                    "anyOf": [{ "$ref": "#/components/schemas/WeekFigures" }, { "type": "null" }],
                    "description": "The same figures for the 7 days before; `null` when nothing was logged then"
                } } }
            ] }),
        ),
    ]
}
