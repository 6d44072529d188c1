//! Per-request context, the one structured log line every request produces (method, path, status,
//! latency, user id when known, request id), and the HTTP metrics. `x-request-id` is accepted from
//! the client (when sane) or generated, and echoed back. Never logs bodies, query strings or headers,
//! so no password or token can reach the log.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::domain::ids::UserId;
use crate::state::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Shared between this middleware and the auth extractor, which records the caller.
#[derive(Clone)]
pub struct RequestContext {
    pub request_id: Arc<str>,
    user: Arc<OnceLock<UserId>>,
}

impl RequestContext {
    pub fn set_user(&self, user: UserId) {
        let _ = self.user.set(user);
    }
}

fn incoming_request_id(request: &Request) -> Option<String> {
    let id = request.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let sane = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic());
    sane.then(|| id.to_owned())
}

/// The route template that answered, handed from inside the router to [`observe`] outside it.
#[derive(Clone)]
struct RouteTemplate(Arc<str>);

pub async fn remember_route(request: Request, next: Next) -> Response {
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| RouteTemplate(m.as_str().into()));
    let mut response = next.run(request).await;
    if let Some(template) = template {
        response.extensions_mut().insert(template);
    }
    response
}

/// Keeps the in-flight gauge right even when the client goes away mid-request.
struct InFlight<'a>(&'a prometheus_client::metrics::gauge::Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    state.metrics.http_in_flight.inc();
    let _in_flight = InFlight(&state.metrics.http_in_flight);
    let request_id: Arc<str> = incoming_request_id(&request)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 12]>()))
        .into();
    let context = RequestContext {
        request_id: Arc::clone(&request_id),
        user: Arc::default(),
    };
    request.extensions_mut().insert(context.clone());

    let method = request.method().clone();
    let mut path = request.uri().path().to_owned();
    if path.len() > 200 {
        let mut cut = 200;
        while !path.is_char_boundary(cut) {
            cut -= 1;
        }
        path.truncate(cut);
        path.push('…');
    }

    let span = tracing::info_span!("request", request_id = %request_id);
    let mut response = next.run(request).instrument(span).await;

    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let route = response
        .extensions()
        .get::<RouteTemplate>()
        .map_or("unmatched", |t| &t.0);
    state.metrics.record_http(method.as_str(), route, status, elapsed);
    let latency_ms = (elapsed.as_secs_f64() * 1e5).round() / 100.0;
    let user_id = context.user.get().map(ToString::to_string);
    macro_rules! log {
        ($level:ident) => {
            tracing::$level!(
                target: "http",
                request_id = %request_id,
                method = %method,
                path = %path,
                status,
                latency_ms,
                user_id = user_id.as_deref(),
                "request"
            )
        };
    }
    if status >= 500 {
        log!(error);
    } else {
        log!(info);
    }
    response
}
