//! What every request passes through first. Its request id is tower-http's (`request_ids`: an
//! incoming `x-request-id` is kept when it is sane, otherwise one is made, and it is echoed on the
//! answer); `observe` then normalises the mount point and trailing slash, and when the answer is
//! ready gives it the security headers, logs it once (method, path, status, latency, user id when
//! known, request id) and counts it in the HTTP metrics by route template. Never logs bodies, query
//! strings or headers, so no password or token reaches the log.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tracing::Instrument;

use super::error::{ApiError, Expected};
use crate::domain::ids::UserId;
use crate::state::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

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

/// Where a route is mounted: every route is served under `/api` and at the root.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mount {
    Api,
    Root,
}

/// The mount and the route path inside it, without a trailing slash (as Express ignored it):
/// `/api/entries/` → (`Api`, `/entries`).
pub fn split_mount(path: &str) -> (Mount, &str) {
    let (mount, rest) = match path.strip_prefix("/api") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => (Mount::Api, rest),
        _ => (Mount::Root, path),
    };
    let trimmed = rest.trim_end_matches('/');
    (mount, if trimmed.is_empty() { "/" } else { trimmed })
}

/// Routes the request by its path inside the mount, so the router holds each route once. The
/// original URI stays available (`OriginalUri`) for pages that link to their own mount.
fn normalize_path(request: &mut Request) {
    let (_, path) = split_mount(request.uri().path());
    if path != request.uri().path() {
        let original = request.uri().clone();
        let mut parts = original.clone().into_parts();
        let rewritten = match original.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        if let Ok(path_and_query) = rewritten.parse() {
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
        // Otherwise the router records the (unchanged) URI itself.
        request.extensions_mut().insert(OriginalUri(original));
    }
}

/// The headers helmet's defaults set (Content-Security-Policy aside: off for a JSON API), built at
/// compile time.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 11] = [
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    ),
    (
        HeaderName::from_static("origin-agent-cluster"),
        HeaderValue::from_static("?1"),
    ),
    (
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    ),
    (
        HeaderName::from_static("strict-transport-security"),
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    ),
    (
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    ),
    (
        HeaderName::from_static("x-dns-prefetch-control"),
        HeaderValue::from_static("off"),
    ),
    (
        HeaderName::from_static("x-download-options"),
        HeaderValue::from_static("noopen"),
    ),
    (
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("SAMEORIGIN"),
    ),
    (
        HeaderName::from_static("x-permitted-cross-domain-policies"),
        HeaderValue::from_static("none"),
    ),
    (
        HeaderName::from_static("x-xss-protection"),
        HeaderValue::from_static("0"),
    ),
];

/// Route templates for metric labels (`/api/entries/{id}`, never the raw path): matched here from
/// the documented paths, so the label set is bounded and the router stays untouched.
pub struct RouteTemplates {
    /// Each template with its label under each mount, leaked once at start-up so labels are
    /// `&'static str` and counting a request allocates nothing.
    router: matchit::Router<(&'static str, &'static str)>,
}

impl RouteTemplates {
    pub fn new<'a>(templates: impl IntoIterator<Item = &'a str>) -> Self {
        let mut router = matchit::Router::new();
        for template in templates {
            let api: &'static str = Box::leak(format!("/api{template}").into_boxed_str());
            let root: &'static str = Box::leak(template.to_owned().into_boxed_str());
            // A template the matcher refuses only loses its own label.
            let _ = router.insert(template, (api, root));
        }
        Self { router }
    }

    fn label(&self, original_path: &str) -> &'static str {
        let (mount, path) = split_mount(original_path);
        match self.router.at(path) {
            Ok(found) if mount == Mount::Api => found.value.0,
            Ok(found) => found.value.1,
            Err(_) => "unmatched",
        }
    }
}

#[derive(Clone)]
pub struct ObserveState {
    pub app: AppState,
    pub templates: Arc<RouteTemplates>,
}

/// Random ids for requests that arrive without a usable one.
#[derive(Clone, Copy)]
struct RandomHexId;

impl MakeRequestId for RandomHexId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&hex::encode(rand::random::<[u8; 12]>()))
            .ok()
            .map(RequestId::new)
    }
}

/// An incoming id is echoed into logs and answers: only a short, printable one is kept (tower-http
/// keeps whatever arrives, so an unusable one is dropped before it looks).
fn drop_unusable_request_id(mut request: Request) -> Request {
    let usable = |id: &HeaderValue| {
        let id = id.as_bytes();
        !id.is_empty() && id.len() <= 128 && id.iter().all(u8::is_ascii_graphic)
    };
    if request.headers().get(REQUEST_ID_HEADER).is_some_and(|id| !usable(id)) {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    request
}

/// The request-id layers, outermost first: drop an unusable incoming id, set one (the incoming or
/// a new one), echo it on the answer. They go outside `observe`, which reads the id they set.
pub fn request_ids<S>(
    service: S,
) -> impl tower::Service<Request, Response = Response, Error = S::Error, Future: Send> + Clone + Send + Sync
where
    S: tower::Service<Request, Response = Response> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    tower::ServiceBuilder::new()
        .map_request(drop_unusable_request_id)
        .layer(SetRequestIdLayer::x_request_id(RandomHexId))
        .layer(PropagateRequestIdLayer::x_request_id())
        .service(service)
}

/// Whether the request declares a body too big to be discarded cheaply if left unread.
fn declares_large_body(request: &Request) -> bool {
    const CHEAP_TO_DISCARD: u64 = 64 * 1024;
    let headers = request.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|length| length > CHEAP_TO_DISCARD)
}

/// A body over [`LARGE_BODY_BYTES`](crate::config::LARGE_BODY_BYTES), or one of unknown length.
fn counts_as_large_body(request: &Request) -> bool {
    let headers = request.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|length| length > crate::config::LARGE_BODY_BYTES)
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
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
        let large_body = declares_large_body(&request);
        // Bodies a parse would turn into many times their size wait for a permit, their bytes still
        // unread (in the kernel's buffers): eight 9 MB imports at once peaked at 1.25 GB.
        let memory_bound = counts_as_large_body(&request);
        let encoding = super::compression::preferred_encoding(request.headers());
        let path = loggable_path(request.uri().path());
        normalize_path(&mut request);

        let span = tracing::info_span!("request", request_id = %request_id);
        let answering = span.in_scope(|| self.inner.call(request));
        // Not tower-http's `TimeoutLayer`: it answers with an empty body, and the contract wants
        // the JSON envelope (`"Request timed out"`, with an error id) that `ApiError` gives.
        let limit = state.app.settings.timeouts.request;
        Box::pin(async move {
            let metrics = &state.app.metrics;
            let _in_flight = InFlight(&metrics.http_in_flight);
            let bounded = async {
                let _permit = if memory_bound {
                    // The semaphore is never closed; without a permit the request still runs.
                    state.app.large_bodies.acquire().await.ok()
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

/// The request path for the log, cut at 200 bytes.
fn loggable_path(path: &str) -> String {
    if path.len() <= 200 {
        return path.to_owned();
    }
    let mut cut = 200;
    while !path.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &path[..cut])
}

/// What every answer gets: the security headers, `no-store`, and `Connection: close` when the
/// request's body may be left unread.
fn finish(response: &mut Response, large_body: bool) {
    let headers = response.headers_mut();
    // Room for all of them at once: growing the map a few times over cost as much as the inserts.
    headers.reserve(SECURITY_HEADERS.len() + 3);
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, value);
    }
    // Answers carry tokens and health data: no browser or proxy may keep them. A route that means
    // to be cached (the documentation's assets) says so itself.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    let status = response.status().as_u16();
    if status == 413 || (status >= 400 && large_body) {
        // The body may be left unread (refused before or while reading it), and the connection then
        // cannot carry another request: say so, so the client opens a new one instead of reusing it.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

/// The one line per request: written directly as JSON in production, through `tracing` otherwise.
fn log_access(access: &crate::telemetry::AccessLine<'_>) {
    if crate::telemetry::write_access_line(access) {
        return;
    }
    macro_rules! log {
        ($level:ident) => {
            tracing::$level!(
                target: "http",
                request_id = %access.request_id,
                method = %access.method,
                path = %access.path,
                status = access.status,
                latency_ms = access.latency_ms,
                user_id = access.user_id,
                "request"
            )
        };
    }
    if access.error {
        log!(error);
    } else {
        log!(info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_and_trailing_slashes() {
        assert_eq!(split_mount("/api/entries/"), (Mount::Api, "/entries"));
        assert_eq!(split_mount("/api"), (Mount::Api, "/"));
        assert_eq!(split_mount("/apiary"), (Mount::Root, "/apiary"));
        assert_eq!(split_mount("/health//"), (Mount::Root, "/health"));
        assert_eq!(split_mount("/"), (Mount::Root, "/"));
    }

    #[test]
    fn labels_are_templates() {
        let templates = RouteTemplates::new(["/entries", "/entries/{id}"]);
        assert_eq!(
            templates.label("/api/entries/6745c0ffee0ddba11deadbee"),
            "/api/entries/{id}"
        );
        assert_eq!(templates.label("/entries/"), "/entries");
        assert_eq!(templates.label("/nope"), "unmatched");
    }
}
