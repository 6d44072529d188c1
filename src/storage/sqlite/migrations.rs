//! The schema's versions (`migrations/*.sql`), applied in order, each once, recorded in
//! `schema_migrations`.

use chrono::Utc;
use rusqlite::{Connection, params};

use super::rows::{entry_from_row, select_entries, ts};
use crate::domain::entry::{DocumentJson, Entry};

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
        20261203000006,
        include_str!("../../../migrations/20261203000006_document_format.sql"),
    ),
    (
        20261203000007,
        include_str!("../../../migrations/20261203000007_body_measurements.sql"),
    ),
    // Personal access tokens: hashed, per user, deleted with the account.
    (
        20261203000008,
        include_str!("../../../migrations/20261203000008_personal_tokens.sql"),
    ),
    // Roles, disabled accounts, TOTP, recovery codes, login challenges, invites.
    (
        20261203000009,
        include_str!("../../../migrations/20261203000009_two_factor_and_admin.sql"),
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
    render_stale_documents(connection)?;
    Ok(applied)
}

/// Entries whose stored document is missing (written before documents were stored) or of another
/// format than [`DocumentJson::format`] (written by a build whose documents differ — a field added)
/// get theirs rendered again, here, in pages, so reads serve the current shape and rarely have to
/// render one themselves (`rows::stored_document` renders what a still-running older instance
/// writes meanwhile). One scan of the table when nothing is stale.
fn render_stale_documents(connection: &mut Connection) -> rusqlite::Result<()> {
    const PAGE: i64 = 1_000;
    let format = DocumentJson::format();
    let mut rendered = 0;
    loop {
        let transaction = connection.transaction()?;
        let entries: Vec<Entry> = transaction
            .prepare(&select_entries(
                "WHERE document IS NULL OR document_format IS NOT ?1 LIMIT ?2",
            ))?
            .query_map(params![format, PAGE], entry_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        {
            let mut update =
                transaction.prepare("UPDATE entries SET document = ?1, document_format = ?2 WHERE id = ?3")?;
            for entry in &entries {
                update.execute(params![
                    entry.document_json().into_string(),
                    format,
                    entry.id.to_string()
                ])?;
            }
        }
        transaction.commit()?;
        rendered += entries.len();
        if entries.len() < PAGE as usize {
            break;
        }
    }
    if rendered > 0 {
        tracing::info!(
            entries = rendered,
            "rendered the stored documents of entries in the current format"
        );
    }
    Ok(())
}
