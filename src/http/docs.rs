//! This API's own description: the OpenAPI document and Swagger UI, served from the binary (no CDN,
//! so the page works offline).

use std::sync::LazyLock;

use axum::extract::{OriginalUri, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::ErrorBody;
use super::error::ApiError;
use super::extract::PathParam;
use super::observe::{Mount, split_mount};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(docs_page))
        .routes(routes!(docs_asset))
}

/// This document.
#[utoipa::path(
    get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
async fn openapi_json(State(state): State<AppState>) -> Response {
    let document = state.openapi.get().cloned().unwrap_or_else(|| "{}".into());
    ([(header::CONTENT_TYPE, "application/json")], document).into_response()
}

/// Interactive documentation (Swagger UI): authorize with an access token and try every route.
#[utoipa::path(
    get, path = "/docs", tag = "meta",
    responses((status = 200, description = "The documentation page", content_type = "text/html", body = String))
)]
async fn docs_page(OriginalUri(uri): OriginalUri) -> Response {
    // The page is served under both mounts; its links must stay under the one it was loaded from.
    static PAGES: LazyLock<[String; 2]> =
        LazyLock::new(|| [PAGE.replace("{mount}", "/api"), PAGE.replace("{mount}", "")]);
    let [api, root] = &*PAGES;
    let page = match split_mount(uri.path()).0 {
        Mount::Api => api,
        Mount::Root => root,
    };
    ([(header::CONTENT_SECURITY_POLICY, PAGE_POLICY)], Html(page.as_str())).into_response()
}

/// The page runs only its own scripts and styles and talks only to this server; Swagger UI draws its
/// icons as `data:` images, the one allowance (scripts/docs-browser-check reports any violation).
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
    form-action 'self'; frame-ancestors 'none'";

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>HealthTracker API</title>
  <link rel="stylesheet" href="{mount}/docs/assets/swagger-ui.css">
</head>
<body>
  <p><a href="/app/">HealthTracker web app</a> · this page documents the API it uses</p>
  <div id="swagger-ui"></div>
  <script src="{mount}/docs/assets/swagger-ui-bundle.js"></script>
  <script src="{mount}/docs/assets/init.js" data-spec="{mount}/openapi.json"></script>
</body>
</html>
"#;

const INIT_JS: &str = r##"window.addEventListener("load", function () {
  var spec = document.currentScript ? document.currentScript.dataset.spec : null;
  spec = spec || document.querySelector("script[data-spec]").dataset.spec;
  window.ui = SwaggerUIBundle({
    url: spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    tryItOutEnabled: true,
    displayRequestDuration: true
  });
});
"##;

/// Swagger UI's own files.
#[utoipa::path(
    get, path = "/docs/assets/{file}", tag = "meta",
    params(("file" = String, Path, description = "An asset of the documentation page",
            pattern = "^(swagger-ui-bundle\\.js|swagger-ui\\.css|init\\.js)$")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/javascript"),
            (String = "text/css"),
        )),
        (status = 404, description = "No such file", body = ErrorBody,
            example = json!({"status": "error", "message": "Route not found"})),
    )
)]
async fn docs_asset(PathParam(file): PathParam) -> Result<Response, ApiError> {
    let (content_type, body): (&str, &'static [u8]) = match file.as_str() {
        "swagger-ui-bundle.js" => (
            "text/javascript; charset=utf-8",
            include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js"),
        ),
        "swagger-ui.css" => (
            "text/css; charset=utf-8",
            include_bytes!("../../assets/swagger-ui/swagger-ui.css"),
        ),
        "init.js" => ("text/javascript; charset=utf-8", INIT_JS.as_bytes()),
        _ => return Err(ApiError::NotFound("Route not found")),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response())
}
