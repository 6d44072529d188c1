//! Personal access tokens on SQLite (the [`AccountStore`](crate::storage::AccountStore) methods
//! delegate here).

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use super::rows::{corrupt, parse_id, parse_ts, ts};
use crate::auth::scopes::ScopeSet;
use crate::domain::ids::{PersonalTokenId, UserId};
use crate::domain::timezone::TimeZone;
use crate::storage::{PersonalToken, PersonalTokenStanding, StoreError, StoreResult};

const COLUMNS: &str = "t.id, t.user_id, t.token_hash, t.name, t.scopes, t.created_at, t.expires_at, t.last_used_at";

fn millis(ms: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt("time", &ms.to_string()))
}

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<PersonalToken> {
    let last_used_at = row.get::<_, Option<i64>>(7)?.map(millis).transpose()?;
    Ok(PersonalToken {
        id: parse_id(&row.get::<_, String>(0)?, PersonalTokenId::parse)?,
        user_id: parse_id(&row.get::<_, String>(1)?, UserId::parse)?,
        token_hash: row.get(2)?,
        name: row.get(3)?,
        scopes: ScopeSet::from_names(&row.get::<_, String>(4)?),
        created_at: parse_ts(&row.get::<_, String>(5)?)?,
        expires_at: millis(row.get(6)?)?,
        last_used_at,
    })
}

/// Every personal token of the user, expired ones included (`healthtracker copy-data`).
pub(super) fn all_of_user(c: &rusqlite::Connection, user: &str) -> rusqlite::Result<Vec<PersonalToken>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM personal_tokens t WHERE t.user_id = ?1 ORDER BY t.id"
    ))?
    .query_map([user], token_from_row)?
    .collect()
}

/// Writes them as they are, leaving any the store already has (by id or hash).
pub(super) fn insert_all(c: &rusqlite::Connection, user: &str, tokens: &[PersonalToken]) -> rusqlite::Result<()> {
    let mut insert = c.prepare_cached(
        "INSERT OR IGNORE INTO personal_tokens \
         (id, user_id, token_hash, name, scopes, created_at, expires_at, last_used_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for t in tokens {
        insert.execute(params![
            t.id.to_string(),
            user,
            t.token_hash,
            t.name,
            t.scopes.to_names(),
            ts(t.created_at),
            t.expires_at.timestamp_millis(),
            t.last_used_at.map(|at| at.timestamp_millis()),
        ])?;
    }
    Ok(())
}

impl SqliteStore {
    pub(super) async fn insert_personal_token_row(&self, token: &PersonalToken) -> StoreResult<()> {
        let t = token.clone();
        let inserted = self
            .write(move |c| {
                // Only for a user that exists: a token never outlives (or predates) its account.
                c.prepare_cached(
                    "INSERT INTO personal_tokens (id, user_id, token_hash, name, scopes, created_at, expires_at, last_used_at) \
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2)",
                )?
                .execute(params![
                    t.id.to_string(),
                    t.user_id.to_string(),
                    t.token_hash,
                    t.name,
                    t.scopes.to_names(),
                    ts(t.created_at),
                    t.expires_at.timestamp_millis(),
                ])
            })
            .await?;
        if inserted == 0 {
            return Err(StoreError::NoSuchUser);
        }
        Ok(())
    }

    pub(super) fn personal_token_rows(&self, user: UserId, now: DateTime<Utc>) -> StoreResult<Vec<PersonalToken>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM personal_tokens t WHERE t.user_id = ?1 AND t.expires_at > ?2 \
                 ORDER BY t.created_at DESC, t.id DESC"
            ))?
            .query_map(params![user.to_string(), now.timestamp_millis()], token_from_row)?
            .collect()
        })
    }

    pub(super) async fn delete_personal_token_row(&self, user: UserId, id: PersonalTokenId) -> StoreResult<bool> {
        self.write(move |c| {
            c.prepare_cached("DELETE FROM personal_tokens WHERE id = ?1 AND user_id = ?2")?
                .execute(params![id.to_string(), user.to_string()])
                .map(|deleted| deleted == 1)
        })
        .await
    }

    pub(super) fn personal_token_row_standing(&self, token_hash: &str) -> StoreResult<Option<PersonalTokenStanding>> {
        // One statement, two primary-key probes: the token by its hash, its user by id (a disabled
        // user's tokens are refused as if they did not exist, at once on every instance).
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS}, u.timezone, u.entries_version \
                 FROM personal_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1 AND NOT u.disabled"
            ))?
            .query_row([token_hash], |row| {
                Ok(PersonalTokenStanding {
                    token: token_from_row(row)?,
                    timezone: row.get_ref(8)?.as_str_or_null()?.and_then(TimeZone::from_stored),
                    entries_version: row.get::<_, i64>(9)? as u64,
                })
            })
            .optional()
        })
    }

    pub(super) async fn touch_personal_token_row(
        &self,
        id: PersonalTokenId,
        at: DateTime<Utc>,
        interval: TimeDelta,
    ) -> StoreResult<bool> {
        let (at, before) = (at.timestamp_millis(), (at - interval).timestamp_millis());
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE personal_tokens SET last_used_at = ?1 \
                 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at <= ?3)",
            )?
            .execute(params![at, id.to_string(), before])
            .map(|changed| changed == 1)
        })
        .await
    }
}
