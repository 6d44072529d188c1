//! The `healthtracker` binary: `serve` (default) runs the API; `migrate` brings the database schema
//! up to date and exits.

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;
use std::time::Duration;

use healthtracker::config::Settings;
use healthtracker::startup::Application;
use healthtracker::{storage, telemetry};

/// After a shutdown signal, in-flight requests get this long to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

const USAGE: &str = "\
usage: healthtracker [serve | migrate | help | version]

  serve     run the HTTP API (the default)
  migrate   create or upgrade the database schema and indexes, then exit

Configuration comes from the environment and an optional .env file; see README.md.";

enum Command {
    Serve,
    Migrate,
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = match std::env::args().nth(1).as_deref() {
        None | Some("serve") => Command::Serve,
        Some("migrate") => Command::Migrate,
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("version" | "--version" | "-V") => {
            println!("healthtracker {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("healthtracker: unknown command {other:?}\n\n{USAGE}");
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
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            for line in &error.0 {
                eprintln!("healthtracker: configuration error: {line}");
            }
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log_level, settings.log_format);
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }

    let outcome = match command {
        Command::Serve => serve(settings).await,
        Command::Migrate => storage::migrate(&settings.database).await.map(|backend| {
            tracing::info!(backend, "database schema is up to date");
        }),
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
        "HealthTracker API listening"
    );

    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
        let _ = stop.send(true);
    });
    let mut grace = stopped.clone();
    let server = app.run_until_stopped(wait_until_true(stopped));
    tokio::select! {
        result = server => result,
        () = async { wait_until_true(grace.clone()).await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
            let _ = grace.borrow_and_update();
            tracing::warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "in-flight requests did not finish in time; exiting");
            Ok(())
        }
    }
}

async fn wait_until_true(mut flag: tokio::sync::watch::Receiver<bool>) {
    let _ = flag.wait_for(|stopped| *stopped).await;
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
