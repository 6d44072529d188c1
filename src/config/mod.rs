//! Typed configuration, read once at start-up from the environment (and an optional `.env` file,
//! loaded by `main`). Every variable of README's configuration table is parsed here and nowhere
//! else; an invalid value stops start-up with a line naming the variable and what it accepts. Two
//! variables that are not ours are read where they are used: `RUST_LOG` (tracing's own filter
//! syntax, `telemetry`) and `HOSTNAME` (only to name a job worker, `jobs::worker`). Secrets are
//! wrapped so they never print.
//! `sections` has one reader per section below; `reader` collects the problems.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::domain::timezone::TimeZone;

use self::reader::Reader;
pub use self::reader::{parse_bool, parse_byte_size, redact_url_password, url_password};
pub use self::secret::JwtSecret;

mod reader;
mod secret;
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
    Sqlite {
        path: PathBuf,
        synchronous: SqliteSynchronous,
    },
    /// A MongoDB deployment (`mongodb://` or `mongodb+srv://`); the URL may hold a password, so it
    /// is kept secret and only its host names are ever logged.
    Mongo { url: SecretString },
}

impl DatabaseSettings {
    /// A `DATABASE_URL` as the server reads it (`sqlite://<path>`, `mongodb://…`, `mongodb+srv://…`).
    pub fn from_url(url: &str) -> Option<Self> {
        reader::parse_database_url(url)
    }

    /// The server's database alone — `DATABASE_URL` (or `MONGO_URI`) and `SQLITE_SYNCHRONOUS`, read
    /// as [`Settings::from_env`] reads them — for an operator command that needs nothing else (the
    /// server's other settings, such as production's `JWT_SECRET`, do not stop it). With it, the
    /// variable that named it, for messages (`None`: neither is set, the default store).
    pub fn from_env() -> Result<(Self, Option<&'static str>), ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// [`DatabaseSettings::from_env`] through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<(Self, Option<&'static str>), ConfigError> {
        let mut env = Reader {
            lookup,
            errors: Vec::new(),
        };
        let database = sections::database(&mut env);
        if !env.errors.is_empty() {
            return Err(ConfigError(env.errors));
        }
        Ok((database, sections::database_variable(&env)))
    }

    /// The embedded store at `path`, with the default durability.
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        Self::Sqlite {
            path: path.into(),
            synchronous: SqliteSynchronous::Full,
        }
    }
}

/// `SQLITE_SYNCHRONOUS`: when SQLite waits for the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqliteSynchronous {
    /// Every commit is on disk before it is acknowledged (survives power loss). The default.
    Full,
    /// Commits reach the disk at checkpoints: a crash of the machine (not of the process) can lose
    /// the last acknowledged writes, for faster commits.
    Normal,
}

impl SqliteSynchronous {
    pub fn as_str(self) -> &'static str {
        match self {
            SqliteSynchronous::Full => "FULL",
            SqliteSynchronous::Normal => "NORMAL",
        }
    }
}

/// Where a request's client address (what the per-address limits count) comes from: `TRUST_PROXY`
/// and `TRUSTED_PROXY_HOPS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAddress {
    /// The connection's peer: no proxy in front.
    Peer,
    /// The `X-Forwarded-For` entry `hops` places from the right: the one the outermost trusted proxy
    /// appended. Entries to its left are whatever the client wrote.
    ForwardedFor { hops: usize },
}

/// The most proxies `TRUSTED_PROXY_HOPS` may name.
pub const MAX_TRUSTED_PROXY_HOPS: usize = 10;

#[derive(Clone, Debug)]
pub struct RateLimitSettings {
    /// Requests per client IP per window on register, login and refresh.
    pub auth_max_requests: u32,
    pub auth_window: Duration,
    /// Failed logins per e-mail and client IP per window before that pair is refused.
    pub login_max_failures: u32,
    /// Failed logins per e-mail from all addresses per window (distributed guessing).
    pub login_max_failures_per_account: u32,
    pub login_failure_window: Duration,
    /// Requests per personal access token per window (`TOKEN_RATE_LIMIT_MAX`,
    /// `TOKEN_RATE_LIMIT_WINDOW_SECS`): a leaked or runaway script's token cannot flood the server.
    pub token_max_requests: u32,
    pub token_window: Duration,
}

/// How long the server waits for slow clients (`HEADER_READ_TIMEOUT_SECS`, `KEEP_ALIVE_TIMEOUT_SECS`,
/// `WRITE_TIMEOUT_SECS`, `REQUEST_TIMEOUT_SECS`).
#[derive(Clone, Copy, Debug)]
pub struct TimeoutSettings {
    /// From a request's first byte to the end of its headers.
    pub header_read: Duration,
    /// An idle keep-alive connection is closed after this.
    pub keep_alive: Duration,
    /// A connection whose answer could not be written for this long (the client stopped reading)
    /// is closed.
    pub write: Duration,
    /// A request still unanswered after this gets 503 "Request timed out".
    pub request: Duration,
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

/// `REGISTRATION`: who may create an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistrationMode {
    /// Anyone (the old backend's behaviour, the default).
    Open,
    /// Only with an invite code an administrator or the operator made.
    Invite,
    /// No one: accounts come from elsewhere (copy-data, an earlier mode).
    Closed,
}

impl RegistrationMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "open" => Some(Self::Open),
            "invite" => Some(Self::Invite),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub environment: Environment,
    pub host: IpAddr,
    pub port: u16,
    pub database: DatabaseSettings,
    pub jwt_secret: JwtSecret,
    /// `DEFAULT_TIMEZONE`: the zone of accounts that have not set one.
    pub default_timezone: TimeZone,
    pub allowed_origins: Vec<String>,
    pub body_limit: usize,
    /// `DEVICE_IMPORT_LIMIT`, `DEVICE_IMPORT_MAX_UNZIPPED`.
    pub device_import: DeviceImportSettings,
    /// `MAX_CONNECTIONS`: open connections at most; beyond it the server stops accepting until one
    /// closes.
    pub max_connections: usize,
    /// `MAX_LARGE_BODIES`: requests with a body over [`LARGE_BODY_BYTES`] handled at once; more
    /// wait, their bodies still unread.
    pub max_large_bodies: usize,
    /// `TRENDS_CACHE_SIZE`: memory for trends answers kept between polls (0 turns it off).
    pub trends_cache_bytes: usize,
    pub timeouts: TimeoutSettings,
    pub log_level: String,
    pub log_format: LogFormat,
    /// `TRUST_PROXY`, `TRUSTED_PROXY_HOPS`.
    pub client_address: ClientAddress,
    pub rate_limit: RateLimitSettings,
    pub refresh_token_rotation: bool,
    /// `REGISTRATION`: who may create an account.
    pub registration: RegistrationMode,
    /// `REFRESH_REUSE_INTERVAL_SECS`: a rotated refresh token presented again within this long gets
    /// the same successor (two tabs refreshing at once); later, it is reuse. Zero turns it off.
    pub refresh_reuse_interval: Duration,
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

/// `POST /import/apple-health`'s own limits (every other route keeps `BODY_LIMIT`).
#[derive(Clone, Copy, Debug)]
pub struct DeviceImportSettings {
    /// `DEVICE_IMPORT_LIMIT` (default 1 GiB): the largest upload, 413 beyond.
    pub limit: u64,
    /// `DEVICE_IMPORT_MAX_UNZIPPED` (default 4 GiB): the most an uploaded zip may unpack to.
    pub max_unzipped: u64,
    /// `DEVICE_IMPORT_TIMEOUT_SECS` (default 900): the upload and its import, in place of
    /// `REQUEST_TIMEOUT_SECS` — a phone's export over a slow link takes minutes (1 GiB in 15
    /// minutes is 1.2 MB/s).
    pub timeout: Duration,
    /// `DEVICE_IMPORT_MAX_UPLOADS` (default 2): uploads spooled at once (each up to `limit` on
    /// disk); more wait, unread, within `timeout`.
    pub uploads: usize,
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

/// The existing frontend's origins: CRA (`:3000`), the old backend's port (`:3001`), Vite's dev
/// server (`:5173`) and its `npm start` preview (`:4173`).
pub const DEFAULT_ALLOWED_ORIGINS: &str =
    "http://localhost:3000,http://localhost:3001,http://localhost:5173,http://localhost:4173";
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// A request body over this many bytes (by its `Content-Length`, or any body without one) counts
/// against `MAX_LARGE_BODIES`: parsed, such a body costs many times its size.
pub const LARGE_BODY_BYTES: u64 = 1024 * 1024;

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
        let jwt_secret = sections::jwt_secret(&mut env, environment, &database, &mut warnings);
        let default_timezone = env.parse(
            "DEFAULT_TIMEZONE",
            TimeZone::UTC,
            "an IANA time zone name such as UTC, Europe/Paris or Asia/Kolkata",
            |s| TimeZone::parse(s).ok(),
        );
        let allowed_origins = sections::allowed_origins(&mut env);
        let body_limit = sections::body_limit(&mut env);
        let device_import = sections::device_import(&mut env);
        let max_connections = env.positive("MAX_CONNECTIONS", 10_000, "a positive number of connections");
        let max_large_bodies = env.positive("MAX_LARGE_BODIES", 1, "a positive number of requests");
        let trends_cache_bytes = env.parse(
            "TRENDS_CACHE_SIZE",
            8 * 1024 * 1024,
            "a size such as 8mb or 512kb (0 turns it off)",
            |s| if s.trim() == "0" { Some(0) } else { parse_byte_size(s) },
        );
        let timeouts = sections::timeouts(&mut env);
        let (log_level, log_format) = sections::logging(&mut env, environment);
        let client_address = sections::client_address(&mut env);
        let rate_limit = sections::rate_limits(&mut env);
        let refresh_token_rotation = env.bool("REFRESH_TOKEN_ROTATION", true);
        let registration = env.parse(
            "REGISTRATION",
            RegistrationMode::Open,
            "open, invite or closed",
            RegistrationMode::parse,
        );
        let refresh_reuse_interval = Duration::from_secs(env.parse(
            "REFRESH_REUSE_INTERVAL_SECS",
            10u64,
            "a whole number of seconds (0 turns it off)",
            |s| s.parse().ok(),
        ));
        let ai = sections::ai(&mut env);
        if timeouts.request <= ai.timeout {
            warnings.push(format!(
                "REQUEST_TIMEOUT_SECS ({}) is not above AI_TIMEOUT_SECS ({}): inline AI answers can be cut off",
                timeouts.request.as_secs(),
                ai.timeout.as_secs()
            ));
        }
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
            default_timezone,
            allowed_origins,
            body_limit,
            device_import,
            max_connections,
            max_large_bodies,
            trends_cache_bytes,
            timeouts,
            log_level,
            log_format,
            client_address,
            rate_limit,
            refresh_token_rotation,
            registration,
            refresh_reuse_interval,
            ai,
            redis,
            jobs,
            metrics_token,
            worker_metrics_port,
            warnings,
        })
    }
}
