//! The HTTP layer: one module per resource, the cross-cutting layers, and the router that serves
//! every route twice — under `/api` (what the React frontend calls) and at the root (what the old
//! server mounted).

use std::any::Any;
use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_axum::router::OpenApiRouter;

use self::error::{ApiError, new_error_id};
use crate::config::{Environment, Settings};
use crate::state::AppState;

pub mod account;
pub mod admin;
pub mod ai;
pub mod auth;
pub mod compression;
pub mod conditional;
pub mod devices;
pub mod docs;
pub mod entries;
pub mod envelope;
pub mod error;
pub mod export;
pub mod extract;
pub mod goals;
pub mod health;
pub mod health_auto_export;
pub mod mcp;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod scopes;
pub mod server;
pub mod stats;
pub mod tokens;
pub mod two_factor;
pub mod web;

/// The application as one service: what `axum::serve` runs.
pub type App = BoxCloneSyncService<Request, Response, Infallible>;

/// The whole application.
pub fn app(state: AppState) -> App {
    with_layers(api(&state), state)
}

/// Every route, each registered once, through `utoipa_axum::routes!`: registering a route that way is
/// what documents it.
pub fn api(state: &AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::routes(state))
        .merge(account::routes())
        .merge(tokens::routes())
        .merge(two_factor::routes())
        .merge(admin::routes())
        .merge(entries::routes())
        .merge(stats::routes())
        .merge(goals::routes())
        .merge(mcp::routes(state))
        .merge(export::routes())
        .merge(devices::routes())
        .merge(health_auto_export::routes())
        .merge(ai::routes())
        .merge(health::routes())
        .merge(docs::routes())
        .merge(metrics::routes())
        .merge(web::routes())
}

/// The routes and the operations their annotations describe.
pub fn documented_routes(state: &AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    api(state).split_for_parts()
}

/// Wraps `routes` in what every request shares, outermost first: `observe` (mount and trailing-slash
/// normalisation — each route is registered once yet served under `/api` and at the root —, request
/// id, security headers, compression when the client asks, log line, metrics); CORS; the panic
/// catcher; the body limit; then routing with JSON 404/405. The layers wrap the router once rather than every route, so a request pays for
/// each of them once.
pub fn with_layers(routes: OpenApiRouter<AppState>, state: AppState) -> App {
    let (router, operations) = routes.split_for_parts();
    let mut document = openapi::document(operations);
    // The web app shows the invite field when the document has it: only a server that registers by
    // invitation documents `inviteCode` (elsewhere it is ignored).
    if state.settings.registration != crate::config::RegistrationMode::Invite
        && let Some(properties) = document
            .pointer_mut("/components/schemas/RegisterRequest/properties")
            .and_then(serde_json::Value::as_object_mut)
    {
        properties.remove("inviteCode");
    }
    // The same routes always render the same document: a second assembly keeps the first.
    let _ = state.openapi.set(document.to_string().into_bytes().into());
    let templates = observe::RouteTemplates::new(
        document["paths"]
            .as_object()
            .into_iter()
            .flat_map(|paths| paths.keys().map(String::as_str)),
    );
    let router = router
        .fallback(not_found)
        // After every route is added: it applies to the routes present.
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    let observe_state = observe::ObserveState {
        app: state.clone(),
        templates: Arc::new(templates),
    };
    let stack = ServiceBuilder::new()
        .layer_fn(observe::request_ids)
        .layer(observe::ObserveLayer(observe_state))
        .layer(cors(&state.settings))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(DefaultBodyLimit::max(state.settings.body_limit))
        .service(router);
    BoxCloneSyncService::new(stack)
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

/// `ALLOWED_ORIGINS`, and in development any loopback origin too: a refused preflight silently sends
/// the existing frontend into its demo mode (fake figures that look like success), whatever port its
/// dev server happens to run on. Production keeps to the list.
fn cors(settings: &Settings) -> CorsLayer {
    // A predicate over a shared set: the layer is cloned per request, and a list would be copied.
    let origins: Arc<HashSet<HeaderValue>> = Arc::new(
        settings
            .allowed_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect(),
    );
    let loopback_too = settings.environment == Environment::Development;
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origins.contains(origin) || (loopback_too && is_loopback_origin(origin))
        }))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        // The MCP transport's headers (`POST /mcp`), for an assistant running in a listed origin.
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("mcp-method"),
            HeaderName::from_static("mcp-name"),
        ])
        .expose_headers([
            HeaderName::from_static(observe::REQUEST_ID_HEADER),
            header::RETRY_AFTER,
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ])
}

/// `http(s)://localhost`, `127.0.0.1` or `[::1]`, with or without a port, and nothing else.
fn is_loopback_origin(origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else { return false };
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let (host, port) = match rest.strip_prefix("[::1]") {
        Some(port) => ("[::1]", port),
        None => rest.split_at(rest.find(':').unwrap_or(rest.len())),
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|digits| {
            !digits.is_empty() && digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit())
        });
    matches!(host, "localhost" | "127.0.0.1" | "[::1]") && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins() {
        for yes in [
            "http://localhost:4173",
            "http://127.0.0.1:3000",
            "http://[::1]:5173",
            "http://localhost",
            "https://localhost:8443",
        ] {
            assert!(is_loopback_origin(&HeaderValue::from_static(yes)), "{yes}");
        }
        for no in [
            "http://localhost.evil.example",
            "http://localhost:80@evil.example",
            "http://127.0.0.2",
            "http://[::1]:x",
            "http://localhost:",
            "file://localhost",
            "http://evil.example#localhost",
            "http://localhost:3000/path",
        ] {
            assert!(!is_loopback_origin(&HeaderValue::from_static(no)), "{no}");
        }
    }
}
