//! The single writer: one connection on a thread of its own runs the queued writes in order, so a
//! commit (or the checkpoint it may trigger) never stalls the async workers and the server's own
//! writes never contend for SQLite's lock.

use rusqlite::Connection;

pub(super) type WriteJob = Box<dyn FnOnce(&mut Connection) + Send>;

/// Runs queued writes on `connection`, one at a time, until every sender is gone.
pub(super) fn run_writer(mut connection: Connection, jobs: std::sync::mpsc::Receiver<WriteJob>) {
    while let Ok(job) = jobs.recv() {
        job(&mut connection);
    }
}
