//! HealthTracker: a health-tracking JSON API. See ARCHITECTURE.md for the map.

// Nothing a request or the environment controls may panic the server.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod ai;
pub mod auth;
pub mod cli;
pub mod coach;
pub mod config;
pub mod devices;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod maintenance;
pub mod memory;
pub mod metrics;
pub mod ratelimit;
pub mod redis_conn;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod trends_cache;
