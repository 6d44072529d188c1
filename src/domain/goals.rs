//! A person's goals (API.md "Body measurements and goals"): for some measures of the field table
//! ([`Measure::goals`]), the range a day's value should be in. A day **meets** a goal when the value
//! is recorded (not 0, not `null`) and inside the range. The dashboard, the trends (buckets and
//! streaks) and the coach all ask [`Goals::met`], so they cannot disagree.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::entry::rules::NumberRule;
use super::entry::{DayLog, Measure, Measures};
use super::numbers::serialize_optional_js_number;
use super::validation::{FieldError, Problems, body_object};

/// The range of one goal: `min`, `max` or both (`min ≤ max`), within the measure's own rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Goal {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Goal {
    /// Whether `value` meets the goal: recorded (neither `None` nor 0) and inside the range.
    pub fn met_by(&self, value: Option<f64>) -> bool {
        match value {
            Some(v) if v != 0.0 => self.min.is_none_or(|min| v >= min) && self.max.is_none_or(|max| v <= max),
            _ => false,
        }
    }
}

/// Every goal of a person, by measure; empty when none is set.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Goals([Option<Goal>; Measure::COUNT]);

/// Which goals one day met: a bit per measure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GoalsMet(u32);

impl GoalsMet {
    pub fn contains(self, measure: Measure) -> bool {
        self.0 & (1 << measure as u32) != 0
    }
}

impl Goals {
    pub fn get(&self, measure: Measure) -> Option<Goal> {
        self.0[measure as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    /// The goals set, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (Measure, Goal)> + '_ {
        Measure::goals().filter_map(|measure| Some((measure, self.get(measure)?)))
    }

    /// Which goals a day's measures met.
    pub fn met(&self, measures: &Measures) -> GoalsMet {
        let mut met = 0;
        for (measure, goal) in self.iter() {
            if goal.met_by(measures.get(measure)) {
                met |= 1 << measure as u32;
            }
        }
        GoalsMet(met)
    }

    /// Whether a day's log met the goal on `measure` (`false` when there is none).
    pub fn met_by(&self, measure: Measure, log: &DayLog) -> bool {
        self.get(measure).is_some_and(|goal| goal.met_by(log.get(measure)))
    }

    /// `PUT /goals`: `{<measure>: {min?, max?}}` replacing every goal (`{}` clears them). Each bound
    /// by the measure's rule (digit strings as elsewhere); every failing goal is listed.
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let object = body_object(body)?;
        let mut problems = Problems::new();
        let goals = Self::read(object, &mut problems);
        problems.finish(|| goals)
    }

    fn read(object: &Map<String, Value>, problems: &mut Problems) -> Self {
        let mut goals = Self::default();
        for (name, value) in object {
            let Some(measure) = Measure::named(name).filter(|m| m.spec().goal) else {
                let names: Vec<&str> = Measure::goals().map(Measure::name).collect();
                problems.add(
                    name.as_str(),
                    format!("Goals can be set on: {}", names.join(", ")),
                    Some(value),
                );
                continue;
            };
            let Some(bounds) = value.as_object() else {
                problems.add(name.as_str(), "A goal must be an object {min?, max?}", Some(value));
                continue;
            };
            let mut bound = |key: &str| {
                let raw = bounds.get(key)?;
                let path = format!("{name}.{key}");
                match measure.spec().rule {
                    NumberRule::Integer(rule) => problems.check(&path, raw, |v| rule.read(v)).map(|n| n as f64),
                    NumberRule::Decimal(rule) => problems.check(&path, raw, |v| rule.read(v)),
                }
            };
            let (min, max) = (bound("min"), bound("max"));
            if let Some(other) = bounds.keys().find(|key| !matches!(key.as_str(), "min" | "max")) {
                problems.add(
                    format!("{name}.{other}"),
                    "A goal has only min and max",
                    bounds.get(other),
                );
                continue;
            }
            match (min, max) {
                (None, None) => {
                    if bounds.is_empty() {
                        problems.add(name.as_str(), "A goal needs min, max or both", Some(value));
                    }
                }
                (Some(min), Some(max)) if min > max => {
                    problems.add(name.as_str(), "A goal's min must not be above its max", Some(value));
                }
                (min, max) => goals.0[measure as usize] = Some(Goal { min, max }),
            }
        }
        goals
    }

    /// Goals as stored (the JSON [`Goals`] serializes to): what does not parse is left out, so a
    /// hand-edited row never fails a request.
    pub fn from_stored(text: &str) -> Self {
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
            return Self::default();
        };
        let mut goals = Self::default();
        for (name, value) in &object {
            let mut problems = Problems::new();
            let one = Self::read(&Map::from_iter([(name.clone(), value.clone())]), &mut problems);
            if problems.is_empty()
                && let Some(measure) = Measure::named(name)
            {
                goals.0[measure as usize] = one.get(measure);
            }
        }
        goals
    }

    /// The JSON text stored for them; `None` when there are none.
    pub fn to_stored(&self) -> Option<String> {
        (!self.is_empty()).then(|| serde_json::to_string(self).unwrap_or_default())
    }
}

crate::domain::entry::table_schema!(Goals => "Goals");

/// `{<measure>: {min?, max?}}`, bounds that are not set left out.
impl Serialize for Goals {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (measure, goal) in self.iter() {
            map.serialize_entry(measure.name(), &Bounds(goal, None))?;
        }
        map.end()
    }
}

/// A goal's bounds, and with a day's value whether it was met (the dashboard's block).
pub struct Bounds(pub Goal, pub Option<Option<f64>>);

impl Serialize for Bounds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Number(Option<f64>);
        impl Serialize for Number {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_optional_js_number(&self.0, serializer)
            }
        }
        let Bounds(goal, value) = self;
        let mut map = serializer.serialize_map(None)?;
        match value {
            // The dashboard's block names both bounds (`null` when not set), the value and `met`.
            Some(value) => {
                map.serialize_entry("min", &Number(goal.min))?;
                map.serialize_entry("max", &Number(goal.max))?;
                map.serialize_entry("value", &Number(*value))?;
                map.serialize_entry("met", &goal.met_by(*value))?;
            }
            None => {
                if let Some(min) = goal.min {
                    map.serialize_entry("min", &Number(Some(min)))?;
                }
                if let Some(max) = goal.max {
                    map.serialize_entry("max", &Number(Some(max)))?;
                }
            }
        }
        map.end()
    }
}

/// The dashboard's `goals` block for one day: `{<measure>: {min, max, value, met}}`.
pub struct DayGoals<'a>(pub &'a Goals, pub &'a DayLog);

impl Serialize for DayGoals<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (measure, goal) in self.0.iter() {
            map.serialize_entry(measure.name(), &Bounds(goal, Some(self.1.get(measure))))?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn goals_are_parsed_by_each_measures_rule() {
        let goals =
            Goals::parse(&json!({"steps": {"min": "8000"}, "sleep": {"min": 7, "max": 9.5}, "weight": {"max": 80}}))
                .expect("valid goals");
        assert_eq!(
            goals.get(Measure::Steps),
            Some(Goal {
                min: Some(8000.0),
                max: None
            })
        );
        assert_eq!(
            goals.get(Measure::Weight),
            Some(Goal {
                min: None,
                max: Some(80.0)
            })
        );
        assert_eq!(
            serde_json::to_value(goals).unwrap_or_default(),
            json!({"sleep": {"min": 7, "max": 9.5}, "steps": {"min": 8000}, "weight": {"max": 80}})
        );
        let paths = |body: Value| -> Vec<String> {
            Goals::parse(&body)
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.path)
                .collect()
        };
        assert_eq!(paths(json!({"steps": {"min": 9000, "max": 8000}})), ["steps"]);
        assert_eq!(paths(json!({"steps": {}})), ["steps"]);
        assert_eq!(paths(json!({"steps": {"min": 1.5}})), ["steps.min"]);
        assert_eq!(paths(json!({"weight": {"min": 5}})), ["weight.min"]);
        assert_eq!(
            paths(json!({"mood": {"min": 1}, "systolic": {"min": 1}})),
            ["mood", "systolic"]
        );
        assert_eq!(paths(json!({"calories": 2000})), ["calories"]);
        assert_eq!(paths(json!({"calories": {"min": 1, "target": 2}})), ["calories.target"]);
        assert_eq!(
            paths(json!({"calories": {"min": "", "max": null}})),
            ["calories.min", "calories.max"]
        );
        assert!(Goals::parse(&json!({})).is_ok_and(|g| g.is_empty()));
    }

    #[test]
    fn a_day_meets_a_goal_with_a_recorded_value_inside_it() {
        let goal = Goal {
            min: Some(7.0),
            max: Some(9.0),
        };
        assert!(goal.met_by(Some(7.0)) && goal.met_by(Some(9.0)));
        assert!(!goal.met_by(Some(6.9)) && !goal.met_by(Some(9.5)));
        assert!(
            !goal.met_by(None)
                && !Goal {
                    min: None,
                    max: Some(9.0)
                }
                .met_by(Some(0.0))
        );
    }

    #[test]
    fn stored_goals_round_trip_and_bad_ones_are_left_out() {
        let goals = Goals::parse(&json!({"steps": {"min": 8000}})).expect("valid");
        let stored = goals.to_stored().expect("some goals");
        assert_eq!(Goals::from_stored(&stored), goals);
        let odd = Goals::from_stored(r#"{"steps": {"min": 8000}, "mood": {"min": 1}, "sleep": {"min": 9, "max": 1}}"#);
        assert_eq!(odd, goals);
        assert_eq!(Goals::from_stored("not json"), Goals::default());
        assert_eq!(Goals::default().to_stored(), None);
    }
}
