//! Extractors: the authenticated caller, JSON bodies with JSON errors, the client's IP.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use super::error::{ApiError, JSON_ONLY, too_many_requests};
use super::observe::RequestContext;
use super::scopes::{ACCOUNT_ONLY_MESSAGE, Rule, access_rule, lacks_scope};
use crate::auth::scopes::Access;
use crate::auth::{Caller, Client};
use crate::config::ClientAddress;
use crate::domain::validation::{FieldError, Problems};
use crate::state::AppState;

/// The caller, proven by a valid, unrevoked access token in `Authorization: Bearer …`: a login's
/// access token, or a personal access token whose scopes cover the route (`http::scopes`) and
/// whose rate limit is not spent.
pub struct AuthUser(pub Caller);

impl std::ops::Deref for AuthUser {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case, as RFC 7235
/// says), or `None`. The API's auth and the metrics token both read it here.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or(ApiError::Unauthorized("No token provided"))?;
        let caller = state.accounts.authenticate(token).await?;
        if let Some(context) = parts.extensions.get::<RequestContext>() {
            context.set_user(caller.id);
        }
        if let Access::Personal { scopes } = caller.access {
            let template = parts.extensions.get::<MatchedPath>().map(MatchedPath::as_str);
            match template.and_then(|template| access_rule(&parts.method, template)) {
                Some(Rule::Public | Rule::AuthAny) => {}
                Some(Rule::Needs(scope)) if scopes.contains(scope) => {}
                Some(Rule::Needs(scope)) => return Err(lacks_scope(scope)),
                // A route nobody decided is refused like an account route.
                Some(Rule::AccountOnly) | None => return Err(ApiError::Forbidden(ACCOUNT_ONLY_MESSAGE.into())),
            }
            if let Some(id) = caller.personal_token {
                let decision = state.token_limiter.hit(&id.to_string()).await;
                if !decision.allowed {
                    return Err(too_many_requests(
                        decision,
                        "Too many requests with this token, please try again later.",
                        true,
                    ));
                }
            }
        }
        Ok(Self(caller))
    }
}

/// A JSON body as a `serde_json::Value`, for the domain parsers to read. An empty body, or `null`,
/// counts as `{}` (what the old backend's body parser produced); anything else must be declared as
/// JSON (415) and parse (400); a body over the limit is 413.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let body = read_json(request, state).await?;
        Ok(Self(body.unwrap_or_else(|| Value::Object(Default::default()))))
    }
}

/// A JSON body that must be there: as [`JsonBody`], but an empty body or `null` is 400. For a route
/// where `{}` means something (`PUT /goals` clears every goal), so that a body lost on the way never
/// acts as `{}`.
pub struct RequiredJsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for RequiredJsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match read_json(request, state).await? {
            Some(body) => Ok(Self(body)),
            None => Err(ApiError::BadRequest("A JSON request body is required".into())),
        }
    }
}

/// The request's media type: `Content-Type` without its parameters, lower-cased.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// Whether the request declares a JSON body (`application/json` or an `application/…+json` type).
pub fn declares_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|media| {
        media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
    })
}

/// The whole body, within the route's body limit (413 past it).
pub async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection: BytesRejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("Could not read the request body".into())
            }
        })
}

/// The body as JSON; `None` for an empty body or `null`.
async fn read_json<S: Send + Sync>(request: Request, state: &S) -> Result<Option<Value>, ApiError> {
    let declared_json = declares_json(request.headers());
    let bytes = body_bytes(request, state).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !declared_json {
        return Err(ApiError::UnsupportedMediaType(JSON_ONLY));
    }
    match serde_json::from_slice(&bytes) {
        Ok(Value::Null) => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(e) => Err(ApiError::BadRequest(
            format!("Malformed JSON in request body: {e}").into(),
        )),
    }
}

/// The client's IP: the socket peer, or behind trusted proxies (`TRUST_PROXY=true`) the
/// `X-Forwarded-For` entry the outermost of them appended (`TRUSTED_PROXY_HOPS` from the right). The
/// entries to its left are the client's own words: reading them would let a client pick its address,
/// and escape every per-address limit by changing it.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let ClientAddress::ForwardedFor { hops } = state.settings.client_address
            && let Some(ip) = forwarded_client(&parts.headers, hops)
        {
            return Ok(Self(ip));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(Self(peer.unwrap_or(IpAddr::from([0, 0, 0, 0]))))
    }
}

/// The `X-Forwarded-For` entry `hops` places from the right, every header line read in order as one
/// list (empty entries skipped). `None` when there are fewer entries, or that one is no address: the
/// request did not come through every trusted proxy, so the caller falls back to the connection's
/// peer rather than to anything further left, which the client wrote.
fn forwarded_client(headers: &HeaderMap, hops: usize) -> Option<IpAddr> {
    let lines: Vec<&[u8]> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    // Bytes, not `to_str`: a client's non-ASCII entry must not hide the proxies' entries after it.
    let entry = lines
        .iter()
        .rev()
        .flat_map(|line| line.rsplit(|b| *b == b','))
        .map(|entry| entry.trim_ascii())
        .filter(|entry| !entry.is_empty())
        .nth(hops.checked_sub(1)?)?;
    parse_forwarded_address(std::str::from_utf8(entry).ok()?)
}

/// An address as proxies write it: `203.0.113.7`, `2001:db8::1`, or with a port (`203.0.113.7:5000`,
/// `[2001:db8::1]:5000`) or brackets (`[2001:db8::1]`).
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// Who is asking: the client's IP (see [`ClientIp`]) and its `User-Agent` (at most 256 characters,
/// control characters dropped), as the account rules take them.
pub struct ClientInfo(pub Client);

/// User agents longer than this are cut (what the session list shows; the rest is noise).
const USER_AGENT_CHARS: usize = 256;

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .map(|agent| {
                agent
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(USER_AGENT_CHARS)
                    .collect::<String>()
            })
            .filter(|agent| !agent.trim().is_empty());
        Ok(Self(Client { ip, user_agent }))
    }
}

/// Query parameters. A parameter given twice (`?limit=5&limit=6`) is a validation error naming it,
/// like every other bad input, not the deserializer's own words.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let mut values: Vec<(String, Vec<String>)> = Vec::new();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match values.iter_mut().find(|(known, _)| *known == name) {
                Some((_, given)) => given.push(value.into_owned()),
                None => values.push((name.into_owned(), vec![value.into_owned()])),
            }
        }
        let mut problems = Problems::new();
        for (name, given) in values.iter().filter(|(_, given)| given.len() > 1) {
            problems.add(
                name.as_str(),
                format!("{name} may be given only once"),
                Some(&serde_json::Value::from(given.clone())),
            );
        }
        if !problems.is_empty() {
            return Err(ApiError::Validation(problems.into_vec()));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection| {
                ApiError::Validation(vec![FieldError {
                    path: String::new(),
                    msg: format!("Invalid query string: {}", rejection.body_text()),
                    value: None,
                }])
            })
    }
}

/// One path parameter as text; a path that does not decode is a JSON 400.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|_| ApiError::BadRequest("Invalid path parameter".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::{HeaderMap, forwarded_client};
    use axum::http::HeaderValue;
    use std::net::IpAddr;

    fn forwarded(lines: &[&[u8]], hops: usize) -> Option<IpAddr> {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", HeaderValue::from_bytes(line).expect("header value"));
        }
        forwarded_client(&headers, hops)
    }

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn one_proxy_names_the_client_in_the_rightmost_entry() {
        assert_eq!(forwarded(&[b"203.0.113.7"], 1), ip("203.0.113.7"));
        // Whatever the client wrote stands to the left of what the proxy appended.
        assert_eq!(forwarded(&[b"1.1.1.1, 10.0.0.1 ,203.0.113.7"], 1), ip("203.0.113.7"));
        assert_eq!(forwarded(&[b"1.1.1.1", b"203.0.113.7"], 1), ip("203.0.113.7"));
        assert_eq!(forwarded(&[b"1.1.1.1,, 203.0.113.7 ,"], 1), ip("203.0.113.7"));
        // A client's bytes that are no text do not hide the proxy's entry.
        assert_eq!(forwarded(&[b"\xff\xfe, 203.0.113.7"], 1), ip("203.0.113.7"));
    }

    #[test]
    fn two_proxies_name_the_client_in_the_second_entry_from_the_right() {
        assert_eq!(forwarded(&[b"1.1.1.1, 203.0.113.7, 10.0.0.2"], 2), ip("203.0.113.7"));
        assert_eq!(forwarded(&[b"203.0.113.7, 10.0.0.2"], 2), ip("203.0.113.7"));
        assert_eq!(forwarded(&[b"1.1.1.1, 203.0.113.7", b"10.0.0.2"], 2), ip("203.0.113.7"));
    }

    #[test]
    fn addresses_are_read_as_proxies_write_them() {
        assert_eq!(forwarded(&[b"2001:db8::1"], 1), ip("2001:db8::1"));
        assert_eq!(forwarded(&[b"[2001:db8::1]"], 1), ip("2001:db8::1"));
        assert_eq!(forwarded(&[b"[2001:db8::1]:4711"], 1), ip("2001:db8::1"));
        assert_eq!(forwarded(&[b"203.0.113.7:4711"], 1), ip("203.0.113.7"));
    }

    #[test]
    fn too_few_entries_or_no_address_fall_back_to_the_peer() {
        assert_eq!(forwarded(&[], 1), None);
        assert_eq!(forwarded(&[b""], 1), None);
        // Fewer entries than proxies: the request skipped one; the entry further left is never used.
        assert_eq!(forwarded(&[b"203.0.113.7"], 2), None);
        assert_eq!(forwarded(&[b"1.1.1.1, unknown"], 1), None);
        assert_eq!(forwarded(&[b"1.1.1.1, 203.0.113.7"], 0), None);
    }
}
