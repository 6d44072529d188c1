//! `/ai`: chat and weekly report, inline and through the Redis queue, against a fake provider.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::fake_ai::{Behaviour, FAKE_API_KEY, FakeProvider, answer_text};
use crate::helpers::*;

const JOB_TIMEOUT: Duration = Duration::from_secs(30);

fn today_minus(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

async fn sync_app(provider: &FakeProvider) -> TestApp {
    TestApp::builder(Backend::Sqlite).ai(provider).spawn().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_chat_answers_with_reply_and_message() {
    let provider = FakeProvider::start().await;
    let app = sync_app(&provider).await;
    let session = app.signup().await;
    let response = app.chat(&session.access, "How much water should I drink?").await;
    assert_eq!(
        response.headers().get("ratelimit-limit").and_then(|v| v.to_str().ok()),
        Some("10")
    );
    let body = json_body(response, StatusCode::OK).await;
    assert_eq!(body["status"], "success");
    assert_eq!(body["mode"], "sync");
    assert_eq!(body["reply"], answer_text(1).as_str());
    // The existing frontend reads `message`.
    assert_eq!(body["message"], body["reply"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_prompt_is_sanitized_once_and_keeps_to_health_guidance() {
    let provider = FakeProvider::start().await;
    let app = sync_app(&provider).await;
    let session = app.signup().await;
    json_body(
        app.chat(
            &session.access,
            "  <b>Is</b> fish & chips <script>alert(1)</script>ok?  ",
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let request = provider.requests().pop().expect("the provider was called");
    assert_eq!(
        request.authorization.as_deref(),
        Some(format!("Bearer {FAKE_API_KEY}").as_str())
    );
    assert_eq!(request.body["model"], "llama-3.1-8b-instant");
    let messages = request.body["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages[0]["role"], "system");
    let system = messages[0]["content"].as_str().unwrap_or_default();
    assert!(system.contains("health") && system.contains("not a doctor"), "{system}");
    // Markup stripped, text not HTML-escaped (the old backend sent `&amp;lt;b&amp;gt;`).
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[1], json!({"role": "user", "content": "Is fish & chips ok?"}));
}

#[tokio::test]
async fn chat_validation() {
    let provider = FakeProvider::start().await;
    let app = sync_app(&provider).await;
    let session = app.signup().await;
    for body in [
        json!({}),
        json!({"message": ""}),
        json!({"message": "<p></p>"}),
        // An unterminated tag is markup too (what the fuzzer found in CI).
        json!({"message": "<p÷º¢"}),
        json!({"message": "x".repeat(2001)}),
        json!({"message": 42}),
    ] {
        let response = app
            .post("/api/ai/chat")
            .bearer_auth(&session.access)
            .json(&body)
            .send()
            .await
            .expect("chat");
        let error = assert_invalid(response).await;
        assert_eq!(detail_paths(&error), ["message"], "{body}");
    }
    json_body(app.chat(&session.access, &"x".repeat(2000)).await, StatusCode::OK).await;
    assert_eq!(provider.calls(), 1);
}

/// A streamed answer is the caller's data like any other: nothing on the way may keep it (axum's
/// `Sse` sends `no-cache`, which allows storing it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_chat_is_not_stored_by_caches() {
    let provider = FakeProvider::start().await;
    let app = sync_app(&provider).await;
    let session = app.signup().await;
    let response = app.chat_stream(&session.access, "Stream me an answer").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cache_control: Vec<&str> = response
        .headers()
        .get_all("cache-control")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(cache_control, ["no-store"]);
    let body = response.text().await.unwrap_or_default();
    assert!(body.contains("event: done"), "{body}");
}

/// Invalid messages cost nothing: the AI limit counts only requests that could be answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_ai_requests_do_not_spend_the_quota() {
    let provider = FakeProvider::start().await;
    let app = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .env("AI_RATE_LIMIT_MAX", "2")
        .spawn()
        .await;
    let session = app.signup().await;
    for body in [
        json!({}),
        json!({"message": ""}),
        json!({"message": "<p></p>"}),
        json!({"message": "x".repeat(2001)}),
        json!({"message": 42}),
    ] {
        for accept in ["application/json", "text/event-stream"] {
            let response = app
                .post("/api/ai/chat")
                .bearer_auth(&session.access)
                .header("accept", accept)
                .json(&body)
                .send()
                .await
                .expect("chat");
            assert!(
                response.headers().get("ratelimit-remaining").is_none(),
                "{body} counted"
            );
            assert_invalid(response).await;
        }
    }
    for body in ["[]", "\"x\"", "{\"a\":1"] {
        let response = app
            .post("/api/ai/weekly-report")
            .bearer_auth(&session.access)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("weekly report");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    // The whole quota is still there.
    let first = app.chat(&session.access, "one").await;
    assert_eq!(
        first.headers().get("ratelimit-remaining").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    json_body(first, StatusCode::OK).await;
    json_body(app.chat(&session.access, "two").await, StatusCode::OK).await;
    assert_eq!(provider.calls(), 2);
}

api_test!(
    async fn sync_weekly_report_from_the_last_seven_days(backend) {
        let provider = FakeProvider::start().await;
        let app = TestApp::builder(backend).ai(&provider).spawn().await;
        let session = app.signup().await;
        app.created_entry(
            &session.access,
            &json!({"date": today_minus(0), "calories": 2000, "sleep": 7, "steps": 8000, "waterIntake": 2, "workouts": true,
                    "mood": "good", "foodIntake": [{"meal": "breakfast", "food": "Porridge", "calories": 350}]}),
        )
        .await;
        app.created_entry(
            &session.access,
            &json!({"date": today_minus(6), "calories": 1800, "sleep": 8.5, "steps": 4000, "waterIntake": 1.5, "mood": "fair"}),
        )
        .await;
        // Outside the week: not in its figures (it is the week before's, `summary.previous`).
        app.created_entry(&session.access, &json!({"date": today_minus(7), "calories": 9999, "workouts": true})).await;

        let body = json_body(app.weekly_report(&session.access).await, StatusCode::OK).await;
        assert_eq!(body["mode"], "sync");
        assert_eq!(body["report"], answer_text(1).as_str());
        let summary = &body["summary"];
        assert_eq!(summary["totalDays"], 2);
        assert_eq!(summary["avgCalories"], 1900);
        assert_eq!(summary["avgSleep"], 7.8);
        assert_eq!(summary["avgSteps"], 6000);
        assert_eq!(summary["avgWaterIntake"], 1.8);
        assert_eq!(summary["workoutDays"], 1);
        assert_eq!(summary["moodCounts"]["good"], 1);
        assert_eq!(summary["moodCounts"]["fair"], 1);

        let request = provider.requests().pop().expect("the provider was called");
        let system = request.body["messages"][0]["content"].as_str().unwrap_or_default().to_owned();
        assert!(system.contains("150-200 word") && system.contains("medical advice"), "{system}");
        let prompt = request.body["messages"][1]["content"].as_str().unwrap_or_default().to_owned();
        for figure in [
            "Average daily calories: 1900 kcal",
            "Average sleep: 7.8 hours",
            "Workout days: 1 out of 7",
            "breakfast: Porridge (350 kcal)",
        ] {
            assert!(prompt.contains(figure), "{figure:?} missing from prompt:\n{prompt}");
        }
        let this_week = prompt.split("The 7 days before that").next().unwrap_or_default();
        assert!(!this_week.contains("9999"), "{prompt}");
        assert_eq!(summary["previous"]["avgCalories"], 9999);
    }
);

#[tokio::test]
async fn weekly_report_is_404_for_an_empty_week() {
    let provider = FakeProvider::start().await;
    let app = sync_app(&provider).await;
    let session = app.signup().await;
    app.created_entry(&session.access, &json!({"date": today_minus(10)}))
        .await;
    assert_error(
        app.weekly_report(&session.access).await,
        StatusCode::NOT_FOUND,
        "No health data found for the past week",
    )
    .await;
    assert_eq!(provider.calls(), 0);
}

#[tokio::test]
async fn without_a_key_the_ai_routes_are_503_and_health_says_so() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let session = app.signup().await;
    assert_error(
        app.chat(&session.access, "hi").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "AI service is not configured",
    )
    .await;
    assert_error(
        app.weekly_report(&session.access).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "AI service is not configured",
    )
    .await;
    let health = json_body(app.health().await, StatusCode::OK).await;
    assert_eq!(health["services"]["ai"], "not-configured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_errors_are_retried_then_answered() {
    let provider = FakeProvider::start().await;
    provider.then([Behaviour::Fail(500), Behaviour::Fail(503)]);
    let app = sync_app(&provider).await;
    let session = app.signup().await;
    let body = json_body(app.chat(&session.access, "hello").await, StatusCode::OK).await;
    assert_eq!(body["reply"], answer_text(3).as_str());
    assert_eq!(provider.calls(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let provider = FakeProvider::start().await;
    provider.then([Behaviour::RateLimited { retry_after_secs: 1 }]);
    let app = sync_app(&provider).await;
    let session = app.signup().await;
    let started = Instant::now();
    json_body(app.chat(&session.access, "hello").await, StatusCode::OK).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after {:?}",
        started.elapsed()
    );
    assert_eq!(provider.calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_is_a_502_without_its_details() {
    let provider = FakeProvider::start().await;
    provider.always(Behaviour::Fail(500));
    let app = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .env("AI_MAX_RETRIES", "2")
        .spawn()
        .await;
    let session = app.signup().await;
    let body = assert_error(
        app.chat(&session.access, "hello").await,
        StatusCode::BAD_GATEWAY,
        "AI service unavailable",
    )
    .await;
    assert!(body["errorId"].is_string());
    assert!(!body.to_string().contains("internal provider detail"));
    assert_eq!(provider.calls(), 3);
    let health = json_body(app.health().await, StatusCode::OK).await;
    assert_eq!(health["services"]["ai"], "disconnected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_stalls_is_a_502_within_the_timeout() {
    let provider = FakeProvider::start().await;
    provider.always(Behaviour::Stall(Duration::from_secs(30)));
    let app = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .env("AI_TIMEOUT_SECS", "2")
        .spawn()
        .await;
    let session = app.signup().await;
    let started = Instant::now();
    assert_error(
        app.chat(&session.access, "hello").await,
        StatusCode::BAD_GATEWAY,
        "AI service unavailable",
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(4),
        "answered after {elapsed:?}"
    );
}

#[tokio::test]
async fn ai_posts_are_rate_limited_per_user() {
    let provider = FakeProvider::start().await;
    let app = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .env("AI_RATE_LIMIT_MAX", "2")
        .spawn()
        .await;
    let session = app.signup().await;
    let other = app.signup().await;
    json_body(app.chat(&session.access, "one").await, StatusCode::OK).await;
    let second = app.chat(&session.access, "two").await;
    assert_eq!(
        second
            .headers()
            .get("ratelimit-remaining")
            .and_then(|v| v.to_str().ok()),
        Some("0")
    );
    json_body(second, StatusCode::OK).await;
    let third = app.weekly_report(&session.access).await;
    let headers = third.headers().clone();
    assert_error(
        third,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many AI requests, please try again later.",
    )
    .await;
    assert_eq!(headers.get("ratelimit-limit").and_then(|v| v.to_str().ok()), Some("2"));
    assert_eq!(
        headers.get("ratelimit-remaining").and_then(|v| v.to_str().ok()),
        Some("0")
    );
    let retry_after = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|s| s > 0 && s <= 900), "{retry_after:?}");
    let reset = headers
        .get("ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(reset.is_some_and(|s| s > 0 && s <= 900), "{reset:?}");
    assert_eq!(provider.calls(), 2);
    // Per user, not per IP.
    json_body(app.chat(&other.access, "hi").await, StatusCode::OK).await;
}

// --- asynchronous mode (Redis) -----------------------------------------------------------------

async fn async_app(provider: &FakeProvider, redis: &TestRedis) -> TestApp {
    TestApp::builder(Backend::Sqlite)
        .ai(provider)
        .async_jobs(redis)
        .spawn()
        .await
}

/// Enqueues a chat and returns the job id, checking the 202 body.
async fn queued_chat(app: &TestApp, access: &str, message: &str) -> String {
    queued(app.chat(access, message).await, "Chat request queued for processing").await
}

/// Checks a 202 answer (`status`, `mode`, `message`, `jobId`, `checkStatusUrl`) and returns the id.
async fn queued(response: reqwest::Response, message: &str) -> String {
    let body = json_body(response, StatusCode::ACCEPTED).await;
    assert_eq!(body["status"], "success");
    assert_eq!(body["mode"], "async");
    assert_eq!(body["message"], message);
    let job_id = body["jobId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(body["checkStatusUrl"], format!("/api/ai/job-status/{job_id}").as_str());
    job_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_chat_goes_through_the_queue_to_completed() {
    let Some(redis) = TestRedis::shared("async_chat_goes_through_the_queue_to_completed").await else {
        return;
    };
    let provider = FakeProvider::start().await;
    let app = async_app(&provider, &redis).await;
    let session = app.signup().await;
    let health = json_body(app.health().await, StatusCode::OK).await;
    assert_eq!(health["services"]["redis"], "connected");

    let queued_at = Instant::now();
    let job_id = queued_chat(&app, &session.access, "Tips for better sleep?").await;
    let job = app.wait_for_job(&session.access, &job_id, JOB_TIMEOUT).await;
    // Picked up in well under a second, not on apalis' 30 s heartbeat.
    assert!(
        queued_at.elapsed() < Duration::from_secs(5),
        "took {:?}",
        queued_at.elapsed()
    );
    assert_eq!(job["id"], job_id.as_str());
    assert_eq!(job["name"], "chat");
    assert_eq!(job["state"], "completed");
    assert_eq!(job["progress"], 100);
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["result"]["reply"], answer_text(1).as_str());
    assert_eq!(job["result"]["message"], job["result"]["reply"]);
    assert!(job["failedReason"].is_null());
    assert!(job["createdAt"].is_string() && job["finishedAt"].is_string());
    assert_eq!(
        provider.requests()[0].body["messages"][1]["content"],
        "Tips for better sleep?"
    );

    // The finished job's record expires after a day.
    let mut connection = redis.connection().await;
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{}:job:{job_id}", redis.prefix))
        .query_async(&mut connection)
        .await
        .expect("ttl");
    assert!((86_000..=86_400).contains(&ttl), "ttl {ttl}");
    redis.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_weekly_report_completes_with_report_and_summary() {
    let Some(redis) = TestRedis::shared("async_weekly_report_completes_with_report_and_summary").await else {
        return;
    };
    let provider = FakeProvider::start().await;
    let app = async_app(&provider, &redis).await;
    let session = app.signup().await;
    app.created_entry(
        &session.access,
        &json!({"date": today_minus(1), "calories": 2100, "workouts": true}),
    )
    .await;
    let job_id = queued(
        app.weekly_report(&session.access).await,
        "Weekly report request queued for processing",
    )
    .await;
    let job = app.wait_for_job(&session.access, &job_id, JOB_TIMEOUT).await;
    assert_eq!(job["state"], "completed");
    assert_eq!(job["name"], "weekly-report");
    assert_eq!(job["result"]["report"], answer_text(1).as_str());
    assert_eq!(job["result"]["summary"]["avgCalories"], 2100);
    assert_eq!(job["result"]["summary"]["workoutDays"], 1);
    // An empty week is still a 404, not a job.
    let other = app.signup().await;
    assert_error(
        app.weekly_report(&other.access).await,
        StatusCode::NOT_FOUND,
        "No health data found for the past week",
    )
    .await;
    redis.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_fails_twice_then_succeeds_takes_three_attempts() {
    let Some(redis) = TestRedis::shared("a_job_that_fails_twice_then_succeeds_takes_three_attempts").await else {
        return;
    };
    let provider = FakeProvider::start().await;
    provider.then([Behaviour::Fail(500), Behaviour::Fail(502)]);
    let app = async_app(&provider, &redis).await;
    let session = app.signup().await;
    let started = Instant::now();
    let job_id = queued_chat(&app, &session.access, "hello").await;

    // Between attempts the job waits out its backoff as `delayed`, with the reason so far.
    let mut saw_delayed = false;
    while started.elapsed() < JOB_TIMEOUT {
        let job = json_body(app.job_status(&session.access, &job_id).await, StatusCode::OK).await["job"].clone();
        if job["state"] == "delayed" {
            saw_delayed = true;
            assert!(
                job["failedReason"].as_str().is_some_and(|r| r.contains("HTTP 50")),
                "{job}"
            );
        }
        if job["state"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let job = app.wait_for_job(&session.access, &job_id, JOB_TIMEOUT).await;
    assert!(saw_delayed);
    assert_eq!(job["state"], "completed");
    assert_eq!(job["attempts"], 3);
    assert_eq!(job["result"]["reply"], answer_text(3).as_str());
    assert_eq!(provider.calls(), 3);
    // Backoff of 2 s then 4 s between the attempts.
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "finished after {:?}",
        started.elapsed()
    );
    redis.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_always_fails_runs_exactly_max_attempts_times() {
    let Some(redis) = TestRedis::shared("a_job_that_always_fails_runs_exactly_max_attempts_times").await else {
        return;
    };
    let provider = FakeProvider::start().await;
    provider.always(Behaviour::Fail(500));
    let app = async_app(&provider, &redis).await;
    let session = app.signup().await;
    let job_id = queued_chat(&app, &session.access, "hello").await;
    let job = app.wait_for_job(&session.access, &job_id, JOB_TIMEOUT).await;
    assert_eq!(job["state"], "failed");
    assert_eq!(job["attempts"], 3);
    assert!(
        job["failedReason"].as_str().is_some_and(|r| r.contains("HTTP 500")),
        "{job}"
    );
    assert!(!job.to_string().contains("internal provider detail"));
    assert!(job["result"].is_null() && job["finishedAt"].is_string());
    assert_eq!(provider.calls(), 3);
    // Not re-run later (apalis-redis would re-queue a failed job by itself up to 25 times).
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(provider.calls(), 3);
    let job = app.wait_for_job(&session.access, &job_id, JOB_TIMEOUT).await;
    assert_eq!(job["state"], "failed");
    redis.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_five_jobs_per_user_in_flight() {
    let Some(redis) = TestRedis::shared("at_most_five_jobs_per_user_in_flight").await else {
        return;
    };
    let provider = FakeProvider::start().await;
    provider.always(Behaviour::Stall(Duration::from_secs(3)));
    let app = async_app(&provider, &redis).await;
    let session = app.signup().await;
    let other = app.signup().await;
    let mut jobs = Vec::new();
    for i in 0..5 {
        jobs.push(queued_chat(&app, &session.access, &format!("question {i}")).await);
    }
    assert_error(
        app.chat(&session.access, "one too many").await,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many AI jobs in progress, please wait for one to finish.",
    )
    .await;
    queued_chat(&app, &other.access, "someone else").await;
    // Once jobs finish, the user may queue again.
    for job_id in &jobs {
        assert_eq!(
            app.wait_for_job(&session.access, job_id, JOB_TIMEOUT).await["state"],
            "completed"
        );
    }
    queued_chat(&app, &session.access, "room again").await;
    redis.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_runs_at_most_worker_concurrency_jobs_at_once() {
    let Some(redis) = TestRedis::shared("a_worker_runs_at_most_worker_concurrency_jobs_at_once").await else {
        return;
    };
    let provider = FakeProvider::start().await;
    provider.always(Behaviour::Stall(Duration::from_millis(700)));
    let app = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .async_jobs(&redis)
        .env("WORKER_CONCURRENCY", "2")
        .spawn()
        .await;
    let mut queued = Vec::new();
    for _ in 0..2 {
        let session = app.signup().await;
        for i in 0..3 {
            queued.push((
                session.access.clone(),
                queued_chat(&app, &session.access, &format!("q{i}")).await,
            ));
        }
    }
    for (access, job_id) in &queued {
        assert_eq!(
            app.wait_for_job(access, job_id, JOB_TIMEOUT).await["state"],
            "completed"
        );
    }
    assert_eq!(provider.calls(), 6);
    assert_eq!(provider.max_concurrent(), 2);
    redis.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_status_is_only_for_the_jobs_owner() {
    let Some(redis) = TestRedis::shared("job_status_is_only_for_the_jobs_owner").await else {
        return;
    };
    let provider = FakeProvider::start().await;
    let app = async_app(&provider, &redis).await;
    let owner = app.signup().await;
    let stranger = app.signup().await;
    let job_id = queued_chat(&app, &owner.access, "mine").await;
    assert_error(
        app.job_status(&stranger.access, &job_id).await,
        StatusCode::NOT_FOUND,
        "Job not found",
    )
    .await;
    assert_error(
        app.job_status(&owner.access, "01JD0000000000000000000000").await,
        StatusCode::NOT_FOUND,
        "Job not found",
    )
    .await;
    assert_error(
        app.job_status(&owner.access, "not-a-job").await,
        StatusCode::NOT_FOUND,
        "Job not found",
    )
    .await;
    let anonymous = app
        .get(&format!("/api/ai/job-status/{job_id}"))
        .send()
        .await
        .expect("request");
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "No token provided").await;
    json_body(app.job_status(&owner.access, &job_id).await, StatusCode::OK).await;
    redis.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_status_is_not_rate_limited() {
    let Some(redis) = TestRedis::shared("job_status_is_not_rate_limited").await else {
        return;
    };
    let provider = FakeProvider::start().await;
    let app = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .async_jobs(&redis)
        .env("AI_RATE_LIMIT_MAX", "1")
        .spawn()
        .await;
    let session = app.signup().await;
    let job_id = queued_chat(&app, &session.access, "one").await;
    for _ in 0..5 {
        json_body(app.job_status(&session.access, &job_id).await, StatusCode::OK).await;
    }
    redis.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_counters_are_shared_through_redis() {
    let Some(redis) = TestRedis::shared("rate_limit_counters_are_shared_through_redis").await else {
        return;
    };
    let provider = FakeProvider::start().await;
    let first = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .async_jobs(&redis)
        .env("AI_RATE_LIMIT_MAX", "2")
        .spawn()
        .await;
    let second = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .async_jobs(&redis)
        .env("AI_RATE_LIMIT_MAX", "2")
        .database(first.database.clone())
        .spawn()
        .await;
    let session = first.signup().await;
    queued_chat(&first, &session.access, "one").await;
    queued_chat(&second, &session.access, "two").await;
    assert_error(
        second.chat(&session.access, "three").await,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many AI requests, please try again later.",
    )
    .await;
    assert_error(
        first.chat(&session.access, "four").await,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many AI requests, please try again later.",
    )
    .await;
    redis.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_means_sync_answers_not_errors() {
    let provider = FakeProvider::start().await;
    // Nothing listens on port 1: connections are refused at once.
    let redis = TestRedis::on("redis://127.0.0.1:1");
    let started = Instant::now();
    let app = async_app(&provider, &redis).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "start-up took {:?}",
        started.elapsed()
    );
    let session = app.signup().await;
    let started = Instant::now();
    let body = json_body(app.chat(&session.access, "hello").await, StatusCode::OK).await;
    let elapsed = started.elapsed();
    assert_eq!(body["mode"], "sync");
    assert_eq!(body["reply"], answer_text(1).as_str());
    // The fake answers at once; the failed enqueue may cost at most ~0.5 s.
    assert!(elapsed < Duration::from_millis(1500), "answered after {elapsed:?}");
    assert_error(
        app.job_status(&session.access, "01JD0000000000000000000000").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "Queue not available",
    )
    .await;
    let health = json_body(app.health().await, StatusCode::OK).await;
    assert_eq!(health["services"]["redis"], "disconnected");
    // Rate limits keep counting in process meanwhile.
    let limited = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .async_jobs(&redis)
        .env("AI_RATE_LIMIT_MAX", "1")
        .spawn()
        .await;
    let user = limited.signup().await;
    json_body(limited.chat(&user.access, "one").await, StatusCode::OK).await;
    assert_error(
        limited.chat(&user.access, "two").await,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many AI requests, please try again later.",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_down_falls_back_to_sync_and_async_resumes_when_it_returns() {
    let Some(mut own) = OwnRedis::start("redis_going_down_falls_back_to_sync_and_async_resumes_when_it_returns").await
    else {
        return;
    };
    let provider = FakeProvider::start().await;
    let redis = TestRedis::on(&own.url());
    let app = async_app(&provider, &redis).await;
    let session = app.signup().await;
    let job_id = queued_chat(&app, &session.access, "before").await;
    assert_eq!(
        app.wait_for_job(&session.access, &job_id, JOB_TIMEOUT).await["state"],
        "completed"
    );

    own.kill();
    for _ in 0..3 {
        let started = Instant::now();
        let body = json_body(app.chat(&session.access, "while down").await, StatusCode::OK).await;
        assert_eq!(body["mode"], "sync");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "answered after {:?}",
            started.elapsed()
        );
    }
    assert_error(
        app.job_status(&session.access, &job_id).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "Queue not available",
    )
    .await;

    own.restart().await;
    // Async mode returns by itself, and the worker recovers by itself to run the job.
    let deadline = Instant::now() + Duration::from_secs(20);
    let job_id = loop {
        let response = app.chat(&session.access, "after").await;
        if response.status() == StatusCode::ACCEPTED {
            let body = json_body(response, StatusCode::ACCEPTED).await;
            break body["jobId"].as_str().unwrap_or_default().to_owned();
        }
        // Until then every request is still answered, inline.
        let body = json_body(response, StatusCode::OK).await;
        assert_eq!(body["mode"], "sync", "{body}");
        assert!(Instant::now() < deadline, "async mode did not resume");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let job = app.wait_for_job(&session.access, &job_id, JOB_TIMEOUT).await;
    assert_eq!(job["state"], "completed", "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_a_running_job() {
    let Some(redis) = TestRedis::shared("graceful_shutdown_finishes_a_running_job").await else {
        return;
    };
    let provider = FakeProvider::start().await;
    provider.always(Behaviour::Stall(Duration::from_secs(2)));
    let app = async_app(&provider, &redis).await;
    let session = app.signup().await;
    let job_id = queued_chat(&app, &session.access, "slow one").await;
    let deadline = Instant::now() + JOB_TIMEOUT;
    loop {
        let job = json_body(app.job_status(&session.access, &job_id).await, StatusCode::OK).await;
        if job["job"]["state"] == "active" && provider.calls() == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await.expect("clean stop");
    let mut connection = redis.connection().await;
    let record: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("{}:job:{job_id}", redis.prefix))
        .query_async(&mut connection)
        .await
        .expect("record");
    assert_eq!(record.get("state").map(String::as_str), Some("completed"), "{record:?}");
    let result: Value = serde_json::from_str(record.get("result").map_or("null", String::as_str)).expect("result JSON");
    assert_eq!(result["reply"], answer_text(1).as_str());
    redis.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_never_reaches_a_response() {
    let provider = FakeProvider::start().await;
    provider.always(Behaviour::Fail(401));
    let app = sync_app(&provider).await;
    let session = app.signup().await;
    let body = assert_error(
        app.chat(&session.access, "hello").await,
        StatusCode::BAD_GATEWAY,
        "AI service unavailable",
    )
    .await;
    let text = body.to_string();
    assert!(!text.contains(FAKE_API_KEY) && !text.contains("gsk_"), "{text}");
    // A 401 from the provider is not retried.
    assert_eq!(provider.calls(), 1);
}

/// Whether `value` is allowed by `schema`'s `type` (a name or a list of names; JSON Schema's
/// "number" takes integers too). A schema without `type` (a `$ref`, an `allOf`) allows anything here.
fn type_allows(schema: &Value, value: &Value) -> bool {
    let allows = |name: &str| match name {
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    };
    match &schema["type"] {
        Value::String(name) => allows(name),
        Value::Array(names) => names.iter().filter_map(Value::as_str).any(allows),
        _ => true,
    }
}

api_test!(
    async fn a_weekly_reports_summary_is_what_the_document_says_it_is(backend) {
        let provider = FakeProvider::start().await;
        let app = TestApp::builder(backend).ai(&provider).spawn().await;
        let session = app.signup().await;
        // No resting heart rate, blood pressure or weight this week (their averages are null), one
        // goal (the summary's `goals` map).
        app.created_entry(&session.access, &json!({"date": today_minus(0), "calories": 2000, "steps": 8000}))
            .await;
        let goals = app.put_goals(&session.access, &json!({"steps": {"min": 7000}})).await;
        assert_eq!(goals.status(), StatusCode::OK);
        let body = json_body(app.weekly_report(&session.access).await, StatusCode::OK).await;
        let summary = body["summary"].as_object().expect("summary");
        let document = json_body(app.get("/api/openapi.json").send().await.expect("openapi"), StatusCode::OK).await;
        let week = &document["components"]["schemas"]["WeekFigures"];
        let properties = week["properties"].as_object().expect("WeekFigures properties");
        for (key, value) in summary.iter().filter(|(key, _)| *key != "previous") {
            let schema = properties.get(key).unwrap_or_else(|| panic!("`{key}` is not in WeekFigures"));
            assert!(type_allows(schema, value), "`{key}`: {value} is not allowed by {schema}");
        }
        for required in week["required"].as_array().expect("required") {
            let key = required.as_str().expect("a name");
            assert!(summary.contains_key(key), "`{key}` is required but missing");
        }
        assert!(summary["avgRestingHeartRate"].is_null());
        assert_eq!(summary["goals"]["steps"]["daysMet"], 1);
        let goal = &properties["goals"]["additionalProperties"]["properties"];
        assert!(type_allows(&goal["daysMet"], &summary["goals"]["steps"]["daysMet"]));
    }
);
