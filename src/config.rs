//! Typed configuration, read once at start-up from the environment (and an optional `.env` file,
//! loaded by `main`). Every variable is parsed here and nowhere else; an invalid value stops start-up
//! with a line naming the variable and what it accepts. Secrets are wrapped so they never print.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

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

/// Reads variables, collecting every problem instead of stopping at the first.
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<String>,
}

impl Reader<'_> {
    /// A variable's value; unset and blank are the same.
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn parse<T>(&mut self, name: &str, default: T, accepts: &str, parse: impl FnOnce(&str) -> Option<T>) -> T {
        match self.get(name) {
            None => default,
            Some(raw) => parse(&raw).unwrap_or_else(|| {
                self.errors
                    .push(format!("{name}: invalid value {raw:?}; expected {accepts}"));
                default
            }),
        }
    }

    fn bool(&mut self, name: &str, default: bool) -> bool {
        self.parse(name, default, "true or false", parse_bool)
    }

    fn positive<T: std::str::FromStr + PartialOrd + Default>(&mut self, name: &str, default: T, accepts: &str) -> T {
        self.parse(name, default, accepts, |s| {
            s.parse::<T>().ok().filter(|n| *n > T::default())
        })
    }
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `10mb`, `100kb`, `512b`, `1048576` (units of 1024, as the old backend's body parser read them).
pub fn parse_byte_size(s: &str) -> Option<usize> {
    let s = s.to_ascii_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiplier = match unit.trim() {
        "" | "b" => 1.0,
        "kb" => 1024.0,
        "mb" => 1024.0 * 1024.0,
        "gb" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * multiplier;
    (bytes >= 1.0 && bytes <= usize::MAX as f64).then_some(bytes as usize)
}

fn parse_origin(s: &str) -> Option<String> {
    let origin = s.trim().trim_end_matches('/');
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))?;
    let valid = !rest.is_empty()
        && !rest.contains(['/', '?', '#', ' ', '*'])
        && axum::http::HeaderValue::from_str(origin).is_ok();
    valid.then(|| origin.to_owned())
}

fn parse_database_url(url: &str) -> Option<DatabaseSettings> {
    if url.starts_with("mongodb://") || url.starts_with("mongodb+srv://") {
        // The rest is the driver's to check (at start-up), with every option it supports.
        return Some(DatabaseSettings::Mongo {
            url: SecretString::from(url),
        });
    }
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| DatabaseSettings::Sqlite {
        path: PathBuf::from(path),
    })
}

/// `REDIS_URL`, or the old backend's `REDIS_HOST`/`REDIS_PORT`/`REDIS_PASSWORD`/`REDIS_DB`. With async
/// jobs on and neither set, the old backend's default (localhost:6379).
fn redis_url(env: &mut Reader<'_>, jobs_enabled: bool) -> Option<String> {
    if let Some(url) = env.get("REDIS_URL") {
        if url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://") {
            return Some(url);
        }
        env.errors
            .push("REDIS_URL: invalid value; expected redis://[:password@]host:port[/db] or rediss://…".to_owned());
        return None;
    }
    let host = env.get("REDIS_HOST");
    if host.is_none() && !jobs_enabled {
        return None;
    }
    let host = host.unwrap_or_else(|| "127.0.0.1".to_owned());
    let port = env.parse("REDIS_PORT", 6379u16, "a port number", |s| s.parse().ok());
    let db = env.parse("REDIS_DB", 0u32, "a database number", |s| s.parse().ok());
    let auth = env
        .get("REDIS_PASSWORD")
        .map(|p| format!(":{}@", percent_encode(&p)))
        .unwrap_or_default();
    Some(format!("redis://{auth}{host}:{port}/{db}"))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The password in a `scheme://user:password@host…` URL, if it has one.
pub fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    userinfo
        .split_once(':')
        .map(|(_, password)| password)
        .filter(|p| !p.is_empty())
}

/// `scheme://user:***@host…`: a URL (or a message quoting one) fit to print.
pub fn redact_url_password(text: &str, url: &str) -> String {
    match url_password(url) {
        Some(password) => text.replace(password, "***"),
        None => text.to_owned(),
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Reader {
            lookup,
            errors: Vec::new(),
        };
        let mut warnings = Vec::new();

        let env_name = if env.get("APP_ENV").is_some() {
            "APP_ENV"
        } else {
            "NODE_ENV"
        };
        let environment = env.parse(
            env_name,
            Environment::Development,
            "development, production or test",
            |s| match s.to_ascii_lowercase().as_str() {
                "development" | "dev" => Some(Environment::Development),
                "production" | "prod" => Some(Environment::Production),
                "test" => Some(Environment::Test),
                _ => None,
            },
        );

        let port = env.parse("PORT", 5000, "a port number 0-65535", |s| s.parse::<u16>().ok());
        let host = env.parse(
            "HOST",
            IpAddr::from([127, 0, 0, 1]),
            "an IP address such as 127.0.0.1 or 0.0.0.0",
            |s| s.parse().ok(),
        );

        let database_var = if env.get("DATABASE_URL").is_some() {
            "DATABASE_URL"
        } else {
            "MONGO_URI"
        };
        let database = match env.get(database_var) {
            None => DatabaseSettings::Sqlite {
                path: PathBuf::from("data/healthtracker.db"),
            },
            Some(raw) => parse_database_url(&raw).unwrap_or_else(|| {
                // Not `env.parse`: that quotes the value, and a database URL can carry a password.
                env.errors.push(format!(
                    "{database_var}: invalid value {:?}; expected sqlite://<path to a database file>, \
                     mongodb://… or mongodb+srv://…",
                    redact_url_password(&raw, &raw)
                ));
                DatabaseSettings::Sqlite { path: PathBuf::new() }
            }),
        };

        let jwt_secret = match env.get("JWT_SECRET") {
            Some(secret) if secret.len() >= MIN_JWT_SECRET_BYTES => SecretString::from(secret),
            Some(_) if environment == Environment::Production => {
                env.errors.push(format!(
                    "JWT_SECRET: too short for production; expected at least {MIN_JWT_SECRET_BYTES} bytes \
                     (generate one with `openssl rand -hex 32`)"
                ));
                SecretString::from(String::new())
            }
            None if environment == Environment::Production => {
                env.errors.push(format!(
                    "JWT_SECRET: not set; production needs a secret of at least {MIN_JWT_SECRET_BYTES} bytes \
                     (generate one with `openssl rand -hex 32`)"
                ));
                SecretString::from(String::new())
            }
            Some(secret) => {
                warnings.push(format!(
                    "JWT_SECRET is shorter than {MIN_JWT_SECRET_BYTES} bytes; production refuses to start with it"
                ));
                SecretString::from(secret)
            }
            None => {
                warnings.push(
                    "JWT_SECRET is not set: using a random secret for this run (tokens stop working on restart)"
                        .to_owned(),
                );
                SecretString::from(hex::encode(rand::random::<[u8; 32]>()))
            }
        };

        let allowed_origins = env.parse(
            "ALLOWED_ORIGINS",
            DEFAULT_ALLOWED_ORIGINS.split(',').map(str::to_owned).collect(),
            "a comma-separated list of origins such as https://app.example.com (no wildcard: credentials are allowed)",
            |s| {
                s.split(',')
                    .filter(|o| !o.trim().is_empty())
                    .map(parse_origin)
                    .collect::<Option<Vec<_>>>()
            },
        );

        let body_limit = env.parse(
            "BODY_LIMIT",
            10 * 1024 * 1024,
            "a size such as 10mb, 512kb or a byte count",
            parse_byte_size,
        );

        let log_level = env.parse(
            "LOG_LEVEL",
            "info".to_owned(),
            "error, warn, info, debug, trace or off",
            |s| match s.to_ascii_lowercase().as_str() {
                level @ ("error" | "warn" | "info" | "debug" | "trace" | "off") => Some(level.to_owned()),
                "fatal" => Some("error".to_owned()),
                "silent" => Some("off".to_owned()),
                _ => None,
            },
        );
        let default_format = if environment == Environment::Production {
            LogFormat::Json
        } else {
            LogFormat::Pretty
        };
        let log_format = env.parse("LOG_FORMAT", default_format, "json or pretty", |s| {
            match s.to_ascii_lowercase().as_str() {
                "json" => Some(LogFormat::Json),
                "pretty" => Some(LogFormat::Pretty),
                _ => None,
            }
        });

        let trust_proxy = env.bool("TRUST_PROXY", false);
        let ms = |n: u64| Duration::from_millis(n);
        let rate_limit = RateLimitSettings {
            auth_window: ms(env.positive("RATE_LIMIT_WINDOW_MS", 900_000u64, "a positive number of milliseconds")),
            auth_max_requests: env.positive("RATE_LIMIT_MAX_REQUESTS", 100u32, "a positive whole number"),
            login_failure_window: ms(env.positive(
                "LOGIN_FAILURE_WINDOW_MS",
                900_000u64,
                "a positive number of milliseconds",
            )),
            login_max_failures: env.positive("LOGIN_MAX_FAILURES", 5u32, "a positive whole number"),
        };
        let refresh_token_rotation = env.bool("REFRESH_TOKEN_ROTATION", true);

        let ai = AiSettings {
            api_key: env.get("GROQ_API_KEY").map(SecretString::from),
            base_url: env.parse(
                "AI_BASE_URL",
                "https://api.groq.com/openai/v1".to_owned(),
                "an http(s) URL such as https://api.groq.com/openai/v1",
                |s| (s.starts_with("http://") || s.starts_with("https://")).then(|| s.trim_end_matches('/').to_owned()),
            ),
            model: env.get("AI_MODEL").unwrap_or_else(|| "llama-3.1-8b-instant".to_owned()),
            timeout: Duration::from_secs(env.positive("AI_TIMEOUT_SECS", 30u64, "a positive number of seconds")),
            max_retries: env.parse("AI_MAX_RETRIES", 2, "a whole number 0-10", |s| {
                s.parse::<u32>().ok().filter(|n| *n <= 10)
            }),
            rate_limit_max: env.positive("AI_RATE_LIMIT_MAX", 10u32, "a positive whole number"),
            rate_limit_window: ms(env.positive(
                "AI_RATE_LIMIT_WINDOW_MS",
                900_000u64,
                "a positive number of milliseconds",
            )),
        };

        let jobs_enabled = env.bool("ENABLE_ASYNC_JOBS", false);
        let redis = RedisSettings {
            url: redis_url(&mut env, jobs_enabled).map(SecretString::from),
            key_prefix: env.parse(
                "REDIS_KEY_PREFIX",
                "healthtracker".to_owned(),
                "letters, digits, '-', '_' or ':'",
                |s| {
                    s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_:".contains(c))
                        .then(|| s.to_owned())
                },
            ),
        };
        let jobs = JobSettings {
            enabled: jobs_enabled,
            run_worker: env.bool("RUN_WORKER", true),
            max_attempts: env.parse("AI_JOB_MAX_ATTEMPTS", 3, "a whole number 1-25", |s| {
                s.parse::<u32>().ok().filter(|n| (1..=25).contains(n))
            }),
            concurrency: env.positive("WORKER_CONCURRENCY", 5usize, "a positive whole number"),
            max_per_user: env.positive("AI_MAX_JOBS_PER_USER", 5u32, "a positive whole number"),
        };

        let metrics_token = env.get("METRICS_TOKEN").map(SecretString::from);
        let worker_metrics_port = env.parse("WORKER_METRICS_PORT", None, "a port number 1-65535", |s| {
            s.parse::<u16>().ok().filter(|p| *p > 0).map(Some)
        });

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

    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// The secret's length, for diagnostics that must not print it.
    pub fn jwt_secret_len(&self) -> usize {
        self.jwt_secret.expose_secret().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(&move |k| map.get(k).cloned())
    }

    #[test]
    fn zero_configuration_works_in_development() -> Result<(), ConfigError> {
        let s = settings(&[])?;
        assert_eq!(s.port, 5000);
        assert_eq!(s.host.to_string(), "127.0.0.1");
        assert_eq!(s.body_limit, 10 * 1024 * 1024);
        assert!(s.jwt_secret_len() >= MIN_JWT_SECRET_BYTES);
        assert_eq!(s.allowed_origins.len(), 3);
        assert!(s.refresh_token_rotation);
        assert!(!s.warnings.is_empty());
        Ok(())
    }

    #[test]
    fn production_requires_a_long_secret() {
        let err = settings(&[("NODE_ENV", "production")])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("JWT_SECRET"), "{err}");
        let err = settings(&[("APP_ENV", "production"), ("JWT_SECRET", "short")])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("too short") && !err.contains("short\""), "{err}");
        assert!(settings(&[("APP_ENV", "production"), ("JWT_SECRET", &"x".repeat(32))]).is_ok());
    }

    #[test]
    fn every_bad_variable_is_named() {
        let err = settings(&[
            ("PORT", "eighty"),
            ("BODY_LIMIT", "huge"),
            ("ALLOWED_ORIGINS", "*"),
            ("TRUST_PROXY", "maybe"),
        ])
        .err()
        .map(|e| e.0)
        .unwrap_or_default();
        let names: Vec<_> = err.iter().map(|l| l.split(':').next().unwrap_or_default()).collect();
        assert_eq!(names, ["PORT", "ALLOWED_ORIGINS", "BODY_LIMIT", "TRUST_PROXY"]);
    }

    #[test]
    fn redis_from_the_old_variables() {
        use secrecy::ExposeSecret;
        let url = |vars: &[(&str, &str)]| {
            settings(vars)
                .ok()
                .and_then(|s| s.redis.url.map(|u| u.expose_secret().to_owned()))
        };
        assert_eq!(url(&[]), None);
        assert_eq!(
            url(&[("ENABLE_ASYNC_JOBS", "true")]).as_deref(),
            Some("redis://127.0.0.1:6379/0")
        );
        assert_eq!(
            url(&[
                ("REDIS_HOST", "cache"),
                ("REDIS_PORT", "6380"),
                ("REDIS_PASSWORD", "p@ss"),
                ("REDIS_DB", "2")
            ])
            .as_deref(),
            Some("redis://:p%40ss@cache:6380/2")
        );
        assert_eq!(
            url(&[("REDIS_URL", "redis://r:1/3"), ("REDIS_HOST", "ignored")]).as_deref(),
            Some("redis://r:1/3")
        );
        assert!(settings(&[("REDIS_URL", "http://nope")]).is_err());
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("10mb"), Some(10 * 1024 * 1024));
        assert_eq!(parse_byte_size("100KB"), Some(100 * 1024));
        assert_eq!(parse_byte_size("2048"), Some(2048));
        assert_eq!(parse_byte_size("1.5mb"), Some(1_572_864));
        assert_eq!(parse_byte_size("lots"), None);
        assert_eq!(parse_byte_size("0"), None);
    }

    #[test]
    fn database_urls() {
        assert!(
            matches!(parse_database_url("sqlite://data/x.db"), Some(DatabaseSettings::Sqlite { path }) if path.as_path() == std::path::Path::new("data/x.db"))
        );
        assert!(
            matches!(parse_database_url("sqlite:///tmp/x.db"), Some(DatabaseSettings::Sqlite { path }) if path.as_path() == std::path::Path::new("/tmp/x.db"))
        );
        assert!(parse_database_url("sqlite::memory:").is_none());
        assert!(parse_database_url("postgres://x").is_none());
        for url in [
            "mongodb://localhost:27017/healthtracker",
            "mongodb+srv://app:pw@cluster0.example.net/healthtracker?retryWrites=true&w=majority",
        ] {
            assert!(
                matches!(parse_database_url(url), Some(DatabaseSettings::Mongo { url: secret }) if secret.expose_secret() == url)
            );
        }
    }

    #[test]
    fn the_old_mongo_uri_variable_still_works() {
        let s = settings(&[("MONGO_URI", "mongodb://db.internal:27017/healthtracker")]);
        assert!(matches!(s.map(|s| s.database), Ok(DatabaseSettings::Mongo { .. })));
        // DATABASE_URL wins when both are set.
        let s = settings(&[("MONGO_URI", "mongodb://db/x"), ("DATABASE_URL", "sqlite://x.db")]);
        assert!(matches!(s.map(|s| s.database), Ok(DatabaseSettings::Sqlite { .. })));
    }

    #[test]
    fn a_bad_database_url_is_reported_without_its_password() {
        let err = settings(&[("DATABASE_URL", "mongo://app:hunter2@db.example.com/ht")])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("DATABASE_URL") && err.contains("db.example.com"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let url = "mongodb://app:s3cret@db1:27017,db2/ht?replicaSet=rs0";
        assert_eq!(url_password(url), Some("s3cret"));
        assert_eq!(
            redact_url_password(url, url),
            "mongodb://app:***@db1:27017,db2/ht?replicaSet=rs0"
        );
        assert_eq!(
            redact_url_password("auth failed for app:s3cret", url),
            "auth failed for app:***"
        );
        assert_eq!(url_password("mongodb://db1/ht"), None);
        assert_eq!(url_password("mongodb://user@db1/ht"), None);
    }
}
