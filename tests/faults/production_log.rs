//! The production log as the real binary writes it: one JSON object per line, one access line per
//! request, nothing secret (no password, token, note, chat message, AI key or provider error detail),
//! and every line flushed before the process exits.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_ai::{Behaviour, FAKE_API_KEY, FakeProvider};
use crate::helpers::PASSWORD;
use crate::process::{ServerProcess, install_crypto_provider};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_logs_are_json_with_one_access_line_per_request_and_no_secrets() {
    install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    // An AI provider that fails with a detailed error: neither the key nor the detail may be logged.
    let provider = FakeProvider::start().await;
    provider.always(Behaviour::Fail(500));
    let mut server = ServerProcess::start(
        dir.path(),
        &dir.path().join("ht.db"),
        &[
            ("GROQ_API_KEY", FAKE_API_KEY),
            ("AI_BASE_URL", &provider.base_url),
            ("AI_MAX_RETRIES", "0"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let email = "logged@example.com";

    let registered: Value = client
        .post(server.url("/api/auth/register"))
        .json(&json!({"name": "Logged", "email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("body");
    let access = registered["accessToken"].as_str().expect("token").to_owned();
    let refresh = registered["refreshToken"].as_str().expect("token").to_owned();
    let user_id = registered["userId"].as_str().expect("user id").to_owned();
    let wrong = client
        .post(server.url("/auth/login"))
        .json(&json!({"email": email, "password": "Wrong-password-1"}))
        .send()
        .await
        .expect("login");
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let created = client
        .post(server.url("/api/entries/"))
        .bearer_auth(&access)
        .header("x-request-id", "trace-me-42")
        .json(&json!({"date": "2026-11-01", "notes": "private note"}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), StatusCode::CREATED);
    let forged = client
        .get(server.url("/api/entries"))
        .bearer_auth("forged.token.value")
        .send()
        .await
        .expect("list");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let chat = client
        .post(server.url("/api/ai/chat"))
        .bearer_auth(&access)
        .json(&json!({"message": "private question"}))
        .send()
        .await
        .expect("chat");
    assert_eq!(chat.status(), StatusCode::BAD_GATEWAY);
    let logout = client
        .post(server.url("/api/auth/logout"))
        .bearer_auth(&access)
        .json(&json!({"refreshToken": refresh}))
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), StatusCode::OK);

    // Stop the server: every queued line must be in the file afterwards.
    server.sigterm();
    assert!(server.wait(Duration::from_secs(30)).await.success());
    let log = server.log();

    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    let access_lines: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    // The readiness polls of ServerProcess::start are requests too; ours are the last six.
    let ours = &access_lines[access_lines.len() - 6..];
    let summary: Vec<(String, String, u64)> = ours
        .iter()
        .map(|l| {
            (
                l["method"].as_str().unwrap_or_default().to_owned(),
                l["path"].as_str().unwrap_or_default().to_owned(),
                l["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("POST".to_owned(), "/api/auth/register".to_owned(), 201),
            ("POST".to_owned(), "/auth/login".to_owned(), 400),
            ("POST".to_owned(), "/api/entries/".to_owned(), 201),
            ("GET".to_owned(), "/api/entries".to_owned(), 401),
            ("POST".to_owned(), "/api/ai/chat".to_owned(), 502),
            ("POST".to_owned(), "/api/auth/logout".to_owned(), 200),
        ]
    );
    for line in ours {
        let level = if line["status"] == 502 { "ERROR" } else { "INFO" };
        assert_eq!(line["level"], level, "{line}");
        assert!(line["timestamp"].is_string() && line["latency_ms"].is_number() && line["request_id"].is_string());
    }
    assert_eq!(ours[2]["request_id"], "trace-me-42");
    assert_eq!(ours[2]["user_id"], user_id.as_str());
    assert!(ours[3].get("user_id").is_none());
    let registered_line = lines
        .iter()
        .find(|l| l["message"] == "user registered")
        .expect("handler logs are JSON lines too");
    assert_eq!(
        registered_line["span"]["request_id"], ours[0]["request_id"],
        "a handler's line carries its request's id"
    );

    for secret in [
        PASSWORD,
        "Wrong-password-1",
        access.as_str(),
        refresh.as_str(),
        "forged.token.value",
        "private note",
        "private question",
        FAKE_API_KEY,
        "internal provider detail",
    ] {
        assert!(!log.contains(secret), "{secret:?} reached the log");
    }
}
