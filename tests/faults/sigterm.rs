//! SIGTERM under load: the real binary stops accepting, finishes every request it has read and every
//! AI job it is running, and exits 0. Nothing acknowledged is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use healthtracker::domain::ids::{EntryId, UserId};
use serde_json::{Value, json};

use crate::fake_ai::{Behaviour, FAKE_API_KEY, FakeProvider};
use crate::helpers::{PASSWORD, TestRedis, hex_id};
use crate::process::ServerProcess;

/// How one request ended, as its client saw it.
#[derive(Debug)]
enum Outcome {
    /// A full response (status, and the whole body read).
    Complete(u16),
    /// No response at all (connection refused or closed before any answer): the server never took
    /// the request.
    NoResponse(String),
    /// A response that broke off: never acceptable.
    Truncated(String),
}

struct Record {
    kind: &'static str,
    started: Instant,
    finished: Instant,
    outcome: Outcome,
    /// For a 201 create: the entry's id.
    created: Option<String>,
}

async fn send(request: reqwest::RequestBuilder) -> (Outcome, Option<Value>) {
    match request.send().await {
        Err(error) => (Outcome::NoResponse(format!("{error:?}")), None),
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(body) => (Outcome::Complete(status), serde_json::from_slice(&body).ok()),
                Err(error) => (Outcome::Truncated(format!("{error:?}")), None),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_finishes_in_flight_requests_and_jobs_and_exits_0() {
    crate::process::install_crypto_provider();
    let test = "sigterm_under_load_finishes_in_flight_requests_and_jobs_and_exits_0";
    let Some(redis) = TestRedis::shared(test).await else {
        return;
    };
    let provider = FakeProvider::start().await;
    // Jobs still run when the signal comes.
    provider.always(Behaviour::Stall(Duration::from_secs(3)));
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("data").join("healthtracker.db");
    let mut server = ServerProcess::start(
        dir.path(),
        &database,
        &[
            ("ENABLE_ASYNC_JOBS", "true"),
            ("REDIS_URL", &redis.url),
            ("REDIS_KEY_PREFIX", &redis.prefix),
            ("GROQ_API_KEY", FAKE_API_KEY),
            ("AI_BASE_URL", &provider.base_url),
            ("RATE_LIMIT_MAX_REQUESTS", "1000000"),
        ],
    )
    .await;
    let client = reqwest::Client::new();

    let email = format!("sigterm-{}@example.com", hex_id());
    let registered: Value = client
        .post(server.url("/api/auth/register"))
        .json(&json!({ "name": "Sig Term", "email": email, "password": PASSWORD }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("register body");
    let token = registered["accessToken"].as_str().expect("token").to_owned();
    let user_id = registered["userId"].as_str().expect("user id").to_owned();

    let mut jobs = Vec::new();
    for n in 0..3 {
        let response = client
            .post(server.url("/api/ai/chat"))
            .bearer_auth(&token)
            .json(&json!({ "message": format!("job {n}") }))
            .send()
            .await
            .expect("chat");
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.expect("chat body");
        jobs.push(body["jobId"].as_str().expect("job id").to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while provider.calls() < 3 {
        assert!(Instant::now() < deadline, "the worker did not start the jobs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Load: fast requests (list, create, read, liveness) and slow ones (logins queue for the argon2
    // permits, so several are always in flight).
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for worker in 0..10usize {
        let stop = Arc::clone(&stop);
        let (base, token, email) = (server.url(""), token.clone(), email.clone());
        clients.push(tokio::spawn(async move {
            // One connection pool per client, as separate users would have.
            let http = reqwest::Client::new();
            let mut records = Vec::new();
            let mut n = 0usize;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let (kind, request) = match (worker, n % 4) {
                    (0..=3, _) => (
                        "login",
                        http.post(format!("{base}/api/auth/login"))
                            .json(&json!({ "email": email, "password": PASSWORD })),
                    ),
                    (_, 0) => (
                        "create",
                        http.post(format!("{base}/api/entries"))
                            .bearer_auth(&token)
                            .json(&json!({
                                // A distinct day per request: worker w takes days w, w+10, w+20, …
                                "date": (chrono::NaiveDate::from_ymd_opt(2000, 1, 1).expect("date")
                                    + chrono::Days::new((n * 10 + worker) as u64)).to_string(),
                                "calories": 1234,
                            })),
                    ),
                    (_, 1) => ("list", http.get(format!("{base}/api/entries")).bearer_auth(&token)),
                    (_, 2) => (
                        "summary",
                        http.get(format!("{base}/api/entries/dashboard/summary"))
                            .bearer_auth(&token),
                    ),
                    _ => ("live", http.get(format!("{base}/api/health/live"))),
                };
                let started = Instant::now();
                let (outcome, body) = send(request).await;
                let created = match (&outcome, &body) {
                    (Outcome::Complete(201), Some(body)) => body["data"]["_id"].as_str().map(str::to_owned),
                    _ => None,
                };
                let failed = !matches!(outcome, Outcome::Complete(_));
                records.push(Record {
                    kind,
                    started,
                    finished: Instant::now(),
                    outcome,
                    created,
                });
                if failed {
                    break;
                }
            }
            records
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // No request starts after the signal; whatever is in flight must finish.
    stop.store(true, Ordering::SeqCst);
    let signalled = Instant::now();
    server.sigterm();

    let mut records = Vec::new();
    for client in clients {
        records.extend(client.await.expect("client task"));
    }
    let status = server.wait(Duration::from_secs(60)).await;
    let stopped_after = signalled.elapsed();
    let log = server.log();

    let in_flight: Vec<&Record> = records
        .iter()
        .filter(|r| r.started < signalled && r.finished > signalled)
        .collect();
    let complete = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Complete(_)))
        .count();
    println!(
        "sigterm: {} requests, {complete} complete, {} in flight at the signal ({} logins), exit {:?} after {:.2} s",
        records.len(),
        in_flight.len(),
        in_flight.iter().filter(|r| r.kind == "login").count(),
        status.code(),
        stopped_after.as_secs_f64()
    );
    for record in &records {
        match &record.outcome {
            Outcome::Complete(status) => assert!(
                (200..300).contains(status),
                "{} answered {status}; log:\n{}",
                record.kind,
                server.log_tail()
            ),
            Outcome::Truncated(error) => panic!("{} response broke off: {error}", record.kind),
            // A request sent a hair before the signal may meet a connection the server was already
            // closing, unread: the server never took it. Anything older must have been answered.
            Outcome::NoResponse(error) => assert!(
                record.started + Duration::from_millis(50) > signalled,
                "{} sent {:?} before the signal got no response: {error}",
                record.kind,
                signalled - record.started
            ),
        }
    }
    assert!(
        in_flight.len() >= 2,
        "the test must catch requests in flight at the signal"
    );
    assert_eq!(status.code(), Some(0), "exit status; log:\n{}", server.log_tail());
    assert!(!log.contains("did not finish in time"), "{log}");
    assert!(!log.contains("panicked"), "{log}");

    // The running jobs finished before the exit, each exactly once.
    let mut connection = redis.connection().await;
    for job in &jobs {
        let record: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(format!("{}:job:{job}", redis.prefix))
            .query_async(&mut connection)
            .await
            .expect("job record");
        assert_eq!(
            record.get("state").map(String::as_str),
            Some("completed"),
            "job {job}: {record:?}"
        );
    }
    assert_eq!(provider.calls(), 3, "no job ran twice");

    // Every acknowledged create is in the database.
    let store = healthtracker::storage::open(&healthtracker::config::DatabaseSettings::sqlite(database))
        .await
        .expect("reopen the database");
    let user = UserId::parse(&user_id).expect("user id");
    let created: Vec<&String> = records.iter().filter_map(|r| r.created.as_ref()).collect();
    assert!(!created.is_empty());
    for id in &created {
        let id = EntryId::parse(id).expect("entry id");
        assert!(
            store.entry_by_id(user, id).await.expect("read").is_some(),
            "entry {id} acknowledged with 201 is missing"
        );
    }
    println!(
        "sigterm: {} acknowledged creates all present after the exit",
        created.len()
    );
    redis.cleanup().await;
}
