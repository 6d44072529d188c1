//! Entries and their trends on SQLite ([`EntryStore`]), and the store's own [`Storage`] methods.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::rows::{
    EntryRow, FIGURE_COLUMNS, INSERT_ENTRY, UPDATE_ENTRY, day_bounds, day_from_column, entry_from_row,
    figures_from_row, select_entries, stored_document,
};
use crate::domain::day::Day;
use crate::domain::entry::{DocumentJson, Entry, EntryChanges, EntryRange};
use crate::domain::goals::GoalsMet;
use crate::domain::ids::{EntryId, UserId};
use crate::domain::stats::{DayFigures, LoggedDay};
use crate::storage::{EntryStore, Storage, StoreResult};

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
}

#[async_trait]
impl EntryStore for SqliteStore {
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

    async fn delete_entry(&self, user: UserId, id: EntryId) -> StoreResult<bool> {
        self.write(move |c| {
            c.prepare_cached("DELETE FROM entries WHERE id = ?1 AND user_id = ?2")?
                .execute(params![id.to_string(), user.to_string()])
                .map(|changed| changed == 1)
        })
        .await
    }
}
