//! Building and running the application: `Application::build(settings)` binds the listener (port 0
//! picks a free port, which is how tests spawn the real app) and `run_until_stopped` serves the API
//! — and, with async jobs on, an in-process AI job worker beside it — until the shutdown future
//! resolves. In-flight requests and running jobs finish first. If either part exits on its own, the
//! other is stopped too and the log says which one it was.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::ai::{AiClient, Retries};
use crate::config::Settings;
use crate::domain::clock::Clock;
use crate::http::server::ConnectionLimits;
use crate::jobs::worker::{self, WorkerOptions};
use crate::metrics::{Metrics, SharedMetrics};
use crate::redis_conn::RedisConn;
use crate::state::AppState;
use crate::storage::{self, Storage};

/// How often expired revocations and sessions are purged from backends without TTL indexes.
const PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);

pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
    worker: Option<WorkerSetup>,
}

/// What an AI job worker needs: its own Redis connection and an AI client that makes one provider
/// call per attempt (the job system does the retrying).
pub struct WorkerSetup {
    redis: RedisConn,
    ai: AiClient,
    store: Arc<dyn Storage>,
    options: WorkerOptions,
    metrics: SharedMetrics,
}

impl WorkerSetup {
    /// `None` (with the reason logged) when the settings do not allow a worker.
    pub fn from_settings(
        settings: &Settings,
        store: Arc<dyn Storage>,
        metrics: SharedMetrics,
    ) -> anyhow::Result<Option<Self>> {
        let Some(url) = &settings.redis.url else {
            return Ok(None);
        };
        let Some(ai) = AiClient::new(&settings.ai, Retries::Never, Arc::clone(&metrics))? else {
            tracing::warn!("async jobs are enabled but GROQ_API_KEY is not set: no AI job worker runs");
            return Ok(None);
        };
        Ok(Some(Self {
            redis: RedisConn::lazy(url, &settings.redis.key_prefix)?,
            ai,
            store,
            options: WorkerOptions {
                concurrency: settings.jobs.concurrency,
                max_attempts: settings.jobs.max_attempts,
            },
            metrics,
        }))
    }

    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        worker::run(self.redis, self.ai, self.store, self.options, self.metrics, shutdown).await
    }
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    /// The same, with `clock` deciding which day is today (tests set it to a daylight-saving change
    /// or beside the date line).
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let store = storage::open(&settings.database).await?;
        let redis = match &settings.redis.url {
            Some(url) => Some(RedisConn::lazy(url, &settings.redis.key_prefix)?),
            None => None,
        };
        let metrics = Arc::new(Metrics::new());
        let worker = if settings.jobs.enabled && settings.jobs.run_worker {
            WorkerSetup::from_settings(&settings, Arc::clone(&store), Arc::clone(&metrics))?
        } else {
            None
        };
        let address = SocketAddr::new(settings.host, settings.port);
        let state = AppState::with_metrics(settings, store, redis, metrics, clock)?;
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("binding {address}"))?;
        let port = listener.local_addr().context("reading the bound address")?.port();
        Ok(Self {
            listener,
            port,
            state,
            worker,
        })
    }

    /// The port it listens on (the one the OS picked when the settings said 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn runs_worker(&self) -> bool {
        self.worker.is_some()
    }

    /// Serves until `shutdown` resolves, then stops accepting, waits for in-flight requests and
    /// running jobs, and returns.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            worker,
            ..
        } = self;
        let stop = CancellationToken::new();
        let stop_on_signal = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            stop_on_signal.cancel();
        });

        let purge = tokio::spawn(purge_expired_periodically(state.clone()));
        let limits = ConnectionLimits {
            header_read_timeout: state.settings.timeouts.header_read,
            keep_alive_timeout: state.settings.timeouts.keep_alive,
            write_timeout: state.settings.timeouts.write,
            max_connections: state.settings.max_connections,
        };
        let app = crate::http::app(state);
        let api_stopped = stop.clone().cancelled_owned();
        let mut api = tokio::spawn(async move {
            crate::http::server::serve(listener, app, limits, api_stopped)
                .await
                .context("HTTP server failed")
        });
        let worker_stopped = stop.clone().cancelled_owned();
        // Without a worker its task only waits for the stop: it is not reported as stopping.
        let runs_worker = worker.is_some();
        let mut worker = tokio::spawn(async move {
            match worker {
                Some(worker) => worker.run(worker_stopped).await,
                None => {
                    worker_stopped.await;
                    Ok(())
                }
            }
        });

        let outcome = tokio::select! {
            api_outcome = &mut api => {
                report_exit("API", &api_outcome, &stop);
                stop.cancel();
                let _ = worker.await;
                api_outcome
            }
            worker_outcome = &mut worker, if runs_worker => {
                report_exit("AI job worker", &worker_outcome, &stop);
                stop.cancel();
                let api_outcome = api.await;
                // The worker's failure is the reason the process stops; report it first.
                match worker_outcome {
                    Ok(Ok(())) => api_outcome,
                    failed => failed,
                }
            }
        };
        purge.abort();
        outcome.context("task panicked")?
    }
}

/// A standalone worker's `/metrics` (it has no API to serve them from), in the background.
pub async fn serve_worker_metrics(
    host: std::net::IpAddr,
    port: u16,
    metrics: SharedMetrics,
    token: Option<secrecy::SecretString>,
) -> anyhow::Result<()> {
    use axum::http::{StatusCode, header};
    let address = SocketAddr::new(host, port);
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address} for worker metrics"))?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let (metrics, token) = (Arc::clone(&metrics), token.clone());
            async move {
                use crate::http::metrics::{PROMETHEUS_TEXT, token_accepted};
                if !token_accepted(&headers, token.as_ref()) {
                    return (
                        StatusCode::UNAUTHORIZED,
                        [(header::CONTENT_TYPE, "text/plain")],
                        String::new(),
                    );
                }
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
                    metrics.render(false),
                )
            }
        }),
    );
    tracing::info!(%address, "worker metrics at /metrics");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(())
}

fn report_exit(part: &str, outcome: &Result<anyhow::Result<()>, tokio::task::JoinError>, stopped: &CancellationToken) {
    let requested = stopped.is_cancelled();
    match outcome {
        Ok(Ok(())) if requested => tracing::info!("{part} stopped"),
        Ok(Ok(())) => tracing::error!("{part} exited unexpectedly; stopping"),
        Ok(Err(error)) => tracing::error!(error = format!("{error:#}"), "{part} failed; stopping"),
        Err(error) => tracing::error!(error = %error, "{part} panicked; stopping"),
    }
}

async fn purge_expired_periodically(state: AppState) {
    let mut ticker = tokio::time::interval(PURGE_INTERVAL);
    loop {
        ticker.tick().await;
        match state.store.purge_expired(chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "purged expired sessions and revocations"),
            Err(error) => tracing::warn!(error = %error, "could not purge expired sessions"),
        }
    }
}
