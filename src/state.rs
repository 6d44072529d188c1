//! What every handler can reach: built once at start-up, shared behind one `Arc`.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use crate::ai::{AiClient, Retries};
use crate::auth::password::PasswordHasher;
use crate::auth::tokens::TokenKeys;
use crate::auth::{Accounts, AccountsConfig, LoginThrottle, RefreshPolicy};
use crate::config::Settings;
use crate::domain::clock::Clock;
use crate::domain::ids::UserId;
use crate::jobs::JobQueue;
use crate::metrics::{Metrics, SharedMetrics};
use crate::ratelimit::{CounterStore, MemoryCounters, RateLimiter, RedisCounters};
use crate::redis_conn::RedisConn;
use crate::storage::Storage;
use crate::trends_cache::{TRENDS_MAX_AGE, TrendsCache};

#[derive(Clone)]
pub struct AppState(Arc<AppContext>);

pub struct AppContext {
    pub settings: Settings,
    pub store: Arc<dyn Storage>,
    /// Registration, login, tokens, sessions: the account rules.
    pub accounts: Accounts,
    /// Register, login and refresh: per client IP.
    pub auth_limiter: RateLimiter,
    /// AI requests: per user.
    pub ai_limiter: RateLimiter,
    /// Requests made with a personal access token: per token.
    pub token_limiter: RateLimiter,
    /// `None` without an API key: the AI routes answer 503.
    pub ai: Option<AiClient>,
    /// `Some` when async jobs are enabled (Redis configured); requests fall back to inline answers
    /// whenever it cannot take a job.
    pub jobs: Option<JobQueue>,
    pub redis: Option<RedisConn>,
    pub metrics: SharedMetrics,
    /// Decides which day is today for each user (tests stand it on a date of their choosing).
    pub clock: Clock,
    /// Trends answers, served again while the user's entries are unchanged.
    pub trends: TrendsCache,
    /// The rendered OpenAPI document, set when the routes are assembled (shared, never copied).
    pub openapi: std::sync::OnceLock<axum::body::Bytes>,
    pub started_at: Instant,
    /// `MAX_LARGE_BODIES`: a permit per request with a large body being handled (parsed, such a
    /// body costs many times its size; see `http::observe`).
    pub large_bodies: tokio::sync::Semaphore,
    /// `DEVICE_IMPORT_MAX_UPLOADS`: a permit per Apple Health upload being spooled and read (not
    /// memory but disk: each may spool `DEVICE_IMPORT_LIMIT`).
    pub device_uploads: tokio::sync::Semaphore,
    /// The accounts with an Apple Health upload under way on this instance (one each).
    pub device_uploaders: std::sync::Mutex<std::collections::HashSet<crate::domain::ids::UserId>>,
}

impl AppState {
    pub fn new(settings: Settings, store: Arc<dyn Storage>, redis: Option<RedisConn>) -> anyhow::Result<Self> {
        Self::with_metrics(settings, store, redis, Arc::new(Metrics::new()), Clock::system())
    }

    /// With a registry shared with an in-process worker, and a clock of the caller's.
    pub fn with_metrics(
        settings: Settings,
        store: Arc<dyn Storage>,
        redis: Option<RedisConn>,
        metrics: SharedMetrics,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        // Shared counters when Redis is configured, so limits hold across instances.
        let counters: Arc<dyn CounterStore> = match &redis {
            Some(redis) => Arc::new(RedisCounters::new(redis.clone())),
            None => Arc::new(MemoryCounters::default()),
        };
        let limits = &settings.rate_limit;
        let auth_limiter = RateLimiter::new(
            counters.clone(),
            "rl:auth",
            u64::from(limits.auth_max_requests),
            limits.auth_window,
        );
        let throttle = LoginThrottle {
            per_address: RateLimiter::new(
                counters.clone(),
                "rl:login-fail",
                u64::from(limits.login_max_failures),
                limits.login_failure_window,
            ),
            per_account: RateLimiter::new(
                counters.clone(),
                "rl:login-fail-account",
                u64::from(limits.login_max_failures_per_account),
                limits.login_failure_window,
            ),
        };
        let token_limiter = RateLimiter::new(
            counters.clone(),
            "rl:token",
            u64::from(limits.token_max_requests),
            limits.token_window,
        );
        let ai_limiter = RateLimiter::new(
            counters,
            "rl:ai",
            u64::from(settings.ai.rate_limit_max),
            settings.ai.rate_limit_window,
        );
        let jobs = match (&redis, settings.jobs.enabled) {
            (Some(redis), true) => Some(JobQueue::new(redis, settings.jobs.max_per_user)),
            _ => None,
        };
        let accounts = Accounts::new(
            Arc::clone(&store),
            AccountsConfig {
                tokens: TokenKeys::new(&settings.jwt_secret.load()?),
                passwords: PasswordHasher::new(cores)?,
                throttle,
                refresh: RefreshPolicy {
                    rotation: settings.refresh_token_rotation,
                    reuse_interval: settings.refresh_reuse_interval,
                },
                default_timezone: settings.default_timezone,
                registration: settings.registration,
                clock: clock.clone(),
            },
        );
        Ok(Self(Arc::new(AppContext {
            ai: AiClient::new(&settings.ai, Retries::Configured, Arc::clone(&metrics))?,
            store,
            accounts,
            auth_limiter,
            ai_limiter,
            token_limiter,
            jobs,
            redis,
            metrics,
            clock,
            trends: TrendsCache::new(settings.trends_cache_bytes, TRENDS_MAX_AGE),
            large_bodies: tokio::sync::Semaphore::new(
                settings.max_large_bodies.min(tokio::sync::Semaphore::MAX_PERMITS),
            ),
            device_uploads: tokio::sync::Semaphore::new(
                settings.device_import.uploads.min(tokio::sync::Semaphore::MAX_PERMITS),
            ),
            device_uploaders: std::sync::Mutex::default(),
            settings,
            openapi: std::sync::OnceLock::new(),
            started_at: Instant::now(),
        })))
    }
}

impl AppContext {
    /// Clears what the parts outside the account rules keep of a deleted user: trends kept in
    /// memory, the AI requests' counter and, with async jobs, every job record and queued payload in Redis. Best effort
    /// (all of it expires by itself within a day); a failure is logged with the user id only.
    pub async fn forget_user(&self, user: UserId) {
        self.trends.forget_user(user);
        self.ai_limiter.reset(&user.to_string()).await;
        if let Some(jobs) = &self.jobs
            && let Err(error) = jobs.forget_user(user).await
        {
            tracing::warn!(user_id = %user, error = %error, "could not delete a deleted user's AI jobs from Redis");
        }
    }
}

impl Deref for AppState {
    type Target = AppContext;

    fn deref(&self) -> &AppContext {
        &self.0
    }
}
