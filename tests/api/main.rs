//! HTTP tests: the real server on a random port with a fresh database per test.

mod fake_ai;
mod helpers;
mod mongo_server;
mod security_helpers;

mod account;
mod admin;
mod ai;
mod apple_health;
mod auth;
mod cli;
mod coach;
mod connections;
mod cross_cutting;
mod days;
mod docs;
mod entries;
mod export;
mod export_fhir;
mod frontend;
mod goals;
mod health;
mod health_auto_export;
mod logging;
mod mcp;
mod measurements;
mod metrics;
mod mongo;
mod races;
mod readme;
mod tokens;
mod registration;
mod transfer;
mod trends;
mod two_factor;
mod web;
