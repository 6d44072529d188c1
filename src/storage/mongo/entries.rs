//! Entries and their trends on MongoDB ([`EntryStore`]), and the store's own [`Storage`] methods.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::bson::{Document, doc};
use mongodb::options::ReturnDocument;

use super::MongoStore;
use super::documents::{
    ENTRIES, bson_date, day_window, entry_changes, entry_from_doc, entry_oid, entry_to_doc, user_oid,
};
use crate::domain::day::Day;
use crate::domain::entry::{Entry, EntryChanges, EntryRange};
use crate::domain::ids::{EntryId, UserId};
use crate::domain::stats::{DayFigures, LoggedDay};
use crate::storage::{EntryStore, Storage, StoreError, StoreResult};

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
}

#[async_trait]
impl EntryStore for MongoStore {
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
}
