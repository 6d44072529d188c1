//! Personal access tokens on MongoDB (the [`AccountStore`](crate::storage::AccountStore) methods
//! delegate here): collection `personaltokens`, `{_id, user, tokenHash, name, scopes:[…],
//! createdAt, expiresAt, lastUsedAt}`; `tokenHash` unique, `user` indexed, `expiresAt` a TTL index.

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};

use super::MongoStore;
use super::documents::{PERSONAL_TOKENS, USERS, bson_date, date_field, int_field, user_oid};
use crate::auth::scopes::{Scope, ScopeSet};
use crate::domain::ids::{ObjectId, PersonalTokenId, UserId};
use crate::domain::timezone::TimeZone;
use crate::storage::{PersonalToken, PersonalTokenStanding, StoreError, StoreResult};

fn token_oid(id: PersonalTokenId) -> mongodb::bson::oid::ObjectId {
    mongodb::bson::oid::ObjectId::from_bytes(id.0.bytes())
}

pub(super) fn token_to_doc(token: &PersonalToken) -> Document {
    let scopes: Vec<&str> = token.scopes.iter().map(Scope::as_str).collect();
    doc! {
        "_id": token_oid(token.id),
        "user": user_oid(token.user_id),
        "tokenHash": &token.token_hash,
        "name": &token.name,
        "scopes": scopes,
        "createdAt": bson_date(token.created_at),
        "expiresAt": bson_date(token.expires_at),
        "lastUsedAt": token.last_used_at.map(bson_date),
    }
}

/// `None` for a document that is not a token this build can read (it is then not honoured).
pub(super) fn token_from_doc(doc: &Document) -> Option<PersonalToken> {
    let scopes = doc
        .get_array("scopes")
        .ok()?
        .iter()
        .filter_map(|name| name.as_str().and_then(Scope::parse))
        .collect::<ScopeSet>();
    Some(PersonalToken {
        id: PersonalTokenId(ObjectId::from_bytes(doc.get_object_id("_id").ok()?.bytes())),
        user_id: UserId(ObjectId::from_bytes(doc.get_object_id("user").ok()?.bytes())),
        token_hash: doc.get_str("tokenHash").ok()?.to_owned(),
        name: doc.get_str("name").ok()?.to_owned(),
        scopes,
        created_at: date_field(doc, "createdAt")?,
        expires_at: date_field(doc, "expiresAt")?,
        last_used_at: date_field(doc, "lastUsedAt"),
    })
}

impl MongoStore {
    pub(super) async fn insert_personal_token_doc(&self, token: &PersonalToken) -> StoreResult<()> {
        self.collection(PERSONAL_TOKENS)?
            .insert_one(token_to_doc(token))
            .await
            .map_err(|e| self.fail(e))?;
        // The account may have been deleted meanwhile: then the token goes too (no orphan).
        let owner = self
            .collection(USERS)?
            .find_one(doc! {"_id": user_oid(token.user_id)})
            .projection(doc! {"_id": 1})
            .await
            .map_err(|e| self.fail(e))?;
        if owner.is_none() {
            self.collection(PERSONAL_TOKENS)?
                .delete_one(doc! {"_id": token_oid(token.id)})
                .await
                .map_err(|e| self.fail(e))?;
            return Err(StoreError::NoSuchUser);
        }
        Ok(())
    }

    pub(super) async fn personal_token_docs(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<PersonalToken>> {
        let collection = self.collection(PERSONAL_TOKENS)?;
        // TTL deletion runs about once a minute: the expiry is checked here too.
        let docs = self
            .all(
                collection
                    .find(doc! {"user": user_oid(user), "expiresAt": {"$gt": bson_date(now)}})
                    .sort(doc! {"createdAt": -1, "_id": -1}),
            )
            .await?;
        Ok(docs.iter().filter_map(token_from_doc).collect())
    }

    pub(super) async fn delete_personal_token_doc(&self, user: UserId, id: PersonalTokenId) -> StoreResult<bool> {
        let deleted = self
            .collection(PERSONAL_TOKENS)?
            .delete_one(doc! {"_id": token_oid(id), "user": user_oid(user)})
            .await
            .map_err(|e| self.fail(e))?;
        Ok(deleted.deleted_count == 1)
    }

    pub(super) async fn personal_token_doc_standing(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<PersonalTokenStanding>> {
        // One round trip: the token by its hash, and its user's time zone, entries version and standing
        // joined to it by the server.
        let pipeline = vec![
            doc! {"$match": {"tokenHash": token_hash}},
            doc! {"$limit": 1},
            // Only the fields a request needs come back (not the password hash, nor an old
            // account's list of legacy refresh tokens). The `let` + `$expr` form, not
            // localField/foreignField beside a pipeline, which needs MongoDB 5.0: an old backend's
            // server may be older (an `$eq` in `$expr` uses the `_id` index since 3.6).
            doc! {"$lookup": {
                "from": USERS, "let": {"owner": "$user"}, "as": "owner",
                "pipeline": [
                    {"$match": {"$expr": {"$eq": ["$_id", "$$owner"]}}},
                    {"$limit": 1},
                    {"$project": {"_id": 0, "timezone": 1, "entriesVersion": 1, "disabled": 1}},
                ],
            }},
        ];
        let found: Vec<Document> = self
            .collection(PERSONAL_TOKENS)?
            .aggregate(pipeline)
            .await
            .map_err(|e| self.fail(e))?
            .try_collect()
            .await
            .map_err(|e| self.fail(e))?;
        let Some(found) = found.first() else {
            return Ok(None);
        };
        let owner = found
            .get_array("owner")
            .ok()
            .and_then(|owners| owners.first())
            .and_then(Bson::as_document)
            // A disabled user's tokens are refused as if they did not exist.
            .filter(|owner| !owner.get_bool("disabled").unwrap_or(false));
        Ok(match (token_from_doc(found), owner) {
            (Some(token), Some(owner)) => Some(PersonalTokenStanding {
                token,
                timezone: owner.get_str("timezone").ok().and_then(TimeZone::from_stored),
                entries_version: int_field(owner, "entriesVersion") as u64,
            }),
            _ => None,
        })
    }

    pub(super) async fn touch_personal_token_doc(
        &self,
        id: PersonalTokenId,
        at: DateTime<Utc>,
        interval: TimeDelta,
    ) -> StoreResult<bool> {
        // Conditional: of every instance's writes within the interval, one matches.
        let done = self
            .collection(PERSONAL_TOKENS)?
            .update_one(
                doc! {"_id": token_oid(id), "$or": [
                    {"lastUsedAt": null},
                    {"lastUsedAt": {"$lte": bson_date(at - interval)}},
                ]},
                doc! {"$set": {"lastUsedAt": bson_date(at)}},
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.matched_count == 1)
    }
}
