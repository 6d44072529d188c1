//! The conversation with the coach, kept per user: the newest turns go into every chat prompt, and
//! the whole of it (the newest [`HISTORY_KEEP`] messages) is the user's to read, export or clear.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::validation::{FieldError, Problems};

/// Messages kept per user; older ones are dropped as new ones are written.
pub const HISTORY_KEEP: usize = 200;
/// Messages of the conversation a chat prompt carries (fewer when the token budget runs out).
pub const CONTEXT_TURNS: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Role::User, Role::Assistant].into_iter().find(|r| r.as_str() == s)
    }
}

/// One message of the conversation: the user's (sanitized) question or the coach's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryMessage {
    pub role: Role,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

/// `GET /ai/history?limit=`: 1–100, default 50.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryLimit(usize);

impl HistoryLimit {
    pub const DEFAULT: usize = 50;
    pub const MAX: usize = 100;

    pub fn parse(raw: Option<&str>) -> Result<Self, Vec<FieldError>> {
        let mut problems = Problems::new();
        match problems.query_count("limit", raw, Self::MAX as u32) {
            None => Ok(Self(Self::DEFAULT)),
            Some(Some(n)) => Ok(Self(n as usize)),
            Some(None) => Err(problems.into_vec()),
        }
    }

    pub fn get(self) -> usize {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_limit_is_one_to_a_hundred_defaulting_to_fifty() {
        assert_eq!(HistoryLimit::parse(None).map(HistoryLimit::get), Ok(50));
        assert_eq!(HistoryLimit::parse(Some("100")).map(HistoryLimit::get), Ok(100));
        assert_eq!(HistoryLimit::parse(Some("1")).map(HistoryLimit::get), Ok(1));
        for bad in ["0", "101", "-1", "ten", "", "2.5"] {
            assert!(HistoryLimit::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_are_lowercase_words() {
        assert_eq!(Role::parse("assistant"), Some(Role::Assistant));
        assert_eq!(Role::parse("system"), None);
        assert_eq!(serde_json::to_value(Role::User).unwrap_or_default(), "user");
    }
}
