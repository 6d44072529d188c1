//! `POST /mcp` (API.md "Personal access tokens and the MCP endpoint"): the official Rust SDK's
//! client over Streamable HTTP against the real server — initialize, the tools a token may call,
//! results as JSON text and `structuredContent`, the API's errors as tool errors — and the HTTP
//! edges (401 in the envelope, 405 for GET, no session).

use reqwest::StatusCode;
use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion};
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;

async fn call(client: &McpClient, tool: &str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object");
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: a tool's answer, not a protocol failure: {e:?}"))
}

/// A successful call's JSON: `structuredContent`, which the text content repeats.
fn ok(result: CallToolResult) -> Value {
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let structured = result.structured_content.clone().expect("structuredContent");
    let text = result.content.first().and_then(|c| c.as_text()).expect("text content");
    assert_eq!(
        serde_json::from_str::<Value>(&text.text).expect("JSON text"),
        structured
    );
    structured
}

/// A tool error's body: the API's error envelope, with the status the route would have answered.
fn tool_error(result: CallToolResult) -> Value {
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let body = result.structured_content.clone().expect("structuredContent");
    let text = result.content.first().and_then(|c| c.as_text()).expect("text content");
    assert_eq!(serde_json::from_str::<Value>(&text.text).expect("JSON text"), body);
    assert_eq!(body["status"], "error");
    body
}

api_test!(
    async fn mcp_lists_every_tool_to_a_login_and_answers_get_stats_as_the_rest_route(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let client = app
            .mcp_client("/mcp", Some(&session.access), ProtocolVersion::LATEST)
            .await
            .expect("initialize");
        let server = client.peer_info().expect("server info");
        assert_eq!(server.server_info.as_ref().map(|info| info.name.as_str()), Some("healthtracker"));
        assert!(server.capabilities.tools.is_some());

        let tools = client.list_all_tools().await.expect("tools/list");
        let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
        assert_eq!(
            names,
            ["get_entries", "get_day", "get_stats", "get_goals", "get_profile", "log_day", "update_day"]
        );
        // The schemas are the REST rules: the entry field table, the stats query's bucket.
        let log_day = tools.iter().find(|tool| tool.name == "log_day").expect("log_day");
        assert_eq!(log_day.input_schema["required"], json!(["date"]));
        assert!(log_day.input_schema["properties"]["bloodPressure"].is_object());
        let get_stats = tools.iter().find(|tool| tool.name == "get_stats").expect("get_stats");
        assert_eq!(get_stats.input_schema["properties"]["bucket"]["enum"], json!(["day", "week", "month"]));

        app.created_entry(&session.access, &json!({"date": "2026-11-30", "steps": 8000, "sleep": 7.5, "workouts": true}))
            .await;
        let query = json!({"from": "2026-11-30", "to": "2026-12-01", "bucket": "day"});
        let stats = ok(call(&client, "get_stats", query).await);
        let rest = json_body(
            app.stats(&session.access, "?from=2026-11-30&to=2026-12-01&bucket=day").await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(stats, rest, "{backend:?}");
        assert_eq!(stats["data"][0]["steps"]["sum"], 8000);

        let profile = ok(call(&client, "get_profile", json!({})).await);
        assert_eq!(profile["user"]["name"], "Test User");
        assert!(profile["user"].get("email").is_none(), "{profile}");
        assert!(profile["today"].as_str().is_some_and(|day| day.len() == 10), "{profile}");
        let goals = ok(call(&client, "get_goals", json!({})).await);
        assert_eq!(goals["data"], json!({}));
        client.cancel().await.expect("close");
    }
);

api_test!(
    async fn mcp_log_day_creates_then_fills_a_day_and_update_day_changes_it(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        // An older protocol version, as most assistants speak today, under /api.
        let client = app
            .mcp_client("/api/mcp", Some(&session.access), ProtocolVersion::V_2025_06_18)
            .await
            .expect("initialize");

        let created = ok(call(&client, "log_day", json!({"date": "2026-11-28", "steps": 8000, "mood": "good"})).await);
        assert_eq!(created["message"], "Entry created successfully");
        assert_eq!(created["data"]["steps"], 8000);
        // A second log of the same day fills it: the fields given are set, the others kept.
        let filled = ok(call(&client, "log_day", json!({"date": "2026-11-28", "sleep": "7.5"})).await);
        assert_eq!(filled["message"], "Entry updated successfully");
        assert_eq!(filled["data"]["id"], created["data"]["id"]);

        let day = ok(call(&client, "get_day", json!({"date": "2026-11-28"})).await);
        assert_eq!((&day["data"]["steps"], &day["data"]["sleep"], &day["data"]["mood"]), (&json!(8000), &json!(7.5), &json!("good")));
        let updated = ok(call(&client, "update_day", json!({"date": "2026-11-28", "steps": 9000, "notes": "Long walk"})).await);
        assert_eq!((&updated["data"]["steps"], &updated["data"]["sleep"]), (&json!(9000), &json!(7.5)));

        // The REST routes see the same one entry.
        let rest = json_body(app.list_entries(&session.access, "").await, StatusCode::OK).await;
        assert_eq!(rest.as_array().map(Vec::len), Some(1), "{rest}");
        assert_eq!(rest[0]["notes"], "Long walk");
        let listed = ok(call(&client, "get_entries", json!({"limit": 5})).await);
        assert_eq!(listed["count"], 1);
        assert_eq!(listed["data"], rest);
        client.cancel().await.expect("close");
    }
);

api_test!(
    async fn mcp_errors_are_tool_errors_with_the_apis_message(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let client = app
            .mcp_client("/mcp", Some(&session.access), ProtocolVersion::LATEST)
            .await
            .expect("initialize");

        let bad_date = tool_error(call(&client, "get_stats", json!({"from": "28/11/2026"})).await);
        let message = "from must be a date in YYYY-MM-DD format, from 0001-01-01 to 9999-12-31";
        assert_eq!(bad_date["message"], message);
        assert_eq!(bad_date["httpStatus"], 400);
        assert_eq!(bad_date["details"], json!([{"path": "from", "msg": message, "value": "28/11/2026"}]));

        let bad_day = tool_error(call(&client, "get_day", json!({"date": "yesterday"})).await);
        assert_eq!(
            bad_day["message"],
            "Date must be a valid date (YYYY-MM-DD or ISO 8601) from 0001-01-01 to 9999-12-31"
        );
        let no_date = tool_error(call(&client, "log_day", json!({"steps": 100})).await);
        assert_eq!(no_date["message"], "Date is required");
        let too_much = tool_error(call(&client, "log_day", json!({"date": "2026-11-28", "calories": 10001})).await);
        assert_eq!(too_much["message"], "Calories must be an integer between 0 and 10000");
        assert_eq!(too_much["details"][0]["path"], "calories");
        // Nothing was written by the refused log.
        assert_eq!(tool_error(call(&client, "get_day", json!({"date": "2026-11-28"})).await)["message"], "Entry not found");

        let missing = tool_error(call(&client, "update_day", json!({"date": "2026-11-29", "steps": 1})).await);
        assert_eq!((&missing["message"], &missing["httpStatus"]), (&json!("Entry not found"), &json!(404)));
        let limit = tool_error(call(&client, "get_entries", json!({"limit": 0})).await);
        assert_eq!(limit["message"], "limit must be an integer between 1 and 366");

        // A tool that does not exist is the protocol's invalid-params error.
        let unknown = client
            .call_tool(CallToolRequestParams::new("delete_everything"))
            .await
            .expect_err("unknown tool");
        assert!(format!("{unknown:?}").contains("Unknown tool: delete_everything"), "{unknown:?}");
        client.cancel().await.expect("close");
    }
);

api_test!(
    async fn mcp_needs_a_token_answers_statelessly_and_refuses_get(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "curl", "version": "1"}}});

        let response = app.mcp_post("/mcp", None, &initialize).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers()["www-authenticate"].to_str().is_ok_and(|v| v.starts_with("Bearer")));
        assert_eq!(json_body(response, StatusCode::UNAUTHORIZED).await, json!({"status": "error", "message": "No token provided"}));
        let response = app.mcp_post("/api/mcp", Some("not-a-token"), &initialize).await;
        assert_eq!(json_body(response, StatusCode::UNAUTHORIZED).await["message"], "Invalid or expired token");
        // The SDK's client sees the 401 as such.
        let refused = app.mcp_client("/mcp", None, ProtocolVersion::V_2025_06_18).await;
        assert!(refused.is_err());

        // Stateless: a plain JSON answer and no session; a later call needs no initialize first.
        let response = app.mcp_post("/mcp", Some(&session.access), &initialize).await;
        assert!(response.headers().get("mcp-session-id").is_none());
        let body = json_body(response, StatusCode::OK).await;
        assert_eq!(body["result"]["serverInfo"]["name"], "healthtracker");
        let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
        let response = app
            .post("/mcp")
            .bearer_auth(&session.access)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&list)
            .send()
            .await
            .expect("tools/list");
        let body = json_body(response, StatusCode::OK).await;
        assert_eq!(body["result"]["tools"].as_array().map(Vec::len), Some(7), "{body}");

        // No event stream to open (the transport's rule for a server without one), in the envelope.
        let response = app.get("/mcp").bearer_auth(&session.access).header("accept", "text/event-stream").send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        // A client that does not say it accepts JSON and an event stream is answered all the same
        // (the answer is JSON) unless it refuses JSON; the transport's refusals are in the envelope.
        let response = app
            .post("/mcp")
            .bearer_auth(&session.access)
            .header("mcp-protocol-version", "2025-06-18")
            .json(&list)
            .send()
            .await
            .expect("POST");
        assert_eq!(json_body(response, StatusCode::OK).await["id"], 2);
        let response = app
            .post("/mcp")
            .bearer_auth(&session.access)
            .header("accept", "text/html")
            .json(&list)
            .send()
            .await
            .expect("POST");
        assert_eq!(
            json_body(response, StatusCode::NOT_ACCEPTABLE).await["message"],
            "Not Acceptable: Client must accept both application/json and text/event-stream"
        );
        let response = app
            .post("/mcp")
            .bearer_auth(&session.access)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "1999-01-01")
            .json(&list)
            .send()
            .await
            .expect("POST");
        assert_eq!(
            json_body(response, StatusCode::BAD_REQUEST).await["message"],
            "Bad Request: Unsupported MCP-Protocol-Version: 1999-01-01"
        );
        let response = app
            .post("/mcp")
            .bearer_auth(&session.access)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("POST");
        let body = json_body(response, StatusCode::BAD_REQUEST).await;
        assert!(body["message"].as_str().is_some_and(|m| m.starts_with("Not a JSON-RPC message")), "{body}");
    }
);

api_test!(
    async fn a_browser_client_of_an_allowed_origin_may_send_the_protocols_headers(backend) {
        let app = TestApp::builder(backend).env("ALLOWED_ORIGINS", "https://assistant.example").spawn().await;
        let preflight = app
            .request(reqwest::Method::OPTIONS, "/mcp")
            .header("origin", "https://assistant.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type,mcp-protocol-version")
            .send()
            .await
            .expect("preflight");
        assert!(preflight.status().is_success());
        let allowed = preflight
            .headers()
            .get("access-control-allow-headers")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_lowercase();
        for name in ["authorization", "content-type", "mcp-protocol-version", "mcp-method", "mcp-name"] {
            assert!(allowed.contains(name), "{name} not in {allowed}");
        }
    }
);
