//! The API describes itself: the OpenAPI document, the offline documentation page.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn the_openapi_document_describes_every_route_of_the_contract() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for path in ["/api/openapi.json", "/openapi.json"] {
        let doc = json_body(app.get(path).send().await.expect("request"), StatusCode::OK).await;
        assert!(
            doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")),
            "{}",
            doc["openapi"]
        );
        for (route, method) in [
            ("/auth/register", "post"),
            ("/auth/login", "post"),
            ("/auth/refresh", "post"),
            ("/auth/logout", "post"),
            ("/entries", "get"),
            ("/entries", "post"),
            ("/entries/dashboard/summary", "get"),
            ("/entries/{id}", "get"),
            ("/entries/{id}", "put"),
            ("/entries/{id}", "delete"),
            ("/ai/chat", "post"),
            ("/ai/weekly-report", "post"),
            ("/ai/job-status/{job_id}", "get"),
            ("/health", "get"),
            ("/health/live", "get"),
        ] {
            let operation = &doc["paths"][route][method];
            assert!(operation.is_object(), "{method} {route} is not documented");
            assert!(
                operation["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {route}"
            );
        }
        // Both mount points, the bearer scheme, constraints from the domain rules.
        let servers: Vec<&str> = doc["servers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["url"].as_str())
            .collect();
        assert_eq!(servers, ["/api", "/"]);
        assert_eq!(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
        assert_eq!(
            doc["paths"]["/entries"]["get"]["security"][0]["bearerAuth"],
            serde_json::json!([])
        );
        let calories = &doc["components"]["schemas"]["EntryInput"]["properties"]["calories"]["anyOf"][0];
        assert_eq!(calories["anyOf"][0]["maximum"], 10000);
        assert_eq!(
            doc["components"]["schemas"]["EntryInput"]["required"],
            serde_json::json!(["date"])
        );
        let error =
            &doc["paths"]["/entries"]["post"]["responses"]["409"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(error, "#/components/schemas/ErrorBody");
    }
}

#[tokio::test]
async fn the_documentation_page_works_offline() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (page, mount) in [("/api/docs", "/api"), ("/docs", "")] {
        let response = app.get(page).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.text().await.unwrap_or_default();
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "the page must not load anything remote"
        );
        for (asset, content_type) in [
            ("swagger-ui-bundle.js", "text/javascript"),
            ("swagger-ui.css", "text/css"),
            ("init.js", "text/javascript"),
        ] {
            let url = format!("{mount}/docs/assets/{asset}");
            assert!(html.contains(&url), "{url} not linked from {page}");
            let response = app.get(&url).send().await.expect("asset");
            assert_eq!(response.status(), StatusCode::OK, "{url}");
            // Every answer carries `nosniff`: a wrong type and the browser refuses the file.
            let served = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(served.starts_with(content_type), "{url}: {served}");
            assert!(!response.bytes().await.unwrap_or_default().is_empty());
        }
        assert!(html.contains(&format!("{mount}/openapi.json")));
    }
    assert_error(
        app.get("/api/docs/assets/nope.js").send().await.expect("request"),
        StatusCode::NOT_FOUND,
        "Route not found",
    )
    .await;
}

/// Every route the server answers is in the document: walk the real router and compare.
#[tokio::test]
async fn no_route_exists_without_documentation() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc: Value = json_body(
        app.get("/api/openapi.json").send().await.expect("request"),
        StatusCode::OK,
    )
    .await;
    let state = crate::logging::app_state(&app).await;
    let (router, _) = healthtracker::http::documented_routes(&state);
    let routes = registered_routes(&format!("{router:?}"));
    assert!(routes.len() >= 15, "router introspection found only {routes:?}");
    for (path, methods) in routes {
        for method in methods {
            let documented = doc["paths"][&path][method.to_lowercase()].is_object();
            assert!(documented, "{method} {path} is served but not in the OpenAPI document");
        }
    }
}

/// `(path, methods)` of every route, read from the router's `Debug` output (axum 0.8 has no public
/// route listing): route ids map to paths in `node.paths` and to methods in each `allow_header`.
fn registered_routes(debug: &str) -> Vec<(String, Vec<String>)> {
    // Route ids are per table: read only the main one, not the fallback router's.
    let debug = debug.split("fallback_router").next().unwrap_or_default();
    let id_re = regex::Regex::new(
        r"RouteId\((\d+)\): MethodRouter\(MethodRouter \{.*?allow_header: Bytes\(b\x22([A-Z,]*)\x22\)",
    )
    .expect("regex");
    let path_re = regex::Regex::new(r#"RouteId\((\d+)\): "([^"]+)""#).expect("regex");
    let methods: std::collections::HashMap<&str, Vec<String>> = id_re
        .captures_iter(debug)
        .filter_map(|c| {
            Some((
                c.get(1)?.as_str(),
                c.get(2)?
                    .as_str()
                    .split(',')
                    .filter(|m| *m != "HEAD")
                    .map(str::to_owned)
                    .collect(),
            ))
        })
        .collect();
    path_re
        .captures_iter(debug)
        .filter_map(|c| Some((c.get(2)?.as_str().to_owned(), methods.get(c.get(1)?.as_str())?.clone())))
        .collect()
}

/// Every documented error carries its own example in the error envelope: a reader of `/api/docs`
/// sees what a 401 or a 409 really says, not one generic body for every status.
#[tokio::test]
async fn every_documented_error_has_an_example_of_its_own() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc: Value = json_body(
        app.get("/api/openapi.json").send().await.expect("request"),
        StatusCode::OK,
    )
    .await;
    let mut checked = 0;
    for (path, operations) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in operations.as_object().into_iter().flatten() {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                let content = &response["content"]["application/json"];
                if !status.starts_with(['4', '5']) {
                    continue;
                }
                let what = format!("{method} {path} {status}");
                if (path.as_str(), status.as_str()) == ("/health", "503") {
                    // By contract the health body, with `database: disconnected`.
                    assert_eq!(
                        content["schema"]["$ref"], "#/components/schemas/HealthResponse",
                        "{what}"
                    );
                    continue;
                }
                assert_eq!(content["schema"]["$ref"], "#/components/schemas/ErrorBody", "{what}");
                let example = &content["example"];
                assert_eq!(example["status"], "error", "{what}: {example}");
                let message = example["message"].as_str().unwrap_or_default();
                assert!(!message.is_empty(), "{what}: {example}");
                if example["details"].is_array() {
                    assert_eq!(status, "400", "{what}: only a 400 is a validation failure: {example}");
                    assert_eq!(
                        example["message"], example["details"][0]["msg"],
                        "{what}: a validation failure's message names its first failing rule: {example}"
                    );
                }
                assert_ne!(message, "Validation failed", "{what}: say which rule failed: {example}");
                assert_eq!(
                    example["errorId"].is_string(),
                    status.starts_with('5'),
                    "{what}: 5xx bodies carry an errorId: {example}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 39, "only {checked} documented errors found");
    let example = |path: &str, method: &str, status: &str| {
        doc["paths"][path][method]["responses"][status]["content"]["application/json"]["example"]["message"].clone()
    };
    assert_eq!(example("/entries", "get", "401"), "Invalid or expired token");
    assert_eq!(
        example("/auth/refresh", "post", "401"),
        "Invalid or expired refresh token"
    );
    assert_eq!(example("/entries", "post", "409"), "Entry already exists for this date");
}
