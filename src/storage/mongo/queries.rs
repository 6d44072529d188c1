//! The `Storage` trait on MongoDB: each method one conditional, single-document operation where
//! atomicity matters (no transactions: a standalone server refuses them).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ReturnDocument;

use super::MongoStore;
use super::documents::{
    AI_MESSAGES, ENTRIES, REFRESH_SESSIONS, REVOKED_TOKENS, SESSIONS, USERS, bson_date, day_window, entry_changes,
    entry_from_doc, entry_oid, entry_to_doc, int_field, login_from_doc, session_from_doc, session_to_doc,
    user_from_doc, user_oid, user_projection, user_to_doc,
};
use crate::domain::coach::HistoryMessage;
use crate::domain::day::Day;
use crate::domain::entry::{DocumentJson, Entry, EntryChanges, EntryRange};
use crate::domain::goals::Goals;
use crate::domain::ids::{EntryId, UserId};
use crate::domain::stats::{DayFigures, LoggedDay};
use crate::domain::timezone::TimeZone;
use crate::domain::user::{Email, User, UserName};
use crate::storage::transfer::{CollectionCounts, UserCredentials};
use crate::storage::{
    ImportCounts, OnConflict, RefreshSession, Session, Storage, StoreError, StoreResult, TokenStanding,
};

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

    async fn update_profile(
        &self,
        id: UserId,
        name: Option<&UserName>,
        timezone: Option<TimeZone>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut set = doc! {"updatedAt": bson_date(at)};
        if let Some(name) = name {
            set.insert("name", name.as_str());
        }
        if let Some(zone) = timezone {
            set.insert("timezone", zone.name());
        }
        let updated = self
            .collection(USERS)?
            .find_one_and_update(doc! {"_id": user_oid(id)}, doc! {"$set": set})
            .projection(user_projection())
            .return_document(ReturnDocument::After)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(updated
            .as_ref()
            .map(user_from_doc)
            .transpose()
            .map_err(anyhow::Error::from)?)
    }

    async fn goals(&self, user: UserId) -> StoreResult<Goals> {
        let found = self
            .collection(USERS)?
            .find_one(doc! {"_id": user_oid(user)})
            .projection(doc! {"_id": 0, "goals": 1})
            .await
            .map_err(|e| self.fail(e))?;
        // Stored as the JSON the API writes, as a subdocument; read by the same lenient rules.
        let goals = found
            .and_then(|doc| doc.get_document("goals").ok().cloned())
            .map(|goals| Goals::from_stored(&Bson::Document(goals).into_relaxed_extjson().to_string()))
            .unwrap_or_default();
        Ok(goals)
    }

    async fn set_goals(&self, user: UserId, goals: &Goals) -> StoreResult<bool> {
        let value = match goals.to_stored() {
            Some(text) => {
                let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| StoreError::Other(e.into()))?;
                Bson::try_from(json).map_err(|e| StoreError::Other(e.into()))?
            }
            None => Bson::Null,
        };
        // One update: the goals and the count the trends cache is checked against, together.
        let done = self
            .collection(USERS)?
            .update_one(
                doc! {"_id": user_oid(user)},
                doc! {"$set": {"goals": value}, "$inc": {"entriesVersion": 1_i64}},
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.matched_count == 1)
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        // What is theirs first, the account last: a failure half-way leaves an account that can be
        // deleted again, never data without its account. Then what is theirs once more: a write in
        // flight may have landed after the first pass. (One landing later still finds no account
        // when it counts itself, and undoes itself: `undo_for_deleted_user`.)
        let user = doc! {"user": user_oid(id)};
        let theirs = [ENTRIES, REFRESH_SESSIONS, SESSIONS, REVOKED_TOKENS, AI_MESSAGES];
        for collection in theirs {
            self.collection(collection)?
                .delete_many(user.clone())
                .await
                .map_err(|e| self.fail(e))?;
        }
        let deleted = self
            .collection(USERS)?
            .delete_one(doc! {"_id": user_oid(id)})
            .await
            .map_err(|e| self.fail(e))?;
        for collection in theirs {
            self.collection(collection)?
                .delete_many(user.clone())
                .await
                .map_err(|e| self.fail(e))?;
        }
        Ok(deleted.deleted_count == 1)
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
        // The login it belongs to: created with its first token, moved on by every later one.
        let mut on_insert = doc! {"user": user_oid(session.user_id), "createdAt": bson_date(session.created_at)};
        if let Some(agent) = &session.user_agent {
            on_insert.insert("userAgent", agent.as_str());
        }
        self.collection(SESSIONS)?
            .update_one(
                doc! {"_id": &session.family_id},
                doc! {
                    "$setOnInsert": on_insert,
                    "$max": {"lastUsedAt": bson_date(session.created_at), "expiresAt": bson_date(session.expires_at)},
                },
            )
            .upsert(true)
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
        let token = self
            .collection(REFRESH_SESSIONS)?
            .find_one(doc! {"_id": token_hash, "user": user_oid(user)})
            .projection(doc! {"family": 1})
            .await
            .map_err(|e| self.fail(e))?;
        match token.as_ref().and_then(|t| t.get_str("family").ok()) {
            Some(family) => self.end_login(family, at).await,
            None => Ok(()),
        }
    }

    async fn revoke_session_family(&self, family_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.end_login(family_id, at).await
    }

    async fn revoke_user_sessions(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<()> {
        // The logins first: their access tokens are refused from this moment.
        self.collection(SESSIONS)?
            .update_many(
                doc! {"user": user_oid(user), "revokedAt": null},
                doc! {"$set": {"revokedAt": bson_date(at)}},
            )
            .await
            .map_err(|e| self.fail(e))?;
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

    async fn access_token_standing(
        &self,
        key: &str,
        user: UserId,
        session: Option<&str>,
    ) -> StoreResult<TokenStanding> {
        // Three collections: asked at the same time, so the request waits for one round trip.
        let (revoked, users, logins) = (
            self.collection(REVOKED_TOKENS)?,
            self.collection(USERS)?,
            self.collection(SESSIONS)?,
        );
        let login_live = async {
            match session {
                None => Ok(true),
                Some(id) => logins
                    .find_one(doc! {"_id": id, "revokedAt": null})
                    .projection(doc! {"_id": 1})
                    .await
                    .map(|found| found.is_some()),
            }
        };
        let (revoked, user, login_live) = tokio::join!(
            revoked.find_one(doc! {"_id": key}).projection(doc! {"_id": 1}),
            users
                .find_one(doc! {"_id": user_oid(user)})
                .projection(doc! {"_id": 0, "timezone": 1, "entriesVersion": 1}),
            login_live,
        );
        let revoked = revoked.map_err(|e| self.fail(e))?.is_some();
        let user = user.map_err(|e| self.fail(e))?;
        let login_live = login_live.map_err(|e| self.fail(e))?;
        Ok(match (user, revoked || !login_live) {
            (None, _) => TokenStanding::UnknownUser,
            (Some(_), true) => TokenStanding::Revoked,
            (Some(user), false) => TokenStanding::Valid {
                timezone: user.get_str("timezone").ok().and_then(TimeZone::from_stored),
                entries_version: int_field(&user, "entriesVersion") as u64,
            },
        })
    }

    async fn list_sessions(&self, user: UserId, now: DateTime<Utc>) -> StoreResult<Vec<Session>> {
        let collection = self.collection(SESSIONS)?;
        let docs = self
            .all(
                collection
                    .find(doc! {"user": user_oid(user), "revokedAt": null, "expiresAt": {"$gt": bson_date(now)}})
                    .sort(doc! {"createdAt": -1}),
            )
            .await?;
        Ok(docs.iter().filter_map(|doc| login_from_doc(doc).ok()).collect())
    }

    async fn revoke_login(&self, user: UserId, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let ended = self
            .collection(SESSIONS)?
            .update_one(
                doc! {"_id": id, "user": user_oid(user), "revokedAt": null, "expiresAt": {"$gt": bson_date(at)}},
                doc! {"$set": {"revokedAt": bson_date(at)}},
            )
            .await
            .map_err(|e| self.fail(e))?;
        if ended.matched_count == 0 {
            return Ok(false);
        }
        self.end_login(id, at).await?;
        Ok(true)
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
        if !self.entries_changed(entry.user).await {
            return Err(self.undo_for_deleted_user(entry.user).await);
        }
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
        let collection = self.collection(ENTRIES)?;
        let docs = self
            .all(
                collection
                    .find(filter)
                    .sort(doc! {"date": -1})
                    .limit(i64::from(range.limit)),
            )
            .await?;
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

    async fn update_entry(
        &self,
        user: UserId,
        id: EntryId,
        changes: &EntryChanges,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Entry>> {
        let entries = self.collection(ENTRIES)?;
        let filter = doc! {"_id": entry_oid(id), "user": user_oid(user)};
        let set_fields = |with_date: bool| {
            let mut set = entry_changes(changes, at);
            if let Some(day) = changes.date.filter(|_| with_date) {
                set.insert("date", bson_date(day.midnight_utc()));
            }
            doc! {"$set": set}
        };
        // One `$set` of just the fields sent, on one document: atomic, so concurrent updates of
        // other fields keep theirs.
        let mut updated = None;
        if let Some(day) = changes.date {
            // A document already on that day keeps its stored date (an old backend's local
            // midnight stays as it was); otherwise the entry moves, if the day is free.
            let (start, end) = day_window(day);
            let mut same_day = filter.clone();
            same_day.insert("date", doc! {"$gte": start, "$lt": end});
            updated = entries
                .find_one_and_update(same_day, set_fields(false))
                .return_document(ReturnDocument::After)
                .await
                .map_err(|e| self.fail(e))?;
            if updated.is_none() && self.day_taken(user, day, Some(id)).await? {
                return Err(StoreError::Conflict);
            }
        }
        if updated.is_none() {
            updated = entries
                .find_one_and_update(filter, set_fields(true))
                .return_document(ReturnDocument::After)
                .await
                .map_err(|e| self.fail(e))?;
        }
        let Some(document) = updated else {
            return Ok(None);
        };
        self.entries_changed(user).await;
        let entry = entry_from_doc(&document).map_err(|e| StoreError::Other(e.into()))?;
        Ok(Some(entry))
    }

    async fn day_figures(&self, user: UserId, from: Day, to: Day) -> StoreResult<Vec<DayFigures>> {
        self.read_day_figures(user, from, to).await
    }

    async fn logged_days(&self, user: UserId) -> StoreResult<Vec<LoggedDay>> {
        self.read_logged_days(user).await
    }

    async fn entry_documents_after(
        &self,
        user: UserId,
        after: Option<Day>,
        limit: u32,
    ) -> StoreResult<Vec<(Day, DocumentJson)>> {
        let docs = self.entry_docs_after(user, after, limit).await?;
        Ok(docs
            .iter()
            .filter_map(|doc| entry_from_doc(doc).ok())
            .map(|entry| (entry.date, entry.document_json()))
            .collect())
    }

    async fn import_entries(
        &self,
        user: UserId,
        entries: &[Entry],
        on_conflict: OnConflict,
    ) -> StoreResult<ImportCounts> {
        self.write_import(user, entries, on_conflict).await
    }

    async fn delete_entry(&self, user: UserId, id: EntryId) -> StoreResult<bool> {
        let done = self
            .collection(ENTRIES)?
            .delete_one(doc! {"_id": entry_oid(id), "user": user_oid(user)})
            .await
            .map_err(|e| self.fail(e))?;
        if done.deleted_count == 1 {
            self.entries_changed(user).await;
        }
        Ok(done.deleted_count == 1)
    }

    async fn append_ai_messages(&self, user: UserId, messages: &[HistoryMessage], keep: usize) -> StoreResult<()> {
        self.append_history(user, messages, keep).await
    }

    async fn ai_history(&self, user: UserId, limit: usize) -> StoreResult<Vec<HistoryMessage>> {
        self.read_history(user, limit).await
    }

    async fn clear_ai_history(&self, user: UserId) -> StoreResult<u64> {
        self.delete_history(user).await
    }

    async fn users_after(&self, after: Option<UserId>, limit: u32) -> StoreResult<Vec<User>> {
        self.read_users_after(after, limit).await
    }

    async fn entries_after(&self, user: UserId, after: Option<Day>, limit: u32) -> StoreResult<Vec<Entry>> {
        self.read_entries_after(user, after, limit).await
    }

    async fn credentials(&self, user: UserId) -> StoreResult<UserCredentials> {
        self.read_credentials(user).await
    }

    async fn restore_credentials(&self, user: UserId, credentials: &UserCredentials) -> StoreResult<()> {
        self.write_credentials(user, credentials).await
    }

    async fn collection_counts(&self) -> StoreResult<CollectionCounts> {
        self.count_collections().await
    }
}
