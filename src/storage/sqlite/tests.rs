//! The store's own invariants (the HTTP suite covers its behaviour through the API).

use std::path::Path;

use chrono::Utc;
use rusqlite::Connection;

use super::SqliteStore;
use super::connection::connect;
use super::migrations::MIGRATIONS;
use crate::config::SqliteSynchronous;
use crate::domain::day::Day;
use crate::domain::entry::{DayLog, DocumentJson, Entry, EntryRange, Measure, Measures};
use crate::domain::ids::{EntryId, UserId};
use crate::domain::user::User;
use crate::domain::user::{Email, UserName};
use crate::storage::{AccountStore, EntryStore, TransferStore};

async fn store_with_one_entry(dir: &Path) -> anyhow::Result<(SqliteStore, Entry)> {
    let store = SqliteStore::open(&dir.join("db").join("ht.db"), SqliteSynchronous::Full).await?;
    store.migrate().await?;
    let now = Utc::now();
    let user = User {
        id: UserId::new(),
        name: UserName::from_stored("Ada".into()),
        email: Email::from_stored("ada@example.com".into()),
        password_hash: "x".into(),
        timezone: None,
        created_at: now,
        updated_at: now,
    };
    store.insert_user(&user).await?;
    let entry = Entry {
        id: EntryId::new(),
        user: user.id,
        date: Day::parse_ymd("2026-11-28").expect("a day"),
        log: DayLog {
            measures: Measures::default().with(Measure::Calories, 1800.0),
            notes: "fine".into(),
            ..DayLog::default()
        },
        created_at: now,
        updated_at: now,
    };
    store.insert_entry(&entry).await?;
    Ok((store, entry))
}

#[tokio::test]
async fn entries_stored_without_a_document_get_one_when_the_schema_is_migrated() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, entry) = store_with_one_entry(dir.path()).await?;
    // As a row written before the document column existed.
    store
        .write(|c| c.execute("UPDATE entries SET document = NULL", []))
        .await?;
    store.migrate().await?;
    let page = store
        .list_entry_documents(
            entry.user,
            &EntryRange::parse(None, None, None).map_err(|e| anyhow::anyhow!("{e:?}"))?,
        )
        .await?;
    assert_eq!(page, vec![entry.document_json()]);
    Ok(())
}

/// A document kept in another format than this build writes (an older build's, before a field was
/// added) is never served: migrating renders it again, and a read renders one written after the
/// migration (by an older instance still running on the same file) from its columns.
#[tokio::test]
async fn documents_of_another_format_are_rendered_again_never_served_stale() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, entry) = store_with_one_entry(dir.path()).await?;
    let range = EntryRange::parse(None, None, None).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let stale = r#"{"_id":"old","calories":1800}"#;
    let make_stale = |format: Option<i64>| {
        let stale = stale.to_owned();
        move |c: &rusqlite::Connection| {
            c.execute(
                "UPDATE entries SET document = ?1, document_format = ?2",
                rusqlite::params![stale, format],
            )
        }
    };
    store.write(make_stale(Some(DocumentJson::format() ^ 1))).await?;
    store.migrate().await?;
    assert_eq!(
        store.list_entry_documents(entry.user, &range).await?,
        vec![entry.document_json()]
    );

    for format in [Some(DocumentJson::format() ^ 1), None] {
        store.write(make_stale(format)).await?;
        assert_eq!(
            store.list_entry_documents(entry.user, &range).await?,
            vec![entry.document_json()]
        );
        let exported = store.entry_documents_after(entry.user, None, 10).await?;
        assert_eq!(exported, vec![(entry.date, entry.document_json())]);
        // The page GET /entries writes from the row's bytes renders it again too.
        let mut page = b"[".to_vec();
        assert_eq!(store.write_entry_documents(entry.user, &range, &mut page).await?, 1);
        assert_eq!(page, format!("[{}", entry.document_json().as_str()).into_bytes());
    }
    // The current format's mark on a row that lost its document: rendered, not an empty item.
    store
        .write(|c| {
            c.execute(
                "UPDATE entries SET document = NULL, document_format = ?1",
                [DocumentJson::format()],
            )
        })
        .await?;
    let mut page = Vec::new();
    assert_eq!(store.write_entry_documents(entry.user, &range, &mut page).await?, 1);
    assert_eq!(page, entry.document_json().as_str().as_bytes());
    Ok(())
}

/// A page of several documents is their bytes joined by commas, newest day first, as stored.
#[tokio::test]
async fn a_page_is_the_stored_documents_joined_by_commas() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, entry) = store_with_one_entry(dir.path()).await?;
    let mut next = entry.clone();
    next.id = EntryId::new();
    next.date = Day::parse_ymd("2026-11-29").ok_or_else(|| anyhow::anyhow!("a day"))?;
    store.insert_entry(&next).await?;
    let range = EntryRange::parse(None, None, None).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut page = Vec::new();
    assert_eq!(store.write_entry_documents(entry.user, &range, &mut page).await?, 2);
    let expected = format!("{},{}", next.document_json().as_str(), entry.document_json().as_str());
    assert_eq!(String::from_utf8(page)?, expected);
    let mut other = Vec::new();
    assert_eq!(store.write_entry_documents(UserId::new(), &range, &mut other).await?, 0);
    assert!(other.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_database_migrated_by_sqlx_is_upgraded_not_recreated() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("old.db");
    {
        // What the sqlx-based build left: the first migration applied and recorded in sqlx's table.
        let connection = Connection::open(&path)?;
        connection.execute_batch(MIGRATIONS[0].1)?;
        connection.execute_batch(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, \
             checksum BLOB NOT NULL, execution_time BIGINT NOT NULL);",
        )?;
        connection.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?1, 'initial', 1, x'00', 0)",
            [MIGRATIONS[0].0],
        )?;
    }
    let store = SqliteStore::open(&path, SqliteSynchronous::Full).await?;
    store.migrate().await?;
    let versions: Vec<i64> = store.read(|c| {
        c.prepare("SELECT version FROM schema_migrations ORDER BY version")?
            .query_map([], |r| r.get(0))?
            .collect()
    })?;
    assert_eq!(versions, MIGRATIONS.iter().map(|(v, _)| *v).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn a_read_connection_never_creates_the_database_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("moved-away.db");
    assert!(connect(&path, true).is_err());
    assert!(
        !path.exists(),
        "a reader created an empty database in place of the real one"
    );
}

/// A 2xx means the write is on disk: the writer waits for it (`synchronous=FULL`, 2) unless the
/// operator chose speed (`SQLITE_SYNCHRONOUS=normal`, 1).
#[tokio::test]
async fn the_writer_waits_for_the_disk_unless_told_otherwise() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    for (setting, expected) in [(SqliteSynchronous::Full, 2), (SqliteSynchronous::Normal, 1)] {
        let store = SqliteStore::open(&dir.path().join(format!("{expected}.db")), setting).await?;
        let level: i64 = store
            .write(|c| c.query_row("PRAGMA synchronous", [], |r| r.get(0)))
            .await?;
        assert_eq!(level, expected, "{setting:?}");
    }
    Ok(())
}

/// Writes queued together are committed together, yet each stays its own: one that fails (a day
/// already taken) is refused alone, and every other one lands.
#[tokio::test]
async fn writes_committed_together_succeed_and_fail_one_by_one() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, existing) = store_with_one_entry(dir.path()).await?;
    let now = Utc::now();
    let writes = (0..200u64).map(|n| {
        let store = store.clone();
        // Every tenth write takes the day of the existing entry: a conflict.
        let date = if n % 10 == 0 {
            existing.date
        } else {
            existing.date.minus_days(n)
        };
        let entry = Entry {
            id: EntryId::new(),
            user: existing.user,
            date,
            log: DayLog::default(),
            created_at: now,
            updated_at: now,
        };
        async move { (n, store.insert_entry(&entry).await) }
    });
    let outcomes = futures::future::join_all(writes).await;
    for (n, outcome) in &outcomes {
        if n % 10 == 0 {
            assert!(
                matches!(outcome, Err(crate::storage::StoreError::Conflict)),
                "{n}: {outcome:?}"
            );
        } else {
            assert!(outcome.is_ok(), "{n}: {outcome:?}");
        }
    }
    let range = EntryRange::parse(None, None, Some("366")).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let stored = store.list_entries(existing.user, &range).await?;
    assert_eq!(stored.len(), 1 + 180);
    Ok(())
}

/// The trends read every trend measure of the field table from the covering index alone: a
/// measure added to the table without its column in `entries_user_day_figures` fails here, not
/// silently in the benchmark.
#[tokio::test]
async fn the_trends_read_only_the_covering_index() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, _) = store_with_one_entry(dir.path()).await?;
    let plan: Vec<String> = store.read(|c| {
        c.prepare(&format!(
            "EXPLAIN QUERY PLAN SELECT {} FROM entries WHERE user_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day",
            *super::rows::FIGURE_COLUMNS
        ))?
        .query_map(["u", "a", "b"], |row| row.get::<_, String>(3))?
        .collect()
    })?;
    assert!(
        plan.iter()
            .any(|step| step.contains("USING COVERING INDEX entries_user_day_figures")),
        "{plan:?}"
    );
    Ok(())
}
