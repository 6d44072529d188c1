//! A week of entries summarised: the figures the weekly report's prompt and response carry, and the
//! context block of every chat prompt.

use serde::{Deserialize, Serialize};

use super::{REPORT_DAYS, REPORT_FOOD_ITEMS_MAX};
use crate::domain::day::Day;
use crate::domain::entry::{Entry, MoodCounts};

/// A week's figures, averaged over the days that have an entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WeekFigures {
    /// Days with an entry, out of 7.
    pub total_days: u32,
    pub avg_calories: i64,
    pub avg_sleep: f64,
    pub avg_steps: i64,
    /// In the unit the client logs (the frontend counts glasses).
    pub avg_water_intake: f64,
    /// Days with a workout, out of 7.
    pub workout_days: u32,
    pub mood_counts: MoodCounts,
    /// Up to 20 items as `meal: food (N kcal)`, newest day first.
    pub food_items: Vec<String>,
}

/// The weekly report's figures: the last 7 days (today and the 6 before), and the 7 before them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WeeklySummary {
    #[serde(flatten)]
    pub week: WeekFigures,
    /// The same figures for the 7 days before; `null` when nothing was logged then.
    #[serde(default)]
    pub previous: Option<WeekFigures>,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl WeekFigures {
    /// `None` when there are no entries. `food_items` keeps the first `food_cap` (entries come
    /// newest day first).
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a Entry>, food_cap: usize) -> Option<Self> {
        let entries: Vec<&Entry> = entries.into_iter().collect();
        if entries.is_empty() {
            return None;
        }
        let days = entries.len() as f64;
        let sum = |f: fn(&Entry) -> f64| entries.iter().map(|e| f(e)).sum::<f64>();
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
            avg_calories: (sum(|e| e.log.calories as f64) / days).round() as i64,
            avg_sleep: round1(sum(|e| e.log.sleep) / days),
            avg_steps: (sum(|e| e.log.steps as f64) / days).round() as i64,
            avg_water_intake: round1(sum(|e| e.log.water_intake) / days),
            workout_days: entries.iter().filter(|e| e.log.workouts).count() as u32,
            mood_counts: moods,
            food_items,
        })
    }
}

impl WeeklySummary {
    /// The days [`WeeklySummary::from_fortnight`] reads: today and the 13 before.
    pub const DAYS_READ: u64 = 2 * REPORT_DAYS;

    /// From the entries of the 14 days ending `today` (newest first): `None` when the last 7 are
    /// empty (the API's 404).
    pub fn from_fortnight(entries: &[Entry], today: Day) -> Option<Self> {
        let week_start = today.minus_days(REPORT_DAYS - 1);
        let previous_start = today.minus_days(Self::DAYS_READ - 1);
        let this_week = entries.iter().filter(|e| e.date >= week_start && e.date <= today);
        let week_before = entries
            .iter()
            .filter(|e| e.date >= previous_start && e.date < week_start);
        Some(Self {
            week: WeekFigures::from_entries(this_week, REPORT_FOOD_ITEMS_MAX)?,
            previous: WeekFigures::from_entries(week_before, REPORT_FOOD_ITEMS_MAX),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::day::Day;
    use crate::domain::entry::{DayLog, FoodItem, Meal, Mood};
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
                    calories: 2000,
                    sleep: 7.0,
                    steps: 9000,
                    workouts: true,
                    mood: Mood::Good,
                    food_intake: food(15),
                    ..DayLog::default()
                },
            ),
            entry(
                "2026-11-26",
                DayLog {
                    calories: 1801,
                    sleep: 8.5,
                    steps: 4001,
                    water_intake: 2.0,
                    food_intake: food(15),
                    ..DayLog::default()
                },
            ),
        ];
        let summary = WeekFigures::from_entries(&entries, REPORT_FOOD_ITEMS_MAX);
        let Some(s) = summary else { panic!("summary expected") };
        assert_eq!((s.total_days, s.workout_days), (2, 1));
        assert_eq!(s.avg_calories, 1901);
        assert_eq!(s.avg_sleep, 7.8);
        assert_eq!(s.avg_steps, 6501);
        assert_eq!(s.avg_water_intake, 1.0);
        assert_eq!((s.mood_counts.good, s.mood_counts.neutral), (1, 1));
        assert_eq!(s.food_items.len(), 20);
        assert_eq!(s.food_items[0], "lunch: food 0 (100 kcal)");
        assert!(WeekFigures::from_entries(&[], REPORT_FOOD_ITEMS_MAX).is_none());
    }

    #[test]
    fn the_report_compares_the_last_seven_days_with_the_seven_before() {
        let today = Day::parse_ymd("2026-12-01").expect("a day");
        let log = |calories| DayLog {
            calories,
            ..DayLog::default()
        };
        let entries = [
            entry("2026-12-01", log(2000)),
            entry("2026-11-25", log(1000)), // today minus 6: this week
            entry("2026-11-24", log(3000)), // minus 7: the week before
            entry("2026-11-18", log(1000)), // minus 13: the week before
            entry("2026-11-17", log(9999)), // minus 14: neither
        ];
        let Some(summary) = WeeklySummary::from_fortnight(&entries, today) else {
            panic!("summary expected")
        };
        assert_eq!((summary.week.total_days, summary.week.avg_calories), (2, 1500));
        let previous = summary.previous.as_ref().map(|p| (p.total_days, p.avg_calories));
        assert_eq!(previous, Some((2, 2000)));
        let json = serde_json::to_value(&summary).unwrap_or_default();
        assert_eq!(json["avgCalories"], 1500);
        assert_eq!(json["previous"]["avgCalories"], 2000);
        assert!(WeeklySummary::from_fortnight(&entries[2..], today).is_none());
        let alone = WeeklySummary::from_fortnight(&entries[..1], today);
        assert_eq!(alone.map(|s| s.previous), Some(None));
    }
}
