//! What every request passes through first. Its request id is tower-http's (`request_ids`: an
//! incoming `x-request-id` is kept when it is sane, otherwise one is made, and it is echoed on the
//! answer); `observe` then normalises the mount point and trailing slash, and when the answer is
//! ready gives it the security headers, logs it once (method, path, status, latency, user id when
//! known, request id) and counts it in the HTTP metrics by route template. Never logs bodies, query
//! strings or headers, so no password or token reaches the log.
//!
//! `request_id` (the id layers), `mount` (mount and trailing slash), `headers` (what every answer
//! gets), `labels` (metric labels), `access_log` (the line).

mod access_log;
mod headers;
mod labels;
mod mount;
mod request_id;

pub use self::labels::RouteTemplates;
pub use self::mount::{Mount, split_mount};
pub use self::request_id::{REQUEST_ID_HEADER, request_ids};

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tower_http::request_id::RequestId;
use tracing::Instrument;

use self::access_log::{log_access, loggable_path};
use self::headers::finish;
use self::labels::method_label;
use self::mount::normalize_path;
use super::error::{ApiError, Expected};
use crate::domain::ids::UserId;
use crate::state::AppState;

/// Shared between this middleware and the auth extractor, which records the caller.
#[derive(Clone, Default)]
pub struct RequestContext {
    user: Arc<OnceLock<UserId>>,
}

impl RequestContext {
    pub fn set_user(&self, user: UserId) {
        let _ = self.user.set(user);
    }
}

#[derive(Clone)]
pub struct ObserveState {
    pub app: AppState,
    pub templates: Arc<RouteTemplates>,
}

/// A body this big, left unread by a refusal, closes the connection (and the answer says so). hyper
/// drains an unread body with one read into its 8 KiB buffer, head included, and closes the
/// connection silently when that does not finish it: 64 KiB here let a 401 to a 9 KB POST close a
/// connection its client then reused (tests/api/connections.rs).
const CHEAP_TO_DISCARD: u64 = 2 * 1024;

/// The body length the request declares, read once: `u64::MAX` when it is unknown (chunked), 0
/// without a body.
fn declared_body_length(request: &Request) -> u64 {
    let headers = request.headers();
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return u64::MAX;
    }
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
}

/// Keeps the in-flight gauge right even when the client goes away mid-request.
struct InFlight<'a>(&'a prometheus_client::metrics::gauge::Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `observe` as a layer around the rest of the stack.
#[derive(Clone)]
pub struct ObserveLayer(pub ObserveState);

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            state: self.0.clone(),
        }
    }
}

/// A hand-written service rather than `middleware::from_fn`: that clones and boxes the whole inner
/// stack for every request; here the inner service is called in place and only the answer's
/// bookkeeping waits in the future.
#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    state: ObserveState,
}

impl<S, B> tower::Service<Request> for Observe<S>
where
    S: tower::Service<Request, Response = axum::http::Response<B>, Error = std::convert::Infallible>,
    S::Future: Send + 'static,
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let state = self.state.clone();
        state.app.metrics.http_in_flight.inc();
        let request_id: Arc<str> = request
            .extensions()
            .get::<RequestId>()
            .and_then(|id| id.header_value().to_str().ok())
            .unwrap_or_default()
            .into();
        let context = RequestContext::default();
        request.extensions_mut().insert(context.clone());
        let method = request.method().clone();
        let route = state.templates.label(request.uri().path());
        let body_length = declared_body_length(&request);
        // The Apple Health upload streams to a file (memory does not grow with it) and may take
        // minutes over a phone's link: its own deadline, and its own permits (bounding the disk its
        // spools take), so a slow one holds up no JSON import.
        let device_upload = split_mount(request.uri().path()).1 == super::devices::APPLE_HEALTH_PATH;
        // An upload refused before it is read (a 409 for a second upload of the account, a 415) is
        // never cheap to discard, whatever its size: its refusal closes the connection too.
        let large_body = body_length > CHEAP_TO_DISCARD || (device_upload && body_length > 0);
        // Bodies a parse would turn into many times their size wait for a permit, their bytes still
        // unread (in the kernel's buffers): over LARGE_BODY_BYTES, or of unknown length (BENCHMARKS.md).
        let needs_permit = body_length > crate::config::LARGE_BODY_BYTES;
        let encoding = super::compression::preferred_encoding(request.headers());
        let path = loggable_path(request.uri().path());
        normalize_path(&mut request);

        let span = tracing::info_span!("request", request_id = %request_id);
        let answering = span.in_scope(|| self.inner.call(request));
        // Not tower-http's `TimeoutLayer`: it answers with an empty body, and the contract wants
        // the JSON envelope (`"Request timed out"`, with an error id) that `ApiError` gives.
        let limit = if device_upload {
            state.app.settings.device_import.timeout
        } else {
            state.app.settings.timeouts.request
        };
        Box::pin(async move {
            let metrics = &state.app.metrics;
            let _in_flight = InFlight(&metrics.http_in_flight);
            let bounded = async {
                let permits = if device_upload {
                    &state.app.device_uploads
                } else {
                    &state.app.large_bodies
                };
                // A semaphore is never closed; without a permit the request still runs.
                let _permit = if needs_permit {
                    permits.acquire().await.ok()
                } else {
                    None
                };
                answering.await
            };
            let answer = tokio::time::timeout(limit, bounded).instrument(span).await;
            let response = match answer {
                Ok(Ok(response)) => response.map(axum::body::Body::new),
                Ok(Err(never)) => match never {},
                Err(_) => ApiError::RequestTimedOut.into_response(),
            };
            let mut response = super::compression::compress(response, encoding);
            finish(&mut response, large_body);
            let status = response.status().as_u16();
            let elapsed = started.elapsed();
            metrics.record_http(method_label(&method), route, status, elapsed);
            let user_id = context.user.get().map(ToString::to_string);
            let access = crate::telemetry::AccessLine {
                error: status >= 500 && response.extensions().get::<Expected>().is_none(),
                request_id: &request_id,
                method: method.as_str(),
                path: &path,
                status,
                latency_ms: (elapsed.as_secs_f64() * 1e5).round() / 100.0,
                user_id: user_id.as_deref(),
            };
            log_access(&access);
            Ok(response)
        })
    }
}
