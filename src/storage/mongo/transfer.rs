//! Moving an installation, on MongoDB: finds in `_id` or `{user, date}` index order, writes as
//! unordered bulk inserts whose duplicate keys (what the database already has) are left alone.

use async_trait::async_trait;
use mongodb::bson::{Document, doc};

use super::MongoStore;
use super::documents::{
    AI_MESSAGES, ENTRIES, PERSONAL_TOKENS, REFRESH_SESSIONS, REVOKED_TOKENS, SESSIONS, USERS, bson_date, date_field,
    entry_from_doc, login_from_doc, refresh_token_from_doc, refresh_token_to_doc, user_from_doc, user_oid,
    user_projection,
};
use crate::domain::day::Day;
use crate::domain::entry::{DocumentJson, Entry};
use crate::domain::ids::UserId;
use crate::domain::user::User;
use crate::storage::transfer::{CollectionCounts, LoginRecord, RevokedToken, UserCredentials};
use crate::storage::{ImportCounts, OnConflict, StoreError, StoreResult, TransferStore};

impl MongoStore {
    pub(super) async fn read_users_after(&self, after: Option<UserId>, limit: u32) -> StoreResult<Vec<User>> {
        let filter = match after {
            Some(id) => doc! {"_id": {"$gt": user_oid(id)}},
            None => doc! {},
        };
        let users = self.collection(USERS)?;
        let find = users.find(filter).sort(doc! {"_id": 1}).limit(i64::from(limit));
        let docs = self.all(find.projection(user_projection())).await?;
        docs.iter()
            .map(|d| user_from_doc(d).map_err(|e| StoreError::Other(e.into())))
            .collect()
    }

    pub(super) async fn read_entries_after(
        &self,
        user: UserId,
        after: Option<Day>,
        limit: u32,
    ) -> StoreResult<Vec<Entry>> {
        let docs = self.entry_docs_after(user, after, limit).await?;
        docs.iter()
            .map(|d| entry_from_doc(d).map_err(|e| StoreError::Other(e.into())))
            .collect()
    }

    pub(super) async fn read_credentials(&self, user: UserId) -> StoreResult<UserCredentials> {
        let owner = doc! {"user": user_oid(user)};
        let (tokens, logins, revoked, personal) = (
            self.collection(REFRESH_SESSIONS)?,
            self.collection(SESSIONS)?,
            self.collection(REVOKED_TOKENS)?,
            self.collection(PERSONAL_TOKENS)?,
        );
        let (tokens, logins, revoked, personal) = tokio::try_join!(
            self.all(tokens.find(owner.clone())),
            self.all(logins.find(owner.clone())),
            self.all(revoked.find(owner.clone())),
            self.all(personal.find(owner)),
        )?;
        let unreadable = |e: super::documents::Unreadable| StoreError::Other(e.into());
        Ok(UserCredentials {
            refresh_tokens: tokens
                .iter()
                .map(|d| refresh_token_from_doc(d).map_err(unreadable))
                .collect::<StoreResult<_>>()?,
            logins: logins
                .iter()
                .map(|d| {
                    let login = login_from_doc(d).map_err(unreadable)?;
                    Ok(LoginRecord {
                        expires_at: date_field(d, "expiresAt").unwrap_or(login.last_used_at),
                        revoked_at: date_field(d, "revokedAt"),
                        login,
                    })
                })
                .collect::<StoreResult<_>>()?,
            revoked_tokens: revoked
                .iter()
                .filter_map(|d| {
                    Some(RevokedToken {
                        key: d.get_str("_id").ok()?.to_owned(),
                        expires_at: date_field(d, "expiresAt")?,
                    })
                })
                .collect(),
            personal_tokens: personal
                .iter()
                .filter_map(super::personal_tokens::token_from_doc)
                .collect(),
        })
    }

    pub(super) async fn write_credentials(&self, user: UserId, credentials: &UserCredentials) -> StoreResult<()> {
        let owner = user_oid(user);
        let logins: Vec<Document> = credentials
            .logins
            .iter()
            .map(|r| {
                let l = &r.login;
                let mut doc = doc! {
                    "_id": &l.id,
                    "user": owner,
                    "createdAt": bson_date(l.created_at),
                    "lastUsedAt": bson_date(l.last_used_at),
                    "expiresAt": bson_date(r.expires_at),
                    "revokedAt": r.revoked_at.map(bson_date),
                };
                if let Some(agent) = &l.user_agent {
                    doc.insert("userAgent", agent.as_str());
                }
                doc
            })
            .collect();
        let tokens: Vec<Document> = credentials.refresh_tokens.iter().map(refresh_token_to_doc).collect();
        let revoked: Vec<Document> = credentials
            .revoked_tokens
            .iter()
            .map(|r| doc! {"_id": &r.key, "user": owner, "expiresAt": bson_date(r.expires_at)})
            .collect();
        let personal: Vec<Document> = credentials
            .personal_tokens
            .iter()
            .map(super::personal_tokens::token_to_doc)
            .collect();
        for (collection, docs) in [
            (SESSIONS, logins),
            (REFRESH_SESSIONS, tokens),
            (REVOKED_TOKENS, revoked),
            (PERSONAL_TOKENS, personal),
        ] {
            if docs.is_empty() {
                continue;
            }
            let inserted = self.collection(collection)?.insert_many(docs).ordered(false).await;
            match inserted.map_err(|e| self.fail(e)) {
                // Unordered: the documents the database lacked landed; the duplicates stay as they were.
                Ok(_) | Err(StoreError::Conflict) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    pub(super) async fn count_collections(&self) -> StoreResult<CollectionCounts> {
        let count = |name: &'static str| async move {
            self.collection(name)?
                .count_documents(doc! {})
                .await
                .map_err(|e| self.fail(e))
        };
        let (users, entries, refresh_tokens, logins, revoked_tokens, ai_messages, personal_tokens) = tokio::try_join!(
            count(USERS),
            count(ENTRIES),
            count(REFRESH_SESSIONS),
            count(SESSIONS),
            count(REVOKED_TOKENS),
            count(AI_MESSAGES),
            count(PERSONAL_TOKENS),
        )?;
        Ok(CollectionCounts {
            users,
            entries,
            refresh_tokens,
            logins,
            revoked_tokens,
            ai_messages,
            personal_tokens,
        })
    }
}

#[async_trait]
impl TransferStore for MongoStore {
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
