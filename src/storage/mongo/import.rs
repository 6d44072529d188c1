//! An import on MongoDB: the account's days in the file's span read once, new days inserted in
//! one unordered bulk write, replaced days updated in place (keeping their ids).

use chrono::DateTime;
use mongodb::bson::doc;

use super::MongoStore;
use super::documents::{ENTRIES, day_of, day_window, entry_oid, entry_replacement, entry_to_doc, user_oid};
use crate::domain::entry::Entry;
use crate::domain::ids::{EntryId, UserId};
use crate::storage::{ImportCounts, OnConflict, StoreError, StoreResult};

impl MongoStore {
    pub(super) async fn write_import(
        &self,
        user: UserId,
        entries: &[Entry],
        on_conflict: OnConflict,
    ) -> StoreResult<ImportCounts> {
        let (Some(first), Some(last)) = (
            entries.iter().map(|e| e.date).min(),
            entries.iter().map(|e| e.date).max(),
        ) else {
            return Ok(ImportCounts::default());
        };
        // The days the account has in the file's span: one indexed read.
        let collection = self.collection(ENTRIES)?;
        let span = doc! {"user": user_oid(user), "date": {"$gte": day_window(first).0, "$lt": day_window(last).1}};
        let stored = self
            .all(
                collection
                    .find(span)
                    .projection(doc! {"_id": 1, "date": 1, "createdAt": 1}),
            )
            .await?;
        let mut existing = std::collections::HashMap::new();
        for doc in &stored {
            if let (Ok(id), Ok(date)) = (doc.get_object_id("_id"), doc.get_datetime("date"))
                && let Some(date) = DateTime::from_timestamp_millis(date.timestamp_millis())
            {
                let created = doc
                    .get_datetime("createdAt")
                    .ok()
                    .and_then(|t| DateTime::from_timestamp_millis(t.timestamp_millis()));
                existing.entry(day_of(date)).or_insert((id, created));
            }
        }
        let mut counts = ImportCounts::default();
        let mut new = Vec::new();
        let mut replaced = Vec::new();
        for entry in entries {
            match existing.get(&entry.date) {
                None => new.push(entry_to_doc(entry)),
                Some(_) if on_conflict == OnConflict::Skip => counts.skipped += 1,
                Some((id, created)) => replaced.push(Entry {
                    id: EntryId(crate::domain::ids::ObjectId::from_bytes(id.bytes())),
                    created_at: created.unwrap_or(entry.created_at),
                    ..entry.clone()
                }),
            }
        }
        if !new.is_empty() {
            // One bulk insert; unordered, so one day taken meanwhile does not stop the rest.
            let inserted = self.collection(ENTRIES)?.insert_many(new.clone()).ordered(false).await;
            match inserted.map_err(|e| self.fail(e)) {
                Ok(done) => counts.created += done.inserted_ids.len() as u64,
                // A day another request created meanwhile: refused by the unique index, counted as
                // skipped (the stored entry stays).
                Err(StoreError::Conflict) => {
                    let ids: Vec<_> = new.iter().filter_map(|doc| doc.get_object_id("_id").ok()).collect();
                    let landed = self
                        .collection(ENTRIES)?
                        .count_documents(doc! {"_id": {"$in": ids}})
                        .await
                        .map_err(|e| self.fail(e))?;
                    counts.created += landed;
                    counts.skipped += new.len() as u64 - landed;
                }
                Err(error) => return Err(error),
            }
        }
        // Replacements keep their ids: a bounded number of updates in flight (MongoDB has no bulk
        // replace before 8.0's bulkWrite command, which older servers refuse).
        for batch in replaced.chunks(16) {
            let updates = batch.iter().map(|entry| async move {
                let filter = doc! {"_id": entry_oid(entry.id), "user": user_oid(entry.user)};
                self.collection(ENTRIES)?
                    .update_one(filter, entry_replacement(entry))
                    .await
                    .map_err(|e| self.fail(e))
            });
            for updated in futures_util::future::join_all(updates).await {
                if updated?.matched_count == 1 {
                    counts.updated += 1;
                }
            }
        }
        if counts.created + counts.updated > 0 && !self.entries_changed(user).await {
            return Err(self.undo_for_deleted_user(user).await);
        }
        Ok(counts)
    }
}
