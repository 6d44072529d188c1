//! The `Storage` trait on MongoDB: each method one conditional, single-document operation where
//! atomicity matters (no transactions: a standalone server refuses them).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};

use super::MongoStore;
use super::documents::{
    ENTRIES, REFRESH_SESSIONS, REVOKED_TOKENS, USERS, bson_date, day_of, day_window, entry_from_doc, entry_oid,
    entry_to_doc, entry_update, session_from_doc, session_to_doc, user_oid, user_to_doc,
};
use crate::domain::day::Day;
use crate::domain::entry::{Entry, EntryRange};
use crate::domain::ids::{EntryId, UserId};
use crate::domain::user::{Email, User};
use crate::storage::{RefreshSession, Storage, StoreError, StoreResult, TokenStanding};

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

    async fn access_token_standing(&self, key: &str, user: UserId) -> StoreResult<TokenStanding> {
        // Two collections: asked at the same time, so the request waits for one round trip.
        let revoked = self.collection(REVOKED_TOKENS)?;
        let users = self.collection(USERS)?;
        let (revoked, user) = tokio::join!(
            revoked.find_one(doc! {"_id": key}).projection(doc! {"_id": 1}),
            users.find_one(doc! {"_id": user_oid(user)}).projection(doc! {"_id": 1}),
        );
        let (revoked, user) = (revoked.map_err(|e| self.fail(e))?, user.map_err(|e| self.fail(e))?);
        Ok(match (user, revoked) {
            (None, _) => TokenStanding::UnknownUser,
            (Some(_), Some(_)) => TokenStanding::Revoked,
            (Some(_), None) => TokenStanding::Valid,
        })
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
