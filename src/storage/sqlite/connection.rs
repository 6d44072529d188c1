//! Connections, all set up the same way, and what a driver error means for the API.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::storage::StoreError;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection set up the same way every time.
pub(super) fn connect(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    // No connection is shared between threads (readers come from a pool, the writer has a thread of
    // its own), so SQLite's own mutex is not needed. Only the writer may create the file: a reader
    // opened while the file is away would otherwise create an empty one in its place.
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if !read_only {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // Keep one plan per statement: otherwise a statement with a bound LIMIT is marked to be
    // re-planned whenever its parameters are rebound, and the statement cache rebinds on every use,
    // so each query would be parsed and planned again (~10% of a GET /api/entries).
    connection.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    if read_only {
        connection.pragma_update(None, "query_only", "ON")?;
    }
    connection.set_prepared_statement_cache_capacity(32);
    Ok(connection)
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection cannot leave it half-written: SQLite rolls back.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sorts driver errors into what the API can say about them.
pub(super) fn classify(error: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, message) = &error {
        let unique = [
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE,
            rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
        ];
        match failure.code {
            ErrorCode::ConstraintViolation if unique.contains(&failure.extended_code) => return StoreError::Conflict,
            // Every foreign key names `users (id)`: the account was deleted while this write was
            // in flight (the write is undone with its savepoint).
            ErrorCode::ConstraintViolation if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                return StoreError::NoSuchUser;
            }
            // The file cannot be reached, read or written: retrying later may help.
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::ReadOnly
            | ErrorCode::SystemIoFailure
            | ErrorCode::DatabaseCorrupt
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::NotADatabase => {
                return StoreError::Unavailable(message.clone().unwrap_or_else(|| failure.to_string()));
            }
            _ => {}
        }
    }
    StoreError::Other(error.into())
}
