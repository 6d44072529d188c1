//! Where the features meet: a personal token through the MCP endpoint (its scopes decide the
//! tools), a token minted by a login with two-factor on (step-up), and a disabled account's tokens.

use healthtracker::domain::user::Email;
use reqwest::StatusCode;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;
use crate::security_helpers::*;

async fn personal_token(app: &TestApp, access: &str, scopes: &[&str]) -> String {
    let body = app
        .created_token(access, &json!({"name": "assistant", "scopes": scopes}))
        .await;
    body["token"].as_str().expect("token").to_owned()
}

api_test!(
    async fn an_mcp_client_with_a_read_only_token_sees_and_calls_only_the_read_tools(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        app.created_entry(&session.access, &json!({"date": "2026-11-30", "steps": 8000}))
            .await;
        let token = personal_token(&app, &session.access, &["entries:read", "goals:read"]).await;
        let client = app
            .mcp_client("/mcp", Some(&token), ProtocolVersion::V_2025_06_18)
            .await
            .expect("initialize with a personal token");
        let tools = client.list_all_tools().await.expect("tools/list");
        let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
        assert_eq!(names, ["get_entries", "get_day", "get_stats", "get_goals", "get_profile"]);

        let call = |tool: &str, arguments: Value| {
            let Value::Object(arguments) = arguments else { panic!("an object") };
            client.call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        };
        let stats = call("get_stats", json!({"from": "2026-11-30", "to": "2026-11-30", "bucket": "day"}))
            .await
            .expect("get_stats");
        assert_eq!(stats.is_error, Some(false), "{stats:?}");
        let stats = stats.structured_content.expect("structuredContent");
        assert_eq!(stats["data"][0]["steps"]["sum"], 8000);

        let refused = call("log_day", json!({"date": "2026-12-01", "steps": 1}))
            .await
            .expect("a tool error, not a protocol failure");
        assert_eq!(refused.is_error, Some(true));
        let body = refused.structured_content.expect("structuredContent");
        assert_eq!(body["message"], "This token lacks the scope entries:write");
        assert_eq!(body["httpStatus"], 403);
        // Nothing was written.
        let day = app.get("/api/entries?from=2026-12-01&to=2026-12-01").bearer_auth(&session.access).send().await.expect("list");
        assert_eq!(json_body(day, StatusCode::OK).await, json!([]));

        let bad_date = call("get_day", json!({"date": "2026-13-01"})).await.expect("a tool error");
        assert_eq!(bad_date.is_error, Some(true));

        let profile = call("get_profile", json!({})).await.expect("get_profile");
        assert_eq!(profile.is_error, Some(false), "{profile:?}");
        assert!(profile.structured_content.expect("structuredContent")["user"].get("email").is_none());
    }
);

api_test!(
    async fn with_two_factor_on_creating_a_personal_token_needs_the_current_code(backend) {
        let (clock, start) = step_clock();
        let app = TestApp::builder(backend).clock(&clock).spawn().await;
        let (session, secret, now) = app.two_factor_user(&clock, start).await;
        let body = json!({"name": "script", "scopes": ["entries:read"]});

        let response = app.create_token(&session.access, &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(message(response).await.starts_with("Two-factor code required"));
        let wrong = wrong_code(&secret, now);
        let mut with_code = body.clone();
        with_code["code"] = json!(wrong);
        let response = app.create_token(&session.access, &with_code).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(message(response).await, "Invalid two-factor code");
        let listed = json_body(app.tokens(&session.access).await, StatusCode::OK).await;
        assert_eq!(listed["count"], 0, "nothing minted without the code");

        with_code["code"] = json!(code_at(&secret, now));
        let created = app.created_token(&session.access, &with_code).await;
        assert!(created["token"].as_str().is_some_and(|t| t.starts_with("htp_")));
    }
);

api_test!(
    async fn disabling_an_account_ends_its_personal_tokens_at_once_on_every_instance(backend) {
        let first = TestApp::spawn(backend).await;
        let second = TestApp::builder(backend).database(first.database.clone()).spawn().await;
        let admin = first.admin().await;
        let user = first.signup().await;
        let token = personal_token(&first, &user.access, &["entries:read"]).await;
        let status = |app: &TestApp| {
            let request = app.get("/api/entries").bearer_auth(&token);
            async move { request.send().await.expect("list").status() }
        };
        assert_eq!(status(&second).await, StatusCode::OK);

        // The lookup alone refuses a disabled user's token: the flag set in the database with the
        // token left in place (as one minted while the account was being disabled would be).
        let id = first
            .store
            .user_by_email(&Email::from_stored(user.email.clone()))
            .await
            .expect("store")
            .expect("user")
            .id;
        assert!(first.store.set_disabled(id, true).await.expect("store"));
        assert_eq!(status(&second).await, StatusCode::UNAUTHORIZED, "refused by the lookup");
        assert!(first.store.set_disabled(id, false).await.expect("store"));
        assert_eq!(status(&second).await, StatusCode::OK, "the token was kept, only refused");

        // Disabling through the admin route also ends the tokens.
        json_body(first.admin_disable(&admin.access, &user.user_id).await, StatusCode::OK).await;
        assert_eq!(status(&second).await, StatusCode::UNAUTHORIZED);

        // Enabling the account again revives no token of before: it was deleted, not only refused.
        json_body(first.admin_enable(&admin.access, &user.user_id).await, StatusCode::OK).await;
        assert_eq!(status(&second).await, StatusCode::UNAUTHORIZED);
        let login = json_body(first.login(&user.email, PASSWORD).await, StatusCode::OK).await;
        let access = login["accessToken"].as_str().expect("accessToken");
        let listed = json_body(first.tokens(access).await, StatusCode::OK).await;
        assert_eq!(listed["count"], 0, "{listed}");
    }
);
