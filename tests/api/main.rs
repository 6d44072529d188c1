//! HTTP tests: the real server on a random port with a fresh database per test.

mod helpers;
mod mongo_server;

mod auth;
mod cross_cutting;
mod entries;
mod health;
mod logging;
mod mongo;
