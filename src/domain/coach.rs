//! What the AI coach works from: a chat message, and a week of entries summarised into the figures
//! both the prompt and the response carry (so a client has them even when the model's text is poor).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::entry::{Entry, Mood};
use super::validation::{FieldError, Problems, TextRule, body_object, supplied};

pub const CHAT_MESSAGE: TextRule = TextRule {
    label: "Message",
    min: 1,
    max: 2000,
};
/// Food items quoted in the weekly report's prompt.
pub const REPORT_FOOD_ITEMS_MAX: usize = 20;
pub const REPORT_DAYS: u64 = 7;

/// A chat message: sanitized once (markup stripped, not escaped), 1–2000 characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChatMessage(String);

impl ChatMessage {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let object = body_object(body)?;
        let mut problems = Problems::new();
        let message = match supplied(object, "message") {
            None => {
                problems.add("message", "Message is required", object.get("message"));
                None
            }
            Some(v) => problems.check("message", v, |v| CHAT_MESSAGE.read(v)),
        };
        match message {
            Some(message) => Ok(Self(message)),
            None => Err(problems.into_vec()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Mood counts over the week.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MoodCounts {
    pub poor: u32,
    pub fair: u32,
    pub neutral: u32,
    pub good: u32,
    pub excellent: u32,
}

/// The week's figures, averaged over the days that have an entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WeeklySummary {
    /// Days with an entry, out of 7.
    pub total_days: u32,
    pub avg_calories: i64,
    pub avg_sleep: f64,
    pub avg_steps: i64,
    pub avg_water_intake: f64,
    /// Days with a workout, out of 7.
    pub workout_days: u32,
    pub mood_counts: MoodCounts,
    /// Up to 20 items as `meal: food (N kcal)`, newest day first.
    pub food_items: Vec<String>,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl WeeklySummary {
    /// `None` when the week has no entries (the API's 404).
    pub fn from_entries(entries: &[Entry]) -> Option<Self> {
        if entries.is_empty() {
            return None;
        }
        let days = entries.len() as f64;
        let sum = |f: fn(&Entry) -> f64| entries.iter().map(f).sum::<f64>();
        let mut moods = MoodCounts::default();
        for entry in entries {
            let count = match entry.log.mood {
                Mood::Poor => &mut moods.poor,
                Mood::Fair => &mut moods.fair,
                Mood::Neutral => &mut moods.neutral,
                Mood::Good => &mut moods.good,
                Mood::Excellent => &mut moods.excellent,
            };
            *count += 1;
        }
        let food_items = entries
            .iter()
            .flat_map(|e| &e.log.food_intake)
            .take(REPORT_FOOD_ITEMS_MAX)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::day::Day;
    use crate::domain::entry::{DayLog, FoodItem, Meal};
    use crate::domain::ids::{EntryId, UserId};
    use serde_json::json;

    fn entry(day: &str, log: DayLog) -> Entry {
        let now = chrono::Utc::now();
        Entry {
            id: EntryId::new(),
            user: UserId::new(),
            date: Day::parse(day).unwrap_or_else(Day::today),
            log,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn chat_messages_are_sanitized_once_and_length_checked() {
        assert_eq!(
            ChatMessage::parse(&json!({"message": " <b>Hi</b> & bye "})).map(|m| m.0),
            Ok("Hi & bye".into())
        );
        assert!(ChatMessage::parse(&json!({"message": "<script>x</script>"})).is_err());
        assert!(ChatMessage::parse(&json!({"message": "x".repeat(2001)})).is_err());
        assert!(ChatMessage::parse(&json!({})).is_err());
        assert!(ChatMessage::parse(&json!({"message": 5})).is_err());
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
        let summary = WeeklySummary::from_entries(&entries);
        let Some(s) = summary else { panic!("summary expected") };
        assert_eq!((s.total_days, s.workout_days), (2, 1));
        assert_eq!(s.avg_calories, 1901);
        assert_eq!(s.avg_sleep, 7.8);
        assert_eq!(s.avg_steps, 6501);
        assert_eq!(s.avg_water_intake, 1.0);
        assert_eq!((s.mood_counts.good, s.mood_counts.neutral), (1, 1));
        assert_eq!(s.food_items.len(), 20);
        assert_eq!(s.food_items[0], "lunch: food 0 (100 kcal)");
        assert!(WeeklySummary::from_entries(&[]).is_none());
    }
}
