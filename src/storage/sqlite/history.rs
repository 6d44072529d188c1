//! The coach's conversation on SQLite: `ai_messages`, one user's rows walked by `(user_id, id)`.

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use super::rows::{corrupt, parse_ts, ts};
use crate::domain::coach::{HistoryMessage, Role};
use crate::domain::ids::UserId;
use crate::storage::{CoachStore, StoreResult};

impl SqliteStore {
    pub(super) async fn append_history(
        &self,
        user: UserId,
        messages: &[HistoryMessage],
        keep: usize,
    ) -> StoreResult<()> {
        let user = user.to_string();
        let rows: Vec<(&'static str, String, String)> = messages
            .iter()
            .map(|m| (m.role.as_str(), m.content.clone(), ts(m.created_at)))
            .collect();
        self.write(move |c| {
            let mut insert = c.prepare_cached(
                "INSERT INTO ai_messages (user_id, role, content, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (role, content, created_at) in &rows {
                insert.execute(params![user, role, content, created_at])?;
            }
            // Everything at or below the newest row that falls outside `keep`.
            c.prepare_cached(
                "DELETE FROM ai_messages WHERE user_id = ?1 AND id <= \
                 (SELECT id FROM ai_messages WHERE user_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            )?
            .execute(params![user, keep as i64])
            .map(|_| ())
        })
        .await
    }

    pub(super) fn read_history(&self, user: UserId, limit: usize) -> StoreResult<Vec<HistoryMessage>> {
        self.read(|c| {
            let mut newest_first: Vec<HistoryMessage> = c
                .prepare_cached(
                    "SELECT role, content, created_at FROM ai_messages WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
                )?
                .query_map(params![user.to_string(), limit as i64], |row| {
                    let role: String = row.get(0)?;
                    let created_at: String = row.get(2)?;
                    Ok(HistoryMessage {
                        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
                        content: row.get(1)?,
                        created_at: parse_ts(&created_at)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            newest_first.reverse();
            Ok(newest_first)
        })
    }

    pub(super) async fn delete_history(&self, user: UserId) -> StoreResult<u64> {
        let user = user.to_string();
        self.write(move |c| {
            c.prepare_cached("DELETE FROM ai_messages WHERE user_id = ?1")?
                .execute([&user])
                .map(|n| n as u64)
        })
        .await
    }
}

#[async_trait]
impl CoachStore for SqliteStore {
    async fn append_ai_messages(&self, user: UserId, messages: &[HistoryMessage], keep: usize) -> StoreResult<()> {
        self.append_history(user, messages, keep).await
    }

    async fn ai_history(&self, user: UserId, limit: usize) -> StoreResult<Vec<HistoryMessage>> {
        self.read_history(user, limit)
    }

    async fn clear_ai_history(&self, user: UserId) -> StoreResult<u64> {
        self.delete_history(user).await
    }
}
