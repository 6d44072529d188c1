//! The embedded backend: one SQLite file (bundled SQLite through rusqlite) in WAL mode, foreign keys
//! on. Zero set-up: the file and its directory are created on start.
//!
//! Reads run where they are asked, on a pooled read-only connection: WAL readers never wait for the
//! writer, and a read of a few rows from the page cache costs microseconds, less than handing it to
//! another thread and back. Writes go one at a time to a single connection on a thread of its own,
//! so a commit (or the checkpoint it may trigger) never stalls the async workers, the server's own
//! writers never contend for SQLite's lock, and a burst of writes queues instead of occupying (and
//! growing) the blocking thread pool.
//!
//! Open connections keep working on a database file that was deleted or moved away: SQLite would go
//! on acknowledging writes into a file nobody will ever read again. So the store remembers which file
//! it opened (device and inode) and refuses to serve when the path no longer leads to it: every write
//! checks first (one `stat`, ~1 µs, next to a write's tens of µs), and a watchdog re-checks once a
//! second so reads stop too. Both recover by themselves when the same file is back (a directory
//! moved back, a volume remounted); a different file at the path needs a restart to be opened.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Row, params};

use super::{RefreshSession, Storage, StoreError, StoreResult};
use crate::domain::day::{Day, format_timestamp};
use crate::domain::entry::{DayLog, DocumentJson, Entry, EntryRange, Mood};
use crate::domain::ids::{EntryId, UserId};
use crate::domain::user::{Email, User, UserName};

/// The schema's versions, applied in order, each once (`schema_migrations` records them).
const MIGRATIONS: &[(i64, &str)] = &[
    (
        20261128000001,
        include_str!("../../migrations/20261128000001_initial.sql"),
    ),
    (
        20261128000002,
        include_str!("../../migrations/20261128000002_entry_documents.sql"),
    ),
];

/// How often the watchdog looks at the database file.
const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(1);
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle read connections kept for reuse (more are opened under load and closed afterwards).
const MAX_IDLE_READERS: usize = 8;

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    readers: Mutex<Vec<Connection>>,
    /// The writer thread's queue; the thread ends when the store is dropped.
    writes: std::sync::mpsc::Sender<WriteJob>,
    file: Arc<FileWatch>,
}

type WriteJob = Box<dyn FnOnce(&mut Connection) + Send>;

/// Runs queued writes on `connection`, one at a time, until every sender is gone.
fn run_writer(mut connection: Connection, jobs: std::sync::mpsc::Receiver<WriteJob>) {
    while let Ok(job) = jobs.recv() {
        job(&mut connection);
    }
}

/// Whether the database file the connections have open is still the one at its path, and whether
/// the database takes writes.
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

/// A connection set up the same way every time.
fn connect(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    // No connection is shared between threads (readers come from a pool, the writer has a thread of
    // its own), so SQLite's own mutex is not needed. Only the writer may create the file: a reader
    // opened while the file is away would otherwise create an empty one in its place.
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if !read_only {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // With WAL, NORMAL is durable across application crashes; only an OS crash or power loss can
    // lose the last transactions — the usual trade for a much faster commit.
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // Keep one plan per statement: otherwise a statement with a bound LIMIT is marked to be
    // re-planned whenever its parameters are rebound, and the statement cache rebinds on every use,
    // so each query would be parsed and planned again (~10% of a GET /api/entries).
    connection.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    if read_only {
        connection.pragma_update(None, "query_only", "ON")?;
    }
    connection.set_prepared_statement_cache_capacity(32);
    Ok(connection)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection cannot leave it half-written: SQLite rolls back.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sorts driver errors into what the API can say about them.
fn classify(error: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, message) = &error {
        let unique = [
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE,
            rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
        ];
        match failure.code {
            ErrorCode::ConstraintViolation if unique.contains(&failure.extended_code) => return StoreError::Conflict,
            // The file cannot be reached, read or written: retrying later may help.
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::ReadOnly
            | ErrorCode::SystemIoFailure
            | ErrorCode::DatabaseCorrupt
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::NotADatabase => {
                return StoreError::Unavailable(message.clone().unwrap_or_else(|| failure.to_string()));
            }
            _ => {}
        }
    }
    StoreError::Other(error.into())
}

/// A decoding failure of a stored value: the row is not what this code wrote.
fn corrupt(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("bad {what} {value:?}").into())
}

fn ts(t: DateTime<Utc>) -> String {
    format_timestamp(t)
}

fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| corrupt("timestamp", s))
}

fn parse_id<T>(s: &str, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(s).ok_or_else(|| corrupt("object id", s))
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|_| corrupt("JSON", s))
}

const USER_COLUMNS: &str = "id, name, email, password_hash, created_at, updated_at";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: parse_id(row.get_ref(0)?.as_str()?, UserId::parse)?,
        name: UserName::from_stored(row.get(1)?),
        email: Email::from_stored(row.get(2)?),
        password_hash: row.get(3)?,
        created_at: parse_ts(row.get_ref(4)?.as_str()?)?,
        updated_at: parse_ts(row.get_ref(5)?.as_str()?)?,
    })
}

const SESSION_COLUMNS: &str = "token_hash, user_id, family_id, created_at, expires_at, rotated_at, revoked_at";

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<RefreshSession> {
    let optional_ts = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        row.get_ref(i)?.as_str_or_null()?.map(parse_ts).transpose()
    };
    let expires_at: i64 = row.get(4)?;
    Ok(RefreshSession {
        token_hash: row.get(0)?,
        user_id: parse_id(row.get_ref(1)?.as_str()?, UserId::parse)?,
        family_id: row.get(2)?,
        created_at: parse_ts(row.get_ref(3)?.as_str()?)?,
        expires_at: DateTime::from_timestamp(expires_at, 0)
            .ok_or_else(|| corrupt("expiry", &expires_at.to_string()))?,
        rotated_at: optional_ts(5)?,
        revoked_at: optional_ts(6)?,
    })
}

/// The entry columns in `entry_from_row`'s order (a macro so queries stay `&'static str`).
macro_rules! entry_columns {
    () => {
        "id, user_id, day, calories, sleep, workouts, food_intake, heart_rate, steps, \
         symptoms, mood, water_intake, notes, created_at, updated_at"
    };
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<Entry> {
    let text = |i: usize| -> rusqlite::Result<&str> { Ok(row.get_ref(i)?.as_str()?) };
    Ok(Entry {
        id: parse_id(text(0)?, EntryId::parse)?,
        user: parse_id(text(1)?, UserId::parse)?,
        date: Day::parse_ymd(text(2)?).ok_or_else(|| corrupt("day", text(2).unwrap_or_default()))?,
        log: DayLog {
            calories: row.get(3)?,
            sleep: row.get(4)?,
            workouts: row.get(5)?,
            food_intake: json(text(6)?)?,
            heart_rate: row.get(7)?,
            steps: row.get(8)?,
            symptoms: json(text(9)?)?,
            mood: Mood::parse(text(10)?).ok_or_else(|| corrupt("mood", text(10).unwrap_or_default()))?,
            water_intake: row.get(11)?,
            notes: row.get(12)?,
        },
        created_at: parse_ts(text(13)?)?,
        updated_at: parse_ts(text(14)?)?,
    })
}

/// The values `entries` stores for an entry: `entry_columns!` in order, then its document.
struct EntryRow {
    id: String,
    user: String,
    day: String,
    calories: i64,
    sleep: f64,
    workouts: bool,
    food_intake: String,
    heart_rate: i64,
    steps: i64,
    symptoms: String,
    mood: &'static str,
    water_intake: f64,
    notes: String,
    created_at: String,
    updated_at: String,
    document: String,
}

/// Plain data (lists of strings and numbers) as JSON text; serializing it cannot fail.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl EntryRow {
    fn new(entry: &Entry) -> Self {
        let log = &entry.log;
        Self {
            id: entry.id.to_string(),
            user: entry.user.to_string(),
            day: entry.date.to_ymd(),
            calories: log.calories,
            sleep: log.sleep,
            workouts: log.workouts,
            food_intake: to_json(&log.food_intake),
            heart_rate: log.heart_rate,
            steps: log.steps,
            symptoms: to_json(&log.symptoms),
            mood: log.mood.as_str(),
            water_intake: log.water_intake,
            notes: log.notes.clone(),
            created_at: ts(entry.created_at),
            updated_at: ts(entry.updated_at),
            document: entry.document_json().into_string(),
        }
    }

    /// `?1`…`?16`: the columns in `entry_columns!` order, then the document.
    fn params(&self) -> [&dyn rusqlite::ToSql; 16] {
        [
            &self.id,
            &self.user,
            &self.day,
            &self.calories,
            &self.sleep,
            &self.workouts,
            &self.food_intake,
            &self.heart_rate,
            &self.steps,
            &self.symptoms,
            &self.mood,
            &self.water_intake,
            &self.notes,
            &self.created_at,
            &self.updated_at,
            &self.document,
        ]
    }
}

fn run_migrations(connection: &mut Connection) -> rusqlite::Result<usize> {
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    // Earlier builds ran the same migration files through sqlx, which records them in its own table:
    // adopt those records so such a database is upgraded, not re-created (same version numbers).
    let sqlx_table: bool = connection
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")?
        .exists([])?;
    if sqlx_table {
        connection.execute(
            "INSERT OR IGNORE INTO schema_migrations (version, applied_at) \
             SELECT version, installed_on FROM _sqlx_migrations WHERE success = 1",
            [],
        )?;
    }
    let mut applied = 0;
    for (version, sql) in MIGRATIONS {
        let done: bool = connection.query_row(
            "SELECT count(*) FROM schema_migrations WHERE version = ?1",
            [version],
            |r| r.get::<_, i64>(0),
        )? > 0;
        if done {
            continue;
        }
        // Each version applies whole or not at all.
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        transaction.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, ts(Utc::now())],
        )?;
        transaction.commit()?;
        applied += 1;
    }
    render_missing_documents(connection)?;
    Ok(applied)
}

/// Entries written before documents were stored get theirs once, here, so that reads never have to
/// render one. A no-op (one indexed-less scan of a NULL column) once every row has its document.
fn render_missing_documents(connection: &mut Connection) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    let entries: Vec<Entry> = transaction
        .prepare(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM entries WHERE document IS NULL"
        ))?
        .query_map([], entry_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    if entries.is_empty() {
        return Ok(());
    }
    {
        let mut update = transaction.prepare("UPDATE entries SET document = ?1 WHERE id = ?2")?;
        for entry in &entries {
            update.execute(params![entry.document_json().into_string(), entry.id.to_string()])?;
        }
    }
    transaction.commit()?;
    tracing::info!(
        entries = entries.len(),
        "rendered the stored documents of older entries"
    );
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file. Does not migrate: call [`SqliteStore::migrate`].
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating directory {}", dir.display()))?;
        }
        let owned = path.to_owned();
        let writer = tokio::task::spawn_blocking(move || -> rusqlite::Result<Connection> {
            let connection = connect(&owned, false)?;
            // Persistent in the file: set once, by the writer.
            connection.pragma_update(None, "journal_mode", "WAL")?;
            Ok(connection)
        })
        .await?
        .with_context(|| format!("opening SQLite database {}", path.display()))?;
        let file = Arc::new(FileWatch::new(path));
        tokio::spawn(watch_file(Arc::downgrade(&file)));
        let (writes, jobs) = std::sync::mpsc::channel::<WriteJob>();
        std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || run_writer(writer, jobs))
            .context("starting the SQLite writer thread")?;
        Ok(Self {
            inner: Arc::new(Inner {
                readers: Mutex::new(Vec::new()),
                writes,
                file,
            }),
        })
    }

    /// Creates or upgrades the schema (idempotent).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let applied = self
            .write(run_migrations)
            .await
            .map_err(anyhow::Error::from)
            .context("running SQLite migrations")?;
        if applied > 0 {
            tracing::info!(applied, "SQLite schema migrated");
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.inner.file.path
    }

    /// Runs a read on a pooled connection, unless the database file is known to be gone.
    fn read<T>(&self, query: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let inner = &self.inner;
        if !inner.file.present.load(Ordering::Relaxed) {
            return Err(inner.file.unavailable());
        }
        let pooled = lock(&inner.readers).pop();
        let connection = match pooled {
            Some(connection) => connection,
            None => connect(&inner.file.path, true).map_err(classify)?,
        };
        let outcome = query(&connection).map_err(classify);
        // A connection that hit an I/O problem is not reused.
        if !matches!(outcome, Err(StoreError::Unavailable(_))) {
            let mut idle = lock(&inner.readers);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(connection);
            }
        }
        outcome
    }

    /// Runs a write on the writer thread's connection, after checking that the file is still the
    /// one it has open.
    async fn write<T: Send + 'static>(
        &self,
        query: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let file = &self.inner.file;
        if !file.check() {
            return Err(file.unavailable());
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |connection| {
            // The caller may have gone (a cancelled request): the write still completes.
            let _ = reply.send(query(connection));
        });
        let stopped = || StoreError::Other(anyhow::anyhow!("the SQLite writer thread stopped"));
        self.inner.writes.send(job).map_err(|_| stopped())?;
        let outcome = answer.await.map_err(|_| stopped())?.map_err(classify);
        match &outcome {
            Ok(_) => file.set_writes_failing(false),
            Err(StoreError::Unavailable(_)) => file.set_writes_failing(true),
            Err(_) => {}
        }
        outcome
    }
}

#[async_trait]
impl Storage for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        let file = &self.inner.file;
        if !file.check() {
            return Err(file.unavailable());
        }
        if file.writes_failing.load(Ordering::Relaxed) {
            // Writes are being refused while reads work (a read-only file, a full disk): a read
            // would report a healthy database. Probe with a write that changes nothing (the
            // `user_version` header field, set to its own value); it clears the flag once it works.
            return self
                .write(|c| {
                    let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                    c.execute_batch(&format!("PRAGMA user_version = {version}"))
                })
                .await;
        }
        self.read(|c| {
            c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))
                .map(|_| ())
        })
    }

    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        let values = (
            user.id.to_string(),
            user.name.as_str().to_owned(),
            user.email.as_str().to_owned(),
            user.password_hash.clone(),
            ts(user.created_at),
            ts(user.updated_at),
        );
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO users (id, name, email, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![values.0, values.1, values.2, values.3, values.4, values.5])
            .map(|_| ())
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

    async fn insert_session(&self, s: &RefreshSession) -> StoreResult<()> {
        let s = s.clone();
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO refresh_sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?
            .execute(params![
                s.token_hash,
                s.user_id.to_string(),
                s.family_id,
                ts(s.created_at),
                s.expires_at.timestamp(),
                s.rotated_at.map(ts),
                s.revoked_at.map(ts)
            ])
            .map(|_| ())
        })
        .await
    }

    async fn session_by_hash(&self, token_hash: &str) -> StoreResult<Option<RefreshSession>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM refresh_sessions WHERE token_hash = ?1"
            ))?
            .query_row([token_hash], session_from_row)
            .optional()
        })
    }

    async fn mark_session_rotated(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
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

    async fn revoke_session(&self, user: UserId, token_hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE refresh_sessions SET revoked_at = ?1 WHERE token_hash = ?2 AND user_id = ?3 AND revoked_at IS NULL",
            )?
            .execute(params![ts(at), token_hash, user.to_string()])
            .map(|_| ())
        })
        .await
    }

    async fn revoke_session_family(&self, family_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let family_id = family_id.to_owned();
        self.write(move |c| {
            c.prepare_cached("UPDATE refresh_sessions SET revoked_at = ?1 WHERE family_id = ?2 AND revoked_at IS NULL")?
                .execute(params![ts(at), family_id])
                .map(|_| ())
        })
        .await
    }

    async fn revoke_user_sessions(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<()> {
        self.write(move |c| {
            c.prepare_cached("UPDATE refresh_sessions SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL")?
                .execute(params![ts(at), user.to_string()])
                .map(|_| ())
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

    async fn is_access_token_revoked(&self, key: &str) -> StoreResult<bool> {
        self.read(|c| {
            c.prepare_cached("SELECT 1 FROM revoked_tokens WHERE token_key = ?1")?
                .exists([key])
        })
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let now = now.timestamp();
        self.write(move |c| {
            let tokens = c.execute("DELETE FROM revoked_tokens WHERE expires_at < ?1", [now])?;
            let sessions = c.execute("DELETE FROM refresh_sessions WHERE expires_at < ?1", [now])?;
            Ok((tokens + sessions) as u64)
        })
        .await
    }

    async fn insert_entry(&self, entry: &Entry) -> StoreResult<()> {
        let row = EntryRow::new(entry);
        self.write(move |c| {
            c.prepare_cached(concat!(
                "INSERT INTO entries (",
                entry_columns!(),
                ", document) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
            ))?
            .execute(row.params())
            .map(|_| ())
        })
        .await
    }

    async fn list_entries(&self, user: UserId, range: &EntryRange) -> StoreResult<Vec<Entry>> {
        let (from, to) = day_bounds(range);
        self.read(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                entry_columns!(),
                " FROM entries WHERE user_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day DESC LIMIT ?4"
            ))?
            .query_map(params![user.to_string(), from, to, range.limit], entry_from_row)?
            .collect()
        })
    }

    async fn list_entry_documents(&self, user: UserId, range: &EntryRange) -> StoreResult<Vec<DocumentJson>> {
        let (from, to) = day_bounds(range);
        self.read(|c| {
            c.prepare_cached(
                "SELECT document FROM entries WHERE user_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day DESC LIMIT ?4",
            )?
            .query_map(params![user.to_string(), from, to, range.limit], |row| {
                Ok(DocumentJson::from_stored(row.get(0)?))
            })?
            .collect()
        })
    }

    async fn entry_by_id(&self, user: UserId, id: EntryId) -> StoreResult<Option<Entry>> {
        self.read(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                entry_columns!(),
                " FROM entries WHERE id = ?1 AND user_id = ?2"
            ))?
            .query_row(params![id.to_string(), user.to_string()], entry_from_row)
            .optional()
        })
    }

    async fn entry_on_day(&self, user: UserId, day: Day) -> StoreResult<Option<Entry>> {
        self.read(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                entry_columns!(),
                " FROM entries WHERE user_id = ?1 AND day = ?2"
            ))?
            .query_row(params![user.to_string(), day.to_ymd()], entry_from_row)
            .optional()
        })
    }

    async fn update_entry(&self, entry: &Entry) -> StoreResult<bool> {
        let row = EntryRow::new(entry);
        self.write(move |c| {
            // The same numbered values as the insert; `created_at` (?14) is left as it was.
            c.prepare_cached(
                "UPDATE entries SET day = ?3, calories = ?4, sleep = ?5, workouts = ?6, food_intake = ?7, \
                 heart_rate = ?8, steps = ?9, symptoms = ?10, mood = ?11, water_intake = ?12, notes = ?13, \
                 updated_at = ?15, document = ?16 WHERE id = ?1 AND user_id = ?2",
            )?
            .execute(row.params())
            .map(|changed| changed == 1)
        })
        .await
    }

    async fn delete_entry(&self, user: UserId, id: EntryId) -> StoreResult<bool> {
        self.write(move |c| {
            c.prepare_cached("DELETE FROM entries WHERE id = ?1 AND user_id = ?2")?
                .execute(params![id.to_string(), user.to_string()])
                .map(|changed| changed == 1)
        })
        .await
    }
}

/// A range's bounds as the `day` column compares them.
fn day_bounds(range: &EntryRange) -> (String, String) {
    (
        range.from.map_or_else(|| "0000-01-01".to_owned(), |d| d.to_ymd()),
        range.to.map_or_else(|| "9999-12-31".to_owned(), |d| d.to_ymd()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::{Email, UserName};

    async fn store_with_one_entry(dir: &Path) -> anyhow::Result<(SqliteStore, Entry)> {
        let store = SqliteStore::open(&dir.join("db").join("ht.db")).await?;
        store.migrate().await?;
        let now = Utc::now();
        let user = User {
            id: UserId::new(),
            name: UserName::from_stored("Ada".into()),
            email: Email::from_stored("ada@example.com".into()),
            password_hash: "x".into(),
            created_at: now,
            updated_at: now,
        };
        store.insert_user(&user).await?;
        let entry = Entry {
            id: EntryId::new(),
            user: user.id,
            date: Day::today(),
            log: DayLog {
                calories: 1800,
                notes: "fine".into(),
                ..DayLog::default()
            },
            created_at: now,
            updated_at: now,
        };
        store.insert_entry(&entry).await?;
        Ok((store, entry))
    }

    #[tokio::test]
    async fn entries_stored_without_a_document_get_one_when_the_schema_is_migrated() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (store, entry) = store_with_one_entry(dir.path()).await?;
        // As a row written before the document column existed.
        store
            .write(|c| c.execute("UPDATE entries SET document = NULL", []))
            .await?;
        store.migrate().await?;
        let page = store
            .list_entry_documents(
                entry.user,
                &EntryRange::parse(None, None, None).map_err(|e| anyhow::anyhow!("{e:?}"))?,
            )
            .await?;
        assert_eq!(page, vec![entry.document_json()]);
        Ok(())
    }

    #[tokio::test]
    async fn a_database_migrated_by_sqlx_is_upgraded_not_recreated() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("old.db");
        {
            // What the sqlx-based build left: the first migration applied and recorded in sqlx's table.
            let connection = Connection::open(&path)?;
            connection.execute_batch(MIGRATIONS[0].1)?;
            connection.execute_batch(
                "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
                 installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, \
                 checksum BLOB NOT NULL, execution_time BIGINT NOT NULL);",
            )?;
            connection.execute(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (?1, 'initial', 1, x'00', 0)",
                [MIGRATIONS[0].0],
            )?;
        }
        let store = SqliteStore::open(&path).await?;
        store.migrate().await?;
        let versions: Vec<i64> = store.read(|c| {
            c.prepare("SELECT version FROM schema_migrations ORDER BY version")?
                .query_map([], |r| r.get(0))?
                .collect()
        })?;
        assert_eq!(versions, MIGRATIONS.iter().map(|(v, _)| *v).collect::<Vec<_>>());
        Ok(())
    }

    #[test]
    fn a_read_connection_never_creates_the_database_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("moved-away.db");
        assert!(connect(&path, true).is_err());
        assert!(
            !path.exists(),
            "a reader created an empty database in place of the real one"
        );
    }
}
