//! Typed configuration, read once at start-up from the environment (and an optional `.env` file,
//! loaded by `main`). Every variable is parsed here and nowhere else; an invalid value stops start-up
//! with a line naming the variable and what it accepts. Secrets are wrapped so they never print.
//! `sections` has one reader per section below; `reader` collects the problems.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use self::reader::Reader;
pub use self::reader::{parse_bool, parse_byte_size, redact_url_password, url_password};

mod reader;
mod sections;
#[cfg(test)]
mod tests;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
    Test,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Production => "production",
            Environment::Test => "test",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Clone, Debug)]
pub enum DatabaseSettings {
    /// The embedded store: a SQLite file (its directory is created).
    Sqlite { path: PathBuf },
    /// A MongoDB deployment (`mongodb://` or `mongodb+srv://`); the URL may hold a password, so it
    /// is kept secret and only its host names are ever logged.
    Mongo { url: SecretString },
}

#[derive(Clone, Debug)]
pub struct RateLimitSettings {
    /// Requests per client IP per window on register, login and refresh.
    pub auth_max_requests: u32,
    pub auth_window: Duration,
    /// Failed logins per e-mail per window before further attempts are refused.
    pub login_max_failures: u32,
    pub login_failure_window: Duration,
}

/// The AI provider: any OpenAI-compatible chat-completions API (Groq by default).
#[derive(Clone, Debug)]
pub struct AiSettings {
    /// `GROQ_API_KEY`; without it the AI routes answer 503.
    pub api_key: Option<SecretString>,
    pub base_url: String,
    pub model: String,
    /// Overall time for one AI answer, retries included.
    pub timeout: Duration,
    /// Retries of 429/5xx/timeouts within `timeout` (synchronous requests; queued jobs retry as jobs).
    pub max_retries: u32,
    /// AI POST routes per user per window.
    pub rate_limit_max: u32,
    pub rate_limit_window: Duration,
}

/// Redis: queue for AI jobs, shared rate-limit counters.
#[derive(Clone, Debug)]
pub struct RedisSettings {
    /// `None` when Redis is not configured (everything then runs in process).
    pub url: Option<SecretString>,
    /// Prefix of every key this server writes, so several deployments (or tests) can share a Redis.
    pub key_prefix: String,
}

/// Asynchronous AI jobs.
#[derive(Clone, Debug)]
pub struct JobSettings {
    /// `ENABLE_ASYNC_JOBS`: queue AI requests in Redis instead of answering them inline.
    pub enabled: bool,
    /// `RUN_WORKER`: whether `serve` also runs a worker in process.
    pub run_worker: bool,
    pub max_attempts: u32,
    pub concurrency: usize,
    /// Jobs one user may have queued or running at once.
    pub max_per_user: u32,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub environment: Environment,
    pub host: IpAddr,
    pub port: u16,
    pub database: DatabaseSettings,
    pub jwt_secret: SecretString,
    pub allowed_origins: Vec<String>,
    pub body_limit: usize,
    pub log_level: String,
    pub log_format: LogFormat,
    pub trust_proxy: bool,
    pub rate_limit: RateLimitSettings,
    pub refresh_token_rotation: bool,
    pub ai: AiSettings,
    pub redis: RedisSettings,
    pub jobs: JobSettings,
    /// `METRICS_TOKEN`: when set, `/metrics` requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<SecretString>,
    /// `WORKER_METRICS_PORT`: where a standalone `worker` serves its `/metrics` (none when unset).
    pub worker_metrics_port: Option<u16>,
    /// Things worth a warning once logging is up (e.g. a generated JWT secret).
    pub warnings: Vec<String>,
}

/// Why start-up stopped: one line per bad variable.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for ConfigError {}

pub const DEFAULT_ALLOWED_ORIGINS: &str = "http://localhost:3000,http://localhost:3001,http://localhost:5173";
pub const MIN_JWT_SECRET_BYTES: usize = 32;

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (tests pass a map), section by section, and reports every
    /// bad variable at once.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Reader {
            lookup,
            errors: Vec::new(),
        };
        let mut warnings = Vec::new();
        let environment = sections::environment(&mut env);
        let (host, port) = sections::listen_address(&mut env);
        let database = sections::database(&mut env);
        let jwt_secret = sections::jwt_secret(&mut env, environment, &mut warnings);
        let allowed_origins = sections::allowed_origins(&mut env);
        let body_limit = sections::body_limit(&mut env);
        let (log_level, log_format) = sections::logging(&mut env, environment);
        let trust_proxy = env.bool("TRUST_PROXY", false);
        let rate_limit = sections::rate_limits(&mut env);
        let refresh_token_rotation = env.bool("REFRESH_TOKEN_ROTATION", true);
        let ai = sections::ai(&mut env);
        let jobs_enabled = env.bool("ENABLE_ASYNC_JOBS", false);
        let redis = sections::redis(&mut env, jobs_enabled);
        let jobs = sections::jobs(&mut env, jobs_enabled);
        let (metrics_token, worker_metrics_port) = sections::metrics(&mut env);

        if !env.errors.is_empty() {
            return Err(ConfigError(env.errors));
        }
        Ok(Self {
            environment,
            host,
            port,
            database,
            jwt_secret,
            allowed_origins,
            body_limit,
            log_level,
            log_format,
            trust_proxy,
            rate_limit,
            refresh_token_rotation,
            ai,
            redis,
            jobs,
            metrics_token,
            worker_metrics_port,
            warnings,
        })
    }

    /// The secret's length, for diagnostics that must not print it.
    pub fn jwt_secret_len(&self) -> usize {
        self.jwt_secret.expose_secret().len()
    }
}
