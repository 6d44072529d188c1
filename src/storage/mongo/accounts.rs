//! Accounts and logins on MongoDB ([`AccountStore`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::bson::{Bson, doc};
use mongodb::options::ReturnDocument;

use super::MongoStore;
use super::documents::{
    AI_MESSAGES, ENTRIES, PERSONAL_TOKENS, REFRESH_SESSIONS, REVOKED_TOKENS, SESSIONS, TWO_FACTOR_CHALLENGES, USERS,
    bson_date, int_field, login_from_doc, refresh_token_from_doc, refresh_token_to_doc, user_from_doc, user_oid,
    user_projection, user_to_doc,
};
use crate::domain::goals::Goals;
use crate::domain::ids::{PersonalTokenId, UserId};
use crate::domain::timezone::TimeZone;
use crate::domain::user::{Email, User, UserName};
use crate::storage::{
    AccountStore, Login, PersonalToken, PersonalTokenStanding, RefreshToken, StoreError, StoreResult, TokenStanding,
};

#[async_trait]
impl AccountStore for MongoStore {
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
        let theirs = [
            ENTRIES,
            REFRESH_SESSIONS,
            SESSIONS,
            REVOKED_TOKENS,
            PERSONAL_TOKENS,
            AI_MESSAGES,
            TWO_FACTOR_CHALLENGES,
        ];
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

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        self.collection(REFRESH_SESSIONS)?
            .insert_one(refresh_token_to_doc(token))
            .await
            .map_err(|e| self.fail(e))?;
        // The login it belongs to: created with its first token, moved on by every later one.
        let mut on_insert = doc! {"user": user_oid(token.user_id), "createdAt": bson_date(token.created_at)};
        if let Some(agent) = &token.user_agent {
            on_insert.insert("userAgent", agent.as_str());
        }
        self.collection(SESSIONS)?
            .update_one(
                doc! {"_id": &token.login_id},
                doc! {
                    "$setOnInsert": on_insert,
                    "$max": {"lastUsedAt": bson_date(token.created_at), "expiresAt": bson_date(token.expires_at)},
                },
            )
            .upsert(true)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn refresh_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        // Possibly expired (TTL deletion runs about once a minute): the caller checks `expires_at`.
        let found = self
            .collection(REFRESH_SESSIONS)?
            .find_one(doc! {"_id": token_hash})
            .await
            .map_err(|e| self.fail(e))?;
        Ok(found
            .as_ref()
            .map(refresh_token_from_doc)
            .transpose()
            .map_err(anyhow::Error::from)?)
    }

    async fn mark_refresh_token_rotated(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
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

    async fn end_login_of_refresh_token(&self, user: UserId, token_hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let token = self
            .collection(REFRESH_SESSIONS)?
            .find_one(doc! {"_id": token_hash, "user": user_oid(user)})
            .projection(doc! {"family": 1})
            .await
            .map_err(|e| self.fail(e))?;
        match token.as_ref().and_then(|t| t.get_str("family").ok()) {
            Some(login_id) => self.revoke_login_documents(login_id, at).await,
            None => Ok(()),
        }
    }

    async fn end_login(&self, login_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.revoke_login_documents(login_id, at).await
    }

    async fn end_every_login(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<()> {
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

    async fn access_token_standing(&self, key: &str, user: UserId, login: Option<&str>) -> StoreResult<TokenStanding> {
        // Three collections: asked at the same time, so the request waits for one round trip.
        let (revoked, users, logins) = (
            self.collection(REVOKED_TOKENS)?,
            self.collection(USERS)?,
            self.collection(SESSIONS)?,
        );
        let login_live = async {
            match login {
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
                .projection(doc! {"_id": 0, "timezone": 1, "entriesVersion": 1, "disabled": 1}),
            login_live,
        );
        let revoked = revoked.map_err(|e| self.fail(e))?.is_some();
        let user = user.map_err(|e| self.fail(e))?;
        let login_live = login_live.map_err(|e| self.fail(e))?;
        // A disabled user's tokens are refused like logged-out ones.
        let disabled = user.as_ref().is_some_and(|u| u.get_bool("disabled").unwrap_or(false));
        Ok(match (user, revoked || !login_live || disabled) {
            (None, _) => TokenStanding::UnknownUser,
            (Some(_), true) => TokenStanding::Revoked,
            (Some(user), false) => TokenStanding::Valid {
                timezone: user.get_str("timezone").ok().and_then(TimeZone::from_stored),
                entries_version: int_field(&user, "entriesVersion") as u64,
            },
        })
    }

    async fn list_logins(&self, user: UserId, now: DateTime<Utc>) -> StoreResult<Vec<Login>> {
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

    async fn end_user_login(&self, user: UserId, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
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
        self.revoke_login_documents(id, at).await?;
        Ok(true)
    }

    async fn insert_personal_token(&self, token: &PersonalToken) -> StoreResult<()> {
        self.insert_personal_token_doc(token).await
    }

    async fn personal_tokens(&self, user: UserId, now: DateTime<Utc>) -> StoreResult<Vec<PersonalToken>> {
        self.personal_token_docs(user, now).await
    }

    async fn delete_personal_token(&self, user: UserId, id: PersonalTokenId) -> StoreResult<bool> {
        self.delete_personal_token_doc(user, id).await
    }

    async fn delete_personal_tokens_of(&self, user: UserId) -> StoreResult<u64> {
        let deleted = self
            .collection(PERSONAL_TOKENS)?
            .delete_many(doc! {"user": user_oid(user)})
            .await
            .map_err(|e| self.fail(e))?;
        Ok(deleted.deleted_count)
    }

    async fn personal_token_standing(&self, token_hash: &str) -> StoreResult<Option<PersonalTokenStanding>> {
        self.personal_token_doc_standing(token_hash).await
    }

    async fn touch_personal_token(
        &self,
        id: PersonalTokenId,
        at: DateTime<Utc>,
        interval: chrono::TimeDelta,
    ) -> StoreResult<bool> {
        self.touch_personal_token_doc(id, at, interval).await
    }

    async fn purge_expired(&self, _now: DateTime<Utc>) -> StoreResult<u64> {
        // TTL indexes on `expiresAt` delete them; every query that cares checks the expiry itself.
        Ok(0)
    }
}
