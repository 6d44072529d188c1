//! What the AI coach works from: a chat message, a week of entries summarised into the figures
//! both the prompt and the response carry (so a client has them even when the model's text is poor),
//! and the conversation so far.

mod history;
mod week;

pub use self::history::{CONTEXT_TURNS, HISTORY_KEEP, HistoryLimit, HistoryMessage, Role};
pub use self::week::{WeekFigures, WeeklySummary, average_key};
pub use super::entry::MoodCounts;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::validation::{FieldError, Problems, TextRule, body_object, supplied};

pub const CHAT_MESSAGE: TextRule = TextRule {
    label: "Message",
    min: 1,
    max: 2000,
};
/// Food items quoted in the weekly report's prompt.
pub const REPORT_FOOD_ITEMS_MAX: usize = 20;
/// Food items quoted in a chat's context: enough to ground advice, not the user's whole diary.
pub const CHAT_FOOD_ITEMS_MAX: usize = 5;
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

/// What a chat prompt carries beside the question: the user's last 7 days and the last turns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatContext {
    /// `None` when the user logged nothing in the last 7 days.
    pub week: Option<WeekFigures>,
    /// The newest turns (at most [`CONTEXT_TURNS`]), oldest first.
    pub turns: Vec<HistoryMessage>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
