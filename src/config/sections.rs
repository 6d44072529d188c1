//! One reader per settings section: each reads its own variables, with their defaults and what they
//! accept, and records what is wrong in the shared [`Reader`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::reader::{Reader, parse_byte_size, parse_database_url, parse_origin, redact_url_password, redis_url};
use super::{
    AiSettings, ClientAddress, DEFAULT_ALLOWED_ORIGINS, DatabaseSettings, DeviceImportSettings, Environment,
    JobSettings, JwtSecret, LogFormat, MAX_TRUSTED_PROXY_HOPS, MIN_JWT_SECRET_BYTES, RateLimitSettings, RedisSettings,
    SqliteSynchronous, TimeoutSettings,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `APP_ENV`, or the old backend's `NODE_ENV`.
pub(super) fn environment(env: &mut Reader<'_>) -> Environment {
    let name = if env.get("APP_ENV").is_some() {
        "APP_ENV"
    } else {
        "NODE_ENV"
    };
    env.parse(
        name,
        Environment::Development,
        "development, production or test",
        |s| match s.to_ascii_lowercase().as_str() {
            "development" | "dev" => Some(Environment::Development),
            "production" | "prod" => Some(Environment::Production),
            "test" => Some(Environment::Test),
            _ => None,
        },
    )
}

/// `HOST` and `PORT`.
pub(super) fn listen_address(env: &mut Reader<'_>) -> (IpAddr, u16) {
    let port = env.parse("PORT", 5000, "a port number 0-65535", |s| s.parse::<u16>().ok());
    let host = env.parse(
        "HOST",
        IpAddr::from([127, 0, 0, 1]),
        "an IP address such as 127.0.0.1 or 0.0.0.0",
        |s| s.parse().ok(),
    );
    (host, port)
}

/// The variable that names the database: `DATABASE_URL`, else the old backend's `MONGO_URI`; `None`
/// when neither is set (the embedded store's default).
pub(super) fn database_variable(env: &Reader<'_>) -> Option<&'static str> {
    ["DATABASE_URL", "MONGO_URI"]
        .into_iter()
        .find(|name| env.get(name).is_some())
}

/// `DATABASE_URL`, or the old backend's `MONGO_URI`; the embedded store by default.
pub(super) fn database(env: &mut Reader<'_>) -> DatabaseSettings {
    let name = database_variable(env).unwrap_or("DATABASE_URL");
    let synchronous = env.parse(
        "SQLITE_SYNCHRONOUS",
        SqliteSynchronous::Full,
        "full or normal",
        |s| match s.to_ascii_lowercase().as_str() {
            "full" => Some(SqliteSynchronous::Full),
            "normal" => Some(SqliteSynchronous::Normal),
            _ => None,
        },
    );
    let database = match env.get(name) {
        None => DatabaseSettings::sqlite("data/healthtracker.db"),
        Some(raw) => parse_database_url(&raw).unwrap_or_else(|| {
            // Not `env.parse`: that quotes the value, and a database URL can carry a password.
            env.errors.push(format!(
                "{name}: invalid value {:?}; expected sqlite://<path to a database file>, \
                 mongodb://… or mongodb+srv://…",
                redact_url_password(&raw, &raw)
            ));
            DatabaseSettings::sqlite(PathBuf::new())
        }),
    };
    match database {
        DatabaseSettings::Sqlite { path, .. } => DatabaseSettings::Sqlite { path, synchronous },
        mongo => mongo,
    }
}

/// `JWT_SECRET`: required (and long) in production; elsewhere, when unset, one kept in the data
/// directory (the SQLite file's directory, or `data/`).
pub(super) fn jwt_secret(
    env: &mut Reader<'_>,
    environment: Environment,
    database: &DatabaseSettings,
    warnings: &mut Vec<String>,
) -> JwtSecret {
    let production = environment == Environment::Production;
    match env.get("JWT_SECRET") {
        Some(secret) if secret.len() >= MIN_JWT_SECRET_BYTES => JwtSecret::Given(SecretString::from(secret)),
        Some(_) if production => {
            env.errors.push(format!(
                "JWT_SECRET: too short for production; expected at least {MIN_JWT_SECRET_BYTES} bytes \
                 (generate one with `openssl rand -hex 32`)"
            ));
            JwtSecret::Given(SecretString::from(String::new()))
        }
        None if production => {
            env.errors.push(format!(
                "JWT_SECRET: not set; production needs a secret of at least {MIN_JWT_SECRET_BYTES} bytes \
                 (generate one with `openssl rand -hex 32`)"
            ));
            JwtSecret::Given(SecretString::from(String::new()))
        }
        Some(secret) => {
            warnings.push(format!(
                "JWT_SECRET is shorter than {MIN_JWT_SECRET_BYTES} bytes; production refuses to start with it"
            ));
            JwtSecret::Given(SecretString::from(secret))
        }
        None => {
            let data_dir = match database {
                DatabaseSettings::Sqlite { path, .. } => path
                    .parent()
                    .filter(|dir| !dir.as_os_str().is_empty())
                    .map_or_else(|| PathBuf::from("."), PathBuf::from),
                DatabaseSettings::Mongo { .. } => PathBuf::from("data"),
            };
            JwtSecret::KeptIn(data_dir.join("jwt-secret"))
        }
    }
}

/// `ALLOWED_ORIGINS`.
pub(super) fn allowed_origins(env: &mut Reader<'_>) -> Vec<String> {
    env.parse(
        "ALLOWED_ORIGINS",
        DEFAULT_ALLOWED_ORIGINS.split(',').map(str::to_owned).collect(),
        "a comma-separated list of origins such as https://app.example.com (no wildcard: credentials are allowed)",
        |s| {
            s.split(',')
                .filter(|o| !o.trim().is_empty())
                .map(parse_origin)
                .collect::<Option<Vec<_>>>()
        },
    )
}

/// `BODY_LIMIT`.
pub(super) fn body_limit(env: &mut Reader<'_>) -> usize {
    env.parse(
        "BODY_LIMIT",
        10 * 1024 * 1024,
        "a size such as 10mb, 512kb or a byte count",
        parse_byte_size,
    )
}

/// `DEVICE_IMPORT_LIMIT` (1 GiB), `DEVICE_IMPORT_MAX_UNZIPPED` (4 GiB), `DEVICE_IMPORT_TIMEOUT_SECS`
/// (900), `DEVICE_IMPORT_MAX_UPLOADS` (2).
pub(super) fn device_import(env: &mut Reader<'_>) -> DeviceImportSettings {
    let mut size = |name: &str, default: u64| {
        env.parse(name, default, "a size such as 1gb, 512mb or a byte count", |s| {
            parse_byte_size(s).map(|n| n as u64).filter(|n| *n > 0)
        })
    };
    let limit = size("DEVICE_IMPORT_LIMIT", 1 << 30);
    let max_unzipped = size("DEVICE_IMPORT_MAX_UNZIPPED", 4 << 30);
    let timeout = secs(env, "DEVICE_IMPORT_TIMEOUT_SECS", 900);
    let uploads = env.positive("DEVICE_IMPORT_MAX_UPLOADS", 2, "a positive number of uploads");
    DeviceImportSettings {
        limit,
        max_unzipped,
        timeout,
        uploads,
    }
}

/// `HEADER_READ_TIMEOUT_SECS`, `KEEP_ALIVE_TIMEOUT_SECS`, `WRITE_TIMEOUT_SECS`, `REQUEST_TIMEOUT_SECS`.
pub(super) fn timeouts(env: &mut Reader<'_>) -> TimeoutSettings {
    TimeoutSettings {
        header_read: secs(env, "HEADER_READ_TIMEOUT_SECS", 10),
        keep_alive: secs(env, "KEEP_ALIVE_TIMEOUT_SECS", 75),
        write: secs(env, "WRITE_TIMEOUT_SECS", 30),
        request: secs(env, "REQUEST_TIMEOUT_SECS", 60),
    }
}

fn secs(env: &mut Reader<'_>, name: &str, default: u64) -> Duration {
    Duration::from_secs(env.positive(name, default, "a positive number of seconds"))
}

/// `LOG_LEVEL` and `LOG_FORMAT` (JSON in production by default).
pub(super) fn logging(env: &mut Reader<'_>, environment: Environment) -> (String, LogFormat) {
    let level = env.parse(
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
    let format = env.parse("LOG_FORMAT", default_format, "json or pretty", |s| {
        match s.to_ascii_lowercase().as_str() {
            "json" => Some(LogFormat::Json),
            "pretty" => Some(LogFormat::Pretty),
            _ => None,
        }
    });
    (level, format)
}

/// `TRUST_PROXY` and `TRUSTED_PROXY_HOPS` (read, and checked, only behind a proxy).
pub(super) fn client_address(env: &mut Reader<'_>) -> ClientAddress {
    if !env.bool("TRUST_PROXY", false) {
        return ClientAddress::Peer;
    }
    let hops = env.parse(
        "TRUSTED_PROXY_HOPS",
        1,
        &format!("the number of proxies in front of the server, 1 to {MAX_TRUSTED_PROXY_HOPS}"),
        |s| {
            s.parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_TRUSTED_PROXY_HOPS).contains(n))
        },
    );
    ClientAddress::ForwardedFor { hops }
}

/// The auth routes' per-IP limit and the failed-login throttle.
pub(super) fn rate_limits(env: &mut Reader<'_>) -> RateLimitSettings {
    RateLimitSettings {
        auth_window: ms(env.positive("RATE_LIMIT_WINDOW_MS", 900_000u64, "a positive number of milliseconds")),
        auth_max_requests: env.positive("RATE_LIMIT_MAX_REQUESTS", 100u32, "a positive whole number"),
        login_failure_window: ms(env.positive(
            "LOGIN_FAILURE_WINDOW_MS",
            900_000u64,
            "a positive number of milliseconds",
        )),
        login_max_failures: env.positive("LOGIN_MAX_FAILURES", 5u32, "a positive whole number"),
        login_max_failures_per_account: env.positive(
            "LOGIN_MAX_FAILURES_PER_ACCOUNT",
            100u32,
            "a positive whole number",
        ),
        token_max_requests: env.positive("TOKEN_RATE_LIMIT_MAX", 600u32, "a positive whole number"),
        token_window: secs(env, "TOKEN_RATE_LIMIT_WINDOW_SECS", 60),
    }
}

/// The AI provider and its per-user limit.
pub(super) fn ai(env: &mut Reader<'_>) -> AiSettings {
    AiSettings {
        api_key: env.get("GROQ_API_KEY").map(SecretString::from),
        base_url: env.parse(
            "AI_BASE_URL",
            "https://api.groq.com/openai/v1".to_owned(),
            "an http(s) URL such as https://api.groq.com/openai/v1",
            |s| (s.starts_with("http://") || s.starts_with("https://")).then(|| s.trim_end_matches('/').to_owned()),
        ),
        model: env.get("AI_MODEL").unwrap_or_else(|| "llama-3.1-8b-instant".to_owned()),
        timeout: secs(env, "AI_TIMEOUT_SECS", 30),
        max_retries: env.parse("AI_MAX_RETRIES", 2, "a whole number 0-10", |s| {
            s.parse::<u32>().ok().filter(|n| *n <= 10)
        }),
        rate_limit_max: env.positive("AI_RATE_LIMIT_MAX", 10u32, "a positive whole number"),
        rate_limit_window: ms(env.positive(
            "AI_RATE_LIMIT_WINDOW_MS",
            900_000u64,
            "a positive number of milliseconds",
        )),
    }
}

/// Redis (`REDIS_URL` or the old `REDIS_HOST`… variables) and its key prefix.
pub(super) fn redis(env: &mut Reader<'_>, jobs_enabled: bool) -> RedisSettings {
    RedisSettings {
        url: redis_url(env, jobs_enabled).map(SecretString::from),
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
    }
}

/// Asynchronous AI jobs and their workers.
pub(super) fn jobs(env: &mut Reader<'_>, enabled: bool) -> JobSettings {
    JobSettings {
        enabled,
        run_worker: env.bool("RUN_WORKER", true),
        max_attempts: env.parse("AI_JOB_MAX_ATTEMPTS", 3, "a whole number 1-25", |s| {
            s.parse::<u32>().ok().filter(|n| (1..=25).contains(n))
        }),
        concurrency: env.positive("WORKER_CONCURRENCY", 5usize, "a positive whole number"),
        max_per_user: env.positive("AI_MAX_JOBS_PER_USER", 5u32, "a positive whole number"),
    }
}

/// `METRICS_TOKEN` and `WORKER_METRICS_PORT`.
pub(super) fn metrics(env: &mut Reader<'_>) -> (Option<SecretString>, Option<u16>) {
    let token = env.get("METRICS_TOKEN").map(SecretString::from);
    let worker_port = env.parse("WORKER_METRICS_PORT", None, "a port number 1-65535", |s| {
        s.parse::<u16>().ok().filter(|p| *p > 0).map(Some)
    });
    (token, worker_port)
}
