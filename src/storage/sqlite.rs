//! The embedded backend: one SQLite file in WAL mode (readers never wait for the writer), foreign
//! keys on, a small connection pool. Zero set-up: the file and its directory are created on start.
//!
//! Open connections keep working on a database file that was deleted or moved away: SQLite would go
//! on acknowledging writes into a file nobody will ever read again. So the store remembers which file
//! it opened (device and inode) and refuses to serve when the path no longer leads to it: every write
//! checks first (one `stat`, ~1 µs, next to a write's tens of µs), and a watchdog re-checks once a
//! second so reads stop too. Both recover by themselves when the same file is back (a directory
//! moved back, a volume remounted); a different file at the path needs a restart to be opened.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
use crate::domain::entry::{DayLog, Entry, EntryRange, FoodItem, Mood};
use crate::domain::ids::{EntryId, UserId};
use crate::domain::user::{Email, User, UserName};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How often the watchdog looks at the database file.
const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    file: Arc<FileWatch>,
}

/// Whether the database file the pool has open is still the one at its path, and whether the
/// database takes writes.
struct FileWatch {
    path: PathBuf,
    /// (device, inode) of the file when it was opened.
    identity: Option<(u64, u64)>,
    present: AtomicBool,
    /// The last write failed because the database refused it (read-only file, full disk, I/O error);
    /// cleared by the next write that works. Makes the health probe see an outage reads cannot show.
    writes_failing: AtomicBool,
}

fn file_identity(path: &Path) -> Option<(u64, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((metadata.dev(), metadata.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        Some((0, 0))
    }
}

impl FileWatch {
    fn new(path: &Path) -> Self {
        let identity = file_identity(path);
        Self {
            path: path.to_owned(),
            identity,
            present: AtomicBool::new(identity.is_some()),
            writes_failing: AtomicBool::new(false),
        }
    }

    /// Looks at the file now (one `stat`) and records the answer.
    fn check(&self) -> bool {
        let now = file_identity(&self.path);
        let present = now.is_some() && now == self.identity;
        if self.present.swap(present, Ordering::Relaxed) != present {
            if present {
                tracing::warn!(path = %self.path.display(), "database file is back; serving again");
            } else if now.is_some() {
                tracing::error!(
                    path = %self.path.display(),
                    "database file was replaced by another file; refusing requests (restart to open the new one)"
                );
            } else {
                tracing::error!(path = %self.path.display(), "database file is missing; refusing requests");
            }
        }
        present
    }

    fn unavailable(&self) -> StoreError {
        StoreError::Unavailable(format!(
            "database file {} is missing or was replaced",
            self.path.display()
        ))
    }

    fn set_writes_failing(&self, failing: bool) {
        // Read first: the flag is on every write's path and rarely changes.
        if self.writes_failing.load(Ordering::Relaxed) != failing {
            self.writes_failing.store(failing, Ordering::Relaxed);
        }
    }
}

/// Re-checks the file every second until the store is dropped.
async fn watch_file(file: std::sync::Weak<FileWatch>) {
    let mut ticker = tokio::time::interval(FILE_CHECK_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match file.upgrade() {
            Some(file) => {
                file.check();
            }
            None => return,
        }
    }
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
            // sqlx would otherwise ping every connection it hands out: one more round trip to the
            // connection's worker thread per query (~1/3 of an authenticated GET's cost). A
            // connection to a local file does not go stale; a failing one errors on its query.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        let file = Arc::new(FileWatch::new(path));
        tokio::spawn(watch_file(Arc::downgrade(&file)));
        Ok(Self {
            pool,
            path: path.to_owned(),
            file,
        })
    }

    /// Runs a read, unless the database file is known to be gone.
    async fn read<T>(&self, query: impl Future<Output = Result<T, sqlx::Error>>) -> StoreResult<T> {
        if !self.file.present.load(Ordering::Relaxed) {
            return Err(self.file.unavailable());
        }
        query.await.map_err(classify)
    }

    /// Runs a write, only after checking that the file is still the one the pool has open.
    async fn write<T>(&self, query: impl Future<Output = Result<T, sqlx::Error>>) -> StoreResult<T> {
        if !self.file.check() {
            return Err(self.file.unavailable());
        }
        let outcome = query.await.map_err(classify);
        match &outcome {
            Ok(_) => self.file.set_writes_failing(false),
            Err(StoreError::Unavailable(_)) => self.file.set_writes_failing(true),
            Err(_) => {}
        }
        outcome
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

/// An entry row as `list_entries` has SQLite write it (column names, JSON columns inlined).
#[derive(serde::Deserialize)]
struct EntryJson {
    id: String,
    user_id: String,
    day: String,
    calories: i64,
    sleep: f64,
    workouts: i64,
    food_intake: Vec<FoodItem>,
    heart_rate: i64,
    steps: i64,
    symptoms: Vec<String>,
    mood: String,
    water_intake: f64,
    notes: String,
    created_at: String,
    updated_at: String,
}

impl EntryJson {
    fn into_entry(self) -> anyhow::Result<Entry> {
        Ok(Entry {
            id: parse_id(&self.id, EntryId::parse)?,
            user: parse_id(&self.user_id, UserId::parse)?,
            date: Day::parse_ymd(&self.day).with_context(|| format!("bad day {:?}", self.day))?,
            log: DayLog {
                calories: self.calories,
                sleep: self.sleep,
                workouts: self.workouts != 0,
                food_intake: self.food_intake,
                heart_rate: self.heart_rate,
                steps: self.steps,
                symptoms: self.symptoms,
                mood: Mood::parse(&self.mood).with_context(|| format!("bad mood {:?}", self.mood))?,
                water_intake: self.water_intake,
                notes: self.notes,
            },
            created_at: parse_ts(&self.created_at)?,
            updated_at: parse_ts(&self.updated_at)?,
        })
    }
}

#[async_trait]
impl Storage for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        if !self.file.check() {
            return Err(self.file.unavailable());
        }
        if self.file.writes_failing.load(Ordering::Relaxed) {
            // Writes are being refused while reads work (a read-only file, a full disk): a read
            // would report a healthy database. Probe with a write that changes nothing (the schema
            // version sqlx does not use, set to its own value; PRAGMA takes no bind parameters and
            // `version` is an integer); it clears the flag once it works.
            let version: i64 = sqlx::query_scalar("PRAGMA user_version")
                .fetch_one(&self.pool)
                .await
                .map_err(classify)?;
            self.write(
                sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA user_version = {version}"))).execute(&self.pool),
            )
            .await?;
            return Ok(());
        }
        sqlx::query("SELECT count(*) FROM sqlite_master")
            .fetch_one(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        self.write(
            sqlx::query(
                "INSERT INTO users (id, name, email, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(user.id.to_string())
            .bind(user.name.as_str())
            .bind(user.email.as_str())
            .bind(&user.password_hash)
            .bind(ts(user.created_at))
            .bind(ts(user.updated_at))
            .execute(&self.pool),
        )
        .await?;
        Ok(())
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let row = self
            .read(
                sqlx::query("SELECT * FROM users WHERE email = ?")
                    .bind(email.as_str())
                    .fetch_optional(&self.pool),
            )
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = self
            .read(
                sqlx::query("SELECT * FROM users WHERE id = ?")
                    .bind(id.to_string())
                    .fetch_optional(&self.pool),
            )
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()> {
        self.write(
            sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
                .bind(hash)
                .bind(ts(Utc::now()))
                .bind(id.to_string())
                .execute(&self.pool),
        )
        .await?;
        Ok(())
    }

    async fn insert_session(&self, s: &RefreshSession) -> StoreResult<()> {
        self.write(sqlx::query(
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
        .execute(&self.pool)).await?;
        Ok(())
    }

    async fn session_by_hash(&self, token_hash: &str) -> StoreResult<Option<RefreshSession>> {
        let row = self
            .read(
                sqlx::query("SELECT * FROM refresh_sessions WHERE token_hash = ?")
                    .bind(token_hash)
                    .fetch_optional(&self.pool),
            )
            .await?;
        Ok(row.as_ref().map(session_from_row).transpose()?)
    }

    async fn mark_session_rotated(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = self
            .write(
                sqlx::query(
                    "UPDATE refresh_sessions SET rotated_at = ? \
             WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL",
                )
                .bind(ts(at))
                .bind(token_hash)
                .execute(&self.pool),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_session(&self, user: UserId, token_hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.write(sqlx::query(
            "UPDATE refresh_sessions SET revoked_at = ? WHERE token_hash = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .bind(ts(at))
        .bind(token_hash)
        .bind(user.to_string())
        .execute(&self.pool)).await?;
        Ok(())
    }

    async fn revoke_session_family(&self, family_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.write(
            sqlx::query("UPDATE refresh_sessions SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL")
                .bind(ts(at))
                .bind(family_id)
                .execute(&self.pool),
        )
        .await?;
        Ok(())
    }

    async fn revoke_user_sessions(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<()> {
        self.write(
            sqlx::query("UPDATE refresh_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
                .bind(ts(at))
                .bind(user.to_string())
                .execute(&self.pool),
        )
        .await?;
        Ok(())
    }

    async fn revoke_access_token(&self, key: &str, user: UserId, expires_at: DateTime<Utc>) -> StoreResult<()> {
        self.write(
            sqlx::query("INSERT OR IGNORE INTO revoked_tokens (token_key, user_id, expires_at) VALUES (?, ?, ?)")
                .bind(key)
                .bind(user.to_string())
                .bind(expires_at.timestamp())
                .execute(&self.pool),
        )
        .await?;
        Ok(())
    }

    async fn is_access_token_revoked(&self, key: &str) -> StoreResult<bool> {
        let row = self
            .read(
                sqlx::query("SELECT 1 FROM revoked_tokens WHERE token_key = ?")
                    .bind(key)
                    .fetch_optional(&self.pool),
            )
            .await?;
        Ok(row.is_some())
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let now = now.timestamp();
        let tokens = self
            .write(
                sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < ?")
                    .bind(now)
                    .execute(&self.pool),
            )
            .await?;
        let sessions = self
            .write(
                sqlx::query("DELETE FROM refresh_sessions WHERE expires_at < ?")
                    .bind(now)
                    .execute(&self.pool),
            )
            .await?;
        Ok(tokens.rows_affected() + sessions.rows_affected())
    }

    async fn insert_entry(&self, e: &Entry) -> StoreResult<()> {
        self.write(
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
            .execute(&self.pool),
        )
        .await?;
        Ok(())
    }

    async fn list_entries(&self, user: UserId, range: &EntryRange) -> StoreResult<Vec<Entry>> {
        // The whole page as one JSON text built by SQLite: sqlx hands rows one at a time from the
        // connection's thread, copying every column, which made a 30-entry page cost ~25 µs per row.
        let page: String = self
            .read(
                sqlx::query_scalar(
                    "SELECT json_group_array(json_object(\
                       'id', id, 'user_id', user_id, 'day', day, 'calories', calories, 'sleep', sleep, \
                       'workouts', workouts, 'food_intake', json(food_intake), 'heart_rate', heart_rate, \
                       'steps', steps, 'symptoms', json(symptoms), 'mood', mood, 'water_intake', water_intake, \
                       'notes', notes, 'created_at', created_at, 'updated_at', updated_at) ORDER BY day DESC) \
                     FROM (SELECT * FROM entries WHERE user_id = ? AND day >= ? AND day <= ? \
                           ORDER BY day DESC LIMIT ?)",
                )
                .bind(user.to_string())
                .bind(range.from.map_or_else(|| "0000-01-01".to_owned(), |d| d.to_ymd()))
                .bind(range.to.map_or_else(|| "9999-12-31".to_owned(), |d| d.to_ymd()))
                .bind(i64::from(range.limit))
                .fetch_one(&self.pool),
            )
            .await?;
        let rows: Vec<EntryJson> = serde_json::from_str(&page).context("reading a page of entries")?;
        Ok(rows
            .into_iter()
            .map(EntryJson::into_entry)
            .collect::<anyhow::Result<_>>()?)
    }

    async fn entry_by_id(&self, user: UserId, id: EntryId) -> StoreResult<Option<Entry>> {
        let row = self
            .read(
                sqlx::query(concat!(
                    "SELECT ",
                    entry_columns!(),
                    " FROM entries WHERE id = ? AND user_id = ?"
                ))
                .bind(id.to_string())
                .bind(user.to_string())
                .fetch_optional(&self.pool),
            )
            .await?;
        Ok(row.as_ref().map(entry_from_row).transpose()?)
    }

    async fn entry_on_day(&self, user: UserId, day: Day) -> StoreResult<Option<Entry>> {
        let row = self
            .read(
                sqlx::query(concat!(
                    "SELECT ",
                    entry_columns!(),
                    " FROM entries WHERE user_id = ? AND day = ?"
                ))
                .bind(user.to_string())
                .bind(day.to_ymd())
                .fetch_optional(&self.pool),
            )
            .await?;
        Ok(row.as_ref().map(entry_from_row).transpose()?)
    }

    async fn update_entry(&self, e: &Entry) -> StoreResult<bool> {
        let done = self.write(sqlx::query(
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
        .execute(&self.pool)).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_entry(&self, user: UserId, id: EntryId) -> StoreResult<bool> {
        let done = self
            .write(
                sqlx::query("DELETE FROM entries WHERE id = ? AND user_id = ?")
                    .bind(id.to_string())
                    .bind(user.to_string())
                    .execute(&self.pool),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
