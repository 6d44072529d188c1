//! What the model is told. The system prompts keep it to friendly, general health guidance and away
//! from medical advice; the report prompt is built only from the server-computed summary.

use std::fmt::Write as _;

use super::client::Message;
use crate::domain::coach::{ChatMessage, WeeklySummary};

pub const CHAT_SYSTEM_PROMPT: &str = "You are HealthTracker's friendly health coach. Give practical, \
encouraging guidance about sleep, nutrition, exercise, hydration and mood, in plain language and under \
200 words. You are not a doctor: do not diagnose conditions, interpret test results, or recommend \
medication, dosages or treatments. If the user describes symptoms that could be serious, kindly suggest \
they talk to a healthcare professional.";

pub const REPORT_SYSTEM_PROMPT: &str = "You are HealthTracker's health coach. Write an encouraging weekly \
health report of 150-200 words based only on the figures provided: acknowledge what went well, point \
out one or two patterns, and suggest one or two practical, achievable improvements. Do not give medical \
advice, diagnoses or medication suggestions.";

pub fn chat(message: &ChatMessage) -> Vec<Message> {
    vec![Message::system(CHAT_SYSTEM_PROMPT), Message::user(message.as_str())]
}

pub fn weekly_report(summary: &WeeklySummary) -> Vec<Message> {
    let mut prompt = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        prompt,
        "Here is my health data for the past 7 days ({} of 7 days recorded):",
        summary.total_days
    );
    let _ = writeln!(prompt, "- Average daily calories: {} kcal", summary.avg_calories);
    let _ = writeln!(prompt, "- Average sleep: {} hours", summary.avg_sleep);
    let _ = writeln!(prompt, "- Workout days: {} out of 7", summary.workout_days);
    let _ = writeln!(prompt, "- Average steps: {}", summary.avg_steps);
    let _ = writeln!(prompt, "- Average water intake: {} L", summary.avg_water_intake);
    let moods = &summary.mood_counts;
    let _ = writeln!(
        prompt,
        "- Moods: poor {}, fair {}, neutral {}, good {}, excellent {}",
        moods.poor, moods.fair, moods.neutral, moods.good, moods.excellent
    );
    if summary.food_items.is_empty() {
        let _ = writeln!(prompt, "No food items were logged.");
    } else {
        let _ = writeln!(prompt, "Food items logged:");
        for item in &summary.food_items {
            let _ = writeln!(prompt, "- {item}");
        }
    }
    vec![Message::system(REPORT_SYSTEM_PROMPT), Message::user(prompt)]
}
