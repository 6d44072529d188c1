//! Fault and soak tests: the server under SIGTERM, a Redis crash, a failing database, and minutes of
//! mixed (partly hostile) traffic. Each test bounds its own time; together they take a few minutes.
//!
//! `cargo test --test faults` (add `-- --nocapture` to see the figures each test prints). Tests whose
//! service is missing (Redis, redis-server, chattr) print SKIP, and fail under `CI=true`.
//! `SOAK_SECS` sets the soak's length (default 120).

#[allow(dead_code)]
#[path = "../api/fake_ai.rs"]
mod fake_ai;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/mongo_server.rs"]
mod mongo_server;
mod process;

mod database;
mod large_bodies;
mod production_log;
mod redis_outage;
mod sigterm;
mod slow_clients;
mod soak;
