//! The `healthtracker` binary: parses the command line (`cli`, where every command is described),
//! reads the configuration, starts logging and runs the command: `serve` (the default) the API and,
//! with async jobs on, an AI job worker beside it; `worker` AI job workers alone; `migrate` the
//! schema; `copy-data` and `backup` are run by `maintenance`. Stops gracefully on SIGTERM/SIGINT.

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use healthtracker::cli::{Cli, Command};
use healthtracker::config::Settings;
use healthtracker::startup::{Application, WorkerSetup};
use healthtracker::{maintenance, storage, telemetry};

/// mimalloc instead of glibc malloc: glibc's per-thread arenas kept the argon2 blocks a login storm
/// allocated, and its arena locks and cross-thread frees were a large share of a list request's CPU
/// (BENCHMARKS.md, "Allocator", has the figures).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// After a shutdown signal, in-flight requests and running jobs get this long to finish (an AI
/// call is bounded by AI_TIMEOUT_SECS, 30 s by default).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(45);

#[tokio::main]
async fn main() -> ExitCode {
    let command = match Cli::try_parse() {
        Ok(cli) => cli.command.unwrap_or(Command::Serve),
        // `--help` and `--version` arrive here too: printed on stdout, exit 0. A usage error names
        // the argument, shows the usage, exits 2.
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    match command {
        Command::Version => {
            println!("healthtracker {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Completions { shell } => {
            Cli::completions(shell, &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        _ => {}
    }

    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(error) if error.not_found() => {}
        Err(error) => {
            eprintln!("healthtracker: could not read .env: {error}");
            return ExitCode::from(2);
        }
    }
    // The operator commands need the database only, not the server's settings.
    let command = match command {
        Command::CopyData(args) => return maintenance::copy_data_command(args).await,
        Command::Backup(args) => return maintenance::backup_command(args),
        Command::Admin(command) => return maintenance::admin::admin_command(command).await,
        other => other,
    };
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
        // Run above, before the server's settings are read.
        Command::CopyData(_)
        | Command::Backup(_)
        | Command::Admin(_)
        | Command::Completions { .. }
        | Command::Version => Ok(()),
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
    let stop = tokio_util::sync::CancellationToken::new();
    let stop_on_signal = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown signal received; finishing in-flight work");
        stop_on_signal.cancel();
    });
    let running = task(Box::pin(stop.clone().cancelled_owned()));
    tokio::select! {
        result = running => result,
        () = async { stop.cancelled().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
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
