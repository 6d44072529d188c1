//! What every handler can reach: built once at start-up, shared behind one `Arc`.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use crate::auth::password::PasswordHasher;
use crate::auth::tokens::TokenKeys;
use crate::config::Settings;
use crate::ratelimit::{CounterStore, RateLimiter};
use crate::storage::Storage;

#[derive(Clone)]
pub struct AppState(Arc<AppContext>);

pub struct AppContext {
    pub settings: Settings,
    pub store: Arc<dyn Storage>,
    pub tokens: TokenKeys,
    pub passwords: PasswordHasher,
    /// Register, login and refresh: per client IP.
    pub auth_limiter: RateLimiter,
    /// Failed logins: per e-mail.
    pub login_failures: RateLimiter,
    pub started_at: Instant,
}

impl AppState {
    pub fn new(settings: Settings, store: Arc<dyn Storage>, counters: Arc<dyn CounterStore>) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let limits = &settings.rate_limit;
        let auth_limiter = RateLimiter::new(
            counters.clone(),
            "rl:auth",
            u64::from(limits.auth_max_requests),
            limits.auth_window,
        );
        let login_failures = RateLimiter::new(
            counters,
            "rl:login-fail",
            u64::from(limits.login_max_failures),
            limits.login_failure_window,
        );
        Ok(Self(Arc::new(AppContext {
            tokens: TokenKeys::new(&settings.jwt_secret),
            passwords: PasswordHasher::new(cores)?,
            store,
            auth_limiter,
            login_failures,
            settings,
            started_at: Instant::now(),
        })))
    }
}

impl Deref for AppState {
    type Target = AppContext;

    fn deref(&self) -> &AppContext {
        &self.0
    }
}
