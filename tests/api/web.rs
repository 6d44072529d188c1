//! The web app's server side (API.md "The web app"): `GET /` answers a browser with the app and a
//! JSON client with the index; the app's page and assets come from the binary, under a strict CSP,
//! with content-hashed names cached for a year; the documentation links to the app. (The app itself
//! is driven in a browser by tests/browser.)

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use serde_json::json;

use crate::helpers::*;

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The asset URLs the page links, in order.
fn linked_assets(html: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"(?:href|src)="(/app/assets/[^"]+)""#).expect("regex");
    re.captures_iter(html).map(|c| c[1].to_owned()).collect()
}

#[tokio::test]
async fn the_root_answers_json_clients_with_the_index_and_browsers_with_the_app() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let index = json!({
        "status": "success", "name": "HealthTracker API", "version": env!("CARGO_PKG_VERSION"),
        "docs": "/api/docs", "health": "/api/health", "app": "/app/"
    });
    // curl, scripts and API clients: no Accept, */*, or JSON asked for; under both mounts.
    for (path, accept) in [
        ("/", None),
        ("/", Some("*/*")),
        ("/", Some("application/json")),
        ("/api", None),
        ("/api/", Some("*/*")),
    ] {
        let mut request = app.get(path);
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let response = request.send().await.expect("request");
        assert!(header(&response, VARY).contains("accept"), "{path} {accept:?}");
        assert_eq!(json_body(response, StatusCode::OK).await, index, "{path} {accept:?}");
    }
    // A browser gets the app's page.
    let response = app.get("/").header(ACCEPT, BROWSER).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, CONTENT_TYPE).starts_with("text/html"));
    assert!(header(&response, VARY).contains("accept"));
    let html = response.text().await.expect("page");
    assert!(html.contains("<main id=\"main\""), "{html}");
    assert!(
        html.contains("href=\"/api/docs\""),
        "the app links to the documentation"
    );
}

#[tokio::test]
async fn every_page_of_the_app_is_the_shell_under_a_strict_policy() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let first = app.get("/app/today").send().await.expect("request");
    let shell_tag = header(&first, ETAG);
    let first_html = first.text().await.expect("page");
    for path in [
        "/app",
        "/app/",
        "/app/log",
        "/app/history",
        "/app/trends",
        "/app/coach",
        "/app/account",
        "/app/login",
        "/app/register",
        "/app/nowhere",
    ] {
        let response = app.get(path).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(header(&response, CONTENT_TYPE).starts_with("text/html"), "{path}");
        // Revalidated on every visit, so a new build's asset names are seen at once.
        assert_eq!(header(&response, CACHE_CONTROL), "no-cache", "{path}");
        assert_eq!(header(&response, ETAG), shell_tag, "{path}");
        let policy = header(&response, CONTENT_SECURITY_POLICY);
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {directive} missing from {policy}");
        }
        assert!(
            !policy.contains("unsafe-inline") && !policy.contains("unsafe-eval") && !policy.contains("http"),
            "{policy}"
        );
        assert_eq!(
            header(&response, "x-content-type-options".parse().expect("name")),
            "nosniff"
        );
        assert_eq!(response.text().await.expect("page"), first_html, "{path}");
    }
    // No inline script or style, nothing from elsewhere.
    assert!(
        !first_html.contains("http://") && !first_html.contains("https://"),
        "{first_html}"
    );
    assert!(!first_html.contains("style="));
    for script in first_html.split("<script").skip(1) {
        assert!(
            script.trim_start().starts_with("src=\"/app/assets/"),
            "inline script: {script}"
        );
    }
    let again = app
        .get("/app/today")
        .header(IF_NONE_MATCH, &shell_tag)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn assets_are_served_by_content_hash_and_cached_for_a_year() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let html = app
        .get("/app/")
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("page");
    let assets = linked_assets(&html);
    let names: Vec<&str> = assets.iter().filter_map(|a| a.rsplit('/').next()).collect();
    assert_eq!(names.len(), 5, "{assets:?}");
    let hashed = regex::Regex::new(r"^[a-z]+\.[0-9a-f]{12}\.(js|css|svg)$").expect("regex");
    let mut total = 0;
    for asset in &assets {
        let name = asset.rsplit('/').next().unwrap_or_default();
        assert!(hashed.is_match(name), "{name}");
        let response = app.get(asset).send().await.expect("asset");
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert_eq!(
            header(&response, CACHE_CONTROL),
            "public, max-age=31536000, immutable",
            "{asset}"
        );
        let expected = match name.rsplit('.').next() {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            _ => "image/svg+xml",
        };
        assert!(header(&response, CONTENT_TYPE).starts_with(expected), "{asset}");
        let tag = header(&response, ETAG);
        let body = response.bytes().await.expect("body");
        total += body.len();
        // The name is the content's: the same bytes under the same name, 304 when the browser has them.
        let again = app.get(asset).header(IF_NONE_MATCH, &tag).send().await.expect("asset");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{asset}");
    }
    // Small: the whole app, uncompressed, well under 300 KB.
    assert!(total < 300 * 1024, "the app is {total} bytes");
    // Compressed for a browser that asks.
    let script = assets.iter().find(|a| a.contains("/app.")).expect("app.js");
    let response = app
        .get(script)
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .expect("asset");
    assert_eq!(header(&response, "content-encoding".parse().expect("name")), "gzip");
    // An unknown name, or an older build's, is a JSON 404; so is the name without its hash.
    for missing in [
        "/app/assets/app.000000000000.js",
        "/app/assets/app.js",
        "/app/assets/nope",
    ] {
        assert_error(
            app.get(missing).send().await.expect("request"),
            StatusCode::NOT_FOUND,
            "Route not found",
        )
        .await;
    }
}

#[tokio::test]
async fn the_documentation_links_to_the_app_and_the_app_to_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for docs in ["/api/docs", "/docs"] {
        let page = app.get(docs).send().await.expect("request").text().await.expect("page");
        assert!(page.contains("href=\"/app/\""), "{docs} does not link to the app");
    }
    let doc = json_body(
        app.get("/api/openapi.json").send().await.expect("request"),
        StatusCode::OK,
    )
    .await;
    for (path, method) in [
        ("/", "get"),
        ("/app", "get"),
        ("/app/{page}", "get"),
        ("/app/assets/{file}", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    let tags = doc["tags"].as_array().cloned().unwrap_or_default();
    assert!(
        tags.iter()
            .any(|t| t["name"] == "app" && t["description"].as_str().is_some_and(|d| d.contains("(/app/)")))
    );
    let page = app
        .get("/app/today")
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("page");
    assert!(page.contains("href=\"/api/docs\""));
}
