//! Reading the environment: defaults, errors, the old backend's variables.

use secrecy::ExposeSecret;

use super::reader::parse_database_url;
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
    assert_eq!(s.max_connections, 10_000);
    assert_eq!(s.max_large_bodies, 1);
    assert_eq!(s.timeouts.write, std::time::Duration::from_secs(30));
    // No secret set: one kept next to the database, made on the first start.
    assert!(matches!(&s.jwt_secret, JwtSecret::KeptIn(path) if path == std::path::Path::new("data/jwt-secret")));
    assert_eq!(s.allowed_origins.len(), 4);
    assert!(s.refresh_token_rotation);
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
        matches!(parse_database_url("sqlite://data/x.db"), Some(DatabaseSettings::Sqlite { path, .. }) if path.as_path() == std::path::Path::new("data/x.db"))
    );
    assert!(
        matches!(parse_database_url("sqlite:///tmp/x.db"), Some(DatabaseSettings::Sqlite { path, .. }) if path.as_path() == std::path::Path::new("/tmp/x.db"))
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

#[test]
fn an_operator_command_reads_the_database_alone_as_the_server_does() {
    let database = |vars: &[(&str, &str)]| {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        DatabaseSettings::from_lookup(&move |k| map.get(k).cloned())
    };
    // The old backend's MONGO_URI names a MongoDB database here too, and the variable is told.
    let (mongo, named_by) = database(&[("MONGO_URI", "mongodb://db.internal:27017/healthtracker")]).expect("valid");
    assert!(matches!(mongo, DatabaseSettings::Mongo { .. }));
    assert_eq!(named_by, Some("MONGO_URI"));
    let (sqlite, named_by) =
        database(&[("MONGO_URI", "mongodb://db/x"), ("DATABASE_URL", "sqlite://x.db")]).expect("valid");
    assert!(matches!(sqlite, DatabaseSettings::Sqlite { .. }));
    assert_eq!(named_by, Some("DATABASE_URL"));
    let (default, named_by) = database(&[]).expect("valid");
    assert!(
        matches!(default, DatabaseSettings::Sqlite { ref path, synchronous: SqliteSynchronous::Full } if path.as_path() == std::path::Path::new("data/healthtracker.db"))
    );
    assert_eq!(named_by, None);
    let (normal, _) = database(&[("SQLITE_SYNCHRONOUS", "normal")]).expect("valid");
    assert!(matches!(
        normal,
        DatabaseSettings::Sqlite {
            synchronous: SqliteSynchronous::Normal,
            ..
        }
    ));
    // Production without a JWT secret stops the server, not a command that needs only the database.
    assert!(database(&[("APP_ENV", "production")]).is_ok());
    let err = database(&[("DATABASE_URL", "mongo://app:hunter2@db/ht")])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("DATABASE_URL") && !err.contains("hunter2"), "{err}");
}

#[test]
fn booleans_accept_yes_on_and_1_and_say_so() {
    for yes in ["true", "TRUE", "yes", "on", "1"] {
        assert_eq!(parse_bool(yes), Some(true), "{yes}");
    }
    for no in ["false", "no", "Off", "0"] {
        assert_eq!(parse_bool(no), Some(false), "{no}");
    }
    let err = settings(&[("TRUST_PROXY", "maybe")])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("yes/no, on/off, 1/0"), "{err}");
}

#[test]
fn the_client_address_is_the_peer_unless_a_proxy_is_trusted() -> Result<(), ConfigError> {
    assert_eq!(settings(&[])?.client_address, ClientAddress::Peer);
    // Without TRUST_PROXY the hop count is not read.
    assert_eq!(
        settings(&[("TRUSTED_PROXY_HOPS", "2")])?.client_address,
        ClientAddress::Peer
    );
    assert_eq!(
        settings(&[("TRUST_PROXY", "true")])?.client_address,
        ClientAddress::ForwardedFor { hops: 1 }
    );
    assert_eq!(
        settings(&[("TRUST_PROXY", "yes"), ("TRUSTED_PROXY_HOPS", "2")])?.client_address,
        ClientAddress::ForwardedFor { hops: 2 }
    );
    for bad in ["0", "-1", "11", "two"] {
        let err = settings(&[("TRUST_PROXY", "true"), ("TRUSTED_PROXY_HOPS", bad)])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("TRUSTED_PROXY_HOPS") && err.contains("1 to 10"),
            "{bad}: {err}"
        );
    }
    Ok(())
}
