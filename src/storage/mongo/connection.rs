//! Reaching the deployment: client options from the connection string, the first connection, and
//! the background task that connects late (an SRV lookup that failed at start), probes while the
//! circuit breaker is open and finishes the index creation owed from start-up.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mongodb::bson::doc;
use mongodb::error::Error as DriverError;
use mongodb::options::{ClientOptions, WriteConcern};
use mongodb::{Client, Database};
use secrecy::{ExposeSecret, SecretString};

use super::availability::PROBE_INTERVAL;
use super::errors::{ErrorClass, classify_error, error_summary, scrub};
use super::{Inner, MongoStore};

/// The driver waits 30 s by default for a server before failing an operation; a request should not.
/// Applied only when the connection string does not set `serverSelectionTimeoutMS` / `connectTimeoutMS`.
pub(super) const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// What Mongoose used when the connection string names no database.
const DEFAULT_DATABASE: &str = "test";

/// Client options from the connection string (TLS, auth, replica set, `retryWrites`… are the
/// driver's), with our short timeouts when the string sets none.
async fn client_options(url: &SecretString) -> Result<ClientOptions, DriverError> {
    let mut options = ClientOptions::parse(url.expose_secret()).await?;
    options.server_selection_timeout.get_or_insert(SERVER_SELECTION_TIMEOUT);
    options.connect_timeout.get_or_insert(CONNECT_TIMEOUT);
    options.app_name.get_or_insert_with(|| "healthtracker".to_owned());
    // Durability: on a replica set a write is acknowledged once a majority of members have it
    // (`w: majority` — the server's own default since MongoDB 5.0, stated for older servers); on a
    // standalone server once it has applied it (the driver's default). `w=…&journal=…` in the
    // connection string wins either way.
    if options.repl_set_name.is_some() && options.write_concern.is_none() {
        options.write_concern = Some(WriteConcern::majority());
    }
    Ok(options)
}

/// The write concern in words, for the start-up line.
fn describe_write_concern(options: &ClientOptions) -> String {
    match &options.write_concern {
        None => "the server's default".to_owned(),
        Some(concern) => {
            let w = concern.w.as_ref().map_or("default".to_owned(), |w| format!("{w:?}"));
            let journal = concern.journal.map_or(String::new(), |j| format!(", journal {j}"));
            format!("w {w}{journal}")
        }
    }
}

/// A database handle, or why there is none. `Ok(None)` when the options could not be resolved yet
/// for a passing reason (a `mongodb+srv://` DNS lookup failed): the caller retries.
/// `retrying`: a later attempt, logged quietly (the first failure was a warning already).
pub(super) async fn connect(url: &SecretString, retrying: bool) -> anyhow::Result<Option<Database>> {
    let options = match client_options(url).await {
        Ok(options) => options,
        Err(error) if classify_error(&error) == ErrorClass::Unreachable => {
            let error = scrub(error.to_string(), url);
            if retrying {
                tracing::debug!(error, "cannot resolve the MongoDB connection string yet; retrying");
            } else {
                tracing::warn!(
                    error,
                    "cannot resolve the MongoDB connection string yet; retrying every second"
                );
            }
            return Ok(None);
        }
        Err(error) => anyhow::bail!("invalid MongoDB connection string: {}", scrub(error.to_string(), url)),
    };
    let hosts: Vec<String> = options.hosts.iter().map(ToString::to_string).collect();
    let write_concern = describe_write_concern(&options);
    let name = match options.default_database.clone() {
        Some(name) => name,
        None => {
            tracing::warn!("the MongoDB URL names no database; using {DEFAULT_DATABASE:?} as the old backend did");
            DEFAULT_DATABASE.to_owned()
        }
    };
    let client = Client::with_options(options)
        .map_err(|error| anyhow::anyhow!("invalid MongoDB client options: {}", scrub(error_summary(&error), url)))?;
    tracing::info!(hosts = hosts.join(","), database = %name, write_concern, "using MongoDB");
    Ok(Some(client.database(&name)))
}

/// Connects (if the first attempt could not), probes while the breaker is open, and finishes the
/// index creation owed from start-up. Ends when the store is dropped.
pub(super) async fn watch(inner: Weak<Inner>) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + PROBE_INTERVAL, PROBE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let store = MongoStore { inner };
        if store.inner.db.get().is_none() {
            match connect(&store.inner.url, true).await {
                Ok(Some(db)) => {
                    let _ = store.inner.db.set(db);
                }
                Ok(None) => continue,
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "MongoDB connection string refused");
                    return;
                }
            }
        }
        let Some(db) = store.inner.db.get() else { continue };
        if !store.inner.availability.is_up() {
            let ping = tokio::time::timeout(SERVER_SELECTION_TIMEOUT * 2, db.run_command(doc! {"ping": 1})).await;
            match ping {
                Ok(Ok(_)) => store.inner.availability.mark_up(),
                _ => continue,
            }
        }
        if store.inner.indexes_pending.load(Ordering::Acquire) {
            store.ensure_indexes_at_start().await;
        }
    }
}
