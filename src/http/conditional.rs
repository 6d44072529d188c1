//! Cheap re-fetches of what clients poll (`GET /entries`, the dashboard, stats): a strong `ETag`
//! over the body, `If-None-Match` answered with 304 and no body. (Compression is `compression`.)
//! `Cache-Control: no-store` stays on every response: the validators are for apps and scripts that
//! keep their own copy, never for shared caches.

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::compression::Encoded;

/// The request's `If-None-Match`, taken alone (not the whole header map).
pub struct IfNoneMatch(Option<HeaderValue>);

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.headers.get(header::IF_NONE_MATCH).cloned()))
    }
}

/// The strong validator of a body: a 128-bit hash of its bytes, quoted.
pub fn etag_of(body: &[u8]) -> HeaderValue {
    // `"` + 32 hex digits + `"`, written without `format!` (its machinery cost ~1,500 instructions
    // per answer, counted with callgrind).
    let mut tag = [b'"'; 34];
    let hash = xxhash_rust::xxh3::xxh3_128(body).to_be_bytes();
    if hex::encode_to_slice(hash, &mut tag[1..33]).is_err() {
        return HeaderValue::from_static("\"\"");
    }
    // Quotes and hex digits only: always a valid header value.
    HeaderValue::from_bytes(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

impl IfNoneMatch {
    /// Whether the client's copy is the one tagged `etag`. `If-None-Match` compares weakly (RFC
    /// 9110 §13.1.2): `W/"x"` matches `"x"`, as does `"x-gzip"` (the tag a compressed copy
    /// carried), and `*` matches anything.
    pub fn matches(&self, etag: &HeaderValue) -> bool {
        let (Some(given), Ok(etag)) = (self.0.as_ref().and_then(|v| v.to_str().ok()), etag.to_str()) else {
            return false;
        };
        let etag = opaque(etag);
        given.split(',').map(str::trim).any(|candidate| {
            candidate == "*" || {
                let candidate = opaque(candidate.strip_prefix("W/").unwrap_or(candidate));
                candidate == etag
                    || Encoded::ALL
                        .iter()
                        .any(|e| candidate.strip_suffix(e.suffix()) == Some(etag))
            }
        })
    }
}

/// The tag between its quotes.
fn opaque(tag: &str) -> &str {
    tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(tag)
}

/// A JSON body with its `ETag`; 304 (no body) when the client already has it.
pub fn json_with_etag(if_none_match: &IfNoneMatch, body: impl Into<Body> + AsRef<[u8]>) -> Response {
    let etag = etag_of(body.as_ref());
    tagged_json(if_none_match, body, etag)
}

/// A JSON body whose `ETag` is already known (kept with it); 304 when the client has it.
pub fn tagged_json(if_none_match: &IfNoneMatch, body: impl Into<Body>, etag: HeaderValue) -> Response {
    if if_none_match.matches(&etag) {
        return not_modified(etag);
    }
    json_response(body, etag)
}

/// 304: the client's copy (tagged `etag`) is current.
fn not_modified(etag: HeaderValue) -> Response {
    (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response()
}

/// 200 with a JSON body and its `ETag`.
fn json_response(body: impl Into<Body>, etag: HeaderValue) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::ETAG, etag);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(value: &str) -> IfNoneMatch {
        IfNoneMatch(Some(HeaderValue::from_str(value).expect("header")))
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let etag = etag_of(b"{}");
        let tag = etag.to_str().expect("ascii").to_owned();
        assert!(given(&tag).matches(&etag));
        assert!(given(&format!("W/{tag}")).matches(&etag));
        assert!(given(&format!("\"other\", {tag}")).matches(&etag));
        assert!(given("*").matches(&etag));
        assert!(given(&format!("{}-gzip\"", &tag[..tag.len() - 1])).matches(&etag));
        assert!(!given("\"other\"").matches(&etag));
        assert!(!IfNoneMatch(None).matches(&etag));
        assert_ne!(etag_of(b"{}"), etag_of(b"{ }"));
        assert_eq!(
            etag_of(b"{}").to_str().ok(),
            Some(format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(b"{}")).as_str())
        );
    }
}
