//! Operator commands beside the server: `copy-data` moves a whole installation between databases
//! (either backend to either), `backup` takes a verified online copy of the embedded store.

pub mod backup;
pub mod copy;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use self::backup::backup_sqlite;
use self::copy::{CopyOptions, copy_between};
use crate::config::DatabaseSettings;

fn database(url: &str, role: &str) -> Result<DatabaseSettings, ExitCode> {
    DatabaseSettings::from_url(url).ok_or_else(|| {
        // Not the URL itself: it can hold a password.
        eprintln!("healthtracker: --{role} is not a database URL (sqlite://<path>, mongodb://… or mongodb+srv://…)");
        ExitCode::from(2)
    })
}

/// `copy-data`: the counts table on stdout, problems on stderr, the exit status.
pub async fn copy_data_command(from: &str, to: &str, merge: bool) -> ExitCode {
    let (source, target) = match (database(from, "from"), database(to, "to")) {
        (Ok(s), Ok(t)) => (s, t),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let options = CopyOptions { merge, quiet: false };
    match copy_between(&source, &target, options).await {
        Ok(report) => {
            print!("{}", report.table());
            println!(
                "users copied {}, merged {}, refused {}; entries copied {}",
                report.users_copied,
                report.users_merged,
                report.users_refused.len(),
                report.entries_copied
            );
            let mismatches = report.mismatches(merge);
            if mismatches.is_empty() && report.users_refused.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "healthtracker: copy-data: the target does not hold what the source does ({}{})",
                    mismatches.join(", "),
                    if report.users_refused.is_empty() {
                        ""
                    } else {
                        "; some users were refused"
                    }
                );
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("healthtracker: copy-data: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `backup`: the verified copy's figures on stdout, problems on stderr, the exit status.
pub fn backup_command(from: Option<String>, to: &str) -> ExitCode {
    let url = from
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| "sqlite://data/healthtracker.db".to_owned());
    let path: PathBuf = match database(&url, "from") {
        Ok(DatabaseSettings::Sqlite { path, .. }) => path,
        Ok(DatabaseSettings::Mongo { .. }) => {
            eprintln!("healthtracker: backup is for the SQLite store; back up MongoDB with mongodump (see README)");
            return ExitCode::from(2);
        }
        Err(code) => return code,
    };
    match backup_sqlite(&path, std::path::Path::new(to)) {
        Ok(report) => {
            println!(
                "backup of {} written to {}: {} bytes, {} users, {} entries, integrity ok, {:.1} s",
                path.display(),
                report.path.display(),
                report.bytes,
                report.users,
                report.entries,
                report.took.as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("healthtracker: backup: {error:#}");
            ExitCode::FAILURE
        }
    }
}
