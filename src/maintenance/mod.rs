//! Operator commands beside the server: `copy-data` moves a whole installation between databases
//! (either backend to either), `backup` takes a verified online copy of the embedded store. Neither
//! creates its source (`source.rs` checks it first). Here: each command's output and exit status.

pub mod admin;
pub mod backup;
pub mod copy;
mod progress;
pub mod source;

use std::process::ExitCode;

use self::backup::backup_sqlite;
use self::copy::{CopyOptions, copy_between};
use crate::cli::{BackupArgs, CopyDataArgs};
use crate::config::DatabaseSettings;

/// `copy-data`: the counts table on stdout, problems on stderr, the exit status.
pub async fn copy_data_command(args: CopyDataArgs) -> ExitCode {
    let options = CopyOptions {
        merge: args.merge,
        allow_empty: args.allow_empty,
        quiet: false,
    };
    match copy_between(&args.from, &args.to, options).await {
        Ok(report) => {
            print!("{}", report.table());
            println!(
                "users copied {}, merged {}, refused {}; entries copied {}",
                report.users_copied,
                report.users_merged,
                report.users_refused.len(),
                report.entries_copied
            );
            let mismatches = report.mismatches(args.merge);
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

/// `backup`: the verified copy's figures on stdout, problems on stderr, the exit status. Without
/// `--from`, the database the server uses, read through `config` as the server reads it.
pub fn backup_command(args: BackupArgs) -> ExitCode {
    let (database, named_by) = match args.from {
        Some(database) => (database, "--from".to_owned()),
        None => match DatabaseSettings::from_env() {
            Ok((database, Some(variable))) => (database, variable.to_owned()),
            Ok((database, None)) => (database, "the default: DATABASE_URL is not set".to_owned()),
            Err(error) => {
                for line in &error.0 {
                    eprintln!("healthtracker: configuration error: {line}");
                }
                return ExitCode::from(2);
            }
        },
    };
    let path = match database {
        DatabaseSettings::Sqlite { path, .. } => path,
        DatabaseSettings::Mongo { .. } => {
            eprintln!(
                "healthtracker: backup: the database ({named_by}) is MongoDB; backup is for the SQLite store: \
                 back up MongoDB with mongodump or your provider's snapshots (see README)"
            );
            return ExitCode::from(2);
        }
    };
    match source::check_sqlite(&path, &named_by) {
        Ok(0) if !args.allow_empty => {
            eprintln!(
                "healthtracker: backup: {} ({named_by}) holds no users, so it is most likely not the database \
                 you mean: check the path, or pass --allow-empty to back it up anyway; nothing was written",
                path.display()
            );
            return ExitCode::FAILURE;
        }
        Ok(_) => {}
        Err(error) => {
            eprintln!("healthtracker: backup: {error:#}");
            return ExitCode::FAILURE;
        }
    }
    match backup_sqlite(&path, &args.to) {
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
