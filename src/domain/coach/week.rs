//! A week of entries summarised: the figures the weekly report's prompt and response carry, and the
//! context block of every chat prompt.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{REPORT_DAYS, REPORT_FOOD_ITEMS_MAX};
use crate::domain::day::Day;
use crate::domain::entry::rules::{MEASURES, Unrecorded};
use crate::domain::entry::{Entry, Measure, MoodCounts};
use crate::domain::goals::{Bounds, Goal, Goals};
use crate::domain::numbers::serialize_optional_js_number;

/// A week's figures, averaged over the days that have an entry. The averages are those of the
/// field table's measures that have a [`WeekLine`](crate::domain::entry::rules::WeekLine), each
/// written as `avg` + its name (`avgCalories`), rounded as its line says.
#[derive(Clone, Debug, PartialEq)]
pub struct WeekFigures {
    /// Days with an entry, out of 7.
    pub total_days: u32,
    averages: [Option<f64>; Measure::COUNT],
    /// Days with a workout, out of 7.
    pub workout_days: u32,
    pub mood_counts: MoodCounts,
    /// Up to 20 items as `meal: food (N kcal)`, newest day first.
    pub food_items: Vec<String>,
    /// The last weight of the week minus its first (kg), when at least two days recorded one.
    pub weight_change: Option<f64>,
    /// Each goal set, with the days of the week that met it.
    pub goals: Vec<WeekGoal>,
}

/// A goal and the days of a week that met it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeekGoal {
    pub measure: Measure,
    pub goal: Goal,
    pub days_met: u32,
}

crate::domain::entry::table_schema!(WeekFigures => "WeekFigures", WeeklySummary => "WeeklySummary");

/// The weekly report's figures: the last 7 days (today and the 6 before), and the 7 before them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeeklySummary {
    #[serde(flatten)]
    pub week: WeekFigures,
    /// The same figures for the 7 days before; `null` when nothing was logged then.
    #[serde(default)]
    pub previous: Option<WeekFigures>,
}

fn round_to(x: f64, decimals: u8) -> f64 {
    let scale = 10f64.powi(i32::from(decimals));
    (x * scale).round() / scale
}

/// `avgCalories` for calories: the summary's key of a measure's week average (the OpenAPI document
/// names them by it too).
pub fn average_key(measure: Measure) -> &'static str {
    &AVERAGE_KEYS[measure as usize]
}

static AVERAGE_KEYS: LazyLock<[String; Measure::COUNT]> = LazyLock::new(|| {
    MEASURES.map(|spec| {
        let mut name = spec.name.chars();
        let first = name.next().map(|c| c.to_ascii_uppercase()).unwrap_or_default();
        format!("avg{first}{}", name.as_str())
    })
});

impl WeekFigures {
    /// `None` when there are no entries. `food_items` keeps the first `food_cap` (entries come
    /// newest day first). An old field's average is over the days with an entry (an unrecorded one
    /// is 0 there); a measurement's (`null` when unrecorded: a weight, a blood pressure) over the
    /// days that recorded it.
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = &'a Entry>,
        food_cap: usize,
        goals: &Goals,
    ) -> Option<Self> {
        let entries: Vec<&Entry> = entries.into_iter().collect();
        if entries.is_empty() {
            return None;
        }
        let mut averages = [None; Measure::COUNT];
        for spec in &MEASURES {
            if let Some(line) = spec.week {
                let values: Vec<f64> = match spec.unrecorded {
                    Unrecorded::Zero => entries.iter().map(|e| e.log.figure(spec.measure)).collect(),
                    Unrecorded::Null => entries.iter().filter_map(|e| e.log.get(spec.measure)).collect(),
                };
                if !values.is_empty() {
                    let sum: f64 = values.iter().sum();
                    averages[spec.measure as usize] = Some(round_to(sum / values.len() as f64, line.decimals));
                }
            }
        }
        // Oldest first: entries come newest day first.
        let weights: Vec<f64> = entries
            .iter()
            .rev()
            .filter_map(|e| e.log.get(Measure::Weight))
            .collect();
        let weight_change = match weights.as_slice() {
            [first, .., last] => Some(round_to(last - first, 1)),
            _ => None,
        };
        let goals = goals
            .iter()
            .map(|(measure, goal)| WeekGoal {
                measure,
                goal,
                days_met: entries.iter().filter(|e| goal.met_by(e.log.get(measure))).count() as u32,
            })
            .collect();
        let mut moods = MoodCounts::default();
        for entry in &entries {
            moods.add(entry.log.mood);
        }
        let food_items = entries
            .iter()
            .flat_map(|e| &e.log.food_intake)
            .take(food_cap)
            .map(|f| format!("{}: {} ({} kcal)", f.meal.as_str(), f.food, f.calories))
            .collect();
        Some(Self {
            total_days: entries.len() as u32,
            averages,
            workout_days: entries.iter().filter(|e| e.log.workouts).count() as u32,
            mood_counts: moods,
            food_items,
            weight_change,
            goals,
        })
    }

    /// The week's average of a measure with a week line.
    pub fn average(&self, measure: Measure) -> Option<f64> {
        self.averages[measure as usize]
    }
}

impl Serialize for WeekFigures {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Number(Option<f64>);
        impl Serialize for Number {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_optional_js_number(&self.0, serializer)
            }
        }
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("totalDays", &self.total_days)?;
        for spec in MEASURES.iter().filter(|spec| spec.week.is_some()) {
            let measure = spec.measure as usize;
            map.serialize_entry(&AVERAGE_KEYS[measure], &Number(self.averages[measure]))?;
        }
        map.serialize_entry("workoutDays", &self.workout_days)?;
        map.serialize_entry("moodCounts", &self.mood_counts)?;
        map.serialize_entry("foodItems", &self.food_items)?;
        map.serialize_entry("weightChange", &Number(self.weight_change))?;
        map.serialize_entry("goals", &WeekGoals(&self.goals))?;
        map.end()
    }
}

/// `{<measure>: {min?, max?, daysMet}}`.
struct WeekGoals<'a>(&'a [WeekGoal]);

impl Serialize for WeekGoals<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for goal in self.0 {
            let mut value = serde_json::to_value(Bounds(goal.goal, None)).unwrap_or_default();
            value["daysMet"] = goal.days_met.into();
            map.serialize_entry(goal.measure.name(), &value)?;
        }
        map.end()
    }
}

/// What a queued job stored (its summary travels through Redis).
impl<'de> Deserialize<'de> for WeekFigures {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut fields = BTreeMap::<String, serde_json::Value>::deserialize(deserializer)?;
        let mut take = |key: &str| fields.remove(key).unwrap_or_default();
        let count = |value: serde_json::Value, key: &str| {
            value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| D::Error::custom(format!("{key} must be a count")))
        };
        let total_days = count(take("totalDays"), "totalDays")?;
        let workout_days = count(take("workoutDays"), "workoutDays")?;
        let mood_counts = serde_json::from_value(take("moodCounts")).map_err(D::Error::custom)?;
        let food_items = serde_json::from_value(take("foodItems")).map_err(D::Error::custom)?;
        let mut averages = [None; Measure::COUNT];
        for (average, key) in averages.iter_mut().zip(AVERAGE_KEYS.iter()) {
            *average = fields.get(key).and_then(serde_json::Value::as_f64);
        }
        let weight_change = fields.get("weightChange").and_then(serde_json::Value::as_f64);
        let mut goals = Vec::new();
        if let Some(serde_json::Value::Object(stored)) = fields.get("goals") {
            for (name, value) in stored {
                let bound = |key: &str| value.get(key).and_then(serde_json::Value::as_f64);
                if let Some(measure) = Measure::named(name) {
                    goals.push(WeekGoal {
                        measure,
                        goal: Goal {
                            min: bound("min"),
                            max: bound("max"),
                        },
                        days_met: bound("daysMet").map_or(0, |n| n as u32),
                    });
                }
            }
        }
        Ok(Self {
            total_days,
            averages,
            workout_days,
            mood_counts,
            food_items,
            weight_change,
            goals,
        })
    }
}

impl WeeklySummary {
    /// The days [`WeeklySummary::from_fortnight`] reads: today and the 13 before.
    pub const DAYS_READ: u64 = 2 * REPORT_DAYS;

    /// From the entries of the 14 days ending `today` (newest first): `None` when the last 7 are
    /// empty (the API's 404).
    pub fn from_fortnight(entries: &[Entry], today: Day, goals: &Goals) -> Option<Self> {
        let week_start = today.minus_days(REPORT_DAYS - 1);
        let previous_start = today.minus_days(Self::DAYS_READ - 1);
        let this_week = entries.iter().filter(|e| e.date >= week_start && e.date <= today);
        let week_before = entries
            .iter()
            .filter(|e| e.date >= previous_start && e.date < week_start);
        Some(Self {
            week: WeekFigures::from_entries(this_week, REPORT_FOOD_ITEMS_MAX, goals)?,
            previous: WeekFigures::from_entries(week_before, REPORT_FOOD_ITEMS_MAX, goals),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::day::Day;
    use crate::domain::entry::{DayLog, FoodItem, Meal, Measures, Mood};
    use crate::domain::ids::{EntryId, UserId};

    fn entry(day: &str, log: DayLog) -> Entry {
        let now = chrono::Utc::now();
        Entry {
            id: EntryId::new(),
            user: UserId::new(),
            date: Day::parse_ymd(day).expect("a day"),
            log,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn summary_averages_over_recorded_days() {
        let food = |n: usize| {
            (0..n)
                .map(|i| FoodItem {
                    meal: Meal::Lunch,
                    food: format!("food {i}"),
                    calories: 100,
                })
                .collect::<Vec<_>>()
        };
        let entries = [
            entry(
                "2026-11-28",
                DayLog {
                    measures: Measures::default()
                        .with(Measure::Calories, 2000.0)
                        .with(Measure::Sleep, 7.0)
                        .with(Measure::Steps, 9000.0),
                    workouts: true,
                    mood: Mood::Good,
                    food_intake: food(15),
                    ..DayLog::default()
                },
            ),
            entry(
                "2026-11-26",
                DayLog {
                    measures: Measures::default()
                        .with(Measure::Calories, 1801.0)
                        .with(Measure::Sleep, 8.5)
                        .with(Measure::Steps, 4001.0)
                        .with(Measure::WaterIntake, 2.0),
                    food_intake: food(15),
                    ..DayLog::default()
                },
            ),
        ];
        let summary = WeekFigures::from_entries(&entries, REPORT_FOOD_ITEMS_MAX, &Goals::default());
        let Some(s) = summary else { panic!("summary expected") };
        assert_eq!((s.total_days, s.workout_days), (2, 1));
        assert_eq!(s.average(Measure::Calories), Some(1901.0));
        assert_eq!(s.average(Measure::Sleep), Some(7.8));
        assert_eq!(s.average(Measure::Steps), Some(6501.0));
        assert_eq!(s.average(Measure::WaterIntake), Some(1.0));
        assert_eq!((s.mood_counts.good, s.mood_counts.neutral), (1, 1));
        assert_eq!(s.food_items.len(), 20);
        assert_eq!(s.food_items[0], "lunch: food 0 (100 kcal)");
        assert!(WeekFigures::from_entries(&[], REPORT_FOOD_ITEMS_MAX, &Goals::default()).is_none());
    }

    #[test]
    fn the_report_compares_the_last_seven_days_with_the_seven_before() {
        let today = Day::parse_ymd("2026-12-01").expect("a day");
        let log = |calories| DayLog {
            measures: Measures::default().with(Measure::Calories, calories),
            ..DayLog::default()
        };
        let entries = [
            entry("2026-12-01", log(2000.0)),
            entry("2026-11-25", log(1000.0)), // today minus 6: this week
            entry("2026-11-24", log(3000.0)), // minus 7: the week before
            entry("2026-11-18", log(1000.0)), // minus 13: the week before
            entry("2026-11-17", log(9999.0)), // minus 14: neither
        ];
        let Some(summary) = WeeklySummary::from_fortnight(&entries, today, &Goals::default()) else {
            panic!("summary expected")
        };
        assert_eq!(
            (summary.week.total_days, summary.week.average(Measure::Calories)),
            (2, Some(1500.0))
        );
        let previous = summary
            .previous
            .as_ref()
            .map(|p| (p.total_days, p.average(Measure::Calories)));
        assert_eq!(previous, Some((2, Some(2000.0))));
        let json = serde_json::to_value(&summary).unwrap_or_default();
        assert_eq!(json["avgCalories"], 1500);
        assert_eq!(json["previous"]["avgCalories"], 2000);
        assert!(WeeklySummary::from_fortnight(&entries[2..], today, &Goals::default()).is_none());
        let alone = WeeklySummary::from_fortnight(&entries[..1], today, &Goals::default());
        assert_eq!(alone.map(|s| s.previous), Some(None));
    }
}
