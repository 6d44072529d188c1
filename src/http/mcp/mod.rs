//! `POST /mcp`: the Model Context Protocol's Streamable HTTP transport, stateless, through the
//! official Rust SDK (`rmcp`). The route authenticates the caller as every other route does (401 in
//! the JSON envelope before any MCP is read), hands the caller to the SDK's service in the request's
//! extensions, and the tools (`tools`) read it back from the `http::request::Parts` the SDK puts in
//! each request's context. No session: any instance answers any request.

mod tools;

use std::sync::Arc;

use axum::Extension;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;
use tower::ServiceExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::ErrorBody;
use super::error::{ApiError, error_body};
use super::extract::AuthUser;
use super::openapi::McpMessage;
use crate::auth::Caller;
use crate::state::AppState;
pub use tools::ToolName;

/// The SDK's service, stateless and answering plain JSON (it falls back to an event stream only
/// if a tool sent a notification first, which none does).
type McpService = StreamableHttpService<Tools, NeverSessionManager>;

/// An error body the SDK writes as text, or an answer to a malformed call, is at most this long.
const SDK_ERROR_BYTES: usize = 64 * 1024;

pub fn routes(state: &AppState) -> OpenApiRouter<AppState> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        // Every call carries a bearer token (no cookie), so a page on a rebound host name has
        // nothing to send: the Host check guards unauthenticated local servers, not this one, which
        // answers under whatever name the operator serves it.
        .disable_allowed_hosts()
        .with_max_request_body_bytes(state.settings.body_limit);
    let service: McpService =
        StreamableHttpService::new(|| Ok(Tools), Arc::new(NeverSessionManager::default()), config);
    OpenApiRouter::new().routes(routes!(mcp)).layer(Extension(service))
}

/// What a tool needs: the caller and the application. Put in the request's extensions by [`mcp`].
#[derive(Clone)]
struct ToolContext {
    state: AppState,
    caller: Caller,
}

/// The Model Context Protocol (Streamable HTTP, stateless): one JSON-RPC message per request —
/// `initialize`, `tools/list`, `tools/call`, `ping`, notifications — answered with one JSON-RPC
/// message (`application/json`). The tools are those the token's scopes allow (a login's token
/// has all): `get_entries`, `get_day`, `get_stats` (`entries:read`), `get_goals` (`goals:read`),
/// `get_profile` (any token), `log_day`, `update_day` (`entries:write`). A tool's failure is a
/// tool result with `isError: true` and the API's error body (its `message`, and `details` for a
/// validation failure). `GET /mcp` is 405: this server opens no event stream.
#[utoipa::path(
    post, path = "/mcp", tag = "mcp",
    request_body(content = McpMessage, content_type = "application/json",
        description = "One JSON-RPC 2.0 message of the Model Context Protocol. After `initialize`, send the `MCP-Protocol-Version` header the client negotiated. The transport's `Accept: application/json, text/event-stream` is welcome but not needed: the answer is always JSON.",
        example = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "get_stats", "arguments": {"bucket": "month"}}})),
    params(("MCP-Protocol-Version" = Option<String>, Header, description = "The protocol version negotiated at `initialize` (e.g. `2025-06-18`)")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The JSON-RPC answer (a tool's failure is a result with `isError: true` carrying the API's error body)", content_type = "application/json", body = Object,
            example = json!({"jsonrpc": "2.0", "id": 2, "result": {"content": [{"type": "text", "text": "{\"status\":\"error\",\"message\":\"from must be a date in YYYY-MM-DD format, from 0001-01-01 to 9999-12-31\",\"details\":[…]}"}], "structuredContent": {"status": "error", "message": "from must be a date in YYYY-MM-DD format, from 0001-01-01 to 9999-12-31"}, "isError": true}})),
        (status = 202, description = "A notification or response accepted (no body)"),
        (status = 400, description = "Not a JSON-RPC message, or a protocol header that does not match it (a JSON-RPC error keeps its `jsonrpc`, `id` and `error` beside the envelope's fields)", body = ErrorBody,
            example = json!({"status": "error", "message": "Bad Request: Unsupported MCP-Protocol-Version: 1999-01-01"})),
        (status = 401, description = "No token, or an invalid, expired or revoked one (with `WWW-Authenticate: Bearer`)", body = ErrorBody,
            example = json!({"status": "error", "message": "No token provided"})),
        (status = 404, description = "A method the server does not have, asked in the `2026-07-28` protocol (older versions answer a JSON-RPC error with 200); the JSON-RPC error beside the envelope's fields", body = ErrorBody,
            example = json!({"status": "error", "message": "Method not found", "jsonrpc": "2.0", "id": 3, "error": {"code": -32601, "message": "Method not found"}})),
        (status = 406, description = "`Accept` names neither JSON nor anything that includes it", body = ErrorBody,
            example = json!({"status": "error", "message": "Not Acceptable: Client must accept both application/json and text/event-stream"})),
        (status = 413, description = "The message is larger than `BODY_LIMIT`", body = ErrorBody,
            example = json!({"status": "error", "message": "Payload Too Large: request body exceeds 10485760 bytes"})),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody,
            example = json!({"status": "error", "message": "Unsupported Media Type: Content-Type must be application/json"})),
    )
)]
async fn mcp(
    State(state): State<AppState>,
    Extension(service): Extension<McpService>,
    caller: Result<AuthUser, ApiError>,
    mut request: Request,
) -> Response {
    let caller = match caller {
        Ok(AuthUser(caller)) => caller,
        Err(error) => {
            // RFC 6750: a 401 names the scheme; MCP clients read it to tell "log in" from a failure.
            let mut response = error.into_response();
            if response.status() == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"HealthTracker\""),
                );
            }
            return response;
        }
    };
    accept_json_by_default(request.headers_mut());
    request.extensions_mut().insert(ToolContext { state, caller });
    let response = match service.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    in_envelope(response).await
}

/// The transport asks clients to accept both JSON and an event stream; this server only ever
/// answers JSON, so a client that accepts JSON (or anything, or says nothing, as curl does) is
/// served rather than refused with 406.
fn accept_json_by_default(headers: &mut HeaderMap) {
    let accepts_json = headers.get_all(header::ACCEPT).iter().all(|value| {
        value.to_str().is_ok_and(|value| {
            value.split(',').any(|range| {
                let essence = range.split(';').next().unwrap_or_default().trim();
                ["*/*", "application/*", "application/json"]
                    .iter()
                    .any(|accepted| essence.eq_ignore_ascii_case(accepted))
            })
        })
    });
    if accepts_json {
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
    }
}

/// The SDK refuses some requests before JSON-RPC (`Accept`, `Content-Type`, a body that is no
/// JSON-RPC message) in plain text, and others with a JSON-RPC error and a 4xx; the API's clients
/// read every error in the JSON envelope, so the same status and words are put in it (a JSON-RPC
/// error keeps its fields beside the envelope's, for MCP clients).
async fn in_envelope(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let bytes = to_bytes(response.into_body(), SDK_ERROR_BYTES)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let mut response = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut body)) => {
            let message = body
                .get("error")
                .and_then(|error| error.get("message"))
                .and_then(Value::as_str)
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("Request refused"))
                .to_owned();
            body.entry("status").or_insert_with(|| Value::from("error"));
            body.entry("message").or_insert_with(|| Value::from(message));
            (status, axum::Json(Value::Object(body))).into_response()
        }
        // A body that is no JSON-RPC message is a bad request, not a media type the server lacks.
        _ if status == StatusCode::UNSUPPORTED_MEDIA_TYPE && text.starts_with(NOT_A_MESSAGE) => {
            let reason = text.trim_start_matches(NOT_A_MESSAGE).trim();
            error_body(StatusCode::BAD_REQUEST, &format!("Not a JSON-RPC message: {reason}"))
        }
        _ => {
            let message = match text.trim() {
                "" => status.canonical_reason().unwrap_or("Request refused"),
                message => message,
            };
            error_body(status, message)
        }
    };
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}

/// How the SDK begins the 415 it answers to a body that does not parse as a JSON-RPC message.
const NOT_A_MESSAGE: &str = "fail to deserialize request body";

/// The MCP server: stateless; each request's caller comes with the request.
#[derive(Clone, Copy)]
struct Tools;

impl Tools {
    fn context(context: &RequestContext<RoleServer>) -> Result<&ToolContext, ErrorData> {
        context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<ToolContext>())
            .ok_or_else(|| ErrorData::internal_error("The request carries no caller", None))
    }
}

impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("healthtracker", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "HealthTracker: the user's daily health log (steps, sleep, calories, heart rate, weight, \
                 blood pressure, water, mood, meals, symptoms, workouts, notes), their trends and goals. \
                 Days are YYYY-MM-DD in the user's time zone (get_profile gives it and today's date).",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = &Self::context(&context)?.caller;
        let mut result = ListToolsResult::with_all_items(tools::listed(caller.access));
        // The list depends on the token's scopes.
        result.cache_scope = Some(CacheScope::Private);
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let ToolContext { state, caller } = Self::context(&context)?;
        let Some(tool) = ToolName::parse(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("Unknown tool: {}", request.name),
                None,
            ));
        };
        let arguments = request.arguments.unwrap_or_default();
        let result = match tools::call(state, caller, tool, arguments).await {
            Ok(body) => CallToolResult::structured(body),
            Err(error) => tool_error(error).await,
        };
        Ok(result.into())
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::describe(name)
    }
}

/// A tool's failure as the API would answer it: its JSON error body (message, `details`, an
/// `errorId` for a server failure, logged as a route's would be), with the HTTP status it would have.
async fn tool_error(error: ApiError) -> CallToolResult {
    let response = error.into_response();
    let status = response.status();
    let body = to_bytes(response.into_body(), SDK_ERROR_BYTES)
        .await
        .unwrap_or_default();
    let mut body: Value = serde_json::from_slice(&body).unwrap_or_else(
        |_| serde_json::json!({ "status": "error", "message": status.canonical_reason().unwrap_or("Error") }),
    );
    if let Value::Object(fields) = &mut body {
        fields.insert("httpStatus".into(), Value::from(status.as_u16()));
    }
    CallToolResult::structured_error(body)
}
