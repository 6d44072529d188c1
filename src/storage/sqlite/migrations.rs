//! The schema's versions (`migrations/*.sql`), applied in order, each once, recorded in
//! `schema_migrations`.

use chrono::Utc;
use rusqlite::{Connection, params};

use super::rows::{entry_columns, entry_from_row, ts};
use crate::domain::entry::Entry;

/// The schema's versions, applied in order, each once (`schema_migrations` records them).
pub(super) const MIGRATIONS: &[(i64, &str)] = &[
    (
        20261128000001,
        include_str!("../../../migrations/20261128000001_initial.sql"),
    ),
    (
        20261128000002,
        include_str!("../../../migrations/20261128000002_entry_documents.sql"),
    ),
    (
        20261201000003,
        include_str!("../../../migrations/20261201000003_accounts_and_sessions.sql"),
    ),
    (
        20261201000004,
        include_str!("../../../migrations/20261201000004_trends.sql"),
    ),
    (
        20261201000005,
        include_str!("../../../migrations/20261201000005_ai_history.sql"),
    ),
    (
        20261210000006,
        include_str!("../../../migrations/20261210000006_entry_documents_sleep_hours.sql"),
    ),
];

pub(super) fn run_migrations(connection: &mut Connection) -> rusqlite::Result<usize> {
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    // Earlier builds ran the same migration files through sqlx, which records them in its own table:
    // adopt those records so such a database is upgraded, not re-created (same version numbers).
    let sqlx_table: bool = connection
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")?
        .exists([])?;
    if sqlx_table {
        connection.execute(
            "INSERT OR IGNORE INTO schema_migrations (version, applied_at) \
             SELECT version, installed_on FROM _sqlx_migrations WHERE success = 1",
            [],
        )?;
    }
    let mut applied = 0;
    for (version, sql) in MIGRATIONS {
        let done: bool = connection.query_row(
            "SELECT count(*) FROM schema_migrations WHERE version = ?1",
            [version],
            |r| r.get::<_, i64>(0),
        )? > 0;
        if done {
            continue;
        }
        // Each version applies whole or not at all.
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        transaction.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, ts(Utc::now())],
        )?;
        transaction.commit()?;
        applied += 1;
    }
    render_missing_documents(connection)?;
    Ok(applied)
}

/// Entries written before documents were stored get theirs once, here, so that reads never have to
/// render one. A no-op (one indexed-less scan of a NULL column) once every row has its document.
fn render_missing_documents(connection: &mut Connection) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    let entries: Vec<Entry> = transaction
        .prepare(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM entries WHERE document IS NULL"
        ))?
        .query_map([], entry_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    if entries.is_empty() {
        return Ok(());
    }
    {
        let mut update = transaction.prepare("UPDATE entries SET document = ?1 WHERE id = ?2")?;
        for entry in &entries {
            update.execute(params![entry.document_json().into_string(), entry.id.to_string()])?;
        }
    }
    transaction.commit()?;
    tracing::info!(
        entries = entries.len(),
        "rendered the stored documents of older entries"
    );
    Ok(())
}
