//! Redis killed while AI requests stream in, then started again (empty: no persistence).
//!
//! What holds, and is asserted:
//! - no AI request gets a 5xx: while Redis is down every request is answered synchronously (200);
//! - once Redis is back, requests are queued again (202) and every job accepted then completes;
//! - no job runs more than AI_JOB_MAX_ATTEMPTS times, and none is answered by the provider twice
//!   (counted at the fake provider, per job, by a tag in the message).
//!
//! What cannot hold, and is reported: jobs queued before the crash and not yet run are gone with a
//! Redis that keeps nothing on disk. Their status then answers 404 "Job not found" (never a job stuck
//! "waiting" forever), so a client knows to ask again. A Redis with AOF persistence keeps them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::fake_ai::{Behaviour, FakeProvider};
use crate::helpers::{Backend, OwnRedis, TestApp, TestRedis, json_body};

const MAX_ATTEMPTS: usize = 3;

#[derive(Debug, Clone)]
struct Sent {
    tag: String,
    phase: u8,
    status: u16,
    mode: String,
    job_id: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_during_async_ai_load_falls_back_to_sync_and_resumes() {
    crate::process::install_crypto_provider();
    let test = "redis_killed_during_async_ai_load_falls_back_to_sync_and_resumes";
    let Some(mut own) = OwnRedis::start(test).await else {
        return;
    };
    let provider = FakeProvider::start().await;
    // Every fourth call fails, so jobs also go through retries (2 s, 4 s backoff) across the outage.
    provider.then((0..5000).map(|i| {
        if i % 4 == 3 {
            Behaviour::Fail(500)
        } else {
            Behaviour::Stall(Duration::from_millis(150))
        }
    }));
    let redis = TestRedis::on(&own.url());
    let app = Arc::new(
        TestApp::builder(Backend::Sqlite)
            .ai(&provider)
            .async_jobs(&redis)
            .env("AI_RATE_LIMIT_MAX", "100000")
            .env("AI_MAX_JOBS_PER_USER", "100000")
            .env("AI_JOB_MAX_ATTEMPTS", &MAX_ATTEMPTS.to_string())
            .spawn()
            .await,
    );
    let session = app.signup().await;

    let phase = Arc::new(AtomicU8::new(1));
    let queued_after_restart = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for worker in 0..4usize {
        let (app, phase, token) = (Arc::clone(&app), Arc::clone(&phase), session.access.clone());
        let queued_after_restart = Arc::clone(&queued_after_restart);
        clients.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for n in 0.. {
                let now = phase.load(Ordering::SeqCst);
                if now == 4 {
                    break;
                }
                let tag = format!("tag-{worker}-{n:05}");
                let response = app.chat(&token, &format!("How am I doing? ({tag})")).await;
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or_default();
                if now == 3 && status == 202 {
                    queued_after_restart.fetch_add(1, Ordering::SeqCst);
                }
                sent.push(Sent {
                    tag,
                    phase: now,
                    status,
                    mode: body["mode"].as_str().unwrap_or_default().to_owned(),
                    job_id: body["jobId"].as_str().map(str::to_owned),
                });
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            sent
        }));
    }

    tokio::time::sleep(Duration::from_secs(3)).await;
    own.kill();
    phase.store(2, Ordering::SeqCst);
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let health = json_body(app.health().await, StatusCode::OK).await;
    assert_eq!(health["services"]["redis"], "disconnected", "{health}");
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // Phase 3 starts as the restart begins: from then on a request may find Redis up again.
    phase.store(3, Ordering::SeqCst);
    own.restart().await;
    let restarted = Instant::now();
    println!("redis: down for {:.1} s", (restarted - killed).as_secs_f64());
    // Run until async answers are back and a few jobs were accepted after the restart.
    let deadline = restarted + Duration::from_secs(30);
    while queued_after_restart.load(Ordering::SeqCst) < 8 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "redis: async answers again {:.1} s after the restart",
        restarted.elapsed().as_secs_f64()
    );
    phase.store(4, Ordering::SeqCst);
    let mut sent = Vec::new();
    for client in clients {
        sent.extend(client.await.expect("client task"));
    }

    // Provider calls per tag: (calls, successful answers).
    let answered: HashMap<String, (usize, usize)> = {
        let mut calls: HashMap<String, (usize, usize)> = HashMap::new();
        for request in provider.requests() {
            // The question is the last message (earlier turns, with their own tags, come before it).
            let question = request.body["messages"]
                .as_array()
                .and_then(|messages| messages.last())
                .map(|m| m["content"].to_string());
            let text = question.unwrap_or_default();
            if let Some(start) = text.find("tag-") {
                let tag = text[start..start + "tag-0-00000".len()].to_owned();
                let entry = calls.entry(tag).or_default();
                entry.0 += 1;
                if !matches!(request.behaviour, Behaviour::Fail(_)) {
                    entry.1 += 1;
                }
            }
        }
        calls
    };
    // 1. No 5xx caused by the outage; during it only synchronous answers. The only 5xx allowed is the
    // contract's 502 for a synchronous request whose every provider attempt failed (injected above).
    for s in &sent {
        let provider_failed = answered
            .get(&s.tag)
            .is_some_and(|(calls, ok)| *ok == 0 && *calls == MAX_ATTEMPTS);
        assert!(
            s.status == 200 || s.status == 202 || (s.status == 502 && provider_failed),
            "{} in phase {} answered {}",
            s.tag,
            s.phase,
            s.status
        );
        if s.phase == 2 && s.status != 502 {
            assert_eq!((s.status, s.mode.as_str()), (200, "sync"), "{s:?}");
        }
    }
    let count = |phase: u8, status: u16| sent.iter().filter(|s| s.phase == phase && s.status == status).count();
    println!(
        "redis: before the crash {} async / {} sync; during {} sync; after the restart {} async / {} sync",
        count(1, 202),
        count(1, 200),
        count(2, 200),
        count(3, 202),
        count(3, 200)
    );
    assert!(count(1, 202) > 0, "jobs were queued before the crash");
    assert!(
        count(2, 200) > 0,
        "requests were served synchronously during the outage"
    );
    assert!(count(3, 202) > 0, "async mode resumed after the restart");

    // 2. Every job accepted after the restart completes (or fails after its attempts).
    let deadline = Instant::now() + Duration::from_secs(60);
    for s in sent.iter().filter(|s| s.phase == 3 && s.status == 202) {
        let job_id = s.job_id.as_deref().expect("job id");
        let left = deadline.saturating_duration_since(Instant::now());
        let job = app.wait_for_job(&session.access, job_id, left).await;
        let state = job["state"].as_str().unwrap_or_default();
        assert!(
            state == "completed" || (state == "failed" && job["attempts"] == MAX_ATTEMPTS),
            "job {} accepted after the restart did not finish: {job}",
            s.tag
        );
    }

    // 3. Jobs accepted before the crash: finished before it, or gone with Redis (404), never stuck.
    let (mut done_before, mut lost) = (0, 0);
    for s in sent.iter().filter(|s| s.phase == 1 && s.status == 202) {
        let job_id = s.job_id.as_deref().expect("job id");
        let response = app.job_status(&session.access, job_id).await;
        let body = json_body(response, StatusCode::NOT_FOUND).await;
        assert_eq!(body["message"], "Job not found", "job {} after the restart", s.tag);
        if answered.get(&s.tag).is_some_and(|(_, ok)| *ok > 0) {
            done_before += 1;
        } else {
            lost += 1;
        }
    }
    println!(
        "redis: of {} jobs queued before the crash, {done_before} were answered, {lost} were lost with Redis \
         (status 404 after the restart)",
        count(1, 202)
    );

    // 4. Attempt limits, and nothing answered twice.
    for s in &sent {
        let (calls, successes) = answered.get(&s.tag).copied().unwrap_or_default();
        assert!(calls <= MAX_ATTEMPTS, "{} reached the provider {calls} times", s.tag);
        assert!(successes <= 1, "{} was answered {successes} times", s.tag);
        if s.status == 200 {
            assert_eq!(
                successes, 1,
                "{} answered synchronously without a provider answer",
                s.tag
            );
        }
    }
    let max_calls = answered.values().map(|(c, _)| *c).max().unwrap_or_default();
    println!(
        "redis: {} requests, {} distinct jobs reached the provider, at most {max_calls} calls for one",
        sent.len(),
        answered.len()
    );
}
