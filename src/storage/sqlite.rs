//! The embedded backend: one SQLite file in WAL mode (readers never wait for the writer), foreign
//! keys on, a small connection pool. Zero set-up: the file and its directory are created on start.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, error::ErrorKind};

use super::{RefreshSession, Storage, StoreError, StoreResult};
use crate::domain::day::{Day, format_timestamp};
use crate::domain::entry::{DayLog, Entry, EntryRange, Mood};
use crate::domain::ids::{EntryId, UserId};
use crate::domain::user::{Email, User, UserName};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file. Does not migrate: call [`SqliteStore::migrate`].
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating directory {}", dir.display()))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL is durable across application crashes; only an OS crash or power
            // loss can lose the last transactions — the usual trade for a 2-10x faster commit.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        Ok(Self {
            pool,
            path: path.to_owned(),
        })
    }

    /// Creates or upgrades the schema (idempotent).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR.run(&self.pool).await.context("running SQLite migrations")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Sorts driver errors into what the API can say about them.
fn classify(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => StoreError::Conflict,
        sqlx::Error::Database(db) => {
            // Primary result codes (extended code & 0xff) meaning "cannot reach or write the file".
            const BUSY: i64 = 5;
            const LOCKED: i64 = 6;
            const READONLY: i64 = 8;
            const IOERR: i64 = 10;
            const CORRUPT: i64 = 11;
            const FULL: i64 = 13;
            const CANTOPEN: i64 = 14;
            const NOTADB: i64 = 26;
            let primary = db.code().and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff);
            match primary {
                Some(BUSY | LOCKED | READONLY | IOERR | CORRUPT | FULL | CANTOPEN | NOTADB) => {
                    StoreError::Unavailable(db.message().to_owned())
                }
                _ => StoreError::Other(error.into()),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(error.to_string())
        }
        _ => StoreError::Other(error.into()),
    }
}

fn ts(t: DateTime<Utc>) -> String {
    format_timestamp(t)
}

fn parse_ts(s: &str) -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(s)
        .with_context(|| format!("bad timestamp {s:?}"))?
        .with_timezone(&Utc))
}

fn parse_id<T>(s: &str, parse: fn(&str) -> Option<T>) -> anyhow::Result<T> {
    parse(s).with_context(|| format!("bad object id {s:?}"))
}

fn user_from_row(row: &SqliteRow) -> anyhow::Result<User> {
    Ok(User {
        id: parse_id(row.try_get("id")?, UserId::parse)?,
        name: UserName::from_stored(row.try_get("name")?),
        email: Email::from_stored(row.try_get("email")?),
        password_hash: row.try_get("password_hash")?,
        created_at: parse_ts(row.try_get("created_at")?)?,
        updated_at: parse_ts(row.try_get("updated_at")?)?,
    })
}

fn session_from_row(row: &SqliteRow) -> anyhow::Result<RefreshSession> {
    let optional_ts = |name: &str| -> anyhow::Result<Option<DateTime<Utc>>> {
        row.try_get::<Option<&str>, _>(name)?.map(parse_ts).transpose()
    };
    Ok(RefreshSession {
        token_hash: row.try_get("token_hash")?,
        user_id: parse_id(row.try_get("user_id")?, UserId::parse)?,
        family_id: row.try_get("family_id")?,
        created_at: parse_ts(row.try_get("created_at")?)?,
        expires_at: DateTime::from_timestamp(row.try_get("expires_at")?, 0).context("bad expiry")?,
        rotated_at: optional_ts("rotated_at")?,
        revoked_at: optional_ts("revoked_at")?,
    })
}

/// The entry columns in the order of the INSERT's placeholders (a macro so queries stay `&'static str`).
macro_rules! entry_columns {
    () => {
        "id, user_id, day, calories, sleep, workouts, food_intake, heart_rate, steps, \
         symptoms, mood, water_intake, notes, created_at, updated_at"
    };
}

fn entry_from_row(row: &SqliteRow) -> anyhow::Result<Entry> {
    let day: &str = row.try_get("day")?;
    let mood: &str = row.try_get("mood")?;
    Ok(Entry {
        id: parse_id(row.try_get("id")?, EntryId::parse)?,
        user: parse_id(row.try_get("user_id")?, UserId::parse)?,
        date: Day::parse_ymd(day).with_context(|| format!("bad day {day:?}"))?,
        log: DayLog {
            calories: row.try_get("calories")?,
            sleep: row.try_get("sleep")?,
            workouts: row.try_get("workouts")?,
            food_intake: serde_json::from_str(row.try_get("food_intake")?)?,
            heart_rate: row.try_get("heart_rate")?,
            steps: row.try_get("steps")?,
            symptoms: serde_json::from_str(row.try_get("symptoms")?)?,
            mood: Mood::parse(mood).with_context(|| format!("bad mood {mood:?}"))?,
            water_intake: row.try_get("water_intake")?,
            notes: row.try_get("notes")?,
        },
        created_at: parse_ts(row.try_get("created_at")?)?,
        updated_at: parse_ts(row.try_get("updated_at")?)?,
    })
}

#[async_trait]
impl Storage for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        // Open connections keep working on a file that was deleted or moved away, silently writing
        // data that will be lost: the file must still be where it was.
        if tokio::fs::metadata(&self.path).await.is_err() {
            return Err(StoreError::Unavailable(format!(
                "database file {} is missing",
                self.path.display()
            )));
        }
        sqlx::query("SELECT count(*) FROM sqlite_master")
            .fetch_one(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, name, email, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(user.id.to_string())
        .bind(user.name.as_str())
        .bind(user.email.as_str())
        .bind(&user.password_hash)
        .bind(ts(user.created_at))
        .bind(ts(user.updated_at))
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE email = ?")
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
            .bind(hash)
            .bind(ts(Utc::now()))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn insert_session(&self, s: &RefreshSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_sessions (token_hash, user_id, family_id, created_at, expires_at, rotated_at, revoked_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.token_hash)
        .bind(s.user_id.to_string())
        .bind(&s.family_id)
        .bind(ts(s.created_at))
        .bind(s.expires_at.timestamp())
        .bind(s.rotated_at.map(ts))
        .bind(s.revoked_at.map(ts))
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn session_by_hash(&self, token_hash: &str) -> StoreResult<Option<RefreshSession>> {
        let row = sqlx::query("SELECT * FROM refresh_sessions WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        Ok(row.as_ref().map(session_from_row).transpose()?)
    }

    async fn mark_session_rotated(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE refresh_sessions SET rotated_at = ? \
             WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL",
        )
        .bind(ts(at))
        .bind(token_hash)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_session(&self, user: UserId, token_hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE refresh_sessions SET revoked_at = ? WHERE token_hash = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .bind(ts(at))
        .bind(token_hash)
        .bind(user.to_string())
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn revoke_session_family(&self, family_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE refresh_sessions SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL")
            .bind(ts(at))
            .bind(family_id)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn revoke_user_sessions(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE refresh_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
            .bind(ts(at))
            .bind(user.to_string())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn revoke_access_token(&self, key: &str, user: UserId, expires_at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("INSERT OR IGNORE INTO revoked_tokens (token_key, user_id, expires_at) VALUES (?, ?, ?)")
            .bind(key)
            .bind(user.to_string())
            .bind(expires_at.timestamp())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn is_access_token_revoked(&self, key: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 FROM revoked_tokens WHERE token_key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        Ok(row.is_some())
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let now = now.timestamp();
        let tokens = sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < ?")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        let sessions = sqlx::query("DELETE FROM refresh_sessions WHERE expires_at < ?")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(tokens.rows_affected() + sessions.rows_affected())
    }

    async fn insert_entry(&self, e: &Entry) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO entries (",
            entry_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(e.id.to_string())
        .bind(e.user.to_string())
        .bind(e.date.to_ymd())
        .bind(e.log.calories)
        .bind(e.log.sleep)
        .bind(e.log.workouts)
        .bind(serde_json::to_string(&e.log.food_intake).map_err(anyhow::Error::from)?)
        .bind(e.log.heart_rate)
        .bind(e.log.steps)
        .bind(serde_json::to_string(&e.log.symptoms).map_err(anyhow::Error::from)?)
        .bind(e.log.mood.as_str())
        .bind(e.log.water_intake)
        .bind(&e.log.notes)
        .bind(ts(e.created_at))
        .bind(ts(e.updated_at))
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn list_entries(&self, user: UserId, range: &EntryRange) -> StoreResult<Vec<Entry>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM entries WHERE user_id = ? AND day >= ? AND day <= ? ORDER BY day DESC LIMIT ?"
        ))
        .bind(user.to_string())
        .bind(range.from.map_or_else(|| "0000-01-01".to_owned(), |d| d.to_ymd()))
        .bind(range.to.map_or_else(|| "9999-12-31".to_owned(), |d| d.to_ymd()))
        .bind(i64::from(range.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        Ok(rows.iter().map(entry_from_row).collect::<anyhow::Result<_>>()?)
    }

    async fn entry_by_id(&self, user: UserId, id: EntryId) -> StoreResult<Option<Entry>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM entries WHERE id = ? AND user_id = ?"
        ))
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        Ok(row.as_ref().map(entry_from_row).transpose()?)
    }

    async fn entry_on_day(&self, user: UserId, day: Day) -> StoreResult<Option<Entry>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM entries WHERE user_id = ? AND day = ?"
        ))
        .bind(user.to_string())
        .bind(day.to_ymd())
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        Ok(row.as_ref().map(entry_from_row).transpose()?)
    }

    async fn update_entry(&self, e: &Entry) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE entries SET day = ?, calories = ?, sleep = ?, workouts = ?, food_intake = ?, heart_rate = ?, \
             steps = ?, symptoms = ?, mood = ?, water_intake = ?, notes = ?, updated_at = ? \
             WHERE id = ? AND user_id = ?",
        )
        .bind(e.date.to_ymd())
        .bind(e.log.calories)
        .bind(e.log.sleep)
        .bind(e.log.workouts)
        .bind(serde_json::to_string(&e.log.food_intake).map_err(anyhow::Error::from)?)
        .bind(e.log.heart_rate)
        .bind(e.log.steps)
        .bind(serde_json::to_string(&e.log.symptoms).map_err(anyhow::Error::from)?)
        .bind(e.log.mood.as_str())
        .bind(e.log.water_intake)
        .bind(&e.log.notes)
        .bind(ts(e.updated_at))
        .bind(e.id.to_string())
        .bind(e.user.to_string())
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_entry(&self, user: UserId, id: EntryId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM entries WHERE id = ? AND user_id = ?")
            .bind(id.to_string())
            .bind(user.to_string())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }
}
