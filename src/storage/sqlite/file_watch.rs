//! Whether the database file the connections have open is still the one at its path: SQLite would
//! go on acknowledging writes into a deleted or replaced file that nobody will ever read again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::storage::StoreError;

/// How often the watchdog looks at the database file.
const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Whether the database file the connections have open is still the one at its path, and whether
/// the database takes writes.
pub(super) struct FileWatch {
    pub(super) path: PathBuf,
    /// (device, inode) of the file when it was opened.
    pub(super) identity: Option<(u64, u64)>,
    pub(super) present: AtomicBool,
    /// The last write failed because the database refused it (read-only file, full disk, I/O error);
    /// cleared by the next write that works. Makes the health probe see an outage reads cannot show.
    pub(super) writes_failing: AtomicBool,
}

fn file_identity(path: &Path) -> Option<(u64, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((metadata.dev(), metadata.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        Some((0, 0))
    }
}

impl FileWatch {
    pub(super) fn new(path: &Path) -> Self {
        let identity = file_identity(path);
        Self {
            path: path.to_owned(),
            identity,
            present: AtomicBool::new(identity.is_some()),
            writes_failing: AtomicBool::new(false),
        }
    }

    /// Looks at the file now (one `stat`) and records the answer.
    pub(super) fn check(&self) -> bool {
        let now = file_identity(&self.path);
        let present = now.is_some() && now == self.identity;
        if self.present.swap(present, Ordering::Relaxed) != present {
            if present {
                tracing::warn!(path = %self.path.display(), "database file is back; serving again");
            } else if now.is_some() {
                tracing::error!(
                    path = %self.path.display(),
                    "database file was replaced by another file; refusing requests (restart to open the new one)"
                );
            } else {
                tracing::error!(path = %self.path.display(), "database file is missing; refusing requests");
            }
        }
        present
    }

    pub(super) fn unavailable(&self) -> StoreError {
        StoreError::Unavailable(format!(
            "database file {} is missing or was replaced",
            self.path.display()
        ))
    }

    pub(super) fn set_writes_failing(&self, failing: bool) {
        // Read first: the flag is on every write's path and rarely changes.
        if self.writes_failing.load(Ordering::Relaxed) != failing {
            self.writes_failing.store(failing, Ordering::Relaxed);
        }
    }
}

/// Re-checks the file every second until the store is dropped.
pub(super) async fn watch_file(file: std::sync::Weak<FileWatch>) {
    let mut ticker = tokio::time::interval(FILE_CHECK_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match file.upgrade() {
            Some(file) => {
                file.check();
            }
            None => return,
        }
    }
}
