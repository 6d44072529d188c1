//! The HTTP layer: one module per resource, the cross-cutting layers, and the router that serves
//! every route twice — under `/api` (what the React frontend calls) and at the root (what the old
//! server mounted).

use std::any::Any;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::{ApiError, new_error_id};
use crate::state::AppState;

pub mod ai;
pub mod auth;
pub mod docs;
pub mod entries;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod numbers;
pub mod observe;
pub mod openapi;

/// The whole application as one router (state applied).
pub fn router(state: AppState) -> Router {
    with_layers(routes(&state), state)
}

/// Every route, mounted once (`with_layers` mounts them twice), with the OpenAPI document they
/// describe available to the `/openapi.json` handler.
pub fn routes(state: &AppState) -> Router<AppState> {
    let (routes, operations) = documented_routes(state);
    let document = openapi::document(operations).to_string();
    routes.layer(Extension(docs::OpenApiJson(Arc::new(document))))
}

/// The routes and the operations their annotations describe: registering a route through
/// `utoipa_axum::routes!` is what documents it.
pub fn documented_routes(state: &AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    utoipa_axum::router::OpenApiRouter::new()
        .merge(auth::routes(state))
        .merge(entries::routes())
        .merge(ai::routes())
        .merge(health::routes())
        .merge(docs::routes())
        .merge(metrics::routes())
        .split_for_parts()
}

/// Mounts `routes` under `/api` and at the root and wraps them in the cross-cutting layers: request
/// log, security headers, CORS, panic catcher, body limit, JSON 404/405.
pub fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    Router::new()
        .nest("/api", routes.clone())
        .merge(routes)
        // Runs after routing, so it can see which route template matched (for metrics).
        .route_layer(middleware::from_fn(observe::remember_route))
        .fallback(not_found)
        // After every route is added: it applies to the routes present.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.settings.body_limit))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(cors(&state.settings.allowed_origins))
        .layer(middleware::map_response(security_headers))
        .layer(middleware::from_fn_with_state(state.clone(), observe::observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("Route not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A handler panicked: answer 500 JSON with an id that is also in the log, never the panic text.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    let error_id = new_error_id();
    tracing::error!(error_id = %error_id, panic = detail, "handler panicked");
    let body = serde_json::json!({ "status": "error", "message": "Internal server error", "errorId": error_id });
    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .expose_headers([
            HeaderName::from_static(observe::REQUEST_ID_HEADER),
            header::RETRY_AFTER,
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ])
}

/// The headers helmet's defaults set (Content-Security-Policy aside: off for a JSON API).
const SECURITY_HEADERS: [(&str, &str); 11] = [
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("origin-agent-cluster", "?1"),
    ("referrer-policy", "no-referrer"),
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-dns-prefetch-control", "off"),
    ("x-download-options", "noopen"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
];

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    }
    headers.remove("x-powered-by");
    response
}
