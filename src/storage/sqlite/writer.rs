//! The single writer: one connection on a thread of its own runs the queued writes in order, so a
//! commit (or the checkpoint it may trigger) never stalls the async workers and the server's own
//! writes never contend for SQLite's lock.
//!
//! With `synchronous=FULL` every commit waits for the disk (an fsync), so the writer commits what
//! is queued together: the writes waiting when it looks (up to [`MAX_BATCH`]) run in one
//! transaction, each inside a savepoint of its own — a write that fails is undone alone, the others
//! land — and one commit (one fsync) makes them all durable. Each caller is answered only after that
//! commit, so a 2xx always means the write is on disk.

use std::sync::mpsc::{Receiver, TryRecvError};

use rusqlite::Connection;

/// Writes committed together at most (a bound on how long the first of them waits).
const MAX_BATCH: usize = 256;

/// Answers a write's caller once its transaction has ended: `None` when the commit succeeded (the
/// caller gets the write's own outcome), the commit's error otherwise.
pub(super) type Reply = Box<dyn FnOnce(Option<&rusqlite::Error>) + Send>;

/// A write that ran: whether it succeeded (a failed one is rolled back to its savepoint), and how to
/// answer it after the commit.
pub(super) struct Ran {
    pub(super) succeeded: bool,
    pub(super) reply: Reply,
}

pub(super) enum WriteJob {
    /// Runs inside the writer's transaction, committed with the writes queued beside it.
    Batched(Box<dyn FnOnce(&Connection) -> Ran + Send>),
    /// Runs by itself, outside any transaction (migrations: they open transactions of their own).
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
}

type Batched = Box<dyn FnOnce(&Connection) -> Ran + Send>;

/// Runs queued writes on `connection` until every sender is gone.
pub(super) fn run_writer(mut connection: Connection, jobs: Receiver<WriteJob>) {
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        match job {
            WriteJob::Alone(job) => job(&mut connection),
            WriteJob::Batched(first) => {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match jobs.try_recv() {
                        Ok(WriteJob::Batched(job)) => batch.push(job),
                        Ok(alone) => {
                            next = Some(alone);
                            break;
                        }
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                }
                commit_together(&connection, batch);
            }
        }
    }
}

fn execute(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.execute([]).map(drop)
}

/// Runs `batch` in one transaction and answers every caller after its commit.
fn commit_together(connection: &Connection, batch: Vec<Batched>) {
    if let Err(error) = execute(connection, "BEGIN IMMEDIATE") {
        // No transaction (another process holds the lock past the busy timeout, say): each write
        // on its own, as it would have run without batching.
        tracing::debug!(error = %error, "could not begin a write transaction; writing one at a time");
        for job in batch {
            (job(connection).reply)(None);
        }
        return;
    }
    let alone = batch.len() == 1;
    let mut replies = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    for job in jobs.by_ref() {
        // A lone write needs no savepoint: the transaction is its own.
        let savepoint = !alone && execute(connection, "SAVEPOINT write").is_ok();
        let ran = job(connection);
        replies.push(ran.reply);
        if connection.is_autocommit() {
            // SQLite rolled the whole transaction back (an I/O error, a full disk): the writes before
            // this one went with it. Tell them, then run the rest one at a time.
            let lost = rolled_back();
            for reply in replies {
                reply(Some(&lost));
            }
            for job in jobs {
                (job(connection).reply)(None);
            }
            return;
        }
        if savepoint {
            let end = if ran.succeeded {
                "RELEASE write"
            } else {
                "ROLLBACK TO write"
            };
            let _ = execute(connection, end);
            if !ran.succeeded {
                let _ = execute(connection, "RELEASE write");
            }
        } else if alone && !ran.succeeded {
            let _ = execute(connection, "ROLLBACK");
            for reply in replies {
                reply(None);
            }
            return;
        }
    }
    let committed = execute(connection, "COMMIT");
    if committed.is_err() {
        let _ = execute(connection, "ROLLBACK");
    }
    let failure = committed.err();
    for reply in replies {
        reply(failure.as_ref());
    }
}

/// What the writes of a transaction that SQLite rolled back are told (an I/O failure: 503).
fn rolled_back() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
        Some("the write transaction was rolled back by the database".to_owned()),
    )
}

/// The same failure again, for each caller of a commit that failed (the error type is not `Clone`).
pub(super) fn duplicate(error: &rusqlite::Error) -> rusqlite::Error {
    match error {
        rusqlite::Error::SqliteFailure(code, message) => rusqlite::Error::SqliteFailure(*code, message.clone()),
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}
