//! Moving an installation, on SQLite: reads in primary-key or index order, writes with
//! `INSERT OR IGNORE` so what the file already has stays as it is.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::rows::{
    EntryRow, INSERT_ENTRY, LOGIN_COLUMNS, REFRESH_TOKEN_COLUMNS, UPDATE_ENTRY, USER_COLUMNS, corrupt, day_from_column,
    entry_from_row, login_from_row, parse_epoch, parse_ts, refresh_token_from_row, select_entries, stored_document, ts,
    user_from_row,
};
use crate::domain::day::Day;
use crate::domain::entry::{DocumentJson, Entry};
use crate::domain::ids::{EntryId, UserId};
use crate::domain::user::User;
use crate::storage::days_outside::EntryOutsideTheYears;
use crate::storage::transfer::{CollectionCounts, LoginRecord, RevokedToken, UserCredentials};
use crate::storage::{ImportCounts, OnConflict, StoreResult, TransferStore};

impl SqliteStore {
    pub(super) fn read_users_after(&self, after: Option<UserId>, limit: u32) -> StoreResult<Vec<User>> {
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))?
            .query_map(params![after, limit], user_from_row)?
            .collect()
        })
    }

    pub(super) fn read_entries_after(&self, user: UserId, after: Option<Day>, limit: u32) -> StoreResult<Vec<Entry>> {
        let after = after.map(|day| day.to_ymd()).unwrap_or_default();
        self.read(|c| {
            c.prepare_cached(&select_entries("WHERE user_id = ?1 AND day > ?2 ORDER BY day LIMIT ?3"))?
                .query_map(params![user.to_string(), after, limit], entry_from_row)?
                .collect()
        })
    }

    /// Every entry whose day is not `0001-01-01`..=`9999-12-31` (year 0 or a signed year sorts
    /// outside that text range): what `migrate` reports.
    pub fn entries_outside_the_years(&self) -> StoreResult<Vec<EntryOutsideTheYears>> {
        self.read(|c| {
            c.prepare(
                "SELECT id, user_id, day FROM entries WHERE day NOT BETWEEN '0001-01-01' AND '9999-12-31' \
                 ORDER BY user_id, day",
            )?
            .query_map([], |row| {
                Ok(EntryOutsideTheYears {
                    entry: row.get(0)?,
                    user: row.get(1)?,
                    day: row.get(2)?,
                })
            })?
            .collect()
        })
    }

    pub(super) fn read_credentials(&self, user: UserId) -> StoreResult<UserCredentials> {
        let user = user.to_string();
        self.read(|c| {
            let refresh_tokens = c
                .prepare_cached(&format!(
                    "SELECT {REFRESH_TOKEN_COLUMNS} FROM refresh_sessions WHERE user_id = ?1 ORDER BY created_at"
                ))?
                .query_map([&user], refresh_token_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            let logins = c
                .prepare_cached(&format!(
                    "SELECT {LOGIN_COLUMNS}, expires_at, revoked_at FROM sessions WHERE user_id = ?1"
                ))?
                .query_map([&user], |row| {
                    let revoked_at: Option<String> = row.get(6)?;
                    Ok(LoginRecord {
                        login: login_from_row(row)?,
                        expires_at: parse_epoch(row.get(5)?)?,
                        revoked_at: revoked_at.as_deref().map(parse_ts).transpose()?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let revoked_tokens = c
                .prepare_cached("SELECT token_key, expires_at FROM revoked_tokens WHERE user_id = ?1")?
                .query_map([&user], |row| {
                    Ok(RevokedToken {
                        key: row.get(0)?,
                        expires_at: parse_epoch(row.get(1)?)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(UserCredentials {
                refresh_tokens,
                logins,
                revoked_tokens,
                personal_tokens: super::personal_tokens::all_of_user(c, &user)?,
            })
        })
    }

    pub(super) async fn write_credentials(&self, user: UserId, credentials: &UserCredentials) -> StoreResult<()> {
        let user = user.to_string();
        let credentials = credentials.clone();
        self.write(move |c| insert_credentials(c, &user, &credentials)).await
    }

    pub(super) fn count_collections(&self) -> StoreResult<CollectionCounts> {
        self.read(|c| {
            let count = |table: &str| -> rusqlite::Result<u64> {
                c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0))
                    .map(|n| n as u64)
            };
            Ok(CollectionCounts {
                users: count("users")?,
                entries: count("entries")?,
                refresh_tokens: count("refresh_sessions")?,
                logins: count("sessions")?,
                revoked_tokens: count("revoked_tokens")?,
                ai_messages: count("ai_messages")?,
                personal_tokens: count("personal_tokens")?,
            })
        })
    }
}

fn insert_credentials(c: &Connection, user: &str, credentials: &UserCredentials) -> rusqlite::Result<()> {
    // Logins first: a refresh token's row names its login.
    let mut login = c.prepare_cached(&format!(
        "INSERT OR IGNORE INTO sessions ({LOGIN_COLUMNS}, expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))?;
    for record in &credentials.logins {
        let l = &record.login;
        login.execute(params![
            l.id,
            user,
            ts(l.created_at),
            ts(l.last_used_at),
            l.user_agent,
            record.expires_at.timestamp(),
            record.revoked_at.map(ts)
        ])?;
    }
    let mut token = c.prepare_cached(&format!(
        "INSERT OR IGNORE INTO refresh_sessions ({REFRESH_TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))?;
    for s in &credentials.refresh_tokens {
        token.execute(params![
            s.token_hash,
            user,
            s.login_id,
            ts(s.created_at),
            s.expires_at.timestamp(),
            s.rotated_at.map(ts),
            s.revoked_at.map(ts)
        ])?;
    }
    let mut revoked =
        c.prepare_cached("INSERT OR IGNORE INTO revoked_tokens (token_key, user_id, expires_at) VALUES (?1, ?2, ?3)")?;
    for r in &credentials.revoked_tokens {
        revoked.execute(params![r.key, user, r.expires_at.timestamp()])?;
    }
    super::personal_tokens::insert_all(c, user, &credentials.personal_tokens)
}

#[async_trait]
impl TransferStore for SqliteStore {
    async fn entry_documents_after(
        &self,
        user: UserId,
        after: Option<Day>,
        limit: u32,
    ) -> StoreResult<Vec<(Day, DocumentJson)>> {
        let after = after.map_or_else(String::new, |day| day.to_ymd());
        self.read(|c| {
            c.prepare_cached(
                "SELECT document, document_format = ?4, id, day FROM entries \
                 WHERE user_id = ?1 AND day > ?2 ORDER BY day ASC LIMIT ?3",
            )?
            .query_map(params![user.to_string(), after, limit, DocumentJson::format()], |row| {
                Ok((day_from_column(row, 3)?, stored_document(c, row, 0)?))
            })?
            .collect()
        })
    }

    async fn import_entries(
        &self,
        user: UserId,
        entries: &[Entry],
        on_conflict: OnConflict,
    ) -> StoreResult<ImportCounts> {
        let entries = entries.to_vec();
        // One write job: one transaction (and one fsync) for the whole file.
        self.write(move |c| {
            let mut counts = ImportCounts::default();
            for entry in entries {
                let existing: Option<(String, String)> = c
                    .prepare_cached("SELECT id, created_at FROM entries WHERE user_id = ?1 AND day = ?2")?
                    .query_row(params![user.to_string(), entry.date.to_ymd()], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                match (existing, on_conflict) {
                    (None, _) => {
                        c.prepare_cached(&INSERT_ENTRY)?
                            .execute(EntryRow::new(&entry).params())?;
                        counts.created += 1;
                    }
                    (Some(_), OnConflict::Skip) => counts.skipped += 1,
                    (Some((id, created_at)), OnConflict::Replace) => {
                        let kept = Entry {
                            id: EntryId::parse(&id).ok_or_else(|| corrupt("object id", &id))?,
                            created_at: parse_ts(&created_at)?,
                            ..entry
                        };
                        c.prepare_cached(&UPDATE_ENTRY)?
                            .execute(EntryRow::new(&kept).params())?;
                        counts.updated += 1;
                    }
                }
            }
            Ok(counts)
        })
        .await
    }

    async fn users_after(&self, after: Option<UserId>, limit: u32) -> StoreResult<Vec<User>> {
        self.read_users_after(after, limit)
    }

    async fn entries_after(&self, user: UserId, after: Option<Day>, limit: u32) -> StoreResult<Vec<Entry>> {
        self.read_entries_after(user, after, limit)
    }

    async fn credentials(&self, user: UserId) -> StoreResult<UserCredentials> {
        self.read_credentials(user)
    }

    async fn restore_credentials(&self, user: UserId, credentials: &UserCredentials) -> StoreResult<()> {
        self.write_credentials(user, credentials).await
    }

    async fn collection_counts(&self) -> StoreResult<CollectionCounts> {
        self.count_collections()
    }
}
