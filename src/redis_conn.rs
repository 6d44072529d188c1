//! The shared Redis connection: lazy (the server starts while Redis is down) and quick to fail
//! (no reconnect retries inside a command, 300 ms connect/response timeouts), so a dead or hung Redis
//! costs a request at most a fraction of a second before it falls back. The redis crate's defaults
//! would block ~9 s per command on a dead Redis.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};

pub const REDIS_TIMEOUT: Duration = Duration::from_millis(300);

#[derive(Clone)]
pub struct RedisConn {
    manager: ConnectionManager,
    prefix: String,
}

impl RedisConn {
    /// Never connects (and so never fails because Redis is down); the first command does.
    pub fn lazy(url: &SecretString, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url.expose_secret())
            .map_err(|e| anyhow::anyhow!("invalid Redis URL ({:?})", e.kind()))?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_millis(200))
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("could not set up Redis ({:?})", e.kind()))?;
        Ok(Self {
            manager,
            prefix: prefix.to_owned(),
        })
    }

    /// A handle for commands (cheap: connections are multiplexed).
    pub fn manager(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// `<prefix>:<name>`: every key this server writes.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub async fn ping(&self) -> bool {
        let mut connection = self.manager();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        matches!(tokio::time::timeout(REDIS_TIMEOUT * 2, ping).await, Ok(Ok(_)))
    }
}
