//! What every route shares: mount points, JSON errors, headers, CORS, limits, request ids, shutdown.

use reqwest::StatusCode;
use reqwest::header::{ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE};
use serde_json::json;

use crate::api_test;
use crate::helpers::*;

api_test!(
    async fn every_route_is_served_under_api_and_at_the_root(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        for prefix in ["/api", ""] {
            let login = app
                .post(&format!("{prefix}/auth/login"))
                .json(&json!({"email": session.email, "password": PASSWORD}))
                .send()
                .await
                .expect("login");
            let body = json_body(login, StatusCode::OK).await;
            let token = body["accessToken"].as_str().unwrap_or_default().to_owned();
            let date = if prefix.is_empty() { "2026-08-01" } else { "2026-08-02" };
            let created = app
                .post(&format!("{prefix}/entries"))
                .bearer_auth(&token)
                .json(&json!({"date": date}))
                .send()
                .await
                .expect("create");
            let created = json_body(created, StatusCode::CREATED).await;
            let id = created["data"]["id"].as_str().unwrap_or_default();
            for (method, path, status) in [
                (reqwest::Method::GET, format!("{prefix}/entries"), StatusCode::OK),
                (reqwest::Method::GET, format!("{prefix}/entries/dashboard/summary"), StatusCode::OK),
                (reqwest::Method::PUT, format!("{prefix}/entries/{id}"), StatusCode::OK),
                (reqwest::Method::DELETE, format!("{prefix}/entries/{id}"), StatusCode::OK),
                (reqwest::Method::GET, format!("{prefix}/health"), StatusCode::OK),
                (reqwest::Method::GET, format!("{prefix}/health/live"), StatusCode::OK),
            ] {
                let response = app.request(method, &path).bearer_auth(&token).json(&json!({})).send().await.expect("request");
                assert_eq!(response.status(), status, "{path}");
            }
            let refresh = app.post(&format!("{prefix}/auth/refresh")).json(&json!({"refreshToken": body["refreshToken"]})).send().await;
            assert_eq!(refresh.expect("refresh").status(), StatusCode::OK);
            let logout = app.post(&format!("{prefix}/auth/logout")).bearer_auth(&token).send().await.expect("logout");
            assert_eq!(logout.status(), StatusCode::OK);
        }
        let register = app
            .post("/auth/register")
            .json(&json!({"name": "Root", "email": "root@example.com", "password": PASSWORD}))
            .send()
            .await
            .expect("register");
        assert_eq!(register.status(), StatusCode::CREATED);
    }
);

api_test!(
    async fn ai_routes_exist_and_say_they_are_not_configured(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        for (method, path) in [
            (reqwest::Method::POST, "/api/ai/chat"),
            (reqwest::Method::POST, "/api/ai/weekly-report"),
            (reqwest::Method::GET, "/api/ai/job-status/abc"),
            (reqwest::Method::POST, "/ai/chat"),
        ] {
            let response = app.request(method, path).bearer_auth(&session.access).json(&json!({"message": "hi"})).send().await.expect("ai");
            let body = assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "AI service is not configured").await;
            assert!(body["errorId"].is_string());
        }
        let anonymous = app.post("/api/ai/chat").json(&json!({"message": "hi"})).send().await.expect("ai");
        assert_error(anonymous, StatusCode::UNAUTHORIZED, "No token provided").await;
    }
);

api_test!(
    async fn unknown_routes_are_json_404s(backend) {
        let app = TestApp::spawn(backend).await;
        // `/` itself is the index (API.md "The web app"; tests/api/web.rs); what is not a route is 404.
        for path in ["/api/nope", "/nope", "/api/entries/a/b/c", "/apiary", "/app/a/b"] {
            assert_error(app.get(path).send().await.expect("request"), StatusCode::NOT_FOUND, "Route not found").await;
        }
    }
);

api_test!(
    async fn wrong_methods_are_json_405s_with_allow(backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.request(reqwest::Method::PATCH, "/api/entries").send().await.expect("request");
        let allow = response.headers().get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
        assert_error(response, StatusCode::METHOD_NOT_ALLOWED, "Method not allowed").await;
        let response = app.get("/api/auth/login").send().await.expect("request");
        assert_error(response, StatusCode::METHOD_NOT_ALLOWED, "Method not allowed").await;
    }
);

api_test!(
    async fn malformed_json_is_a_json_400(backend) {
        let app = TestApp::spawn(backend).await;
        let response = app
            .post("/api/auth/login")
            .header(CONTENT_TYPE, "application/json")
            .body("{\"email\": \"a@example.com\", ")
            .send()
            .await
            .expect("request");
        let body = json_body(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["status"], "error");
        assert!(body["message"].as_str().is_some_and(|m| m.starts_with("Malformed JSON")), "{body}");
        // A JSON value that is not an object.
        let response = app.post("/api/auth/register").json(&json!([1, 2])).send().await.expect("request");
        assert_invalid(response).await;
    }
);

api_test!(
    async fn non_json_bodies_are_415(backend) {
        let app = TestApp::spawn(backend).await;
        let response = app
            .post("/api/auth/login")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("email=a%40example.com&password=x")
            .send()
            .await
            .expect("request");
        assert_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json").await;
        // `application/json; charset=utf-8` is JSON.
        let response = app
            .post("/api/auth/login")
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(r#"{"email":"a@example.com","password":"x"}"#)
            .send()
            .await
            .expect("request");
        assert_error(response, StatusCode::BAD_REQUEST, "Invalid credentials").await;
    }
);

api_test!(
    async fn bodies_over_the_limit_are_413(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let notes = "x".repeat(11 * 1024 * 1024);
        let response = app.create_entry(&session.access, &json!({"date": "2026-11-01", "notes": notes})).await;
        assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "Request body too large").await;
        // Just under the limit is read (and then refused by validation, not by size).
        let notes = "x".repeat(9 * 1024 * 1024);
        let response = app.create_entry(&session.access, &json!({"date": "2026-11-01", "notes": notes})).await;
        assert_invalid(response).await;
    }
);

api_test!(
    async fn the_body_limit_is_configurable(backend) {
        let app = TestApp::builder(backend).env("BODY_LIMIT", "1kb").spawn().await;
        let response = app.register(&json!({"name": "x".repeat(2000), "email": "a@example.com", "password": PASSWORD})).await;
        assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "Request body too large").await;
    }
);

api_test!(
    async fn security_headers_are_on_every_response(backend) {
        let app = TestApp::spawn(backend).await;
        for response in [
            app.health().await,
            app.get("/api/nope").send().await.expect("404"),
            app.get("/api/entries").send().await.expect("401"),
        ] {
            let headers = response.headers();
            for (name, value) in [
                ("x-content-type-options", "nosniff"),
                ("x-frame-options", "SAMEORIGIN"),
                ("referrer-policy", "no-referrer"),
                ("strict-transport-security", "max-age=31536000; includeSubDomains"),
                ("cross-origin-opener-policy", "same-origin"),
                ("cross-origin-resource-policy", "same-origin"),
                ("x-dns-prefetch-control", "off"),
                ("x-permitted-cross-domain-policies", "none"),
                ("x-xss-protection", "0"),
            ] {
                assert_eq!(headers.get(name).and_then(|v| v.to_str().ok()), Some(value), "{name}");
            }
            assert!(headers.get("x-powered-by").is_none());
            assert!(headers.get("content-security-policy").is_none());
        }
    }
);

api_test!(
    async fn cors_allows_listed_origins_only(backend) {
        let app = TestApp::spawn(backend).await;
        for origin in ["http://localhost:3000", "http://localhost:3001", "http://localhost:5173"] {
            let response = app.health().await;
            assert!(response.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
            let response = app.get("/api/health").header("origin", origin).send().await.expect("request");
            assert_eq!(response.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).and_then(|v| v.to_str().ok()), Some(origin));
            assert_eq!(response.headers().get(ACCESS_CONTROL_ALLOW_CREDENTIALS).and_then(|v| v.to_str().ok()), Some("true"));
        }
        let preflight = app
            .request(reqwest::Method::OPTIONS, "/api/entries")
            .header("origin", "http://localhost:5173")
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "authorization,content-type")
            .send()
            .await
            .expect("preflight");
        assert!(preflight.status().is_success());
        let headers = preflight.headers();
        assert_eq!(headers.get(ACCESS_CONTROL_ALLOW_ORIGIN).and_then(|v| v.to_str().ok()), Some("http://localhost:5173"));
        let methods = headers.get("access-control-allow-methods").and_then(|v| v.to_str().ok()).unwrap_or_default();
        for method in ["GET", "POST", "PUT", "DELETE", "OPTIONS"] {
            assert!(methods.contains(method), "{methods}");
        }
        let allowed_headers = headers.get("access-control-allow-headers").and_then(|v| v.to_str().ok()).unwrap_or_default().to_lowercase();
        assert!(allowed_headers.contains("authorization") && allowed_headers.contains("content-type"), "{allowed_headers}");

        // An unlisted origin gets no CORS grant, so the browser blocks it.
        let refused = app.get("/api/health").header("origin", "https://evil.example").send().await.expect("request");
        assert!(refused.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        let refused = app
            .request(reqwest::Method::OPTIONS, "/api/entries")
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .expect("preflight");
        assert!(refused.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    }
);

api_test!(
    async fn cors_origins_are_configurable(backend) {
        let app = TestApp::builder(backend).env("ALLOWED_ORIGINS", "https://app.example.com, https://admin.example.com").spawn().await;
        let allowed = app.get("/api/health").header("origin", "https://admin.example.com").send().await.expect("request");
        assert_eq!(allowed.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).and_then(|v| v.to_str().ok()), Some("https://admin.example.com"));
        let refused = app.get("/api/health").header("origin", "http://localhost:3000").send().await.expect("request");
        assert!(refused.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    }
);

api_test!(
    async fn request_ids_are_echoed_or_generated(backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.get("/api/health/live").header("x-request-id", "trace-abc-123").send().await.expect("request");
        assert_eq!(response.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("trace-abc-123"));
        let first = app.health_live().await;
        let second = app.health_live().await;
        let id = |r: &reqwest::Response| r.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert!(id(&first).is_some_and(|i| i.len() >= 16));
        assert_ne!(id(&first), id(&second));
        // Oversized or binary ids are replaced, not echoed.
        let response = app.get("/api/health/live").header("x-request-id", "x".repeat(300)).send().await.expect("request");
        assert!(id(&response).is_some_and(|i| i.len() < 300));
    }
);

api_test!(
    async fn trailing_slashes_are_ignored(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let response = app.get("/api/entries/").bearer_auth(&session.access).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(app.get("/health/").send().await.expect("request").status(), StatusCode::OK);
    }
);

api_test!(
    async fn graceful_shutdown_lets_in_flight_requests_finish(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        // A login is slow (argon2); start several, then stop the server while they run.
        let client = app.client.clone();
        let url = app.url("/api/auth/login");
        let in_flight: Vec<_> = (0..4)
            .map(|_| {
                let request = client.post(&url).json(&json!({"email": session.email, "password": PASSWORD}));
                tokio::spawn(async move { request.send().await.map(|r| r.status()) })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let port = app.port;
        app.stop().await.expect("server stops cleanly");
        for request in in_flight {
            assert_eq!(request.await.expect("task").expect("request completed"), StatusCode::OK);
        }
        // And it no longer accepts connections.
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }
);

api_test!(
    async fn a_request_whose_head_is_arriving_when_the_server_stops_is_answered(backend) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let app = TestApp::spawn(backend).await;
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.expect("connect");
        // Half the head is there (the server accepted the connection) when the stop comes.
        stream.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n").await.expect("write");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let stopping = tokio::spawn(app.stop());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        stream.write_all(b"Connection: close\r\n\r\n").await.expect("write the rest");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "answered before closing: {answer:?}");
        stopping.await.expect("task").expect("server stops cleanly");
    }
);

api_test!(
    async fn answers_with_tokens_or_health_data_are_never_stored_by_caches(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let entry = app.created_entry(&session.access, &json!({"date": "2026-11-01", "notes": "private"})).await;
        let id = entry["id"].as_str().unwrap_or_default();
        let refreshed = app.refresh(&json!({"refreshToken": session.refresh})).await;
        for response in [
            app.register(&json!({"name": "Cache", "email": format!("{}@example.com", hex_id()), "password": PASSWORD})).await,
            app.login(&session.email, PASSWORD).await,
            refreshed,
            app.list_entries(&session.access, "").await,
            app.get_entry(&session.access, id).await,
            app.dashboard(&session.access, "").await,
            app.login(&session.email, "Wrong1234").await,
        ] {
            let cache = response.headers().get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            assert_eq!(cache, "no-store", "{}", response.url());
        }
    }
);

api_test!(
    async fn cors_allows_the_frontends_preview_port_and_patch(backend) {
        let app = TestApp::spawn(backend).await;
        let preflight = app
            .request(reqwest::Method::OPTIONS, "/api/auth/me")
            .header("origin", "http://localhost:4173")
            .header("access-control-request-method", "PATCH")
            .send()
            .await
            .expect("preflight");
        let headers = preflight.headers();
        assert_eq!(headers.get(ACCESS_CONTROL_ALLOW_ORIGIN).and_then(|v| v.to_str().ok()), Some("http://localhost:4173"));
        let methods = headers.get("access-control-allow-methods").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(methods.contains("PATCH"), "{methods}");
    }
);

#[tokio::test]
async fn in_development_any_loopback_origin_is_allowed_in_production_only_the_list() {
    let development = TestApp::builder(Backend::Sqlite)
        .env("APP_ENV", "development")
        .spawn()
        .await;
    let production = TestApp::builder(Backend::Sqlite)
        .env("APP_ENV", "production")
        .spawn()
        .await;
    let granted = |response: &reqwest::Response| {
        response
            .headers()
            .get(ACCESS_CONTROL_ALLOW_ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    for origin in [
        "http://localhost:8080",
        "http://127.0.0.1:4173",
        "http://[::1]:3000",
        "http://localhost",
    ] {
        let response = development
            .get("/api/health")
            .header("origin", origin)
            .send()
            .await
            .expect("request");
        assert_eq!(granted(&response).as_deref(), Some(origin), "development, {origin}");
        let response = production
            .get("/api/health")
            .header("origin", origin)
            .send()
            .await
            .expect("request");
        assert_eq!(granted(&response), None, "production, {origin}");
    }
    for origin in [
        "http://localhost.evil.example",
        "https://evil.example",
        "http://127.0.0.2:80",
        "http://localhost:80@evil.example",
    ] {
        let response = development
            .get("/api/health")
            .header("origin", origin)
            .send()
            .await
            .expect("request");
        assert_eq!(granted(&response), None, "development, {origin}");
    }
    // The listed origins still work in production.
    let response = production
        .get("/api/health")
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .expect("request");
    assert_eq!(granted(&response).as_deref(), Some("http://localhost:5173"));
}

api_test!(
    async fn a_repeated_query_parameter_is_a_validation_error(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let body = assert_invalid(app.list_entries(&session.access, "?limit=5&limit=6").await).await;
        assert_eq!(detail_paths(&body), ["limit"]);
        assert!(!body.to_string().contains("deserialize"), "{body}");
    }
);

#[tokio::test]
async fn the_documentation_page_allows_only_its_own_assets() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for page in ["/api/docs", "/docs"] {
        let response = app.get(page).send().await.expect("request");
        let csp = response
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(csp.contains("default-src 'self'"), "{page}: {csp:?}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe"),
            "{page}: {csp:?}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{page}: {csp:?}");
    }
    // The JSON API keeps CSP off (helmet's default for an API).
    assert!(app.health().await.headers().get("content-security-policy").is_none());
}
