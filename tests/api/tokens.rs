//! Personal access tokens (API.md "Personal access tokens"): created by a login and shown once,
//! listed without the secret, revoked at once on every instance, kept only as a hash; scopes decide
//! the routes (one table, which every route is in), account routes refuse them; expiry, last use,
//! per-token rate limits.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use healthtracker::domain::clock::Clock;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;

impl TestApp {
    pub async fn create_token(&self, access: &str, body: &Value) -> Response {
        self.post("/api/auth/tokens")
            .bearer_auth(access)
            .json(body)
            .send()
            .await
            .expect("create token request")
    }

    /// A token that must be created: the whole answer (`token`, `data`).
    pub async fn created_token(&self, access: &str, body: &Value) -> Value {
        json_body(self.create_token(access, body).await, StatusCode::CREATED).await
    }

    pub async fn tokens(&self, access: &str) -> Response {
        self.get("/api/auth/tokens")
            .bearer_auth(access)
            .send()
            .await
            .expect("list tokens request")
    }

    pub async fn revoke_token(&self, access: &str, id: &str) -> Response {
        self.request(Method::DELETE, &format!("/api/auth/tokens/{id}"))
            .bearer_auth(access)
            .send()
            .await
            .expect("revoke token request")
    }
}

/// A token of `scopes` for `session`: its text and its id.
async fn token(app: &TestApp, session: &Session, scopes: &[&str]) -> (String, String) {
    let body = app
        .created_token(&session.access, &json!({"name": "script", "scopes": scopes}))
        .await;
    (
        body["token"].as_str().expect("token").to_owned(),
        body["data"]["id"].as_str().expect("id").to_owned(),
    )
}

fn today() -> String {
    Utc::now().date_naive().format("%Y-%m-%d").to_string()
}

api_test!(
    async fn a_token_is_shown_once_and_listed_without_its_secret(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let body = app
            .created_token(&session.access, &json!({"name": "  Phone shortcut ", "scopes": ["entries:write", "entries:read"]}))
            .await;
        assert_eq!(body["status"], "success");
        let text = body["token"].as_str().expect("token");
        assert!(text.starts_with("htp_") && text.len() >= 4 + 64, "{text}");
        let data = &body["data"];
        assert!(data["id"].as_str().is_some_and(|id| id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())), "{data}");
        assert_eq!(data["name"], "Phone shortcut");
        assert_eq!(data["scopes"], json!(["entries:read", "entries:write"]));
        assert_eq!(data["lastUsedAt"], Value::Null);
        let created = chrono::DateTime::parse_from_rfc3339(data["createdAt"].as_str().expect("createdAt")).expect("time");
        let expires = chrono::DateTime::parse_from_rfc3339(data["expiresAt"].as_str().expect("expiresAt")).expect("time");
        assert_eq!(expires - created, TimeDelta::days(90), "90 days by default");

        // Listed on both mounts, never with the token.
        for path in ["/api/auth/tokens", "/auth/tokens"] {
            let response = app.get(path).bearer_auth(&session.access).send().await.expect("list");
            let list = json_body(response, StatusCode::OK).await;
            assert!(!list.to_string().contains(text), "the list shows no secret: {list}");
            assert_eq!(list["count"], 1);
            assert_eq!(list["data"][0], *data);
        }
        let second = app
            .created_token(&session.access, &json!({"name": "later", "scopes": ["ai"], "expiresInDays": "7"}))
            .await;
        assert_ne!(second["token"], body["token"]);
        let list = json_body(app.tokens(&session.access).await, StatusCode::OK).await;
        assert_eq!(list["data"][0]["name"], "later", "newest first: {list}");
        // Another user sees none of them.
        let other = app.signup().await;
        assert_eq!(json_body(app.tokens(&other.access).await, StatusCode::OK).await["count"], 0);
    }
);

api_test!(
    async fn the_request_body_is_validated(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        for (body, paths) in [
            (json!({}), vec!["name", "scopes"]),
            (json!({"name": "   ", "scopes": []}), vec!["name", "scopes"]),
            (json!({"name": "x".repeat(101), "scopes": ["ai"]}), vec!["name"]),
            (json!({"name": "x", "scopes": "ai"}), vec!["scopes"]),
            (json!({"name": "x", "scopes": ["entries:read", "entries:delete"]}), vec!["scopes[1]"]),
            (json!({"name": "x", "scopes": ["ai"], "expiresInDays": 0}), vec!["expiresInDays"]),
            (json!({"name": "x", "scopes": ["ai"], "expiresInDays": 366}), vec!["expiresInDays"]),
            (json!({"name": "x", "scopes": ["ai"], "expiresInDays": 1.5}), vec!["expiresInDays"]),
        ] {
            let error = assert_invalid(app.create_token(&session.access, &body).await).await;
            assert_eq!(detail_paths(&error), paths, "{body}: {error}");
        }
        let error = assert_invalid(app.create_token(&session.access, &json!({"name": "x", "scopes": ["admin"]})).await).await;
        assert!(error["message"].as_str().is_some_and(|m| m.contains("\"admin\"")), "names the bad scope: {error}");
        assert_eq!(error["details"][0]["value"], "admin");
        let body = app.created_token(&session.access, &json!({"name": "x", "scopes": ["ai"], "expiresInDays": 365})).await;
        assert_eq!(body["data"]["scopes"], json!(["ai"]));
        assert_eq!(json_body(app.tokens(&session.access).await, StatusCode::OK).await["count"], 1, "nothing invalid was stored");
    }
);

api_test!(
    async fn a_malformed_step_up_code_is_refused_even_without_two_factor(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let token = |extra: Value| {
            let mut body = json!({"name": "x", "scopes": ["ai"]});
            if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
                body.extend(extra);
            }
            body
        };
        for (extra, paths) in [
            (json!({"code": true}), vec!["code"]),
            (json!({"code": 123456}), vec!["code"]),
            (json!({"code": "12345"}), vec!["code"]),
            (json!({"code": "12a456"}), vec!["code"]),
            (json!({"recoveryCode": ["abcde-fghjk"]}), vec!["recoveryCode"]),
            (json!({"code": {}, "recoveryCode": 7}), vec!["code", "recoveryCode"]),
        ] {
            let body = token(extra);
            let error = assert_invalid(app.create_token(&session.access, &body).await).await;
            assert_eq!(detail_paths(&error), paths, "{body}: {error}");
            assert!(error["details"].as_array().is_some_and(|d| d.iter().all(|d| d.get("value").is_none())), "a secret is not echoed: {error}");
        }
        assert_eq!(json_body(app.tokens(&session.access).await, StatusCode::OK).await["count"], 0, "nothing minted");
        // Blank or null counts as absent (as a form sends it); a well-formed code is not needed here.
        app.created_token(&session.access, &token(json!({"code": " ", "recoveryCode": null}))).await;
        app.created_token(&session.access, &token(json!({"code": "123456", "recoveryCode": "abcde-fghjk"}))).await;
    }
);

api_test!(
    async fn the_database_holds_only_a_hash_of_the_token(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let (text, id) = token(&app, &session, &["entries:read"]).await;
        let stored: String = if let Some(path) = &app.database.sqlite_path {
            let connection = rusqlite::Connection::open(path).expect("open the database");
            let mut rows = Vec::new();
            let mut statement = connection.prepare("SELECT * FROM personal_tokens").expect("select");
            let columns = statement.column_count();
            let mut query = statement.query([]).expect("query");
            while let Some(row) = query.next().expect("row") {
                for i in 0..columns {
                    rows.push(match row.get_ref(i).expect("column") {
                        rusqlite::types::ValueRef::Text(text) => String::from_utf8_lossy(text).into_owned(),
                        other => format!("{other:?}"),
                    });
                }
            }
            rows.join(" ")
        } else {
            let db = app.database.mongo_db().await;
            let docs: Vec<mongodb::bson::Document> = futures_util::TryStreamExt::try_collect(
                db.collection::<mongodb::bson::Document>("personaltokens").find(mongodb::bson::doc! {}).await.expect("find"),
            )
            .await
            .expect("documents");
            format!("{docs:?}")
        };
        assert!(stored.contains(&id), "the row is there: {stored}");
        let secret = &text["htp_".len()..];
        assert!(!stored.contains(secret), "the token is not stored: {stored}");
        let digest = healthtracker::auth::tokens::digest(&text);
        assert!(stored.contains(&digest), "its SHA-256 is: {stored}");
    }
);

api_test!(
    async fn scopes_decide_what_a_token_may_do_on_both_mounts(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let (read, _) = token(&app, &session, &["entries:read"]).await;
        let (write, _) = token(&app, &session, &["entries:write"]).await;
        let (all, _) = token(&app, &session, &["entries:read", "entries:write", "goals:read", "goals:write", "ai"]).await;

        // README's example: today's steps, logged with a token.
        let response = app
            .post("/api/entries")
            .bearer_auth(&write)
            .json(&json!({"date": today(), "steps": 8000}))
            .send()
            .await
            .expect("request");
        let entry = json_body(response, StatusCode::CREATED).await;
        let id = entry["data"]["_id"].as_str().or(entry["_id"].as_str()).unwrap_or_default().to_owned();
        assert_eq!(json_body(app.list_entries(&read, "").await, StatusCode::OK).await.as_array().map(Vec::len), Some(1));
        let root = app.get("/entries").bearer_auth(&read).send().await.expect("request");
        json_body(root, StatusCode::OK).await;
        json_body(app.dashboard(&read, "").await, StatusCode::OK).await;
        json_body(app.stats(&read, "").await, StatusCode::OK).await;

        let lacks = |scope: &str| format!("This token lacks the scope {scope}");
        assert_error(app.create_entry(&read, &json!({"date": "2026-01-02"})).await, StatusCode::FORBIDDEN, &lacks("entries:write")).await;
        let root = app.post("/entries").bearer_auth(&read).json(&json!({"date": "2026-01-02"})).send().await.expect("request");
        assert_error(root, StatusCode::FORBIDDEN, &lacks("entries:write")).await;
        assert_error(app.delete_entry(&read, &id).await, StatusCode::FORBIDDEN, &lacks("entries:write")).await;
        assert_error(app.list_entries(&write, "").await, StatusCode::FORBIDDEN, &lacks("entries:read")).await;
        assert_error(app.export(&write, "").await, StatusCode::FORBIDDEN, &lacks("entries:read")).await;
        assert_error(app.goals(&read).await, StatusCode::FORBIDDEN, &lacks("goals:read")).await;
        assert_error(app.put_goals(&read, &json!({})).await, StatusCode::FORBIDDEN, &lacks("goals:write")).await;
        assert_error(app.ai_history(&read, "").await, StatusCode::FORBIDDEN, &lacks("ai")).await;

        json_body(app.goals(&all).await, StatusCode::OK).await;
        json_body(app.put_goals(&all, &json!({"steps": {"min": 8000}})).await, StatusCode::OK).await;
        json_body(app.ai_history(&all, "").await, StatusCode::OK).await;
        json_body(app.update_entry(&all, &id, &json!({"steps": 9000})).await, StatusCode::OK).await;
        json_body(app.delete_entry(&all, &id).await, StatusCode::OK).await;
        // A token that is no token.
        assert_error(app.list_entries("htp_0000", "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
    }
);

api_test!(
    async fn account_routes_refuse_personal_tokens(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let (text, id) = token(&app, &session, &["entries:read", "entries:write", "goals:read", "goals:write", "ai"]).await;
        let refused = "Personal access tokens cannot be used for this route";
        assert_error(app.me(&text).await, StatusCode::FORBIDDEN, refused).await;
        assert_error(app.update_me(&text, &json!({"name": "Mallory"})).await, StatusCode::FORBIDDEN, refused).await;
        assert_error(app.delete_me(&text, PASSWORD).await, StatusCode::FORBIDDEN, refused).await;
        assert_error(app.change_password(&text, PASSWORD, "Another-secret-2").await, StatusCode::FORBIDDEN, refused).await;
        assert_error(app.sessions(&text).await, StatusCode::FORBIDDEN, refused).await;
        assert_error(app.end_session(&text, "abc").await, StatusCode::FORBIDDEN, refused).await;
        assert_error(app.logout_all(&text).await, StatusCode::FORBIDDEN, refused).await;
        assert_error(app.logout(&text, None).await, StatusCode::FORBIDDEN, refused).await;
        assert_error(app.tokens(&text).await, StatusCode::FORBIDDEN, refused).await;
        assert_error(app.create_token(&text, &json!({"name": "x", "scopes": ["ai"]})).await, StatusCode::FORBIDDEN, refused).await;
        assert_error(app.revoke_token(&text, &id).await, StatusCode::FORBIDDEN, refused).await;
        let root = app.get("/auth/me").bearer_auth(&text).send().await.expect("request");
        assert_error(root, StatusCode::FORBIDDEN, refused).await;
        // Nothing changed: the account, its password, its logins and the token are as they were.
        let me = json_body(app.me(&session.access).await, StatusCode::OK).await;
        assert_eq!(me["user"]["name"], "Test User", "{me}");
        json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
        json_body(app.list_entries(&text, "").await, StatusCode::OK).await;
        json_body(app.refresh(&json!({"refreshToken": session.refresh})).await, StatusCode::OK).await;
    }
);

api_test!(
    async fn an_expired_token_is_refused(backend) {
        let clock = Clock::fixed(Utc::now());
        let app = TestApp::builder(backend).clock(&clock).spawn().await;
        let session = app.signup().await;
        let body = app.created_token(&session.access, &json!({"name": "x", "scopes": ["entries:read"], "expiresInDays": 1})).await;
        let text = body["token"].as_str().expect("token");
        json_body(app.list_entries(text, "").await, StatusCode::OK).await;
        clock.set(clock.now() + TimeDelta::days(1) - TimeDelta::seconds(1));
        json_body(app.list_entries(text, "").await, StatusCode::OK).await;
        clock.set(clock.now() + TimeDelta::seconds(1));
        assert_error(app.list_entries(text, "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
        assert_eq!(json_body(app.tokens(&session.access).await, StatusCode::OK).await["count"], 0, "expired tokens are not listed");
    }
);

api_test!(
    async fn a_revoked_token_is_refused_at_once_on_every_instance(backend) {
        let first = TestApp::spawn(backend).await;
        let second = TestApp::builder(backend).database(first.database.clone()).spawn().await;
        let session = first.signup().await;
        let (text, id) = token(&first, &session, &["entries:read"]).await;
        let (kept, _) = token(&first, &session, &["entries:read"]).await;
        json_body(second.list_entries(&text, "").await, StatusCode::OK).await;
        json_body(first.list_entries(&text, "").await, StatusCode::OK).await;

        let other = first.signup().await;
        assert_error(first.revoke_token(&other.access, &id).await, StatusCode::NOT_FOUND, "Token not found").await;
        json_body(second.list_entries(&text, "").await, StatusCode::OK).await;

        let body = json_body(first.revoke_token(&session.access, &id).await, StatusCode::OK).await;
        assert_eq!(body, json!({"status": "success", "message": "Token revoked"}));
        assert_error(second.list_entries(&text, "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
        assert_error(first.list_entries(&text, "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
        assert_error(first.revoke_token(&session.access, &id).await, StatusCode::NOT_FOUND, "Token not found").await;
        assert_error(first.revoke_token(&session.access, "not-an-id").await, StatusCode::NOT_FOUND, "Token not found").await;
        json_body(second.list_entries(&kept, "").await, StatusCode::OK).await;
        let root = first.request(Method::DELETE, "/auth/tokens/0123456789abcdef01234567").bearer_auth(&session.access).send().await.expect("request");
        assert_error(root, StatusCode::NOT_FOUND, "Token not found").await;
    }
);

/// The token's `lastUsedAt` as listed (None: never).
async fn last_used(app: &TestApp, access: &str) -> Option<String> {
    let list = json_body(app.tokens(access).await, StatusCode::OK).await;
    list["data"][0]["lastUsedAt"].as_str().map(str::to_owned)
}

/// Waits for the background write of `lastUsedAt` to show `expected` (it does not hold up the request).
async fn wait_last_used(app: &TestApp, access: &str, expected: Option<&str>) {
    for _ in 0..100 {
        if last_used(app, access).await.as_deref() == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(last_used(app, access).await.as_deref(), expected);
}

api_test!(
    async fn last_used_at_is_written_at_most_once_a_minute(backend) {
        let start = Utc::now().with_timezone(&Utc);
        let clock = Clock::fixed(start);
        let first = TestApp::builder(backend).clock(&clock).spawn().await;
        let second = TestApp::builder(backend).clock(&clock).database(first.database.clone()).spawn().await;
        let session = first.signup().await;
        let (text, _) = token(&first, &session, &["entries:read"]).await;
        let at = |t: chrono::DateTime<Utc>| healthtracker::domain::day::format_timestamp(t);
        assert_eq!(last_used(&first, &session.access).await, None);

        json_body(first.list_entries(&text, "").await, StatusCode::OK).await;
        wait_last_used(&first, &session.access, Some(&at(start))).await;
        // Within the minute: neither this instance nor another one writes again.
        clock.set(start + TimeDelta::seconds(30));
        json_body(first.list_entries(&text, "").await, StatusCode::OK).await;
        json_body(second.list_entries(&text, "").await, StatusCode::OK).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(last_used(&first, &session.access).await, Some(at(start)));
        // A minute on, the next use is written (here by the other instance).
        clock.set(start + TimeDelta::seconds(61));
        json_body(second.list_entries(&text, "").await, StatusCode::OK).await;
        wait_last_used(&first, &session.access, Some(&at(start + TimeDelta::seconds(61)))).await;
    }
);

api_test!(
    async fn tokens_survive_a_password_change_and_logout_everywhere(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let (text, _) = token(&app, &session, &["entries:read"]).await;
        let changed = json_body(app.change_password(&session.access, PASSWORD, "Another-secret-2").await, StatusCode::OK).await;
        json_body(app.list_entries(&text, "").await, StatusCode::OK).await;
        let access = changed["accessToken"].as_str().expect("access").to_owned();
        json_body(app.logout_all(&access).await, StatusCode::OK).await;
        json_body(app.list_entries(&text, "").await, StatusCode::OK).await;
        let login = json_body(app.login(&session.email, "Another-secret-2").await, StatusCode::OK).await;
        let list = json_body(app.tokens(login["accessToken"].as_str().expect("access")).await, StatusCode::OK).await;
        assert_eq!(list["count"], 1, "listed for review: {list}");
    }
);

api_test!(
    async fn each_token_has_its_own_rate_limit(backend) {
        let app = TestApp::builder(backend).env("TOKEN_RATE_LIMIT_MAX", "3").spawn().await;
        let session = app.signup().await;
        let (text, _) = token(&app, &session, &["entries:read"]).await;
        let (other, _) = token(&app, &session, &["entries:read"]).await;
        for _ in 0..3 {
            json_body(app.list_entries(&text, "").await, StatusCode::OK).await;
        }
        let refused = app.list_entries(&text, "").await;
        assert!(refused.headers().get("retry-after").is_some(), "{:?}", refused.headers());
        assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "Too many requests with this token, please try again later.").await;
        json_body(app.list_entries(&other, "").await, StatusCode::OK).await;
        for _ in 0..5 {
            json_body(app.list_entries(&session.access, "").await, StatusCode::OK).await;
        }
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_has_a_scope_decision() {
    use healthtracker::http::scopes::{Rule, access_rule};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = json_body(
        app.get("/api/openapi.json").send().await.expect("request"),
        StatusCode::OK,
    )
    .await;
    let paths = doc["paths"].as_object().expect("paths");
    let mut undecided = Vec::new();
    let mut operations = 0;
    for (template, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            let Ok(method) = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                continue;
            };
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let axum_method = axum::http::Method::from_bytes(method.as_str().as_bytes()).expect("method");
            match access_rule(&axum_method, template) {
                None => undecided.push(format!("{method} {template}")),
                Some(rule) => {
                    let operation = &item[method.as_str().to_ascii_lowercase()];
                    let personal = operation["security"]
                        .as_array()
                        .is_some_and(|schemes| schemes.iter().any(|s| s.get("personalToken").is_some()));
                    let expected = matches!(rule, Rule::Needs(_) | Rule::AuthAny);
                    assert_eq!(
                        personal, expected,
                        "{method} {template}: the document's personalToken scheme"
                    );
                }
            }
        }
    }
    assert!(operations > 20, "walked {operations} operations");
    assert!(
        undecided.is_empty(),
        "routes with no scope decision in http::scopes: {undecided:?}"
    );
    assert!(doc["components"]["securitySchemes"]["personalToken"].is_object());
}
