//! Personal access tokens (API.md "Personal access tokens"): created by a login (shown once),
//! listed, revoked; `htp_` and 32 random bytes in hex, stored only as a SHA-256. Each request made with one
//! looks it up by that hash with its user's standing in one lookup, nothing kept between requests,
//! so an expiry or a revocation holds at once on every instance. They are not logins: a password
//! change and logout-all leave them; deleting the account removes them.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::scopes::{Access, Scope, ScopeSet};
use super::tokens::{VerifiedToken, digest};
use super::two_factor::SecondFactor;
use super::{Accounts, AuthError, AuthResult, Caller, Client};
use crate::domain::ids::{PersonalTokenId, UserId};
use crate::domain::validation::{FieldError, IntegerRule, Problems, TextRule, body_object, supplied};
use crate::storage::{PersonalToken, Storage};

/// What every personal token starts with: how a request's bearer token is told from a JWT (which
/// starts with `eyJ`), and what secret scanners can look for.
pub const PREFIX: &str = "htp_";

pub const NAME: TextRule = TextRule {
    label: "Name",
    min: 1,
    max: 100,
};
pub const EXPIRES_IN_DAYS: IntegerRule = IntegerRule {
    label: "expiresInDays",
    min: 1,
    max: 365,
};
pub const DEFAULT_EXPIRES_IN_DAYS: i64 = 90;

/// `lastUsedAt` moves at most this often per token.
pub const LAST_USE_INTERVAL: TimeDelta = TimeDelta::seconds(60);

/// A token asked for: `{name, scopes:[…], expiresInDays?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPersonalToken {
    pub name: String,
    pub scopes: ScopeSet,
    pub expires_in_days: i64,
}

impl NewPersonalToken {
    /// Every failing field in the answer; an unknown scope is named (`scopes[1]`).
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let object = body_object(body)?;
        let mut problems = Problems::new();
        let name = match object.get("name") {
            Some(value) => problems.check("name", value, |v| NAME.read(v)),
            None => {
                problems.add("name", NAME.message(), None);
                None
            }
        };
        let scopes = read_scopes(object.get("scopes"), &mut problems);
        let expires_in_days = match supplied(object, "expiresInDays") {
            Some(value) => problems.check("expiresInDays", value, |v| EXPIRES_IN_DAYS.read(v)),
            None => Some(DEFAULT_EXPIRES_IN_DAYS),
        };
        problems.finish(|| Self {
            name: name.unwrap_or_default(),
            scopes: scopes.unwrap_or_default(),
            expires_in_days: expires_in_days.unwrap_or(DEFAULT_EXPIRES_IN_DAYS),
        })
    }
}

/// The message a scope list that is missing, empty or not a list gets.
pub fn scopes_message() -> String {
    let names: Vec<&str> = Scope::ALL.iter().map(|scope| scope.as_str()).collect();
    format!("scopes must be a non-empty list of: {}", names.join(", "))
}

fn read_scopes(value: Option<&Value>, problems: &mut Problems) -> Option<ScopeSet> {
    let Some(Value::Array(names)) = value.filter(|v| v.as_array().is_some_and(|a| !a.is_empty())) else {
        problems.add("scopes", scopes_message(), value);
        return None;
    };
    let mut scopes = ScopeSet::EMPTY;
    let mut valid = true;
    for (i, name) in names.iter().enumerate() {
        match name.as_str().and_then(Scope::parse) {
            Some(scope) => scopes.insert(scope),
            None => {
                valid = false;
                problems.add(
                    format!("scopes[{i}]"),
                    format!("Unknown scope {name}; the scopes are: {}", scope_names()),
                    Some(name),
                );
            }
        }
    }
    valid.then_some(scopes)
}

fn scope_names() -> String {
    Scope::ALL
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A new token's text: the prefix and 32 random bytes (256 bits), hex.
fn new_token_text() -> String {
    format!("{PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// When each token's `lastUsedAt` was last written by this instance: a request in the same minute
/// writes nothing (no store round trip). Bounded; an entry forgotten early costs one conditional
/// update that the store refuses.
pub struct LastUses {
    written: moka::sync::Cache<PersonalTokenId, DateTime<Utc>>,
}

impl Default for LastUses {
    fn default() -> Self {
        Self {
            written: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(120))
                .build(),
        }
    }
}

impl LastUses {
    /// Records a use at `at`; `true` when it is time to write it (none written in the last minute).
    fn due(&self, id: PersonalTokenId, at: DateTime<Utc>) -> bool {
        let mut due = false;
        self.written
            .entry(id)
            .and_compute_with(|last| match last.map(|entry| entry.into_value()) {
                Some(last) if at - last < LAST_USE_INTERVAL => moka::ops::compute::Op::Nop,
                _ => {
                    due = true;
                    moka::ops::compute::Op::Put(at)
                }
            });
        due
    }
}

/// Writes `lastUsedAt` without holding up the request; a failure is logged with the token's id.
fn touch_in_background(store: Arc<dyn Storage>, id: PersonalTokenId, at: DateTime<Utc>) {
    tokio::spawn(async move {
        if let Err(error) = store.touch_personal_token(id, at, LAST_USE_INTERVAL).await {
            tracing::warn!(token_id = %id, error = %error, "could not record a personal token's last use");
        }
    });
}

impl Accounts {
    /// A new token for the caller: its text (shown this once) and its record. With two-factor login
    /// on, the current code too (step-up): a stolen login token must not mint a lasting key.
    pub async fn create_personal_token(
        &self,
        caller: &Caller,
        new: NewPersonalToken,
        second: Option<&SecondFactor>,
        client: &Client,
    ) -> AuthResult<(String, PersonalToken)> {
        let account = self.caller_account(caller.id).await?;
        self.step_up(&account, second, client).await?;
        let text = new_token_text();
        let now = self.clock.now();
        let token = PersonalToken {
            id: PersonalTokenId::new(),
            user_id: caller.id,
            token_hash: digest(&text),
            name: new.name,
            scopes: new.scopes,
            created_at: now,
            expires_at: now + TimeDelta::days(new.expires_in_days),
            last_used_at: None,
        };
        self.store.insert_personal_token(&token).await?;
        Ok((text, token))
    }

    /// The caller's tokens that have not expired, newest first.
    pub async fn personal_tokens(&self, user: UserId) -> AuthResult<Vec<PersonalToken>> {
        Ok(self.store.personal_tokens(user, self.clock.now()).await?)
    }

    /// Revokes one of the caller's tokens (deletes it): refused from the next request on, everywhere.
    pub async fn revoke_personal_token(&self, user: UserId, id: &str) -> AuthResult<()> {
        let id = PersonalTokenId::parse(id).ok_or(AuthError::UnknownPersonalToken)?;
        match self.store.delete_personal_token(user, id).await? {
            true => Ok(()),
            false => Err(AuthError::UnknownPersonalToken),
        }
    }

    /// The caller behind a personal token: known by its hash, not expired, of a user that exists.
    pub(super) async fn authenticate_personal(&self, text: &str) -> AuthResult<Caller> {
        let standing = self
            .store
            .personal_token_standing(&digest(text))
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let token = standing.token;
        let now = self.clock.now();
        if token.expires_at <= now {
            return Err(AuthError::InvalidToken);
        }
        // What the lookup read decides first (no cost); this instance's own record then keeps
        // concurrent requests from writing the same minute twice.
        let stale = token.last_used_at.is_none_or(|last| now - last >= LAST_USE_INTERVAL);
        if stale && self.last_uses.due(token.id, now) {
            touch_in_background(Arc::clone(&self.store), token.id, now);
        }
        Ok(Caller {
            id: token.user_id,
            token: VerifiedToken {
                user_id: token.user_id,
                revocation_key: format!("pat:{}", token.id),
                expires_at: token.expires_at,
                login: None,
            },
            timezone: standing.timezone.unwrap_or(self.default_timezone),
            entries_version: standing.entries_version,
            access: Access::Personal { scopes: token.scopes },
            personal_token: Some(token.id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_token_is_the_prefix_and_64_hex_digits() {
        let text = new_token_text();
        assert!(text.starts_with(PREFIX));
        assert_eq!(text.len(), PREFIX.len() + 64);
        assert!(text[PREFIX.len()..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(text, new_token_text());
    }

    #[test]
    fn the_body_is_checked_field_by_field() {
        let ok = NewPersonalToken::parse(&json!({"name": " Phone ", "scopes": ["entries:read", "ai"]}));
        assert_eq!(
            ok,
            Ok(NewPersonalToken {
                name: "Phone".into(),
                scopes: [Scope::EntriesRead, Scope::Ai].into_iter().collect(),
                expires_in_days: 90,
            })
        );
        let days = NewPersonalToken::parse(&json!({"name": "x", "scopes": ["ai"], "expiresInDays": "30"}));
        assert_eq!(days.map(|t| t.expires_in_days), Ok(30));
        let paths = |body: Value| -> Vec<String> {
            NewPersonalToken::parse(&body)
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.path)
                .collect()
        };
        assert_eq!(paths(json!({"name": "", "scopes": []})), ["name", "scopes"]);
        assert_eq!(paths(json!({"name": "x", "scopes": ["ai", "admin"]})), ["scopes[1]"]);
        assert_eq!(
            paths(json!({"name": "x", "scopes": ["ai"], "expiresInDays": 366})),
            ["expiresInDays"]
        );
        assert_eq!(
            paths(json!({"name": "x".repeat(101), "scopes": "ai", "expiresInDays": 0})),
            ["name", "scopes", "expiresInDays"]
        );
    }

    #[test]
    fn a_use_is_written_at_most_once_a_minute() {
        let uses = LastUses::default();
        let id = PersonalTokenId::new();
        let t0 = Utc::now();
        assert!(uses.due(id, t0));
        assert!(!uses.due(id, t0 + TimeDelta::seconds(59)));
        assert!(uses.due(id, t0 + TimeDelta::seconds(60)));
        assert!(uses.due(PersonalTokenId::new(), t0));
    }
}
