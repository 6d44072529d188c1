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
use axum::middleware;
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_axum::router::OpenApiRouter;

use self::error::{ApiError, new_error_id};
use crate::state::AppState;

pub mod ai;
pub mod auth;
pub mod docs;
pub mod entries;
pub mod error;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod observe;
pub mod openapi;

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
        .merge(entries::routes())
        .merge(ai::routes())
        .merge(health::routes())
        .merge(docs::routes())
        .merge(metrics::routes())
}

/// The routes and the operations their annotations describe.
pub fn documented_routes(state: &AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    api(state).split_for_parts()
}

/// Wraps `routes` in what every request shares, outermost first: `observe` (mount and trailing-slash
/// normalisation — each route is registered once yet served under `/api` and at the root —, request
/// id, security headers, log line, metrics); CORS; the panic catcher; the body limit; then routing
/// with JSON 404/405. The layers wrap the router once rather than every route, so a request pays for
/// each of them once.
pub fn with_layers(routes: OpenApiRouter<AppState>, state: AppState) -> App {
    let (router, operations) = routes.split_for_parts();
    let document = openapi::document(operations);
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
        .layer(middleware::from_fn_with_state(observe_state, observe::observe))
        .layer(cors(&state.settings.allowed_origins))
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

fn cors(origins: &[String]) -> CorsLayer {
    // A predicate over a shared set: the layer is cloned per request, and a list would be copied.
    let origins: Arc<HashSet<HeaderValue>> =
        Arc::new(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect());
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| origins.contains(origin)))
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
