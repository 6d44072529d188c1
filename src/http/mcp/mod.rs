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
use axum::http::{HeaderValue, StatusCode, header};
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
    request_body(content = Object, content_type = "application/json",
        description = "One JSON-RPC 2.0 message of the Model Context Protocol. Send `Accept: application/json, text/event-stream` (the transport's rule) and, after `initialize`, the `MCP-Protocol-Version` header the client negotiated.",
        example = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "get_stats", "arguments": {"bucket": "month"}}})),
    params(("MCP-Protocol-Version" = Option<String>, Header, description = "The protocol version negotiated at `initialize` (e.g. `2025-06-18`)")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The JSON-RPC answer (a tool's failure is a result with `isError: true` carrying the API's error body)", content_type = "application/json", body = Object,
            example = json!({"jsonrpc": "2.0", "id": 2, "result": {"content": [{"type": "text", "text": "{\"status\":\"error\",\"message\":\"from must be a date in YYYY-MM-DD format, from 0001-01-01 to 9999-12-31\",\"details\":[…]}"}], "structuredContent": {"status": "error", "message": "from must be a date in YYYY-MM-DD format, from 0001-01-01 to 9999-12-31"}, "isError": true}})),
        (status = 202, description = "A notification or response accepted (no body)"),
        (status = 400, description = "Not a JSON-RPC message, or a protocol header that does not match it", body = ErrorBody,
            example = json!({"status": "error", "message": "Bad Request: Unsupported MCP-Protocol-Version: 1999-01-01"})),
        (status = 401, description = "No token, or an invalid, expired or revoked one (with `WWW-Authenticate: Bearer`)", body = ErrorBody,
            example = json!({"status": "error", "message": "No token provided"})),
        (status = 406, description = "`Accept` lacks `application/json` or `text/event-stream`", body = ErrorBody,
            example = json!({"status": "error", "message": "Not Acceptable: Client must accept both application/json and text/event-stream"})),
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
    request.extensions_mut().insert(ToolContext { state, caller });
    let response = match service.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    in_envelope(response).await
}

/// The SDK answers a request it refuses before JSON-RPC (wrong `Accept`, `Content-Type`, body) in
/// plain text; the API's clients read errors in the JSON envelope, so the same status and words
/// are put in it.
async fn in_envelope(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let text = to_bytes(response.into_body(), SDK_ERROR_BYTES)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&text);
    let message = if message.trim().is_empty() {
        status.canonical_reason().unwrap_or("Request refused")
    } else {
        message.trim()
    };
    let mut response = error_body(status, message);
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}

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
