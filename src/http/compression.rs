//! Compression of JSON and text answers when the client asks for it (br, gzip, zstd; `q` values
//! honoured), applied to every answer by `observe`: the encoder streams the body, so a large export
//! is never held compressed in memory. A compressed answer's `ETag` gets the encoding's suffix (it is
//! another representation of the same body, `conditional`).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::TryStreamExt;

/// The encodings answers are compressed with, and the suffix each gives an `ETag` (a compressed
/// body is another representation, so its strong validator must differ from the plain one's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoded {
    Brotli,
    Gzip,
    Zstd,
}

impl Encoded {
    /// In the order preferred when the client likes several as much: brotli and gzip cost about
    /// the same CPU at level 1 and brotli's answer is smaller; zstd sets up a larger context per
    /// answer (BENCHMARKS.md).
    pub(super) const ALL: [Encoded; 3] = [Encoded::Brotli, Encoded::Gzip, Encoded::Zstd];

    fn name(self) -> &'static str {
        match self {
            Encoded::Gzip => "gzip",
            Encoded::Brotli => "br",
            Encoded::Zstd => "zstd",
        }
    }

    pub(super) fn suffix(self) -> &'static str {
        match self {
            Encoded::Gzip => "-gzip",
            Encoded::Brotli => "-br",
            Encoded::Zstd => "-zstd",
        }
    }
}

/// The encoding the client accepts best (`Accept-Encoding`, q-values and `*` as RFC 9110 §12.5.3
/// has them), or `None` to send the body as it is. A client that refuses everything, `identity`
/// included, still gets the plain body: the handler has run, and a 406 would report a write that
/// succeeded as a failure.
pub fn preferred_encoding(headers: &HeaderMap) -> Option<Encoded> {
    let value = headers.get(header::ACCEPT_ENCODING)?.to_str().ok()?;
    // Per encoding: the q-value it was given by name, else what `*` gave (thousandths).
    let (mut named, mut wildcard) = ([None::<u16>; 3], None::<u16>);
    for part in value.split(',') {
        let mut pieces = part.split(';');
        let coding = pieces.next().unwrap_or_default().trim();
        let Some(q) = pieces
            .find_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .map_or(Some(1000), parse_q)
        else {
            continue;
        };
        if coding == "*" {
            wildcard = Some(q);
        } else if let Some(at) = Encoded::ALL.iter().position(|e| {
            coding.eq_ignore_ascii_case(e.name()) || (*e == Encoded::Gzip && coding.eq_ignore_ascii_case("x-gzip"))
        }) {
            named[at] = Some(q);
        }
    }
    Encoded::ALL
        .iter()
        .zip(named)
        .filter_map(|(encoding, q)| Some((*encoding, q.or(wildcard)?)))
        .filter(|(_, q)| *q > 0)
        // `max_by_key` keeps the last of equals: reversed, so the first preferred wins ties.
        .rev()
        .max_by_key(|(_, q)| *q)
        .map(|(encoding, _)| encoding)
}

/// A q-value in thousandths: `0` to `1`, at most three decimals.
fn parse_q(q: &str) -> Option<u16> {
    let q = q.trim();
    let (whole, fraction) = q.split_once('.').unwrap_or((q, ""));
    if !matches!(whole, "0" | "1") || fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    let q = if whole == "1" { 1000 + thousandths } else { thousandths };
    (q <= 1000).then_some(q)
}

/// Whether an answer is worth compressing: text and JSON (not an event stream, which must reach
/// the client as it is written), not already encoded or a range, not known to be tiny.
fn compressible(response: &Response) -> bool {
    let headers = response.headers();
    let textual = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|mime| {
            let mime = mime.split(';').next().unwrap_or_default().trim();
            (mime.starts_with("text/") && mime != "text/event-stream")
                || mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
                || mime == "application/javascript"
                || mime == "image/svg+xml"
        });
    let tiny = axum::body::HttpBody::size_hint(response.body())
        .exact()
        .is_some_and(|size| size < MIN_COMPRESSED_SIZE);
    textual
        && !tiny
        && !headers.contains_key(header::CONTENT_ENCODING)
        && !headers.contains_key(header::CONTENT_RANGE)
        && !matches!(response.status(), StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED)
}

/// Below this a compressed body is no smaller.
const MIN_COMPRESSED_SIZE: u64 = 32;

/// Level 1 of each encoder: JSON this repetitive shrinks ~90% even so, and the defaults (brotli's
/// is 11, its slowest) cost several times the CPU per answer for a few percent more (BENCHMARKS.md).
const LEVEL: async_compression::Level = async_compression::Level::Precise(1);

/// Compresses `response` for `encoding` when it is worth it ([`compressible`]), streaming (an
/// export is compressed as it is written): `Content-Encoding` set, `Content-Length` dropped, a
/// strong `ETag` suffixed. Every compressible answer says `Vary: Accept-Encoding`.
pub fn compress(response: Response, encoding: Option<Encoded>) -> Response {
    if !compressible(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let Some(encoding) = encoding else {
        return Response::from_parts(parts, body);
    };
    let input = tokio_util::io::StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    let body = match encoding {
        Encoded::Gzip => encoded_body(async_compression::tokio::bufread::GzipEncoder::with_quality(
            input, LEVEL,
        )),
        Encoded::Brotli => encoded_body(async_compression::tokio::bufread::BrotliEncoder::with_quality(
            input, LEVEL,
        )),
        Encoded::Zstd => encoded_body(async_compression::tokio::bufread::ZstdEncoder::with_quality(
            input, LEVEL,
        )),
    };
    let headers = &mut parts.headers;
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding.name()));
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::ACCEPT_RANGES);
    if let Some(tag) = headers.get(header::ETAG).and_then(|v| v.to_str().ok())
        && let Some(inner) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
        && let Ok(value) = HeaderValue::from_str(&format!("\"{inner}{}\"", encoding.suffix()))
    {
        headers.insert(header::ETAG, value);
    }
    Response::from_parts(parts, body)
}

fn encoded_body(encoder: impl tokio::io::AsyncRead + Send + 'static) -> Body {
    Body::from_stream(tokio_util::io::ReaderStream::with_capacity(encoder, 16 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_accepted_encoding_is_chosen() {
        let preferred = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).expect("header"));
            preferred_encoding(&headers)
        };
        assert_eq!(preferred("gzip"), Some(Encoded::Gzip));
        assert_eq!(preferred("gzip, deflate, br, zstd"), Some(Encoded::Brotli));
        assert_eq!(preferred("gzip;q=1.0, br;q=0.5"), Some(Encoded::Gzip));
        assert_eq!(preferred("zstd, gzip;q=0.9"), Some(Encoded::Zstd));
        assert_eq!(preferred("*"), Some(Encoded::Brotli));
        assert_eq!(preferred("br;q=0, *;q=0.1"), Some(Encoded::Gzip));
        assert_eq!(preferred("X-GZIP"), Some(Encoded::Gzip));
        // Nothing we write, refusals, and broken q-values: the body goes out as it is.
        for plain in [
            "identity",
            "deflate",
            "gzip;q=0",
            "identity;q=0",
            "*;q=0",
            "gzip;q=2",
            "gzip;q=0.5555",
            "",
            "gzip;q=x",
        ] {
            assert_eq!(preferred(plain), None, "{plain}");
        }
        assert_eq!(HeaderMap::new().get(header::ACCEPT_ENCODING), None);
    }
}
