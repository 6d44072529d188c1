//! What every answer gets on its way out: the security headers, `no-store`, and `Connection: close`
//! when the request's body may be left unread.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

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

/// What every answer gets: the security headers, `no-store`, and `Connection: close` when the
/// request's body may be left unread.
pub(super) fn finish(response: &mut Response, large_body: bool) {
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
