//! What moving a whole installation between backends reads and writes beyond the API's own
//! operations: every user in id order, a user's entries in day order with their ids, what keeps
//! their sign-ins working, and the size of each collection.

use chrono::{DateTime, Utc};

use super::{Login, PersonalToken, RefreshToken};

/// One login as stored: what the API lists, and what ends it.
#[derive(Clone, Debug, PartialEq)]
pub struct LoginRecord {
    pub login: Login,
    /// When its newest refresh token expires.
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An access token refused since its logout (its `jti`, or a digest of a token without one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedToken {
    pub key: String,
    pub expires_at: DateTime<Utc>,
}

/// Everything that keeps one user signed in across a move, and a logged-out token refused.
#[derive(Clone, Debug, Default)]
pub struct UserCredentials {
    pub refresh_tokens: Vec<RefreshToken>,
    pub logins: Vec<LoginRecord>,
    pub revoked_tokens: Vec<RevokedToken>,
    /// Expired ones included (the store refuses them by their date).
    pub personal_tokens: Vec<PersonalToken>,
}

impl UserCredentials {
    pub fn is_empty(&self) -> bool {
        self.refresh_tokens.is_empty()
            && self.logins.is_empty()
            && self.revoked_tokens.is_empty()
            && self.personal_tokens.is_empty()
    }
}

/// Rows (SQLite) or documents (MongoDB) per collection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CollectionCounts {
    pub users: u64,
    pub entries: u64,
    pub refresh_tokens: u64,
    pub logins: u64,
    pub revoked_tokens: u64,
    pub ai_messages: u64,
    pub personal_tokens: u64,
}

impl CollectionCounts {
    /// Each collection's name (as MongoDB calls it) and count, in a fixed order.
    pub fn rows(&self) -> [(&'static str, u64); 7] {
        [
            ("users", self.users),
            ("entries", self.entries),
            ("refresh_sessions", self.refresh_tokens),
            ("sessions", self.logins),
            ("revoked_tokens", self.revoked_tokens),
            ("aimessages", self.ai_messages),
            ("personaltokens", self.personal_tokens),
        ]
    }
}
