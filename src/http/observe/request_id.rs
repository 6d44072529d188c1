//! Request ids: tower-http's layers, with an unusable incoming id dropped first and random ones made.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::Response;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};

/// The header that carries a request's id, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

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
