//! The `healthtracker` binary: `serve` (default) runs the API (and, with async jobs on, an AI job
//! worker beside it); `worker` runs AI job workers alone; `migrate` brings the database schema up to
//! date and exits; `copy-data` moves an installation between databases; `backup` copies the
//! embedded store while it serves.

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use healthtracker::config::Settings;
use healthtracker::startup::{Application, WorkerSetup};
use healthtracker::{maintenance, storage, telemetry};

/// mimalloc instead of glibc malloc, measured in BENCHMARKS.md: glibc's per-thread arenas kept every
/// 19 MiB argon2 block a login storm allocated (peak RSS 530 MB instead of < 64 MB), and its arena
/// locks and cross-thread frees took about a third of the CPU of `GET /api/entries`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// After a shutdown signal, in-flight requests and running jobs get this long to finish (an AI
/// call is bounded by AI_TIMEOUT_SECS, 30 s by default).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(45);

const USAGE: &str = "\
usage: healthtracker [serve | worker | migrate | copy-data | backup | help | version]

  serve     run the HTTP API (the default); with ENABLE_ASYNC_JOBS=true also an AI job
            worker, unless RUN_WORKER=false
  worker    run AI job workers only (scale them out beside stateless API instances)
  migrate   create or upgrade the database schema and indexes, then exit
  copy-data --from <DATABASE_URL> --to <DATABASE_URL> [--merge]
            copy every user, entry, login and conversation from one database to another
            (sqlite://… or mongodb://…, either way); the target is migrated first and must
            hold no users unless --merge (then what it has is kept, what it lacks added)
  backup    --to <FILE> [--from sqlite://<path>]
            a verified online copy of the SQLite database (default: DATABASE_URL)

Configuration comes from the environment and an optional .env file; see README.md.";

enum Command {
    Serve,
    Worker,
    Migrate,
    CopyData { from: String, to: String, merge: bool },
    Backup { from: Option<String>, to: String },
}

/// `--name value` pairs and bare `--flags` after the command; an unknown one is an error.
fn options(args: &[String], valued: &[&str], flags: &[&str]) -> Result<Vec<(String, Option<String>)>, String> {
    let mut found = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if valued.contains(&arg.as_str()) {
            let value = rest.next().ok_or_else(|| format!("{arg} needs a value"))?;
            found.push((arg.clone(), Some(value.clone())));
        } else if flags.contains(&arg.as_str()) {
            found.push((arg.clone(), None));
        } else {
            return Err(format!("unknown option {arg:?}"));
        }
    }
    Ok(found)
}

fn option(found: &[(String, Option<String>)], name: &str) -> Option<String> {
    found.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.clone())
}

fn parse_command(args: &[String]) -> Result<Option<Command>, String> {
    let rest = args.get(2..).unwrap_or_default();
    Ok(Some(match args.get(1).map(String::as_str) {
        None | Some("serve") => Command::Serve,
        Some("worker") => Command::Worker,
        Some("migrate") => Command::Migrate,
        Some("copy-data") => {
            let found = options(rest, &["--from", "--to"], &["--merge"])?;
            Command::CopyData {
                from: option(&found, "--from").ok_or("copy-data needs --from <DATABASE_URL>")?,
                to: option(&found, "--to").ok_or("copy-data needs --to <DATABASE_URL>")?,
                merge: found.iter().any(|(n, _)| n == "--merge"),
            }
        }
        Some("backup") => {
            let found = options(rest, &["--from", "--to"], &[])?;
            Command::Backup {
                from: option(&found, "--from"),
                to: option(&found, "--to").ok_or("backup needs --to <FILE>")?,
            }
        }
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            return Ok(None);
        }
        Some("version" | "--version" | "-V") => {
            println!("healthtracker {}", env!("CARGO_PKG_VERSION"));
            return Ok(None);
        }
        Some(other) => return Err(format!("unknown command {other:?}")),
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let command = match parse_command(&args) {
        Ok(Some(command)) => command,
        Ok(None) => return ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("healthtracker: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(error) if error.not_found() => {}
        Err(error) => {
            eprintln!("healthtracker: could not read .env: {error}");
            return ExitCode::from(2);
        }
    }
    // The operator commands name their databases; they need none of the server's settings.
    match command {
        Command::CopyData { from, to, merge } => return maintenance::copy_data_command(&from, &to, merge).await,
        Command::Backup { from, to } => return maintenance::backup_command(from, &to),
        _ => {}
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            for line in &error.0 {
                eprintln!("healthtracker: configuration error: {line}");
            }
            return ExitCode::from(2);
        }
    };
    // Flushes queued log lines when main returns.
    let _log_writer = telemetry::init(&settings.log_level, settings.log_format);
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }

    let outcome = match command {
        Command::Serve => serve(settings).await,
        Command::Worker => worker(settings).await,
        Command::Migrate => storage::migrate(&settings.database).await.map(|backend| {
            tracing::info!(backend, "database schema is up to date");
        }),
        Command::CopyData { .. } | Command::Backup { .. } => Ok(()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "healthtracker stopped");
            eprintln!("healthtracker: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let environment = settings.environment;
    let app = Application::build(settings).await?;
    tracing::info!(
        port = app.port(),
        backend = app.state().store.backend(),
        environment = environment.as_str(),
        async_jobs = app.state().jobs.is_some(),
        in_process_worker = app.runs_worker(),
        "HealthTracker API listening"
    );
    if app.state().ai.is_none() {
        // Said once here; each AI request then answers 503 quietly.
        tracing::warn!("AI service is not configured (GROQ_API_KEY is not set): the AI routes answer 503");
    }
    run_until_signalled(|stopped| app.run_until_stopped(stopped)).await
}

async fn worker(settings: Settings) -> anyhow::Result<()> {
    if settings.redis.url.is_none() {
        anyhow::bail!("the worker needs Redis: set REDIS_URL (or REDIS_HOST) and ENABLE_ASYNC_JOBS=true");
    }
    let metrics = std::sync::Arc::new(healthtracker::metrics::Metrics::new());
    // Finished chats are remembered in the user's history: the worker writes to the same store.
    let store = healthtracker::storage::open(&settings.database).await?;
    let setup = WorkerSetup::from_settings(&settings, store, std::sync::Arc::clone(&metrics))?
        .context("the worker needs an AI provider: set GROQ_API_KEY")?;
    if let Some(port) = settings.worker_metrics_port {
        healthtracker::startup::serve_worker_metrics(settings.host, port, metrics, settings.metrics_token.clone())
            .await?;
    }
    run_until_signalled(|stopped| setup.run(stopped)).await
}

/// Runs `task` until SIGTERM/SIGINT, then gives it `SHUTDOWN_GRACE` to finish.
async fn run_until_signalled<F, Fut>(task: F) -> anyhow::Result<()>
where
    F: FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown signal received; finishing in-flight work");
        let _ = stop.send(true);
    });
    let grace = stopped.clone();
    let running = task(Box::pin(healthtracker::startup::wait_for(stopped)));
    tokio::select! {
        result = running => result,
        () = async { healthtracker::startup::wait_for(grace).await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
            tracing::warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "in-flight work did not finish in time; exiting");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
