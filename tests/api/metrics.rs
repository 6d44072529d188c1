//! `/metrics`: Prometheus metrics that move as requests are made.

use reqwest::StatusCode;
use serde_json::json;

use crate::fake_ai::FakeProvider;
use crate::helpers::*;

async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics").send().await.expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    response.text().await.unwrap_or_default()
}

/// The value of the sample whose line starts with `prefix` (name and labels); `None` when the
/// series is not exposed.
fn find_sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// For before/after differences: a series not exposed yet counts as 0.
fn sample(text: &str, prefix: &str) -> f64 {
    find_sample(text, prefix).unwrap_or(0.0)
}

/// A series that must be exposed.
fn value(text: &str, prefix: &str) -> f64 {
    find_sample(text, prefix).unwrap_or_else(|| panic!("{prefix} is not exposed:\n{text}"))
}

#[tokio::test]
async fn http_metrics_move_by_route_template() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let session = app.signup().await;
    let entry = app.created_entry(&session.access, &json!({"date": "2026-11-01"})).await;
    let id = entry["id"].as_str().unwrap_or_default();
    let list = r#"http_requests_total{method="GET",route="/api/entries",status="200"}"#;
    let one = r#"http_requests_total{method="GET",route="/api/entries/{id}",status="200"}"#;

    let before = scrape(&app).await;
    for _ in 0..3 {
        app.list_entries(&session.access, "").await;
    }
    app.get_entry(&session.access, id).await;
    app.get("/entries").send().await.expect("401");
    let after = scrape(&app).await;

    assert_eq!(sample(&after, list) - sample(&before, list), 3.0, "{after}");
    assert_eq!(sample(&after, one) - sample(&before, one), 1.0);
    assert!(
        sample(
            &after,
            r#"http_requests_total{method="GET",route="/entries",status="401"}"#
        ) >= 1.0
    );
    // Templates, not raw paths: the entry id never becomes a label.
    assert!(!after.contains(id));
    assert!(after.contains("# TYPE http_request_duration_seconds histogram"));
    assert!(
        after.contains(r#"http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/entries"}"#)
            || after.contains(r#"http_request_duration_seconds_bucket{method="GET",route="/api/entries",le="0.005"}"#),
        "{after}"
    );
    assert!(after.contains("# TYPE http_requests_in_flight gauge"));
    assert_eq!(
        value(&after, r#"healthtracker_dependency_up{dependency="database"}"#),
        1.0
    );
    for name in [
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_open_fds ",
        "process_start_time_seconds ",
    ] {
        assert!(after.contains(name), "{name} missing");
    }
    // Unknown routes share one label value.
    app.get("/api/no/such/thing").send().await.expect("404");
    let after = scrape(&app).await;
    assert!(after.contains(r#"route="unmatched",status="404""#));
}

#[tokio::test]
async fn openmetrics_when_the_scraper_asks_for_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .get("/metrics")
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .expect("scrape");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(response.text().await.unwrap_or_default().ends_with("# EOF\n"));
}

#[tokio::test]
async fn a_metrics_token_protects_the_endpoint() {
    let app = TestApp::builder(Backend::Sqlite)
        .env("METRICS_TOKEN", "scrape-me-0123456789")
        .spawn()
        .await;
    let refused = app.get("/metrics").send().await.expect("scrape");
    assert_error(refused, StatusCode::UNAUTHORIZED, "A valid metrics token is required").await;
    let wrong = app.get("/metrics").bearer_auth("guess").send().await.expect("scrape");
    assert_error(wrong, StatusCode::UNAUTHORIZED, "A valid metrics token is required").await;
    let allowed = app
        .get("/metrics")
        .bearer_auth("scrape-me-0123456789")
        .send()
        .await
        .expect("scrape");
    assert_eq!(allowed.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_provider_calls_are_counted() {
    let provider = FakeProvider::start().await;
    provider.then([crate::fake_ai::Behaviour::Fail(500)]);
    let app = TestApp::builder(Backend::Sqlite).ai(&provider).spawn().await;
    let session = app.signup().await;
    json_body(app.chat(&session.access, "hello").await, StatusCode::OK).await;
    let text = scrape(&app).await;
    assert_eq!(
        value(&text, r#"healthtracker_ai_provider_calls_total{outcome="failure"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(&text, r#"healthtracker_ai_provider_calls_total{outcome="success"}"#),
        1.0
    );
    assert_eq!(
        value(&text, "healthtracker_ai_provider_call_duration_seconds_count"),
        2.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_outcomes_and_queue_depth_are_reported() {
    let Some(redis) = TestRedis::shared("job_outcomes_and_queue_depth_are_reported").await else {
        return;
    };
    let provider = FakeProvider::start().await;
    provider.then([crate::fake_ai::Behaviour::Fail(500)]);
    let app = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .async_jobs(&redis)
        .spawn()
        .await;
    let session = app.signup().await;
    let body = json_body(app.chat(&session.access, "hello").await, StatusCode::ACCEPTED).await;
    let job = app
        .wait_for_job(
            &session.access,
            body["jobId"].as_str().unwrap_or_default(),
            std::time::Duration::from_secs(30),
        )
        .await;
    assert_eq!(job["state"], "completed");
    let text = scrape(&app).await;
    assert_eq!(
        value(&text, r#"healthtracker_ai_jobs_total{job="chat",outcome="retried"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(&text, r#"healthtracker_ai_jobs_total{job="chat",outcome="completed"}"#),
        1.0
    );
    assert_eq!(value(&text, "healthtracker_ai_job_attempts_sum"), 2.0);
    assert_eq!(value(&text, "healthtracker_ai_jobs_queued "), 0.0);
    assert_eq!(value(&text, r#"healthtracker_dependency_up{dependency="redis"}"#), 1.0);
    redis.cleanup().await;
}
