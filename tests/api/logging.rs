//! Logging: one structured line per request, 5xx ids that match the log, no secrets in any line.

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

use crate::helpers::*;

/// Collects every event as `target message key=value…`.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut line = Line(format!("{} {}", event.metadata().level(), event.metadata().target()));
        event.record(&mut line);
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line.0);
        }
    }
}

fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    init_test_logging();
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    (captured, tracing::subscriber::set_default(subscriber))
}

// Current-thread runtime: the app's tasks run on this thread, under the capturing subscriber.
#[tokio::test]
async fn no_password_or_token_ever_reaches_the_log() {
    let (captured, _guard) = capture();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let session = app.signup().await;
    let login = json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
    app.login(&session.email, "Wrong9876").await;
    let refreshed = json_body(
        app.refresh(&json!({"refreshToken": login["refreshToken"]})).await,
        StatusCode::OK,
    )
    .await;
    app.created_entry(&session.access, &json!({"date": "2026-11-01"})).await;
    app.list_entries("garbage.token.value", "").await;
    app.logout(&session.access, Some(&json!({"refreshToken": session.refresh})))
        .await;

    let lines = captured.lines();
    assert!(!lines.is_empty());
    let secrets = [
        PASSWORD,
        "Wrong9876",
        &session.access,
        &session.refresh,
        login["accessToken"].as_str().unwrap_or("-"),
        login["refreshToken"].as_str().unwrap_or("-"),
        refreshed["accessToken"].as_str().unwrap_or("-"),
        refreshed["refreshToken"].as_str().unwrap_or("-"),
        "garbage.token.value",
        TEST_JWT_SECRET,
    ];
    for line in &lines {
        for secret in secrets {
            assert!(!line.contains(secret), "secret in log line: {line}");
        }
    }
}

#[tokio::test]
async fn no_token_of_an_mcp_session_reaches_the_log() {
    let (captured, _guard) = capture();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let session = app.signup().await;
    let client = app
        .mcp_client(
            "/mcp",
            Some(&session.access),
            rmcp::model::ProtocolVersion::V_2025_06_18,
        )
        .await
        .expect("initialize");
    let arguments = json!({"date": "2026-11-01", "notes": "private words"});
    let call = rmcp::model::CallToolRequestParams::new("log_day")
        .with_arguments(arguments.as_object().cloned().unwrap_or_default());
    client.call_tool(call).await.expect("log_day");
    client.cancel().await.expect("close");
    app.mcp_post(
        "/mcp",
        Some("garbage.token.value"),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    )
    .await;

    let lines = captured.lines();
    assert!(lines.iter().any(|line| line.contains("path=/mcp")), "{lines:#?}");
    for line in &lines {
        for secret in [session.access.as_str(), "garbage.token.value"] {
            assert!(!line.contains(secret), "secret in log line: {line}");
        }
    }
}

#[tokio::test]
async fn one_structured_line_per_request() {
    let (captured, _guard) = capture();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let session = app.signup().await;
    app.get("/api/entries")
        .bearer_auth(&session.access)
        .header("x-request-id", "req-42")
        .send()
        .await
        .expect("request");
    app.get("/api/nope").send().await.expect("request");

    let request_lines: Vec<String> = captured
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("INFO http "))
        .collect();
    assert_eq!(request_lines.len(), 3, "{request_lines:#?}");
    let list = &request_lines[1];
    for field in [
        "request_id=req-42",
        "method=GET",
        "path=/api/entries",
        "status=200",
        "latency_ms=",
        &format!("user_id=\"{}\"", session.user_id),
    ] {
        assert!(list.contains(field), "{field} missing from {list}");
    }
    assert!(request_lines[2].contains("status=404") && !request_lines[2].contains("user_id"));
}

#[tokio::test]
async fn panics_become_json_500s_with_an_error_id_that_is_in_the_log() {
    let (captured, _guard) = capture();
    let app = TestApp::spawn(Backend::Sqlite).await;
    // The real routes and layer stack, plus one route that panics.
    let state = app_state(&app).await;
    let routes = healthtracker::http::api(&state).route(
        "/boom",
        axum::routing::get(|| async {
            panic!("internal detail that must not leak");
            #[allow(unreachable_code)]
            ""
        }),
    );
    let router = healthtracker::http::with_layers(routes, state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let service = axum::ServiceExt::<axum::extract::Request>::into_make_service(router);
    tokio::spawn(async move { axum::serve(listener, service).await });

    let response = app
        .client
        .get(format!("http://{address}/api/boom"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        response
            .headers()
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    let body = json_body(response, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert_eq!(body["status"], "error");
    assert_eq!(body["message"], "Internal server error");
    assert!(!body.to_string().contains("internal detail"));
    let error_id = body["errorId"].as_str().unwrap_or_default().to_owned();
    assert!(!error_id.is_empty());
    let lines = captured.lines();
    assert!(
        lines.iter().any(|l| l.starts_with("ERROR") && l.contains(&error_id)),
        "errorId {error_id} not logged: {lines:#?}"
    );
    // The server keeps serving after a panic.
    let again = app
        .client
        .get(format!("http://{address}/api/health/live"))
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_ai_route_without_a_provider_is_not_an_error_in_the_log_on_every_request() {
    let (captured, _guard) = capture();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let session = app.signup().await;
    for _ in 0..5 {
        let response = app.chat(&session.access, "hello").await;
        assert_error(
            response,
            StatusCode::SERVICE_UNAVAILABLE,
            "AI service is not configured",
        )
        .await;
    }
    let lines = captured.lines();
    let loud: Vec<&String> = lines
        .iter()
        .filter(|l| {
            (l.starts_with("ERROR") || l.starts_with("WARN")) && (l.contains("503") || l.contains("not configured"))
        })
        .collect();
    assert!(loud.is_empty(), "logged per request above debug: {loud:#?}");
    // Still one access line per request.
    let answered = lines
        .iter()
        .filter(|l| l.contains(" http ") && l.contains("status=503"))
        .count();
    assert_eq!(answered, 5, "{lines:#?}");
}

/// The state of a real app configured like `TestApp`'s, over its database.
pub async fn app_state(app: &TestApp) -> healthtracker::state::AppState {
    let url = app.database.url.clone();
    let vars = [("APP_ENV", "test"), ("JWT_SECRET", TEST_JWT_SECRET)];
    let settings = healthtracker::config::Settings::from_lookup(&move |k| {
        if k == "DATABASE_URL" {
            return Some(url.clone());
        }
        vars.iter().find(|(name, _)| *name == k).map(|(_, v)| (*v).to_owned())
    })
    .expect("settings");
    healthtracker::state::AppState::new(settings, app.store.clone(), None).expect("state")
}

// Current-thread runtime, as above.
#[tokio::test]
async fn every_admin_action_is_logged_with_the_admin_id_and_no_secret() {
    let (captured, _guard) = capture();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let admin = app.admin().await;
    let user = app.signup().await;
    let invite = app.invite_code(&admin.access, &json!({})).await;
    app.admin_disable(&admin.access, &user.user_id).await;
    app.admin_enable(&admin.access, &user.user_id).await;
    app.delete_invite(&admin.access, &invite).await;
    app.admin_delete_user(&admin.access, &user.user_id).await;
    // A withdrawn code is in the access line's path (the contract puts it there) and dead; a live
    // one is never logged.
    let live = app.invite_code(&admin.access, &json!({})).await;
    // 2FA's secrets never reach the log either.
    let other = app.signup().await;
    let (secret, codes) = app.enable_two_factor(&other, chrono::Utc::now()).await;
    let challenge = app.challenge(&other.email).await;

    let lines = captured.lines();
    for action in ["create_invite", "disable", "enable", "delete_invite", "delete"] {
        let logged: Vec<&String> = lines
            .iter()
            .filter(|l| {
                l.starts_with("INFO") && l.contains("admin action") && l.contains(&format!("action=\"{action}\""))
            })
            .collect();
        let expected = if action == "create_invite" { 2 } else { 1 };
        assert_eq!(logged.len(), expected, "{action}: {lines:#?}");
        assert!(logged[0].contains(&admin.user_id), "{action}: {}", logged[0]);
    }
    for secret in [secret.as_str(), &codes[0], &challenge, &live, &user.email] {
        assert!(
            !lines.iter().any(|l| l.contains(secret)),
            "{secret} in the log: {lines:#?}"
        );
    }
}
