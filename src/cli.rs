//! The command line, described once (clap derive): every command and option with its help.
//! `--help`/`-h` on any command prints its help and runs nothing; a bad argument is named with the
//! usage and exits 2. `main` parses and dispatches; the operator commands run in `maintenance`.
//! A group of commands (such as an `admin` group) is one more variant holding its own `Subcommand`.

use std::ffi::OsStr;
use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

use crate::config::DatabaseSettings;

const AFTER_HELP: &str = "\
Configuration comes from the environment and an optional .env file in the working directory \
(README.md, \"Configuration\"). `healthtracker <COMMAND> --help` shows a command's options.";

/// HealthTracker: a health-tracking JSON API, and the commands to run and move it.
#[derive(Debug, Parser)]
#[command(name = "healthtracker", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do; without one, `serve`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (the default command)
    ///
    /// With ENABLE_ASYNC_JOBS=true an AI job worker runs beside it, unless RUN_WORKER=false.
    /// SIGTERM or SIGINT lets in-flight requests and running jobs finish (up to 45 s), then exits 0.
    Serve,
    /// Run AI job workers only, beside stateless API instances
    ///
    /// Needs Redis (REDIS_URL) and an AI provider (GROQ_API_KEY); WORKER_METRICS_PORT serves its
    /// /metrics.
    Worker,
    /// Create or upgrade the database schema and indexes, then exit
    ///
    /// On MongoDB it also lists documents of the old backend that a unique index cannot accept
    /// (and exits non-zero until they are fixed).
    Migrate,
    /// Copy a whole installation from one database to another (SQLite or MongoDB, either way)
    ///
    /// Every user with their entries, logins and conversation with the coach; the target is
    /// migrated first. Ends with the counts of both sides and exits non-zero when they differ.
    /// Stop the servers writing to the source first for a clean cut-over (README.md).
    CopyData(CopyDataArgs),
    /// Take a verified online copy of the SQLite database while the server runs
    ///
    /// A consistent snapshot (VACUUM INTO) written under a temporary name beside FILE, checked
    /// (PRAGMA integrity_check), synced, then renamed to FILE: FILE is always a complete backup.
    /// For MongoDB use mongodump or your provider's snapshots.
    Backup(BackupArgs),
    /// Administrators and invitations (operator commands on the configured database)
    ///
    /// `admin grant EMAIL` makes the first administrator; `admin invite` prints an invite code for
    /// REGISTRATION=invite.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print a completion script for a shell
    ///
    /// bash (in ~/.bashrc): source <(healthtracker completions bash)
    ///
    /// zsh: healthtracker completions zsh > "${fpath[1]}/_healthtracker"
    ///
    /// fish: healthtracker completions fish > ~/.config/fish/completions/healthtracker.fish
    Completions {
        /// The shell the script is for
        #[arg(value_enum)]
        shell: Shell,
    },
    /// The same as --version (kept for scripts written against earlier releases).
    #[command(hide = true)]
    Version,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make the user with this e-mail an administrator
    Grant {
        /// The user's e-mail
        email: String,
    },
    /// Make an administrator a plain user again (never the last active one)
    Revoke {
        /// The user's e-mail
        email: String,
    },
    /// Print a new invite code (for REGISTRATION=invite) on stdout
    Invite {
        /// How many registrations it admits (1–1000)
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        uses: u32,
        /// Days until it expires (1–365)
        #[arg(long, value_name = "D", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=365))]
        expires_days: u32,
    },
}

#[derive(Debug, Args)]
pub struct CopyDataArgs {
    /// The installation to copy: sqlite://<path> of an existing database file, or mongodb://… /
    /// mongodb+srv://… naming its database. Never created: a missing one is an error.
    #[arg(long, value_name = "DATABASE_URL", value_parser = DatabaseUrl)]
    pub from: DatabaseSettings,
    /// Where to copy it (created and migrated if needed); must hold no users unless --merge.
    #[arg(long, value_name = "DATABASE_URL", value_parser = DatabaseUrl)]
    pub to: DatabaseSettings,
    /// Add to a target that has users: users it has (by id) keep what they have and gain what they
    /// lack, new users are added; running it again adds nothing.
    #[arg(long)]
    pub merge: bool,
    /// Copy even when the source holds no users (refused otherwise: it is most often a mistyped
    /// --from).
    #[arg(long)]
    pub allow_empty: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the backup; missing parent directories are created, an existing file is
    /// replaced only by a complete, verified copy.
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    /// The SQLite database to copy, sqlite://<path> of an existing file [default: the server's,
    /// from DATABASE_URL (or MONGO_URI), else sqlite://data/healthtracker.db]
    #[arg(long, value_name = "DATABASE_URL", value_parser = DatabaseUrl)]
    pub from: Option<DatabaseSettings>,
    /// Back up even a database that holds no users (refused otherwise: it is most often the wrong
    /// file).
    #[arg(long)]
    pub allow_empty: bool,
}

impl Cli {
    /// The completion script for `shell`, written to `out`.
    pub fn completions(shell: Shell, out: &mut dyn std::io::Write) {
        clap_complete::generate(shell, &mut Self::command(), "healthtracker", out);
    }
}

/// A `--from`/`--to` database URL, parsed as `DATABASE_URL` is. Refused without quoting the value:
/// a database URL can hold a password.
#[derive(Clone, Copy, Debug)]
struct DatabaseUrl;

impl TypedValueParser for DatabaseUrl {
    type Value = DatabaseSettings;

    fn parse_ref(
        &self,
        command: &clap::Command,
        argument: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<DatabaseSettings, clap::Error> {
        value.to_str().and_then(DatabaseSettings::from_url).ok_or_else(|| {
            let name = argument
                .and_then(clap::Arg::get_long)
                .map_or_else(|| "the value".to_owned(), |long| format!("--{long}"));
            command.clone().error(
                ErrorKind::ValueValidation,
                format!("{name} is not a database URL (sqlite://<path>, mongodb://… or mongodb+srv://…)"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_means_serve_and_urls_are_parsed_once() {
        let cli = Cli::try_parse_from(["healthtracker"]).expect("parses");
        assert!(cli.command.is_none());
        let cli = Cli::try_parse_from([
            "healthtracker",
            "copy-data",
            "--from",
            "sqlite://data/healthtracker.db",
            "--to",
            "mongodb://db.internal/healthtracker",
            "--allow-empty",
        ])
        .expect("parses");
        let Some(Command::CopyData(args)) = cli.command else {
            panic!("copy-data expected")
        };
        assert!(matches!(args.from, DatabaseSettings::Sqlite { .. }));
        assert!(matches!(args.to, DatabaseSettings::Mongo { .. }));
        assert!(args.allow_empty && !args.merge);
    }

    #[test]
    fn a_bad_url_is_named_without_its_password() {
        let error = Cli::try_parse_from([
            "healthtracker",
            "copy-data",
            "--from",
            "mysql://app:hunter2@db/x",
            "--to",
            "sqlite://x.db",
        ])
        .expect_err("refused");
        assert_eq!(error.exit_code(), 2);
        let text = error.render().to_string();
        assert!(text.contains("--from is not a database URL"), "{text}");
        assert!(text.contains("Usage: healthtracker copy-data"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
