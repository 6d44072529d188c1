//! The embedded backend: one SQLite file (bundled SQLite through rusqlite) in WAL mode, foreign keys
//! on. Zero set-up: the file and its directory are created on start.
//!
//! Reads run where they are asked, on a pooled read-only connection: WAL readers never wait for the
//! writer, and a read of a few rows from the page cache costs microseconds, less than handing it to
//! another thread and back. Writes go one at a time to a single connection on a thread of its own
//! (`writer`), so a burst of writes queues instead of occupying (and growing) the blocking pool.
//!
//! The store remembers which file it opened (device and inode) and refuses to serve when the path
//! no longer leads to it (`file_watch`): every write checks first (one `stat`, far cheaper than the
//! write), and a watchdog re-checks once a second so reads stop too. Both recover by
//! themselves when the same file is back; a different file at the path needs a restart.

mod accounts;
mod connection;
mod entries;
mod file_watch;
mod history;
mod migrations;
mod personal_tokens;
mod rows;
mod security;
#[cfg(test)]
mod tests;
mod transfer;
mod writer;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::Connection;

use self::connection::{classify, connect, lock};
use self::file_watch::{FileWatch, watch_file};
use self::writer::{Ran, WriteJob, duplicate, run_writer};
use super::{StoreError, StoreResult};
use crate::config::SqliteSynchronous;

/// Idle read connections kept for reuse (more are opened under load and closed afterwards).
const MAX_IDLE_READERS: usize = 8;

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    readers: Mutex<Vec<Connection>>,
    /// The writer thread's queue; the thread ends when the store is dropped.
    writes: std::sync::mpsc::Sender<WriteJob>,
    file: Arc<FileWatch>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file. Does not migrate: call [`SqliteStore::migrate`].
    /// `synchronous`: whether each commit waits for the disk (`SQLITE_SYNCHRONOUS`).
    pub async fn open(path: &Path, synchronous: SqliteSynchronous) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating directory {}", dir.display()))?;
        }
        let owned = path.to_owned();
        let writer = tokio::task::spawn_blocking(move || -> rusqlite::Result<Connection> {
            let connection = connect(&owned, false)?;
            connection.pragma_update(None, "synchronous", synchronous.as_str())?;
            // Persistent in the file: set once, by the writer.
            connection.pragma_update(None, "journal_mode", "WAL")?;
            Ok(connection)
        })
        .await?
        .with_context(|| format!("opening SQLite database {}", path.display()))?;
        let file = Arc::new(FileWatch::new(path));
        tokio::spawn(watch_file(Arc::downgrade(&file)));
        let (writes, jobs) = std::sync::mpsc::channel::<WriteJob>();
        std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || run_writer(writer, jobs))
            .context("starting the SQLite writer thread")?;
        Ok(Self {
            inner: Arc::new(Inner {
                readers: Mutex::new(Vec::new()),
                writes,
                file,
            }),
        })
    }

    /// Creates or upgrades the schema (idempotent).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let applied = self
            .write_alone(migrations::run_migrations)
            .await
            .map_err(anyhow::Error::from)
            .context("running SQLite migrations")?;
        if applied > 0 {
            tracing::info!(applied, "SQLite schema migrated");
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.inner.file.path
    }

    /// Runs a read on a pooled connection, unless the database file is known to be gone.
    fn read<T>(&self, query: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let inner = &self.inner;
        if !inner.file.present.load(Ordering::Relaxed) {
            return Err(inner.file.unavailable());
        }
        let pooled = lock(&inner.readers).pop();
        let connection = match pooled {
            Some(connection) => connection,
            None => connect(&inner.file.path, true).map_err(classify)?,
        };
        let outcome = query(&connection).map_err(classify);
        // A connection that hit an I/O problem is not reused.
        if !matches!(outcome, Err(StoreError::Unavailable(_))) {
            let mut idle = lock(&inner.readers);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(connection);
            }
        }
        outcome
    }

    /// Runs a write on the writer thread's connection, after checking that the file is still the
    /// one it has open, and answers once it is committed (with the writes queued beside it).
    async fn write<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.queue(|reply| {
            WriteJob::Batched(Box::new(move |connection| {
                let outcome = query(connection);
                Ran {
                    succeeded: outcome.is_ok(),
                    reply: Box::new(move |commit_failed| {
                        // The caller may have gone (a cancelled request): the write still completes.
                        let _ = reply.send(match commit_failed {
                            Some(error) => Err(duplicate(error)),
                            None => outcome,
                        });
                    }),
                }
            }))
        })
        .await
    }

    /// Runs `query` by itself, outside the writer's transactions (it opens its own).
    async fn write_alone<T: Send + 'static>(
        &self,
        query: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.queue(|reply| {
            WriteJob::Alone(Box::new(move |connection| {
                let _ = reply.send(query(connection));
            }))
        })
        .await
    }

    async fn queue<T: Send + 'static>(
        &self,
        job: impl FnOnce(tokio::sync::oneshot::Sender<rusqlite::Result<T>>) -> WriteJob,
    ) -> StoreResult<T> {
        let file = &self.inner.file;
        if !file.check() {
            return Err(file.unavailable());
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || StoreError::Other(anyhow::anyhow!("the SQLite writer thread stopped"));
        self.inner.writes.send(job(reply)).map_err(|_| stopped())?;
        let outcome = answer.await.map_err(|_| stopped())?.map_err(classify);
        match &outcome {
            Ok(_) => file.set_writes_failing(false),
            Err(StoreError::Unavailable(_)) => file.set_writes_failing(true),
            Err(_) => {}
        }
        outcome
    }
}
