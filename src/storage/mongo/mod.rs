//! The MongoDB backend, for scaling out (replica sets, sharded clusters, Atlas) and for serving a
//! database written by the old Node/Mongoose backend as it is: its `users` and `entries` collections
//! are read and written in their Mongoose shape (see `documents`); what only this server needs —
//! refresh sessions and revoked access tokens — lives in collections of its own with TTL indexes.
//!
//! Behaviour matches the SQLite backend method for method; the HTTP suite runs against both.

mod availability;
pub mod documents;
pub mod indexes;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};
use mongodb::error::{Error as DriverError, ErrorKind, WriteFailure};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};
use secrecy::{ExposeSecret, SecretString};

use self::availability::{Availability, PROBE_INTERVAL};
use self::documents::{
    ENTRIES, REFRESH_SESSIONS, REVOKED_TOKENS, USERS, bson_date, day_of, day_window, entry_from_doc, entry_oid,
    entry_to_doc, entry_update, session_from_doc, session_to_doc, user_from_doc, user_oid, user_projection,
    user_to_doc,
};
use super::{RefreshSession, Storage, StoreError, StoreResult};
use crate::domain::day::Day;
use crate::domain::entry::{Entry, EntryRange};
use crate::domain::ids::{EntryId, UserId};
use crate::domain::user::{Email, User};

/// The driver waits 30 s by default for a server before failing an operation; a request should not.
/// Applied only when the connection string does not set `serverSelectionTimeoutMS` / `connectTimeoutMS`.
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// What Mongoose used when the connection string names no database.
const DEFAULT_DATABASE: &str = "test";

// --- errors ----------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// E11000: a unique index refused the write.
    Duplicate,
    /// No server could be reached: opens the circuit breaker.
    Unreachable,
    /// The server answered but cannot serve right now (primary stepped down, shutting down…).
    Transient,
    Other,
}

const DUPLICATE_KEY: i32 = 11000;
/// Legacy duplicate-key codes some server versions still send from updates and index builds.
const DUPLICATE_KEY_LEGACY: [i32; 2] = [11001, 12582];
/// Server codes that mean "try again later", not "your request is wrong": HostUnreachable,
/// HostNotFound, NetworkTimeout, ShutdownInProgress, PrimarySteppedDown, ExceededTimeLimit,
/// SocketException, NotWritablePrimary, InterruptedAtShutdown, InterruptedDueToReplStateChange,
/// NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary.
const TRANSIENT_CODES: [i32; 12] = [6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436];

/// The server's error code, wherever the driver put it (it has no public accessor).
pub fn error_code(error: &DriverError) -> Option<i32> {
    match error.kind.as_ref() {
        ErrorKind::Command(e) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteError(e)) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(e)) => Some(e.code),
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()
            .and_then(|errors| errors.first())
            .map(|e| e.code)
            .or_else(|| e.write_concern_error.as_ref().map(|e| e.code)),
        ErrorKind::BulkWrite(e) => e
            .write_errors
            .values()
            .next()
            .map(|e| e.code)
            .or_else(|| e.write_concern_errors.first().map(|e| e.code)),
        _ => None,
    }
}

/// The server's own words and code, without the driver's dump of the raw reply.
pub(crate) fn error_summary(error: &DriverError) -> String {
    match error.kind.as_ref() {
        ErrorKind::Command(e) => format!("{} (code {})", e.message, e.code),
        ErrorKind::Write(WriteFailure::WriteError(e)) => format!("{} (code {})", e.message, e.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(e)) => format!("{} (code {})", e.message, e.code),
        _ => error.to_string(),
    }
}

/// By numeric code, never by message text (servers and stand-ins word them differently).
pub fn classify_error(error: &DriverError) -> ErrorClass {
    let duplicate = |code: i32| code == DUPLICATE_KEY || DUPLICATE_KEY_LEGACY.contains(&code);
    match error.kind.as_ref() {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. } => ErrorClass::Unreachable,
        ErrorKind::InsertMany(e) if e.write_errors.iter().flatten().any(|w| duplicate(w.code)) => ErrorClass::Duplicate,
        ErrorKind::BulkWrite(e) if e.write_errors.values().any(|w| duplicate(w.code)) => ErrorClass::Duplicate,
        ErrorKind::Write(WriteFailure::WriteConcernError(_)) => ErrorClass::Transient,
        _ => match error_code(error) {
            Some(code) if duplicate(code) => ErrorClass::Duplicate,
            Some(code) if TRANSIENT_CODES.contains(&code) => ErrorClass::Transient,
            _ if error.contains_label("RetryableWriteError") => ErrorClass::Transient,
            _ => ErrorClass::Other,
        },
    }
}

/// A driver message with the connection string's password (should it quote it) replaced.
fn scrub(message: String, url: &SecretString) -> String {
    crate::config::redact_url_password(&message, url.expose_secret())
}

// --- connection ------------------------------------------------------------------------------

/// Client options from the connection string (TLS, auth, replica set, `retryWrites`… are the
/// driver's), with our short timeouts when the string sets none.
async fn client_options(url: &SecretString) -> Result<ClientOptions, DriverError> {
    let mut options = ClientOptions::parse(url.expose_secret()).await?;
    options.server_selection_timeout.get_or_insert(SERVER_SELECTION_TIMEOUT);
    options.connect_timeout.get_or_insert(CONNECT_TIMEOUT);
    options.app_name.get_or_insert_with(|| "healthtracker".to_owned());
    Ok(options)
}

/// A database handle, or why there is none. `Ok(None)` when the options could not be resolved yet
/// for a passing reason (a `mongodb+srv://` DNS lookup failed): the caller retries.
/// `retrying`: a later attempt, logged quietly (the first failure was a warning already).
async fn connect(url: &SecretString, retrying: bool) -> anyhow::Result<Option<Database>> {
    let options = match client_options(url).await {
        Ok(options) => options,
        Err(error) if classify_error(&error) == ErrorClass::Unreachable => {
            let error = scrub(error.to_string(), url);
            if retrying {
                tracing::debug!(error, "cannot resolve the MongoDB connection string yet; retrying");
            } else {
                tracing::warn!(
                    error,
                    "cannot resolve the MongoDB connection string yet; retrying every second"
                );
            }
            return Ok(None);
        }
        Err(error) => anyhow::bail!("invalid MongoDB connection string: {}", scrub(error.to_string(), url)),
    };
    let hosts: Vec<String> = options.hosts.iter().map(ToString::to_string).collect();
    let name = match options.default_database.clone() {
        Some(name) => name,
        None => {
            tracing::warn!("the MongoDB URL names no database; using {DEFAULT_DATABASE:?} as the old backend did");
            DEFAULT_DATABASE.to_owned()
        }
    };
    let client = Client::with_options(options)
        .map_err(|error| anyhow::anyhow!("invalid MongoDB client options: {}", scrub(error_summary(&error), url)))?;
    tracing::info!(hosts = hosts.join(","), database = %name, "using MongoDB");
    Ok(Some(client.database(&name)))
}

// --- the store -------------------------------------------------------------------------------

#[derive(Clone)]
pub struct MongoStore {
    inner: Arc<Inner>,
}

struct Inner {
    url: SecretString,
    /// Set once the connection string resolves (at once, except for an SRV lookup that failed).
    db: OnceLock<Database>,
    availability: Availability,
    /// Start-up index creation still owed because the deployment was unreachable.
    indexes_pending: AtomicBool,
}

impl MongoStore {
    /// Connects lazily and creates the indexes (idempotent). Never fails because the deployment is
    /// unreachable: the server starts, answers 503 for data, and catches up by itself (see
    /// `availability`). Only an invalid connection string stops it.
    pub async fn open(url: &SecretString) -> anyhow::Result<Self> {
        let store = Self {
            inner: Arc::new(Inner {
                url: url.clone(),
                db: OnceLock::new(),
                availability: Availability::default(),
                indexes_pending: AtomicBool::new(true),
            }),
        };
        if let Some(db) = connect(url, false).await? {
            let _ = store.inner.db.set(db);
            store.ensure_indexes_at_start().await;
        } else {
            store.inner.availability.mark_down("connection string not resolved");
        }
        tokio::spawn(watch(Arc::downgrade(&store.inner)));
        Ok(store)
    }

    /// `healthtracker migrate`: every index now, or a clear error — unreachable deployment, or data
    /// that a unique index cannot accept (listed, for a person to fix).
    pub async fn migrate(url: &SecretString) -> anyhow::Result<()> {
        let db = connect(url, false)
            .await?
            .context("cannot resolve the MongoDB connection string (DNS lookup for mongodb+srv:// failed)")?;
        db.run_command(doc! {"ping": 1})
            .await
            .map_err(|error| anyhow::anyhow!("cannot reach MongoDB: {}", scrub(error_summary(&error), url)))?;
        let problems = indexes::create_all(&db)
            .await
            .map_err(|error| anyhow::anyhow!("MongoDB became unreachable: {}", scrub(error_summary(&error), url)))?;
        let duplicates = indexes::find_duplicates(&db)
            .await
            .map_err(|error| anyhow::anyhow!("reading existing data failed: {}", scrub(error_summary(&error), url)))?;
        if problems.is_empty() && duplicates.is_empty() {
            return Ok(());
        }
        anyhow::bail!("{}", indexes::report(&problems, &duplicates))
    }

    async fn ensure_indexes_at_start(&self) {
        let Some(db) = self.inner.db.get() else { return };
        match indexes::create_all(db).await {
            Ok(problems) => {
                self.inner.indexes_pending.store(false, Ordering::Release);
                for problem in problems {
                    tracing::error!(
                        index = problem.index,
                        detail = problem.detail,
                        "MongoDB index not built{}; run `healthtracker migrate` for the list of documents to fix",
                        if problem.duplicates {
                            " (existing documents violate it)"
                        } else {
                            ""
                        }
                    );
                }
            }
            Err(error) => {
                let _ = self.fail(error);
            }
        }
    }

    /// The database, unless it is known to be unreachable: then fail at once instead of waiting for
    /// server selection on every request.
    fn db(&self) -> StoreResult<&Database> {
        if !self.inner.availability.is_up() {
            return Err(StoreError::Unavailable("MongoDB is unreachable".into()));
        }
        self.inner
            .db
            .get()
            .ok_or_else(|| StoreError::Unavailable("MongoDB connection string not resolved yet".into()))
    }

    fn collection(&self, name: &str) -> StoreResult<Collection<Document>> {
        Ok(self.db()?.collection(name))
    }

    /// Maps a driver error, opening the breaker when no server could be reached.
    fn fail(&self, error: DriverError) -> StoreError {
        let message = || scrub(error_summary(&error), &self.inner.url);
        match classify_error(&error) {
            ErrorClass::Duplicate => StoreError::Conflict,
            ErrorClass::Unreachable => {
                let message = message();
                self.inner.availability.mark_down(&message);
                StoreError::Unavailable(message)
            }
            ErrorClass::Transient => StoreError::Unavailable(message()),
            ErrorClass::Other => StoreError::Other(anyhow::anyhow!("MongoDB: {}", message())),
        }
    }

    /// One user by `filter`, with only the fields a `User` needs.
    async fn find_user(&self, filter: Document) -> StoreResult<Option<User>> {
        let found = self
            .collection(USERS)?
            .find_one(filter)
            .projection(user_projection())
            .await
            .map_err(|e| self.fail(e))?;
        Ok(found
            .as_ref()
            .map(user_from_doc)
            .transpose()
            .map_err(anyhow::Error::from)?)
    }

    /// One entry by `filter`; the earliest stored date first, for a day window that (written by
    /// the old backend) could hold more than one.
    async fn find_entry(&self, filter: Document) -> StoreResult<Option<Entry>> {
        let found = self
            .collection(ENTRIES)?
            .find_one(filter)
            .sort(doc! {"date": 1})
            .await
            .map_err(|e| self.fail(e))?;
        Ok(found
            .as_ref()
            .map(entry_from_doc)
            .transpose()
            .map_err(anyhow::Error::from)?)
    }

    /// Whether another entry of `user` (other than `except`) stands for `day`.
    async fn day_taken(&self, user: UserId, day: Day, except: Option<EntryId>) -> StoreResult<bool> {
        let (start, end) = day_window(day);
        let mut filter = doc! {"user": user_oid(user), "date": {"$gte": start, "$lt": end}};
        if let Some(except) = except {
            filter.insert("_id", doc! {"$ne": entry_oid(except)});
        }
        let found = self
            .collection(ENTRIES)?
            .find_one(filter)
            .projection(doc! {"_id": 1})
            .await
            .map_err(|e| self.fail(e))?;
        Ok(found.is_some())
    }
}

/// Connects (if the first attempt could not), probes while the breaker is open, and finishes the
/// index creation owed from start-up. Ends when the store is dropped.
async fn watch(inner: Weak<Inner>) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + PROBE_INTERVAL, PROBE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let store = MongoStore { inner };
        if store.inner.db.get().is_none() {
            match connect(&store.inner.url, true).await {
                Ok(Some(db)) => {
                    let _ = store.inner.db.set(db);
                }
                Ok(None) => continue,
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "MongoDB connection string refused");
                    return;
                }
            }
        }
        let Some(db) = store.inner.db.get() else { continue };
        if !store.inner.availability.is_up() {
            let ping = tokio::time::timeout(SERVER_SELECTION_TIMEOUT * 2, db.run_command(doc! {"ping": 1})).await;
            match ping {
                Ok(Ok(_)) => store.inner.availability.mark_up(),
                _ => continue,
            }
        }
        if store.inner.indexes_pending.load(Ordering::Acquire) {
            store.ensure_indexes_at_start().await;
        }
    }
}

#[async_trait]
impl Storage for MongoStore {
    fn backend(&self) -> &'static str {
        "mongodb"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db()?
            .run_command(doc! {"ping": 1})
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        self.collection(USERS)?
            .insert_one(user_to_doc(user))
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        self.find_user(doc! {"email": email.as_str()}).await
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.find_user(doc! {"_id": user_oid(id)}).await
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()> {
        self.collection(USERS)?
            .update_one(
                doc! {"_id": user_oid(id)},
                doc! {"$set": {"password": hash, "updatedAt": bson_date(Utc::now())}},
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn insert_session(&self, session: &RefreshSession) -> StoreResult<()> {
        self.collection(REFRESH_SESSIONS)?
            .insert_one(session_to_doc(session))
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn session_by_hash(&self, token_hash: &str) -> StoreResult<Option<RefreshSession>> {
        // Possibly expired (TTL deletion runs about once a minute): the caller checks `expires_at`.
        let found = self
            .collection(REFRESH_SESSIONS)?
            .find_one(doc! {"_id": token_hash})
            .await
            .map_err(|e| self.fail(e))?;
        Ok(found
            .as_ref()
            .map(session_from_doc)
            .transpose()
            .map_err(anyhow::Error::from)?)
    }

    async fn mark_session_rotated(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        // One atomic conditional update: of two concurrent uses of a token, exactly one matches.
        let done = self
            .collection(REFRESH_SESSIONS)?
            .update_one(
                doc! {"_id": token_hash, "rotatedAt": null, "revokedAt": null},
                doc! {"$set": {"rotatedAt": bson_date(at)}},
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.matched_count == 1)
    }

    async fn revoke_session(&self, user: UserId, token_hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.collection(REFRESH_SESSIONS)?
            .update_one(
                doc! {"_id": token_hash, "user": user_oid(user), "revokedAt": null},
                doc! {"$set": {"revokedAt": bson_date(at)}},
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn revoke_session_family(&self, family_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.collection(REFRESH_SESSIONS)?
            .update_many(
                doc! {"family": family_id, "revokedAt": null},
                doc! {"$set": {"revokedAt": bson_date(at)}},
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn revoke_user_sessions(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<()> {
        self.collection(REFRESH_SESSIONS)?
            .update_many(
                doc! {"user": user_oid(user), "revokedAt": null},
                doc! {"$set": {"revokedAt": bson_date(at)}},
            )
            .await
            .map_err(|e| self.fail(e))?;
        // "Log out everywhere" covers the refresh tokens the old backend issued too.
        self.collection(USERS)?
            .update_one(
                doc! {"_id": user_oid(user), "refreshTokens": {"$exists": true, "$ne": []}},
                doc! {"$set": {"refreshTokens": []}},
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn take_legacy_refresh_token(&self, user: UserId, token: &str) -> StoreResult<bool> {
        // The old backend kept its refresh tokens in clear in `users.refreshTokens`, as strings or as
        // `{token, createdAt}` subdocuments depending on its version. Each form is removed by one
        // conditional update, so of two concurrent uses exactly one finds the token: honoured once.
        // A token the old backend also listed as revoked is not honoured.
        let users = self.collection(USERS)?;
        let not_revoked = doc! {"revokedTokens": {"$ne": token}, "revokedTokens.token": {"$ne": token}};
        for (matches, pull) in [
            (doc! {"refreshTokens": token}, doc! {"refreshTokens": token}),
            (
                doc! {"refreshTokens.token": token},
                doc! {"refreshTokens": {"token": token}},
            ),
        ] {
            let mut filter = doc! {"_id": user_oid(user)};
            filter.extend(matches);
            filter.extend(not_revoked.clone());
            let done = users
                .update_one(
                    filter,
                    doc! {"$pull": pull, "$set": {"updatedAt": bson_date(Utc::now())}},
                )
                .await
                .map_err(|e| self.fail(e))?;
            if done.matched_count == 1 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn revoke_access_token(&self, key: &str, user: UserId, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let upsert = self
            .collection(REVOKED_TOKENS)?
            .update_one(
                doc! {"_id": key},
                doc! {"$setOnInsert": {"user": user_oid(user), "expiresAt": bson_date(expires_at)}},
            )
            .upsert(true)
            .await;
        match upsert.map_err(|e| self.fail(e)) {
            // Two concurrent upserts of one key: the other one recorded it.
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(error) => Err(error),
        }
    }

    async fn is_access_token_revoked(&self, key: &str) -> StoreResult<bool> {
        let found = self
            .collection(REVOKED_TOKENS)?
            .find_one(doc! {"_id": key})
            .projection(doc! {"_id": 1})
            .await
            .map_err(|e| self.fail(e))?;
        Ok(found.is_some())
    }

    async fn purge_expired(&self, _now: DateTime<Utc>) -> StoreResult<u64> {
        // TTL indexes on `expiresAt` delete them; every query that cares checks the expiry itself.
        Ok(0)
    }

    async fn insert_entry(&self, entry: &Entry) -> StoreResult<()> {
        // The unique index sees exact dates only; an old entry stored at local midnight is found by
        // its window. A race between two of our own inserts is still the index's to refuse.
        if self.day_taken(entry.user, entry.date, None).await? {
            return Err(StoreError::Conflict);
        }
        self.collection(ENTRIES)?
            .insert_one(entry_to_doc(entry))
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn list_entries(&self, user: UserId, range: &EntryRange) -> StoreResult<Vec<Entry>> {
        let mut date = Document::new();
        if let Some(from) = range.from {
            date.insert("$gte", day_window(from).0);
        }
        if let Some(to) = range.to {
            date.insert("$lt", day_window(to).1);
        }
        let mut filter = doc! {"user": user_oid(user)};
        if !date.is_empty() {
            filter.insert("date", date);
        }
        let docs: Vec<Document> = self
            .collection(ENTRIES)?
            .find(filter)
            .sort(doc! {"date": -1})
            .limit(i64::from(range.limit))
            .await
            .map_err(|e| self.fail(e))?
            .try_collect()
            .await
            .map_err(|e| self.fail(e))?;
        Ok(docs
            .iter()
            .filter_map(|doc| match entry_from_doc(doc) {
                Ok(entry) => Some(entry),
                Err(error) => {
                    tracing::warn!(%error, "skipping an entry document that cannot be served");
                    None
                }
            })
            .collect())
    }

    async fn entry_by_id(&self, user: UserId, id: EntryId) -> StoreResult<Option<Entry>> {
        self.find_entry(doc! {"_id": entry_oid(id), "user": user_oid(user)})
            .await
    }

    async fn entry_on_day(&self, user: UserId, day: Day) -> StoreResult<Option<Entry>> {
        let (start, end) = day_window(day);
        self.find_entry(doc! {"user": user_oid(user), "date": {"$gte": start, "$lt": end}})
            .await
    }

    async fn update_entry(&self, entry: &Entry) -> StoreResult<bool> {
        let entries = self.collection(ENTRIES)?;
        let filter = doc! {"_id": entry_oid(entry.id), "user": user_oid(entry.user)};
        let Some(stored) = entries
            .find_one(filter.clone())
            .projection(doc! {"date": 1})
            .await
            .map_err(|e| self.fail(e))?
        else {
            return Ok(false);
        };
        let stored_day = stored
            .get_datetime("date")
            .ok()
            .and_then(|t| DateTime::from_timestamp_millis(t.timestamp_millis()))
            .map(day_of);
        let moves = stored_day != Some(entry.date);
        if moves && self.day_taken(entry.user, entry.date, Some(entry.id)).await? {
            return Err(StoreError::Conflict);
        }
        let done = entries
            .update_one(filter, entry_update(entry, moves))
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.matched_count == 1)
    }

    async fn delete_entry(&self, user: UserId, id: EntryId) -> StoreResult<bool> {
        let done = self
            .collection(ENTRIES)?
            .delete_one(doc! {"_id": entry_oid(id), "user": user_oid(user)})
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.deleted_count == 1)
    }
}
