//! What the model is told. The system prompts keep it to friendly, general health guidance and away
//! from medical advice; the report prompt is built only from the server-computed summary; a chat
//! prompt carries the user's last 7 days and the newest turns of the conversation, within
//! [`PROMPT_TOKEN_BUDGET`].

use std::fmt::Write as _;

use super::client::Message;
use crate::domain::coach::{CONTEXT_TURNS, ChatContext, ChatMessage, Role, WeekFigures, WeeklySummary};
use crate::domain::entry::rules::MEASURES;
use crate::domain::numbers::js_number_text;

pub const CHAT_SYSTEM_PROMPT: &str = "You are HealthTracker's friendly health coach. Give practical, \
encouraging guidance about sleep, nutrition, exercise, hydration and mood, in plain language and under \
200 words. You are not a doctor: do not diagnose conditions, interpret test results, or recommend \
medication, dosages or treatments. If the user describes symptoms that could be serious, kindly suggest \
they talk to a healthcare professional.";

pub const REPORT_SYSTEM_PROMPT: &str = "You are HealthTracker's health coach. Write an encouraging weekly \
health report of 150-200 words based only on the figures provided: acknowledge what went well, point \
out one or two patterns, and suggest one or two practical, achievable improvements. When figures for \
the week before are given, compare the two weeks: say what improved and what slipped. Do not give \
medical advice, diagnoses or medication suggestions.";

/// What a chat prompt may cost, in estimated tokens (see [`estimated_tokens`]): the system prompt,
/// the figures and the question always go in; the conversation fills the rest, newest turns first.
/// Small on purpose: llama-3.1-8b-instant on Groq's free tier allows 6,000 tokens a minute, and
/// the reply takes up to 700 more.
pub const PROMPT_TOKEN_BUDGET: usize = 3_000;

/// A cheap, deliberately high estimate: a token per 4 characters, plus a message's framing.
pub fn estimated_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4) + 4
}

pub fn chat(message: &ChatMessage, context: &ChatContext) -> Vec<Message> {
    let mut system = String::from(CHAT_SYSTEM_PROMPT);
    system.push_str("\n\n");
    system.push_str(&context_block(context.week.as_ref()));
    let question = Message::user(message.as_str());
    let mut budget = PROMPT_TOKEN_BUDGET
        .saturating_sub(estimated_tokens(&system))
        .saturating_sub(estimated_tokens(&question.content));
    let newest_first = context.turns.iter().rev().take(CONTEXT_TURNS);
    let mut turns: Vec<Message> = Vec::new();
    for turn in newest_first {
        let cost = estimated_tokens(&turn.content);
        if cost > budget {
            break;
        }
        budget -= cost;
        turns.push(match turn.role {
            Role::User => Message::user(turn.content.as_str()),
            Role::Assistant => Message::assistant(turn.content.as_str()),
        });
    }
    let mut messages = Vec::with_capacity(turns.len() + 2);
    messages.push(Message::system(system));
    messages.extend(turns.into_iter().rev());
    messages.push(question);
    messages
}

/// The user's last 7 days, for the chat's system prompt.
fn context_block(week: Option<&WeekFigures>) -> String {
    let Some(week) = week else {
        return "The user has not logged any days in the last 7 days.".to_owned();
    };
    let mut block = format!(
        "What the user logged in the last 7 days ({} of 7 days recorded), to ground your advice \
         (do not recite it unless it helps):\n",
        week.total_days
    );
    figure_lines(&mut block, week);
    if !week.food_items.is_empty() {
        let _ = writeln!(block, "- Some of the food logged: {}", week.food_items.join("; "));
    }
    block
}

/// The figures both prompts quote: a line per measure the field table gives a week line (with its
/// label and unit), then workouts and moods.
fn figure_lines(out: &mut String, week: &WeekFigures) {
    // Writing to a String cannot fail.
    for spec in &MEASURES {
        if let (Some(line), Some(average)) = (spec.week, week.average(spec.measure)) {
            let _ = writeln!(out, "- {}: {}{}", line.label, js_number_text(average), line.unit);
        }
    }
    let _ = writeln!(out, "- Workout days: {} out of 7", week.workout_days);
    let moods = &week.mood_counts;
    let _ = writeln!(
        out,
        "- Moods: poor {}, fair {}, neutral {}, good {}, excellent {}",
        moods.poor, moods.fair, moods.neutral, moods.good, moods.excellent
    );
}

pub fn weekly_report(summary: &WeeklySummary) -> Vec<Message> {
    let week = &summary.week;
    let mut prompt = String::new();
    let _ = writeln!(
        prompt,
        "Here is my health data for the past 7 days ({} of 7 days recorded):",
        week.total_days
    );
    figure_lines(&mut prompt, week);
    if week.food_items.is_empty() {
        let _ = writeln!(prompt, "No food items were logged.");
    } else {
        let _ = writeln!(prompt, "Food items logged:");
        for item in &week.food_items {
            let _ = writeln!(prompt, "- {item}");
        }
    }
    match &summary.previous {
        Some(previous) => {
            let _ = writeln!(
                prompt,
                "\nThe 7 days before that ({} of 7 days recorded):",
                previous.total_days
            );
            figure_lines(&mut prompt, previous);
            let _ = writeln!(prompt, "Please compare this week with the week before.");
        }
        None => {
            let _ = writeln!(prompt, "\nNothing was logged in the 7 days before that.");
        }
    }
    vec![Message::system(REPORT_SYSTEM_PROMPT), Message::user(prompt)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::coach::HistoryMessage;
    use crate::domain::day::Day;
    use crate::domain::entry::{DayLog, Entry, Measure, Measures};
    use crate::domain::ids::{EntryId, UserId};
    use serde_json::json;

    fn turn(role: Role, content: &str) -> HistoryMessage {
        HistoryMessage {
            role,
            content: content.to_owned(),
            created_at: chrono::Utc::now(),
        }
    }

    fn question(text: &str) -> ChatMessage {
        ChatMessage::parse(&json!({ "message": text })).unwrap_or_else(|_| panic!("a valid message"))
    }

    #[test]
    fn the_newest_turns_go_in_as_roles_oldest_first_at_most_ten() {
        let turns: Vec<HistoryMessage> = (0..14)
            .map(|i| {
                turn(
                    if i % 2 == 0 { Role::User } else { Role::Assistant },
                    &format!("turn {i}"),
                )
            })
            .collect();
        let context = ChatContext { week: None, turns };
        let prompt = chat(&question("and now?"), &context);
        let roles: Vec<&str> = prompt.iter().map(|m| m.role).collect();
        assert_eq!(prompt.len(), 12, "system + 10 turns + the question");
        assert_eq!(roles[0], "system");
        assert_eq!(prompt[1].content, "turn 4");
        assert_eq!(roles[1], "user");
        assert_eq!(roles[2], "assistant");
        assert_eq!(prompt[10].content, "turn 13");
        assert_eq!(prompt[11].content, "and now?");
        assert!(prompt[0].content.contains("not logged any days"));
    }

    #[test]
    fn the_budget_drops_the_oldest_turns_first() {
        let long = "x".repeat(4_000); // ~1,004 estimated tokens each
        let turns = vec![
            turn(Role::User, &format!("oldest {long}")),
            turn(Role::Assistant, &format!("middle {long}")),
            turn(Role::User, &format!("newest {long}")),
        ];
        let prompt = chat(&question("q"), &ChatContext { week: None, turns });
        let kept: Vec<&str> = prompt[1..prompt.len() - 1].iter().map(|m| &m.content[..6]).collect();
        assert_eq!(kept, ["middle", "newest"]);
        let total: usize = prompt.iter().map(|m| estimated_tokens(&m.content)).sum();
        assert!(total <= PROMPT_TOKEN_BUDGET, "{total}");
    }

    #[test]
    fn water_has_no_invented_unit() {
        let entry = Entry {
            id: EntryId::new(),
            user: UserId::new(),
            date: Day::parse_ymd("2026-11-28").expect("a day"),
            log: DayLog {
                measures: Measures::default().with(Measure::WaterIntake, 6.5),
                ..DayLog::default()
            },
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let Some(week) = WeekFigures::from_entries([&entry], 0) else {
            panic!("a week")
        };
        let summary = WeeklySummary {
            week: week.clone(),
            previous: Some(week),
        };
        let prompt = &weekly_report(&summary)[1].content;
        assert!(prompt.contains("Average daily water intake: 6.5\n"), "{prompt}");
        assert!(!prompt.contains(" L\n") && !prompt.contains("litre"), "{prompt}");
        assert!(prompt.contains("compare this week with the week before"), "{prompt}");
    }
}
