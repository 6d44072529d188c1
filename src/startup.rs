//! Building and running the application: `Application::build(settings)` binds the listener (port 0
//! picks a free port, which is how tests spawn the real app) and `run_until_stopped` serves until
//! the shutdown future resolves, letting in-flight requests finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::Request;
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use crate::config::Settings;
use crate::ratelimit::{CounterStore, MemoryCounters};
use crate::state::AppState;
use crate::storage;

/// How often expired revocations and sessions are purged from backends without TTL indexes.
const PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = storage::open(&settings.database).await?;
        let counters: Arc<dyn CounterStore> = Arc::new(MemoryCounters::default());
        let address = SocketAddr::new(settings.host, settings.port);
        let state = AppState::new(settings, store, counters)?;
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("binding {address}"))?;
        Ok(Self { listener, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops accepting and waits for in-flight requests.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, state } = self;
        let purge = tokio::spawn(purge_expired_periodically(state.clone()));
        // Trailing slashes are ignored, as Express did (`/api/entries/` is `/api/entries`).
        let app = NormalizePathLayer::trim_trailing_slash().layer(crate::http::router(state));
        let service = axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app);
        let served = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
        purge.abort();
        served.context("HTTP server failed")
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
