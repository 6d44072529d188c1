//! Roles, TOTP, recovery codes, login challenges and invites on MongoDB ([`SecurityStore`]). The
//! user's are optional fields of the user document (`role`, `disabled`, `twoFactor`), so the old
//! backend's documents read as they are; challenges and invites have collections of their own.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::bson::{Document, doc};

use super::MongoStore;
use super::documents::{
    ENTRIES, INVITES, TWO_FACTOR_CHALLENGES, USERS, bson_date, date_field, flags_from_doc, flags_projection, int_field,
    user_from_doc, user_oid, user_projection,
};
use crate::domain::ids::{ObjectId, UserId};
use crate::storage::StoreResult;
use crate::storage::security::{AccountFlags, AdminUserRow, Invite, Role, SecurityStore};

fn invite_from_doc(doc: &Document) -> Option<Invite> {
    let created_at = date_field(doc, "createdAt")?;
    Some(Invite {
        code: doc.get_str("_id").ok()?.to_owned(),
        uses_left: int_field(doc, "usesLeft").clamp(0, i64::from(u32::MAX)) as u32,
        expires_at: date_field(doc, "expiresAt")?,
        created_at,
        created_by: doc
            .get_object_id("createdBy")
            .ok()
            .map(|id| UserId(ObjectId::from_bytes(id.bytes()))),
    })
}

impl MongoStore {
    /// One conditional update of a user; `true` when it matched.
    async fn update_user(&self, filter: Document, update: Document) -> StoreResult<bool> {
        let done = self
            .collection(USERS)?
            .update_one(filter, update)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.matched_count == 1)
    }
}

#[async_trait]
impl SecurityStore for MongoStore {
    async fn account_flags(&self, user: UserId) -> StoreResult<Option<AccountFlags>> {
        let found = self
            .collection(USERS)?
            .find_one(doc! {"_id": user_oid(user)})
            .projection(flags_projection())
            .await
            .map_err(|e| self.fail(e))?;
        Ok(found.as_ref().map(flags_from_doc))
    }

    async fn set_pending_two_factor(&self, user: UserId, secret: &str) -> StoreResult<bool> {
        self.update_user(
            doc! {"_id": user_oid(user), "twoFactor.enabled": {"$ne": true}},
            doc! {"$set": {"twoFactor": {"secret": secret, "enabled": false}}},
        )
        .await
    }

    async fn enable_two_factor(&self, user: UserId, recovery_hashes: &[String], step: i64) -> StoreResult<bool> {
        self.update_user(
            doc! {"_id": user_oid(user), "twoFactor.enabled": false, "twoFactor.secret": {"$exists": true}},
            doc! {"$set": {
                "twoFactor.enabled": true,
                "twoFactor.lastStep": step,
                "twoFactor.recoveryCodes": recovery_hashes.to_vec(),
            }},
        )
        .await
    }

    async fn disable_two_factor(&self, user: UserId) -> StoreResult<()> {
        self.update_user(doc! {"_id": user_oid(user)}, doc! {"$unset": {"twoFactor": ""}})
            .await
            .map(|_| ())
    }

    async fn accept_totp_step(&self, user: UserId, step: i64) -> StoreResult<bool> {
        // One conditional update: of two instances checking the same code, one matches.
        self.update_user(
            doc! {
                "_id": user_oid(user),
                "twoFactor.enabled": true,
                "$or": [{"twoFactor.lastStep": null}, {"twoFactor.lastStep": {"$lt": step}}],
            },
            doc! {"$set": {"twoFactor.lastStep": step}},
        )
        .await
    }

    async fn take_recovery_code(&self, user: UserId, hash: &str) -> StoreResult<bool> {
        self.update_user(
            doc! {"_id": user_oid(user), "twoFactor.recoveryCodes": hash},
            doc! {"$pull": {"twoFactor.recoveryCodes": hash}},
        )
        .await
    }

    async fn recovery_codes_left(&self, user: UserId) -> StoreResult<u64> {
        Ok(self.recovery_code_hashes(user).await?.len() as u64)
    }

    async fn recovery_code_hashes(&self, user: UserId) -> StoreResult<Vec<String>> {
        let found = self
            .collection(USERS)?
            .find_one(doc! {"_id": user_oid(user)})
            .projection(doc! {"twoFactor.recoveryCodes": 1})
            .await
            .map_err(|e| self.fail(e))?;
        Ok(found
            .as_ref()
            .and_then(|d| d.get_document("twoFactor").ok())
            .and_then(|t| t.get_array("recoveryCodes").ok())
            .map(|codes| codes.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
            .unwrap_or_default())
    }

    async fn insert_challenge(&self, hash: &str, user: UserId, expires_at: DateTime<Utc>) -> StoreResult<()> {
        self.collection(TWO_FACTOR_CHALLENGES)?
            .insert_one(doc! {"_id": hash, "user": user_oid(user), "expiresAt": bson_date(expires_at)})
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn challenge_user(&self, hash: &str, now: DateTime<Utc>) -> StoreResult<Option<UserId>> {
        let found = self
            .collection(TWO_FACTOR_CHALLENGES)?
            .find_one(doc! {"_id": hash, "usedAt": null, "expiresAt": {"$gt": bson_date(now)}})
            .await
            .map_err(|e| self.fail(e))?;
        Ok(found
            .and_then(|d| d.get_object_id("user").ok())
            .map(|id| UserId(ObjectId::from_bytes(id.bytes()))))
    }

    async fn take_challenge(&self, hash: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let done = self
            .collection(TWO_FACTOR_CHALLENGES)?
            .update_one(
                doc! {"_id": hash, "usedAt": null, "expiresAt": {"$gt": bson_date(now)}},
                doc! {"$set": {"usedAt": bson_date(now)}},
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.matched_count == 1)
    }

    async fn set_role(&self, user: UserId, role: Role) -> StoreResult<bool> {
        self.update_user(doc! {"_id": user_oid(user)}, doc! {"$set": {"role": role.as_str()}})
            .await
    }

    async fn set_disabled(&self, user: UserId, disabled: bool) -> StoreResult<bool> {
        self.update_user(doc! {"_id": user_oid(user)}, doc! {"$set": {"disabled": disabled}})
            .await
    }

    async fn active_admins(&self) -> StoreResult<u64> {
        self.collection(USERS)?
            .count_documents(doc! {"role": "admin", "disabled": {"$ne": true}})
            .await
            .map_err(|e| self.fail(e))
    }

    async fn admin_users(&self, skip: u64, limit: u32) -> StoreResult<(Vec<AdminUserRow>, u64)> {
        let users = self.collection(USERS)?;
        let total = users.count_documents(doc! {}).await.map_err(|e| self.fail(e))?;
        let mut projection = user_projection();
        projection.extend(flags_projection());
        let docs = self
            .all(
                users
                    .find(doc! {})
                    .projection(projection)
                    .sort(doc! {"createdAt": 1, "_id": 1})
                    .skip(skip)
                    .limit(i64::from(limit)),
            )
            .await?;
        let entries = self.collection(ENTRIES)?;
        let mut rows = Vec::with_capacity(docs.len());
        for doc in &docs {
            let user = user_from_doc(doc).map_err(anyhow::Error::from)?;
            let count = entries
                .count_documents(doc! {"user": user_oid(user.id)})
                .await
                .map_err(|e| self.fail(e))?;
            rows.push(AdminUserRow {
                flags: flags_from_doc(doc),
                user,
                entries: count,
            });
        }
        Ok((rows, total))
    }

    async fn insert_invite(&self, invite: &Invite) -> StoreResult<()> {
        let mut doc = doc! {
            "_id": &invite.code,
            "usesLeft": i64::from(invite.uses_left),
            "expiresAt": bson_date(invite.expires_at),
            "createdAt": bson_date(invite.created_at),
        };
        if let Some(by) = invite.created_by {
            doc.insert("createdBy", user_oid(by));
        }
        self.collection(INVITES)?
            .insert_one(doc)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn list_invites(&self, now: DateTime<Utc>) -> StoreResult<Vec<Invite>> {
        let invites = self.collection(INVITES)?;
        let docs = self
            .all(
                invites
                    .find(doc! {"usesLeft": {"$gt": 0_i64}, "expiresAt": {"$gt": bson_date(now)}})
                    .sort(doc! {"createdAt": -1}),
            )
            .await?;
        Ok(docs.iter().filter_map(invite_from_doc).collect())
    }

    async fn delete_invite(&self, code: &str) -> StoreResult<bool> {
        let done = self
            .collection(INVITES)?
            .delete_one(doc! {"_id": code})
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.deleted_count == 1)
    }

    async fn take_invite(&self, code: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        // One conditional update: of two registrations with its last use, one matches.
        let done = self
            .collection(INVITES)?
            .update_one(
                doc! {"_id": code, "usesLeft": {"$gt": 0_i64}, "expiresAt": {"$gt": bson_date(now)}},
                doc! {"$inc": {"usesLeft": -1_i64}},
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.matched_count == 1)
    }
}
