//! Accounts and logins on SQLite ([`AccountStore`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::rows::{
    LOGIN_COLUMNS, REFRESH_TOKEN_COLUMNS, USER_COLUMNS, login_from_row, refresh_token_from_row, ts, user_from_row,
};
use crate::domain::goals::Goals;
use crate::domain::ids::{PersonalTokenId, UserId};
use crate::domain::timezone::TimeZone;
use crate::domain::user::{Email, User, UserName};
use crate::storage::{
    AccountStore, Login, PersonalToken, PersonalTokenStanding, RefreshToken, StoreResult, TokenStanding,
};

/// Ends a login: its record and every refresh token of it.
fn revoke_login_rows(c: &rusqlite::Connection, login_id: &str, at: DateTime<Utc>) -> rusqlite::Result<()> {
    let at = ts(at);
    c.prepare_cached("UPDATE refresh_sessions SET revoked_at = ?1 WHERE family_id = ?2 AND revoked_at IS NULL")?
        .execute(params![at, login_id])?;
    c.prepare_cached("UPDATE sessions SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL")?
        .execute(params![at, login_id])
        .map(|_| ())
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        let values = (
            user.id.to_string(),
            user.name.as_str().to_owned(),
            user.email.as_str().to_owned(),
            user.password_hash.clone(),
            ts(user.created_at),
            ts(user.updated_at),
            user.timezone.map(|zone| zone.name()),
        );
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?
            .execute(params![
                values.0, values.1, values.2, values.3, values.4, values.5, values.6
            ])
            .map(|_| ())
        })
        .await
    }

    async fn update_profile(
        &self,
        id: UserId,
        name: Option<&UserName>,
        timezone: Option<TimeZone>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let (id, name, timezone) = (
            id.to_string(),
            name.map(|n| n.as_str().to_owned()),
            timezone.map(|z| z.name()),
        );
        self.write(move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE users SET name = COALESCE(?1, name), timezone = COALESCE(?2, timezone), updated_at = ?3 \
                     WHERE id = ?4",
                )?
                .execute(params![name, timezone, ts(at), id])?;
            if changed == 0 {
                return Ok(None);
            }
            c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
                .query_row([&id], user_from_row)
                .optional()
        })
        .await
    }

    async fn goals(&self, user: UserId) -> StoreResult<Goals> {
        let stored: Option<Option<String>> = self.read(|c| {
            c.prepare_cached("SELECT goals FROM users WHERE id = ?1")?
                .query_row([user.to_string()], |row| row.get(0))
                .optional()
        })?;
        Ok(stored
            .flatten()
            .map(|text| Goals::from_stored(&text))
            .unwrap_or_default())
    }

    async fn set_goals(&self, user: UserId, goals: &Goals) -> StoreResult<bool> {
        let (user, goals) = (user.to_string(), goals.to_stored());
        self.write(move |c| {
            c.prepare_cached("UPDATE users SET goals = ?1, entries_version = entries_version + 1 WHERE id = ?2")?
                .execute(params![goals, user])
                .map(|changed| changed == 1)
        })
        .await
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |c| {
            // Entries, logins, refresh and personal tokens go with the user (ON DELETE CASCADE); revoked-token
            // rows have no foreign key (they outlive logouts of users that still exist).
            c.prepare_cached("DELETE FROM revoked_tokens WHERE user_id = ?1")?
                .execute([&id])?;
            c.prepare_cached("DELETE FROM users WHERE id = ?1")?
                .execute([&id])
                .map(|deleted| deleted == 1)
        })
        .await
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1"))?
                .query_row([email.as_str()], user_from_row)
                .optional()
        })
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
                .query_row([id.to_string()], user_from_row)
                .optional()
        })
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()> {
        let (hash, id) = (hash.to_owned(), id.to_string());
        self.write(move |c| {
            c.prepare_cached("UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3")?
                .execute(params![hash, ts(Utc::now()), id])
                .map(|_| ())
        })
        .await
    }

    async fn insert_refresh_token(&self, s: &RefreshToken) -> StoreResult<()> {
        let s = s.clone();
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO refresh_sessions ({REFRESH_TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?
            .execute(params![
                s.token_hash,
                s.user_id.to_string(),
                s.login_id,
                ts(s.created_at),
                s.expires_at.timestamp(),
                s.rotated_at.map(ts),
                s.revoked_at.map(ts)
            ])?;
            c.prepare_cached(&format!(
                "INSERT INTO sessions ({LOGIN_COLUMNS}, expires_at) VALUES (?1, ?2, ?3, ?3, ?4, ?5) \
                 ON CONFLICT (id) DO UPDATE SET last_used_at = MAX(last_used_at, excluded.last_used_at), \
                 expires_at = MAX(expires_at, excluded.expires_at)"
            ))?
            .execute(params![
                s.login_id,
                s.user_id.to_string(),
                ts(s.created_at),
                s.user_agent,
                s.expires_at.timestamp()
            ])
            .map(|_| ())
        })
        .await
    }

    async fn refresh_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {REFRESH_TOKEN_COLUMNS} FROM refresh_sessions WHERE token_hash = ?1"
            ))?
            .query_row([token_hash], refresh_token_from_row)
            .optional()
        })
    }

    async fn mark_refresh_token_rotated(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let token_hash = token_hash.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE refresh_sessions SET rotated_at = ?1 \
                 WHERE token_hash = ?2 AND rotated_at IS NULL AND revoked_at IS NULL",
            )?
            .execute(params![ts(at), token_hash])
            .map(|changed| changed == 1)
        })
        .await
    }

    async fn end_login_of_refresh_token(&self, user: UserId, token_hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |c| {
            let login_id: Option<String> = c
                .prepare_cached("SELECT family_id FROM refresh_sessions WHERE token_hash = ?1 AND user_id = ?2")?
                .query_row(params![token_hash, user.to_string()], |r| r.get(0))
                .optional()?;
            match login_id {
                Some(login_id) => revoke_login_rows(c, &login_id, at),
                None => Ok(()),
            }
        })
        .await
    }

    async fn end_login(&self, login_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let login_id = login_id.to_owned();
        self.write(move |c| revoke_login_rows(c, &login_id, at)).await
    }

    async fn end_every_login(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<()> {
        self.write(move |c| {
            let (at, user) = (ts(at), user.to_string());
            c.prepare_cached("UPDATE refresh_sessions SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL")?
                .execute(params![at, user])?;
            c.prepare_cached("UPDATE sessions SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL")?
                .execute(params![at, user])
                .map(|_| ())
        })
        .await
    }

    async fn list_logins(&self, user: UserId, now: DateTime<Utc>) -> StoreResult<Vec<Login>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {LOGIN_COLUMNS} FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 \
                 ORDER BY created_at DESC"
            ))?
            .query_map(params![user.to_string(), now.timestamp()], login_from_row)?
            .collect()
        })
    }

    async fn end_user_login(&self, user: UserId, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |c| {
            let live = c
                .prepare_cached(
                    "SELECT 1 FROM sessions WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL AND expires_at > ?3",
                )?
                .exists(params![id, user.to_string(), at.timestamp()])?;
            if live {
                revoke_login_rows(c, &id, at)?;
            }
            Ok(live)
        })
        .await
    }

    async fn revoke_access_token(&self, key: &str, user: UserId, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO revoked_tokens (token_key, user_id, expires_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![key, user.to_string(), expires_at.timestamp()])
            .map(|_| ())
        })
        .await
    }

    async fn access_token_standing(&self, key: &str, user: UserId, login: Option<&str>) -> StoreResult<TokenStanding> {
        // One statement, three primary-key probes: the user (no row: there is none; disabled: every
        // token of theirs is refused), the logged-out token, the login (a token naming a login that is ended, or that never
        // existed, is refused).
        let standing = self.read(|c| {
            c.prepare_cached(
                "SELECT timezone, entries_version, \
                        disabled OR EXISTS (SELECT 1 FROM revoked_tokens WHERE token_key = ?1) \
                        OR (?3 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sessions WHERE id = ?3 AND revoked_at IS NULL)) \
                 FROM users WHERE id = ?2",
            )?
            .query_row(params![key, user.0.hex_digits().as_str(), login], |r| {
                Ok(if r.get::<_, bool>(2)? {
                    TokenStanding::Revoked
                } else {
                    TokenStanding::Valid {
                        timezone: r.get_ref(0)?.as_str_or_null()?.and_then(TimeZone::from_stored),
                        entries_version: r.get::<_, i64>(1)? as u64,
                    }
                })
            })
            .optional()
        })?;
        Ok(standing.unwrap_or(TokenStanding::UnknownUser))
    }

    async fn insert_personal_token(&self, token: &PersonalToken) -> StoreResult<()> {
        self.insert_personal_token_row(token).await
    }

    async fn personal_tokens(&self, user: UserId, now: DateTime<Utc>) -> StoreResult<Vec<PersonalToken>> {
        self.personal_token_rows(user, now)
    }

    async fn delete_personal_token(&self, user: UserId, id: PersonalTokenId) -> StoreResult<bool> {
        self.delete_personal_token_row(user, id).await
    }

    async fn delete_personal_tokens_of(&self, user: UserId) -> StoreResult<u64> {
        self.write(move |c| {
            c.prepare_cached("DELETE FROM personal_tokens WHERE user_id = ?1")?
                .execute([user.to_string()])
                .map(|deleted| deleted as u64)
        })
        .await
    }

    async fn personal_token_standing(&self, token_hash: &str) -> StoreResult<Option<PersonalTokenStanding>> {
        self.personal_token_row_standing(token_hash)
    }

    async fn touch_personal_token(
        &self,
        id: PersonalTokenId,
        at: DateTime<Utc>,
        interval: chrono::TimeDelta,
    ) -> StoreResult<bool> {
        self.touch_personal_token_row(id, at, interval).await
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let now = now.timestamp();
        self.write(move |c| {
            let tokens = c.execute("DELETE FROM revoked_tokens WHERE expires_at < ?1", [now])?;
            let sessions = c.execute("DELETE FROM refresh_sessions WHERE expires_at < ?1", [now])?;
            let logins = c.execute("DELETE FROM sessions WHERE expires_at < ?1", [now])?;
            let personal = c.execute("DELETE FROM personal_tokens WHERE expires_at < ?1", [now * 1000])?;
            let challenges = c.execute("DELETE FROM two_factor_challenges WHERE expires_at < ?1", [now])?;
            Ok((tokens + sessions + logins + personal + challenges) as u64)
        })
        .await
    }
}
