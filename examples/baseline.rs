//! The benchmark's yardstick, run by `scripts/bench` on the same machine as the real server:
//!
//! - `baseline --port N` serves `GET /health/live` (and `/api/health/live`) with a small JSON body
//!   from a bare axum 0.8 router: no middleware, no state, no logging. Every figure of the real
//!   server is reported as a ratio to this one, so results compare across machines.
//! - `baseline --bench-hash N` times N password checks with the server's own argon2id hasher
//!   (`PasswordHasher::verify`, one at a time) and prints the median in milliseconds: the cost a
//!   login cannot go below, from which the login throughput target is derived.
//! - `baseline --bench-hash-parallel N` runs N checks per core, all cores at once (what a login storm
//!   does), and prints checks per second: the machine's real ceiling for logins, which is below
//!   cores ÷ one check's time when parallel checks compete for memory bandwidth and caches.

use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Json, Router};
use healthtracker::auth::password::PasswordHasher;
use secrecy::SecretString;
use serde_json::{Value, json};

async fn live() -> Json<Value> {
    Json(json!({ "status": "success", "message": "alive" }))
}

async fn serve(port: u16) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/health/live", get(live))
        .route("/api/health/live", get(live));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("baseline listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn bench_hash(samples: usize) -> anyhow::Result<()> {
    let hasher = PasswordHasher::new(1)?;
    let stored = hasher.hash("Bench-password-1").await?;
    let password = SecretString::from("Bench-password-1");
    // One untimed check so page faults of the first 19 MiB allocation are not counted.
    hasher.verify(&password, Some(stored.clone())).await?;
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples.max(1) {
        let started = Instant::now();
        hasher.verify(&password, Some(stored.clone())).await?;
        times.push(started.elapsed());
    }
    times.sort();
    let median: Duration = times[times.len() / 2];
    println!("{:.3}", median.as_secs_f64() * 1000.0);
    Ok(())
}

async fn bench_hash_parallel(per_core: usize) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let hasher = PasswordHasher::new(cores)?;
    let stored = hasher.hash("Bench-password-1").await?;
    let password = SecretString::from("Bench-password-1");
    let run = |count: usize| {
        let checks = (0..count).map(|_| hasher.verify(&password, Some(stored.clone())));
        futures::future::try_join_all(checks)
    };
    run(cores).await?;
    let started = Instant::now();
    run(per_core.max(1) * cores).await?;
    println!(
        "{:.2}",
        (per_core.max(1) * cores) as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn usage() -> anyhow::Error {
    anyhow::anyhow!("usage: baseline --port N | --bench-hash SAMPLES | --bench-hash-parallel PER_CORE")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| args.get(i).and_then(|v| v.parse::<usize>().ok()).ok_or_else(usage);
    match args.first().map(String::as_str) {
        Some("--port") => serve(u16::try_from(number(1)?)?).await,
        Some("--bench-hash") => bench_hash(number(1)?).await,
        Some("--bench-hash-parallel") => bench_hash_parallel(number(1)?).await,
        _ => Err(usage()),
    }
}
