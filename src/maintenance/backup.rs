//! `healthtracker backup --to <FILE>`: an online copy of the embedded store while the server runs.
//! `VACUUM INTO` writes a consistent snapshot (one read transaction: every write committed before it
//! began, none after) without stopping writers (WAL); the copy goes to a temporary name beside the
//! target, is checked with `PRAGMA integrity_check`, synced, and only then renamed into place, so
//! `FILE` is always either the previous backup or a complete, verified new one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rusqlite::{Connection, OpenFlags};

/// A verified backup.
#[derive(Debug)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub users: u64,
    pub entries: u64,
    pub took: Duration,
}

pub fn backup_sqlite(database: &Path, to: &Path) -> anyhow::Result<BackupReport> {
    let started = Instant::now();
    if !database.is_file() {
        bail!("no SQLite database at {}", database.display());
    }
    if let (Ok(a), Ok(b)) = (database.canonicalize(), to.canonicalize())
        && a == b
    {
        bail!(
            "the backup would overwrite the database itself ({})",
            database.display()
        );
    }
    let name = to
        .file_name()
        .with_context(|| format!("{} is not a file name", to.display()))?
        .to_string_lossy()
        .into_owned();
    let directory = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&directory).with_context(|| format!("creating {}", directory.display()))?;
    let partial = directory.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_file(&partial);

    let outcome = write_and_verify(database, &partial);
    let (users, entries) = match outcome {
        Ok(counts) => counts,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .context("syncing the backup")?;
    std::fs::rename(&partial, to).with_context(|| format!("moving the backup to {}", to.display()))?;
    // The rename itself survives a power cut once the directory is synced.
    if let Ok(dir) = std::fs::File::open(&directory) {
        let _ = dir.sync_all();
    }
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or_default();
    Ok(BackupReport {
        path: to.to_path_buf(),
        bytes,
        users,
        entries,
        took: started.elapsed(),
    })
}

/// The snapshot into `partial`, then its check; the users and entries it holds.
fn write_and_verify(database: &Path, partial: &Path) -> anyhow::Result<(u64, u64)> {
    // Read-write without create: VACUUM INTO only reads the source, but a WAL database's readers
    // need its shared-memory file, which a read-only connection may be unable to set up.
    let source = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", database.display()))?;
    source.busy_timeout(Duration::from_secs(30))?;
    let target = partial
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", partial.display()))?;
    source
        .execute("VACUUM INTO ?1", [target])
        .context("writing the snapshot (VACUUM INTO)")?;
    drop(source);

    let copy = Connection::open_with_flags(partial, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .context("opening the snapshot to check it")?;
    let verdicts: Vec<String> = copy
        .prepare("PRAGMA integrity_check")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if verdicts != ["ok"] {
        bail!("the snapshot failed its integrity check: {}", verdicts.join("; "));
    }
    let count = |table: &str| -> anyhow::Result<u64> {
        Ok(copy.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0))? as u64)
    };
    Ok((count("users")?, count("entries")?))
}
