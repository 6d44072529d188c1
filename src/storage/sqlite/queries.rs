//! The `Storage` trait on SQLite: each method one statement (or one write job).

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::rows::{
    EntryRow, FIGURE_COLUMNS, INSERT_ENTRY, LOGIN_COLUMNS, SESSION_COLUMNS, UPDATE_ENTRY, USER_COLUMNS, corrupt,
    day_bounds, day_from_column, entry_from_row, figures_from_row, login_from_row, parse_ts, select_entries,
    session_from_row, stored_document, ts, user_from_row,
};
use crate::domain::coach::HistoryMessage;
use crate::domain::day::Day;
use crate::domain::entry::{DocumentJson, Entry, EntryChanges, EntryRange};
use crate::domain::goals::{Goals, GoalsMet};
use crate::domain::ids::{EntryId, UserId};
use crate::domain::stats::{DayFigures, LoggedDay};
use crate::domain::timezone::TimeZone;
use crate::domain::user::{Email, User, UserName};
use crate::storage::transfer::{CollectionCounts, UserCredentials};
use crate::storage::{ImportCounts, OnConflict, RefreshSession, Session, Storage, StoreResult, TokenStanding};

/// Ends a login: its record and every refresh token of it.
fn end_login(c: &rusqlite::Connection, family: &str, at: DateTime<Utc>) -> rusqlite::Result<()> {
    let at = ts(at);
    c.prepare_cached("UPDATE refresh_sessions SET revoked_at = ?1 WHERE family_id = ?2 AND revoked_at IS NULL")?
        .execute(params![at, family])?;
    c.prepare_cached("UPDATE sessions SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL")?
        .execute(params![at, family])
        .map(|_| ())
}

#[async_trait]
impl Storage for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        let file = &self.inner.file;
        if !file.check() {
            return Err(file.unavailable());
        }
        if file.writes_failing.load(Ordering::Relaxed) {
            // Writes are being refused while reads work (a read-only file, a full disk): a read
            // would report a healthy database. Probe with a write that changes nothing (the
            // `user_version` header field, set to its own value); it clears the flag once it works.
            return self
                .write(|c| {
                    let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                    c.execute_batch(&format!("PRAGMA user_version = {version}"))
                })
                .await;
        }
        self.read(|c| {
            c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))
                .map(|_| ())
        })
    }

    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        let values = (
            user.id.to_string(),
            user.name.as_str().to_owned(),
            user.email.as_str().to_owned(),
            user.password_hash.clone(),
            ts(user.created_at),
            ts(user.updated_at),
            user.timezone.map(|zone| zone.name()),
        );
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?
            .execute(params![
                values.0, values.1, values.2, values.3, values.4, values.5, values.6
            ])
            .map(|_| ())
        })
        .await
    }

    async fn update_profile(
        &self,
        id: UserId,
        name: Option<&UserName>,
        timezone: Option<TimeZone>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let (id, name, timezone) = (
            id.to_string(),
            name.map(|n| n.as_str().to_owned()),
            timezone.map(|z| z.name()),
        );
        self.write(move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE users SET name = COALESCE(?1, name), timezone = COALESCE(?2, timezone), updated_at = ?3 \
                     WHERE id = ?4",
                )?
                .execute(params![name, timezone, ts(at), id])?;
            if changed == 0 {
                return Ok(None);
            }
            c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
                .query_row([&id], user_from_row)
                .optional()
        })
        .await
    }

    async fn goals(&self, user: UserId) -> StoreResult<Goals> {
        let stored: Option<Option<String>> = self.read(|c| {
            c.prepare_cached("SELECT goals FROM users WHERE id = ?1")?
                .query_row([user.to_string()], |row| row.get(0))
                .optional()
        })?;
        Ok(stored
            .flatten()
            .map(|text| Goals::from_stored(&text))
            .unwrap_or_default())
    }

    async fn set_goals(&self, user: UserId, goals: &Goals) -> StoreResult<bool> {
        let (user, goals) = (user.to_string(), goals.to_stored());
        self.write(move |c| {
            c.prepare_cached("UPDATE users SET goals = ?1, entries_version = entries_version + 1 WHERE id = ?2")?
                .execute(params![goals, user])
                .map(|changed| changed == 1)
        })
        .await
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |c| {
            // Entries, logins and refresh tokens go with the user (ON DELETE CASCADE); revoked-token
            // rows have no foreign key (they outlive logouts of users that still exist).
            c.prepare_cached("DELETE FROM revoked_tokens WHERE user_id = ?1")?
                .execute([&id])?;
            c.prepare_cached("DELETE FROM users WHERE id = ?1")?
                .execute([&id])
                .map(|deleted| deleted == 1)
        })
        .await
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1"))?
                .query_row([email.as_str()], user_from_row)
                .optional()
        })
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
                .query_row([id.to_string()], user_from_row)
                .optional()
        })
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()> {
        let (hash, id) = (hash.to_owned(), id.to_string());
        self.write(move |c| {
            c.prepare_cached("UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3")?
                .execute(params![hash, ts(Utc::now()), id])
                .map(|_| ())
        })
        .await
    }

    async fn insert_session(&self, s: &RefreshSession) -> StoreResult<()> {
        let s = s.clone();
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO refresh_sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?
            .execute(params![
                s.token_hash,
                s.user_id.to_string(),
                s.family_id,
                ts(s.created_at),
                s.expires_at.timestamp(),
                s.rotated_at.map(ts),
                s.revoked_at.map(ts)
            ])?;
            c.prepare_cached(&format!(
                "INSERT INTO sessions ({LOGIN_COLUMNS}, expires_at) VALUES (?1, ?2, ?3, ?3, ?4, ?5) \
                 ON CONFLICT (id) DO UPDATE SET last_used_at = MAX(last_used_at, excluded.last_used_at), \
                 expires_at = MAX(expires_at, excluded.expires_at)"
            ))?
            .execute(params![
                s.family_id,
                s.user_id.to_string(),
                ts(s.created_at),
                s.user_agent,
                s.expires_at.timestamp()
            ])
            .map(|_| ())
        })
        .await
    }

    async fn session_by_hash(&self, token_hash: &str) -> StoreResult<Option<RefreshSession>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM refresh_sessions WHERE token_hash = ?1"
            ))?
            .query_row([token_hash], session_from_row)
            .optional()
        })
    }

    async fn mark_session_rotated(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let token_hash = token_hash.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE refresh_sessions SET rotated_at = ?1 \
                 WHERE token_hash = ?2 AND rotated_at IS NULL AND revoked_at IS NULL",
            )?
            .execute(params![ts(at), token_hash])
            .map(|changed| changed == 1)
        })
        .await
    }

    async fn revoke_session(&self, user: UserId, token_hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |c| {
            let family: Option<String> = c
                .prepare_cached("SELECT family_id FROM refresh_sessions WHERE token_hash = ?1 AND user_id = ?2")?
                .query_row(params![token_hash, user.to_string()], |r| r.get(0))
                .optional()?;
            match family {
                Some(family) => end_login(c, &family, at),
                None => Ok(()),
            }
        })
        .await
    }

    async fn revoke_session_family(&self, family_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let family_id = family_id.to_owned();
        self.write(move |c| end_login(c, &family_id, at)).await
    }

    async fn revoke_user_sessions(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<()> {
        self.write(move |c| {
            let (at, user) = (ts(at), user.to_string());
            c.prepare_cached("UPDATE refresh_sessions SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL")?
                .execute(params![at, user])?;
            c.prepare_cached("UPDATE sessions SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL")?
                .execute(params![at, user])
                .map(|_| ())
        })
        .await
    }

    async fn list_sessions(&self, user: UserId, now: DateTime<Utc>) -> StoreResult<Vec<Session>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {LOGIN_COLUMNS} FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 \
                 ORDER BY created_at DESC"
            ))?
            .query_map(params![user.to_string(), now.timestamp()], login_from_row)?
            .collect()
        })
    }

    async fn revoke_login(&self, user: UserId, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |c| {
            let live = c
                .prepare_cached(
                    "SELECT 1 FROM sessions WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL AND expires_at > ?3",
                )?
                .exists(params![id, user.to_string(), at.timestamp()])?;
            if live {
                end_login(c, &id, at)?;
            }
            Ok(live)
        })
        .await
    }

    async fn revoke_access_token(&self, key: &str, user: UserId, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO revoked_tokens (token_key, user_id, expires_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![key, user.to_string(), expires_at.timestamp()])
            .map(|_| ())
        })
        .await
    }

    async fn access_token_standing(
        &self,
        key: &str,
        user: UserId,
        session: Option<&str>,
    ) -> StoreResult<TokenStanding> {
        // One statement, three primary-key probes: the user (no row: there is none), the
        // logged-out token, the login (a token naming a login that is ended, or that never
        // existed, is refused).
        let standing = self.read(|c| {
            c.prepare_cached(
                "SELECT timezone, entries_version, \
                        EXISTS (SELECT 1 FROM revoked_tokens WHERE token_key = ?1) \
                        OR (?3 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sessions WHERE id = ?3 AND revoked_at IS NULL)) \
                 FROM users WHERE id = ?2",
            )?
            .query_row(params![key, user.0.hex_digits().as_str(), session], |r| {
                Ok(if r.get::<_, bool>(2)? {
                    TokenStanding::Revoked
                } else {
                    TokenStanding::Valid {
                        timezone: r.get_ref(0)?.as_str_or_null()?.and_then(TimeZone::from_stored),
                        entries_version: r.get::<_, i64>(1)? as u64,
                    }
                })
            })
            .optional()
        })?;
        Ok(standing.unwrap_or(TokenStanding::UnknownUser))
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let now = now.timestamp();
        self.write(move |c| {
            let tokens = c.execute("DELETE FROM revoked_tokens WHERE expires_at < ?1", [now])?;
            let sessions = c.execute("DELETE FROM refresh_sessions WHERE expires_at < ?1", [now])?;
            let logins = c.execute("DELETE FROM sessions WHERE expires_at < ?1", [now])?;
            Ok((tokens + sessions + logins) as u64)
        })
        .await
    }

    async fn insert_entry(&self, entry: &Entry) -> StoreResult<()> {
        let row = EntryRow::new(entry);
        self.write(move |c| c.prepare_cached(&INSERT_ENTRY)?.execute(row.params()).map(|_| ()))
            .await
    }

    async fn list_entries(&self, user: UserId, range: &EntryRange) -> StoreResult<Vec<Entry>> {
        let (from, to) = day_bounds(range);
        self.read(|c| {
            c.prepare_cached(&select_entries(
                "WHERE user_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day DESC LIMIT ?4",
            ))?
            .query_map(params![user.to_string(), from, to, range.limit], entry_from_row)?
            .collect()
        })
    }

    async fn list_entry_documents(&self, user: UserId, range: &EntryRange) -> StoreResult<Vec<DocumentJson>> {
        let (from, to) = day_bounds(range);
        self.read(|c| {
            c.prepare_cached(
                "SELECT document, document_format = ?5, id FROM entries \
                 WHERE user_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day DESC LIMIT ?4",
            )?
            .query_map(
                params![user.to_string(), from, to, range.limit, DocumentJson::format()],
                |row| stored_document(c, row, 0),
            )?
            .collect()
        })
    }

    async fn write_entry_documents(&self, user: UserId, range: &EntryRange, out: &mut Vec<u8>) -> StoreResult<usize> {
        let (from, to) = day_bounds(range);
        self.read(|c| {
            // One column per entry in the usual case: its document when it is in the current format;
            // NULL (then the id, to render it again) otherwise. Each column read through rusqlite
            // costs ~165 instructions (callgrind), a page of 30 read two per entry before.
            let mut statement = c.prepare_cached(
                "SELECT CASE WHEN document_format = ?5 THEN document END, id FROM entries \
                 WHERE user_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day DESC LIMIT ?4",
            )?;
            let mut rows = statement.query(params![
                user.0.hex_digits().as_str(),
                from,
                to,
                range.limit,
                DocumentJson::format()
            ])?;
            let mut count = 0;
            while let Some(row) = rows.next()? {
                if count > 0 {
                    out.push(b',');
                }
                // A document in the current format is copied from SQLite's row as it is: only ever
                // written from a Rust `String` (valid UTF-8), so it is not checked again byte by byte
                // (~11,000 instructions for a page of 30, counted with callgrind).
                if let rusqlite::types::ValueRef::Text(text) = row.get_ref(0)? {
                    out.extend_from_slice(text);
                } else {
                    let id: String = row.get(1)?;
                    let entry = c
                        .prepare_cached(&select_entries("WHERE id = ?1"))?
                        .query_row([id], entry_from_row)?;
                    out.extend_from_slice(entry.document_json().as_str().as_bytes());
                }
                count += 1;
            }
            Ok(count)
        })
    }

    async fn entry_by_id(&self, user: UserId, id: EntryId) -> StoreResult<Option<Entry>> {
        self.read(|c| {
            c.prepare_cached(&select_entries("WHERE id = ?1 AND user_id = ?2"))?
                .query_row(params![id.to_string(), user.to_string()], entry_from_row)
                .optional()
        })
    }

    async fn entry_on_day(&self, user: UserId, day: Day) -> StoreResult<Option<Entry>> {
        self.read(|c| {
            c.prepare_cached(&select_entries("WHERE user_id = ?1 AND day = ?2"))?
                .query_row(params![user.to_string(), day.to_ymd()], entry_from_row)
                .optional()
        })
    }

    async fn update_entry(
        &self,
        user: UserId,
        id: EntryId,
        changes: &EntryChanges,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Entry>> {
        let changes = changes.clone();
        // Read, change and write in one write job: the single writer runs nothing in between.
        self.write(move |c| {
            let Some(mut entry) = c
                .prepare_cached(&select_entries("WHERE id = ?1 AND user_id = ?2"))?
                .query_row(params![id.to_string(), user.to_string()], entry_from_row)
                .optional()?
            else {
                return Ok(None);
            };
            entry.apply(&changes, at);
            c.prepare_cached(&UPDATE_ENTRY)?
                .execute(EntryRow::new(&entry).params())?;
            Ok(Some(entry))
        })
        .await
    }

    async fn day_figures(&self, user: UserId, from: Day, to: Day) -> StoreResult<Vec<DayFigures>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {} FROM entries WHERE user_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day",
                *FIGURE_COLUMNS
            ))?
            .query_map(params![user.to_string(), from.to_ymd(), to.to_ymd()], figures_from_row)?
            .collect()
        })
    }

    async fn logged_days(&self, user: UserId) -> StoreResult<Vec<LoggedDay>> {
        self.read(|c| {
            c.prepare_cached("SELECT day, workouts FROM entries WHERE user_id = ?1 ORDER BY day")?
                .query_map(params![user.to_string()], |row| {
                    Ok(LoggedDay {
                        day: day_from_column(row, 0)?,
                        workouts: row.get(1)?,
                        goals_met: GoalsMet::default(),
                    })
                })?
                .collect()
        })
    }

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

    async fn delete_entry(&self, user: UserId, id: EntryId) -> StoreResult<bool> {
        self.write(move |c| {
            c.prepare_cached("DELETE FROM entries WHERE id = ?1 AND user_id = ?2")?
                .execute(params![id.to_string(), user.to_string()])
                .map(|changed| changed == 1)
        })
        .await
    }

    async fn append_ai_messages(&self, user: UserId, messages: &[HistoryMessage], keep: usize) -> StoreResult<()> {
        self.append_history(user, messages, keep).await
    }

    async fn ai_history(&self, user: UserId, limit: usize) -> StoreResult<Vec<HistoryMessage>> {
        self.read_history(user, limit)
    }

    async fn clear_ai_history(&self, user: UserId) -> StoreResult<u64> {
        self.delete_history(user).await
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
