//! The coach's conversation on MongoDB: `aimessages`, `{user, role, content, createdAt}`, read
//! newest first by the `{user, createdAt, _id}` index (`_id` orders two messages of one millisecond:
//! they are inserted together, in order).

use async_trait::async_trait;
use mongodb::bson::{Bson, Document, doc, oid::ObjectId};

use super::MongoStore;
use super::documents::{AI_MESSAGES, bson_date, date_field, user_oid};
use crate::domain::coach::{HistoryMessage, Role};
use crate::domain::ids::UserId;
use crate::storage::{CoachStore, StoreError, StoreResult};

fn newest_first() -> Document {
    doc! {"createdAt": -1, "_id": -1}
}

impl MongoStore {
    pub(super) async fn append_history(
        &self,
        user: UserId,
        messages: &[HistoryMessage],
        keep: usize,
    ) -> StoreResult<()> {
        let collection = self.collection(AI_MESSAGES)?;
        let owner = user_oid(user);
        let docs: Vec<Document> = messages
            .iter()
            .map(|m| {
                doc! {
                    "_id": ObjectId::new(),
                    "user": owner,
                    "role": m.role.as_str(),
                    "content": &m.content,
                    "createdAt": bson_date(m.created_at),
                }
            })
            .collect();
        if !docs.is_empty() {
            collection.insert_many(docs).await.map_err(|e| self.fail(e))?;
        }
        // The messages beyond `keep` (a write adds two, so there are seldom more than two).
        let find = collection.find(doc! {"user": owner}).sort(newest_first());
        let beyond = self.all(find.skip(keep as u64).projection(doc! {"_id": 1})).await?;
        let ids: Vec<Bson> = beyond.into_iter().filter_map(|d| d.get("_id").cloned()).collect();
        if !ids.is_empty() {
            collection
                .delete_many(doc! {"_id": {"$in": ids}})
                .await
                .map_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    pub(super) async fn read_history(&self, user: UserId, limit: usize) -> StoreResult<Vec<HistoryMessage>> {
        let collection = self.collection(AI_MESSAGES)?;
        let find = collection.find(doc! {"user": user_oid(user)}).sort(newest_first());
        let projection = doc! {"_id": 0, "role": 1, "content": 1, "createdAt": 1};
        let docs = self.all(find.limit(limit as i64).projection(projection)).await?;
        let mut messages = docs.iter().map(message_from_doc).collect::<StoreResult<Vec<_>>>()?;
        messages.reverse();
        Ok(messages)
    }

    pub(super) async fn delete_history(&self, user: UserId) -> StoreResult<u64> {
        self.collection(AI_MESSAGES)?
            .delete_many(doc! {"user": user_oid(user)})
            .await
            .map(|outcome| outcome.deleted_count)
            .map_err(|e| self.fail(e))
    }
}

fn message_from_doc(doc: &Document) -> StoreResult<HistoryMessage> {
    let bad = |what: &str| StoreError::Other(anyhow::anyhow!("an aimessages document with a bad {what}"));
    let role = doc
        .get_str("role")
        .ok()
        .and_then(Role::parse)
        .ok_or_else(|| bad("role"))?;
    let content = doc.get_str("content").map_err(|_| bad("content"))?.to_owned();
    let created_at = date_field(doc, "createdAt").ok_or_else(|| bad("createdAt"))?;
    Ok(HistoryMessage {
        role,
        content,
        created_at,
    })
}

#[async_trait]
impl CoachStore for MongoStore {
    async fn append_ai_messages(&self, user: UserId, messages: &[HistoryMessage], keep: usize) -> StoreResult<()> {
        self.append_history(user, messages, keep).await
    }

    async fn ai_history(&self, user: UserId, limit: usize) -> StoreResult<Vec<HistoryMessage>> {
        self.read_history(user, limit).await
    }

    async fn clear_ai_history(&self, user: UserId) -> StoreResult<u64> {
        self.delete_history(user).await
    }
}
