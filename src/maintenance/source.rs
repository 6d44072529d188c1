//! What an operator command reads from must exist and be an installation, checked before anything
//! opens it: opening a SQLite path creates the file, and a MongoDB database springs into being at
//! its first index. A mistyped `--from` is then an error with a sentence saying what to check, never
//! an empty database made at the wrong place and reported as a successful copy. Nothing here creates
//! or writes anything.

use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use mongodb::bson::doc;
use mongodb::error::{Error as DriverError, ErrorKind};
use mongodb::options::{ClientOptions, ServerAddress};
use rusqlite::{Connection, OpenFlags};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{DatabaseSettings, redact_url_password};

/// How long the check waits for a MongoDB server (unless the URL sets `serverSelectionTimeoutMS`).
const MONGO_WAIT: Duration = Duration::from_secs(5);
/// Where the driver connects when the URL names no port.
const MONGO_DEFAULT_PORT: u16 = 27017;
/// The database Mongoose (and the store) uses when the URL names none.
const MONGO_DEFAULT_DATABASE: &str = "test";

/// Checks that `source` exists and holds an installation (its `users` table or collection).
/// `named_by` says where the URL came from (`--from`, `DATABASE_URL`…), for the message.
pub async fn check(source: &DatabaseSettings, named_by: &str) -> anyhow::Result<()> {
    match source {
        DatabaseSettings::Sqlite { path, .. } => check_sqlite(path, named_by).map(drop),
        DatabaseSettings::Mongo { url } => check_mongo(url, named_by).await,
    }
}

/// The users of the SQLite installation at `path`, or why it is not one.
pub fn check_sqlite(path: &Path, named_by: &str) -> anyhow::Result<u64> {
    let relative = if path.is_relative() {
        let here =
            std::env::current_dir().map_or_else(|_| "the current directory".to_owned(), |d| d.display().to_string());
        format!(" (a relative path is read from {here}, where the command runs)")
    } else {
        String::new()
    };
    if path.is_dir() {
        bail!(
            "{} ({named_by}) is a directory, not a SQLite database file: check the path{relative}",
            path.display()
        );
    }
    if !path.exists() {
        bail!(
            "there is no SQLite database at {} ({named_by}): check the path{relative}; nothing was created",
            path.display()
        );
    }
    // Read-write without create, as the backup opens it: a WAL database's reader may need to set up
    // its shared memory. Only reads follow.
    let not_a_database = |detail: String| {
        anyhow::anyhow!(
            "{} ({named_by}) is not a SQLite database HealthTracker can read ({detail}): check the path",
            path.display()
        )
    };
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| not_a_database(e.to_string()))?;
    let _ = connection.busy_timeout(Duration::from_secs(30));
    let has_users: bool = connection
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'users')",
            [],
            |row| row.get(0),
        )
        .map_err(|e| not_a_database(e.to_string()))?;
    if !has_users {
        bail!(
            "{} ({named_by}) holds no HealthTracker installation (it has no users table): check the path",
            path.display()
        );
    }
    let users: i64 = connection
        .query_row("SELECT count(*) FROM users", [], |row| row.get(0))
        .map_err(|e| not_a_database(e.to_string()))?;
    Ok(users.max(0) as u64)
}

/// Resolves every host, reaches the deployment, and finds the `users` collection in the URL's
/// database.
async fn check_mongo(url: &SecretString, named_by: &str) -> anyhow::Result<()> {
    let scrub = |message: String| redact_url_password(&message, url.expose_secret());
    let mut options = match ClientOptions::parse(url.expose_secret()).await {
        Ok(options) => options,
        // A mongodb+srv:// URL is resolved while it is parsed.
        Err(error) if matches!(*error.kind, ErrorKind::DnsResolve { .. }) => bail!(
            "cannot resolve the MongoDB host {} ({named_by}): its DNS records (SRV) were not found ({}); \
             check the host name, and that this machine's DNS can see it",
            hosts_in(url.expose_secret()),
            scrub(reason(&error))
        ),
        Err(error) => bail!(
            "{named_by} is not a MongoDB connection string the driver accepts: {}",
            scrub(reason(&error))
        ),
    };
    for address in &options.hosts {
        if let ServerAddress::Tcp { host, port } = address
            && tokio::net::lookup_host((host.as_str(), port.unwrap_or(MONGO_DEFAULT_PORT)))
                .await
                .is_err()
        {
            bail!(
                "cannot resolve the MongoDB host {host} ({named_by}): check its spelling, and that this \
                 machine's DNS can see it"
            );
        }
    }
    let hosts = options
        .hosts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let wait = *options.server_selection_timeout.get_or_insert(MONGO_WAIT);
    options.connect_timeout.get_or_insert(MONGO_WAIT);
    options.app_name.get_or_insert_with(|| "healthtracker".to_owned());
    let name = options
        .default_database
        .clone()
        .unwrap_or_else(|| MONGO_DEFAULT_DATABASE.to_owned());
    let client = mongodb::Client::with_options(options)
        .map_err(|error| anyhow::anyhow!("{named_by}: {}", scrub(error.to_string())))?;
    let outcome = async {
        let db = client.database(&name);
        if let Err(error) = db.run_command(doc! {"ping": 1}).await {
            bail!("{}", unreachable(&error, &hosts, named_by, wait, &scrub));
        }
        let collections = db.list_collection_names().await.map_err(|error| {
            anyhow::anyhow!(
                "cannot list the collections of {name:?} on {hosts}: {}",
                scrub(error.to_string())
            )
        })?;
        if !collections.iter().any(|c| c == "users") {
            bail!(
                "the MongoDB database {name:?} on {hosts} ({named_by}) holds no HealthTracker installation \
                 (it has no users collection): check the database name in the URL; nothing was created"
            );
        }
        Ok(())
    }
    .await;
    // The process exits soon: stop the driver's background tasks first (see storage::mongo).
    client.shutdown().await;
    outcome
}

/// Why the deployment did not answer, and what to check.
fn unreachable(
    error: &DriverError,
    hosts: &str,
    named_by: &str,
    wait: Duration,
    scrub: &dyn Fn(String) -> String,
) -> String {
    match *error.kind {
        ErrorKind::Authentication { .. } => format!(
            "MongoDB at {hosts} ({named_by}) refused the credentials ({}): check the user name, password \
             and authSource in the URL",
            scrub(reason(error))
        ),
        _ => format!(
            "cannot reach MongoDB at {hosts} ({named_by}) within {} s ({}): check that the server runs and \
             is reachable from here, and the host, port and TLS options in the URL",
            wait.as_secs_f64(),
            scrub(reason(error))
        ),
    }
}

/// The driver's reason without its wrapping: a failed server selection's first server error
/// ("I/O error: Connection refused"), not the whole topology and its labels.
fn reason(error: &DriverError) -> String {
    let text = match &*error.kind {
        ErrorKind::DnsResolve { message, .. } => return message.clone(),
        ErrorKind::ServerSelection { message, .. } => message.clone(),
        _ => error.to_string(),
    };
    let text = text
        .split_once("Error: Kind: ")
        .map_or(text.as_str(), |(_, inner)| inner);
    let text = text.strip_prefix("Kind: ").unwrap_or(text);
    text.split(", labels: ").next().unwrap_or(text).to_owned()
}

/// The host list of a connection string, without credentials or options.
fn hosts_in(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    authority.rsplit_once('@').map_or(authority, |(_, hosts)| hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_named_without_credentials() {
        assert_eq!(
            hosts_in("mongodb+srv://app:pw@cluster0.example.net/ht?w=majority"),
            "cluster0.example.net"
        );
        assert_eq!(hosts_in("mongodb://db1:27017,db2/ht"), "db1:27017,db2");
        assert_eq!(hosts_in("mongodb://db1"), "db1");
    }

    #[test]
    fn a_missing_sqlite_file_is_not_created() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("mistyped.db");
        let error = check_sqlite(&path, "--from").expect_err("refused").to_string();
        assert!(
            error.contains("there is no SQLite database at") && error.contains("--from"),
            "{error}"
        );
        assert!(!path.exists());
        // An empty file is a SQLite database with no tables: refused, and left empty.
        std::fs::write(&path, b"").expect("write");
        let error = check_sqlite(&path, "--from").expect_err("refused").to_string();
        assert!(error.contains("no users table"), "{error}");
        assert_eq!(std::fs::metadata(&path).expect("metadata").len(), 0);
        std::fs::write(&path, b"not a database at all, but long enough to have a header").expect("write");
        let error = check_sqlite(&path, "--from").expect_err("refused").to_string();
        assert!(error.contains("is not a SQLite database"), "{error}");
    }
}
