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
the week before are given, compare the two weeks: say what improved and what slipped. When the user's \
goals are given, say how the week did against each of them. Do not give medical advice, diagnoses or \
medication suggestions.";

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
    goal_lines(&mut block, week);
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
    if let Some(change) = week.weight_change {
        let _ = writeln!(out, "- Weight change over the days recorded: {} kg", signed(change));
    }
    let _ = writeln!(out, "- Workout days: {} out of 7", week.workout_days);
    let moods = &week.mood_counts;
    let _ = writeln!(
        out,
        "- Moods: poor {}, fair {}, neutral {}, good {}, excellent {}",
        moods.poor, moods.fair, moods.neutral, moods.good, moods.excellent
    );
}

/// The person's goals and how many days of the week met each.
fn goal_lines(out: &mut String, week: &WeekFigures) {
    if week.goals.is_empty() {
        return;
    }
    let _ = writeln!(out, "The user's goals, and the days of these 7 that met each:");
    for goal in &week.goals {
        let range = match (goal.goal.min, goal.goal.max) {
            (Some(min), Some(max)) => format!("between {} and {}", js_number_text(min), js_number_text(max)),
            (Some(min), None) => format!("at least {}", js_number_text(min)),
            (None, Some(max)) => format!("at most {}", js_number_text(max)),
            (None, None) => continue,
        };
        let unit = goal_unit(goal.measure);
        let _ = writeln!(
            out,
            "- {} {range}{unit}: met on {} of 7 days",
            goal.measure.name(),
            goal.days_met
        );
    }
}

/// A goal's unit, as the week lines name it.
fn goal_unit(measure: crate::domain::entry::Measure) -> &'static str {
    match measure {
        crate::domain::entry::Measure::Weight => " kg",
        other => other.spec().week.map_or("", |line| line.unit),
    }
}

/// `+0.4`, `-1.2`, `0`.
fn signed(n: f64) -> String {
    if n > 0.0 {
        format!("+{}", js_number_text(n))
    } else {
        js_number_text(n)
    }
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
    goal_lines(&mut prompt, week);
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

    /// However long the conversation and however many goals, the prompt keeps its budget: the
    /// figures and every goal always go in, the oldest turns are dropped first.
    #[test]
    fn a_long_history_and_every_goal_fit_the_budget() {
        let goals = crate::domain::goals::Goals::parse(&json!({
            "calories": {"min": 1800, "max": 2400}, "sleep": {"min": 7, "max": 9}, "steps": {"min": 8000},
            "waterIntake": {"min": 6}, "heartRate": {"max": 100}, "restingHeartRate": {"max": 65},
            "activeEnergy": {"min": 400}, "weight": {"min": 60, "max": 75}
        }))
        .expect("valid goals");
        let entries: Vec<Entry> = (0..7)
            .map(|i| Entry {
                id: EntryId::new(),
                user: UserId::new(),
                date: Day::parse_ymd("2026-11-28").expect("a day").minus_days(i),
                log: DayLog {
                    measures: Measures::default()
                        .with(Measure::Steps, 9000.0)
                        .with(Measure::Weight, 70.0 + i as f64 / 10.0),
                    ..DayLog::default()
                },
                created_at: chrono::Utc::now(),
                updated_at: chrono::Utc::now(),
            })
            .collect();
        let week = WeekFigures::from_entries(&entries, 20, &goals);
        let turns: Vec<HistoryMessage> = (0..200)
            .map(|i| {
                turn(
                    if i % 2 == 0 { Role::User } else { Role::Assistant },
                    &"a long turn ".repeat(150),
                )
            })
            .collect();
        let prompt = chat(&question("How am I doing?"), &ChatContext { week, turns });
        let total: usize = prompt.iter().map(|m| estimated_tokens(&m.content)).sum();
        assert!(total <= PROMPT_TOKEN_BUDGET, "{total} tokens");
        let system = &prompt[0].content;
        for name in [
            "calories",
            "sleep",
            "steps",
            "waterIntake",
            "heartRate",
            "restingHeartRate",
            "activeEnergy",
            "weight",
        ] {
            assert!(system.contains(&format!("- {name} ")), "{name} missing from {system}");
        }
        assert!(system.contains("steps at least 8000: met on 7 of 7 days"), "{system}");
        assert!(
            system.contains("Weight change over the days recorded: -0.6 kg"),
            "{system}"
        );
        assert!(prompt.len() > 2, "the newest turns still fit");
        assert_eq!(prompt[prompt.len() - 1].content, "How am I doing?");
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
        let Some(week) = WeekFigures::from_entries([&entry], 0, &Default::default()) else {
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
