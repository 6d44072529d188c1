//! The MongoDB backend, for scaling out (replica sets, sharded clusters, Atlas) and for serving a
//! database written by the old Node/Mongoose backend as it is: its `users` and `entries` collections
//! are read and written in their Mongoose shape (see `documents`); what only this server needs —
//! refresh sessions and revoked access tokens — lives in collections of its own with TTL indexes.
//!
//! Behaviour matches the SQLite backend method for method; the HTTP suite runs against both.

mod accounts;
mod availability;
mod connection;
pub mod documents;
mod entries;
mod errors;
mod history;
mod import;
pub mod indexes;
mod personal_tokens;
mod security;
mod transfer;
mod trends;

pub use self::errors::{ErrorClass, classify_error, error_code};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};
use mongodb::error::Error as DriverError;
use mongodb::{Collection, Database};
use secrecy::SecretString;

use self::availability::Availability;
use self::connection::{connect, watch};
use self::documents::{
    ENTRIES, USERS, day_window, entry_from_doc, entry_oid, user_from_doc, user_oid, user_projection,
};
use self::errors::{error_summary, scrub};
use super::{StoreError, StoreResult};
use crate::domain::day::Day;
use crate::domain::entry::Entry;
use crate::domain::ids::{EntryId, UserId};
use crate::domain::user::User;

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
        let outcome = Self::migrate_on(&db, url).await;
        // The process exits next: stop the driver's background tasks first, or one of them can be
        // torn down mid-request with the runtime and panic on its way out.
        db.client().clone().shutdown().await;
        outcome
    }

    async fn migrate_on(db: &Database, url: &SecretString) -> anyhow::Result<()> {
        db.run_command(doc! {"ping": 1})
            .await
            .map_err(|error| anyhow::anyhow!("cannot reach MongoDB: {}", scrub(error_summary(&error), url)))?;
        let problems = indexes::create_all(db)
            .await
            .map_err(|error| anyhow::anyhow!("MongoDB became unreachable: {}", scrub(error_summary(&error), url)))?;
        let duplicates = indexes::find_duplicates(db)
            .await
            .map_err(|error| anyhow::anyhow!("reading existing data failed: {}", scrub(error_summary(&error), url)))?;
        let outside = indexes::find_days_outside_the_years(db)
            .await
            .map_err(|error| anyhow::anyhow!("reading existing data failed: {}", scrub(error_summary(&error), url)))?;
        super::days_outside::report(&outside);
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

    /// Every document a find yields (a page: callers bound it with a filter or a limit).
    async fn all(&self, find: mongodb::action::Find<'_, Document>) -> StoreResult<Vec<Document>> {
        find.await
            .map_err(|e| self.fail(e))?
            .try_collect()
            .await
            .map_err(|e| self.fail(e))
    }

    /// Up to `limit` of the user's entry documents after day `after`, oldest first (the export's
    /// and the copy's pages).
    async fn entry_docs_after(&self, user: UserId, after: Option<Day>, limit: u32) -> StoreResult<Vec<Document>> {
        let mut filter = doc! {"user": documents::user_oid(user)};
        if let Some(after) = after {
            // The next day's window starts where this one's ends.
            filter.insert("date", doc! {"$gte": documents::day_window(after).1});
        }
        let collection = self.collection(documents::ENTRIES)?;
        self.all(collection.find(filter).sort(doc! {"date": 1}).limit(i64::from(limit)))
            .await
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

    /// Ends a login: its record first (its access tokens are refused from then on), then every
    /// refresh token of it.
    async fn revoke_login_documents(&self, login_id: &str, at: chrono::DateTime<chrono::Utc>) -> StoreResult<()> {
        use self::documents::{REFRESH_SESSIONS, SESSIONS, bson_date};
        self.collection(SESSIONS)?
            .update_one(
                doc! {"_id": login_id, "revokedAt": null},
                doc! {"$set": {"revokedAt": bson_date(at)}},
            )
            .await
            .map_err(|e| self.fail(e))?;
        self.collection(REFRESH_SESSIONS)?
            .update_many(
                doc! {"family": login_id, "revokedAt": null},
                doc! {"$set": {"revokedAt": bson_date(at)}},
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// After a write found its user gone (the account deleted while the write was in flight, which
    /// no foreign key stops here): deletes every entry still naming the user, this write's and any
    /// other late one's, so nothing outlives the account. `NoSuchUser` once done.
    async fn undo_for_deleted_user(&self, user: UserId) -> StoreError {
        let swept = match self.collection(ENTRIES) {
            Ok(entries) => entries
                .delete_many(doc! {"user": user_oid(user)})
                .await
                .map_err(|e| self.fail(e)),
            Err(error) => Err(error),
        };
        match swept {
            Ok(_) => StoreError::NoSuchUser,
            Err(error) => error,
        }
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
