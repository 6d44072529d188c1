//! The OpenAPI 3.1 document, generated from the code: every operation comes from the
//! `#[utoipa::path]` on its handler (and `utoipa_axum::routes!` registers the route from that same
//! annotation, so a route cannot exist without its documentation); response bodies are the
//! `ToSchema` types the handlers serialize; request bodies are built below from the domain's field
//! rules (`domain::entry::rules`, `domain::user::rules`, `domain::coach`), the same values the
//! parsers enforce. Schemathesis checks in CI that the server accepts what this document allows and
//! refuses what it does not.

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::envelope::{ErrorBody, MessageResponse};
use super::error::JSON_ONLY;
use crate::domain::coach::CHAT_MESSAGE;
use crate::domain::user::rules as user;
use crate::domain::validation::{DecimalRule, IntegerRule, TextRule};

pub const BEARER: &str = "bearerAuth";
/// A personal access token (`htp_…`), accepted on the routes its scopes cover.
pub const PERSONAL_TOKEN: &str = "personalToken";

/// The bearer schemes: access tokens for the API, personal access tokens for the routes their
/// scopes cover, the metrics token for `/metrics`.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "metricsToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`METRICS_TOKEN`, when the server sets one"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from /auth/register, /auth/login or /auth/refresh",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            PERSONAL_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("htp_…")
                    .description(Some(
                        "A personal access token from POST /auth/tokens (`htp_…`): accepted on the routes \
                         its scopes cover (each such operation names the scope it needs); any other route \
                         answers 403",
                    ))
                    .build(),
            ),
        );
    }
}

const DESCRIPTION: &str = "\
Health tracking API: accounts, one entry per day, a dashboard, and an AI coach.

Every route is served twice: under `/api` (what the React frontend calls) and at the root (what the \
old Node backend mounted) — pick a server above. Errors are JSON: `{status: \"error\", message, \
details?, errorId?}`. Numbers may be sent as JSON numbers or digit strings (`\"2000\"`); an optional \
field sent as `\"\"` or `null` counts as absent; free text is stripped of HTML (entities decoded and \
tags stripped until nothing changes, however often the markup was escaped) and trimmed before its \
length is checked. Any route may also answer 431 (request headers over 16 KB, before any route runs) \
and 503 `Request timed out` (not answered within the server's request timeout, 60 s by default). \
Answers are sent with `Cache-Control: no-store`.";

#[derive(OpenApi)]
#[openapi(
    info(title = "HealthTracker API", description = DESCRIPTION, license(name = "MIT")),
    servers(
        (url = "/api", description = "Mounted under /api (the React frontend)"),
        (url = "/", description = "Mounted at the root (the old backend's paths)")
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Registration, login and tokens"),
        (name = "account", description = "The caller's account: profile, password, logins, deletion"),
        (name = "data", description = "The caller's data as a file: export and import"),
        (name = "entries", description = "Daily entries, one per user per UTC day"),
        (name = "goals", description = "The caller's goals: the range a day's value should be in"),
        (name = "ai", description = "The AI coach: chat and weekly report, answered inline or queued"),
        (name = "mcp", description = "The Model Context Protocol endpoint for AI assistants (Streamable HTTP, stateless): the caller's entries, trends, goals and profile as tools, within the token's scopes"),
        (name = "health", description = "Probes"),
        (name = "meta", description = "This documentation and the metrics"),
        (name = "app", description = "The web app for people, served by this server: [open it](/app/)")
    ),
    components(schemas(ErrorBody, MessageResponse, crate::domain::stats::Metric, crate::domain::entry::MoodCounts,
        crate::domain::entry::FoodItem))
)]
pub struct ApiDoc;

/// Request bodies, named in the document by these types and described by [`request_schemas`].
macro_rules! request_schema {
    ($($name:ident),* $(,)?) => {
        $(
            pub struct $name;

            impl PartialSchema for $name {
                fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                    // Replaced in `document` by the rule-derived schema of the same name.
                    utoipa::openapi::schema::Object::new().into()
                }
            }

            impl ToSchema for $name {}
        )*
    };
}

request_schema!(
    RegisterRequest,
    LoginRequest,
    RefreshRequest,
    LogoutRequest,
    ProfileUpdate,
    ChangePasswordRequest,
    DeleteAccountRequest,
    ImportDocument,
    EntryInput,
    EntryUpdate,
    GoalsInput,
    McpMessage,
    ChatRequest,
    WeeklyReportRequest,
    PersonalTokenRequest
);

/// What an optional field may also be: `""` (an empty form input) or `null`, both meaning "absent".
mod entry_fields;

fn optional(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "string", "enum": [""] }, { "type": "null" }] })
}

fn integer(rule: IntegerRule, example: impl Into<Value>) -> Value {
    let example = example.into();
    json!({
        "description": format!("{}: an integer {}–{}, or the same as a digit string", rule.label, rule.min, rule.max),
        "anyOf": [
            { "type": "integer", "minimum": rule.min, "maximum": rule.max },
            { "type": "string", "pattern": rule.string_pattern() }
        ],
        "examples": [example]
    })
}

fn decimal(rule: DecimalRule, example: impl Into<Value>) -> Value {
    let example = example.into();
    json!({
        "description": format!("{}: a number {}–{}, or the same as a decimal string", rule.label, rule.min, rule.max),
        "anyOf": [
            { "type": "number", "minimum": rule.min, "maximum": rule.max },
            { "type": "string", "pattern": rule.string_pattern() }
        ],
        "examples": [example]
    })
}

fn text(rule: TextRule, example: impl Into<Value>) -> Value {
    let example = example.into();
    let mut schema = json!({
        "type": "string",
        "maxLength": rule.max,
        "description": format!(
            "{}: HTML is stripped and the text trimmed, then {}–{} characters must remain",
            rule.label, rule.min, rule.max
        ),
        "examples": [example]
    });
    if let Some(pattern) = rule.pattern() {
        schema["minLength"] = json!(rule.min);
        schema["pattern"] = json!(pattern);
    }
    schema
}

fn day() -> Value {
    json!({
        "description": "A calendar day from 0001-01-01 to 9999-12-31: YYYY-MM-DD, or an RFC 3339 timestamp — the day it falls on in the caller's time zone, except that exactly UTC midnight written with `Z` or `+00:00` (the form entries are returned in) is that day itself. A timestamp whose day, so placed, is outside those years is refused (400)",
        "anyOf": [{ "type": "string", "format": "date" }, { "type": "string", "format": "date-time" }],
        "examples": ["2026-11-28"]
    })
}

fn enumeration<T: Serialize>(values: &[T], example: impl Into<Value>) -> Value {
    let example = example.into();
    json!({ "type": "string", "enum": values, "examples": [example] })
}

fn object(required: &[&str], properties: serde_json::Map<String, Value>, description: &str) -> Value {
    json!({ "type": "object", "description": description, "required": required, "properties": properties })
}

/// The properties of a `json!({...})` literal.
fn properties(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// The step-up fields of a request that needs the second factor when two-factor login is on.
fn step_up_code() -> Value {
    json!({ "type": "string", "pattern": "^[0-9]{6}$", "writeOnly": true, "examples": ["123456"],
        "description": "With two-factor login on: the current code from the authenticator app" })
}

fn step_up_recovery_code() -> Value {
    json!({ "type": "string", "writeOnly": true, "examples": ["abcde-fghjk"],
        "description": "With two-factor login on, instead of `code`: an unused recovery code (each works once)" })
}

/// `POST /auth/tokens`, from the rules `NewPersonalToken::parse` applies.
fn personal_token_request() -> Value {
    use crate::auth::personal::{DEFAULT_EXPIRES_IN_DAYS, EXPIRES_IN_DAYS, NAME};
    use crate::auth::scopes::Scope;
    let scopes: Vec<&str> = Scope::ALL.iter().map(|scope| scope.as_str()).collect();
    let mut expires = integer(EXPIRES_IN_DAYS, 30);
    expires["default"] = json!(DEFAULT_EXPIRES_IN_DAYS);
    object(
        &["name", "scopes"],
        properties(json!({
            "name": text(NAME, "Phone shortcut"),
            "scopes": {
                "type": "array", "minItems": 1, "uniqueItems": false,
                "items": { "type": "string", "enum": scopes },
                "description": "What the token may do; a route outside them answers 403",
                "examples": [["entries:read", "entries:write"]]
            },
            "expiresInDays": optional(expires),
            // Blank or null counts as absent, as a form sends it.
            "code": optional(step_up_code()),
            "recoveryCode": optional(step_up_recovery_code()),
        })),
        "A new personal access token",
    )
}

/// An entry body's properties from the field table (`date` required or not), without the
/// deprecated aliases: what the MCP tools that write a day take.
pub fn entry_tool_properties(date_required: bool) -> serde_json::Map<String, Value> {
    let mut properties = entry_fields::entry_properties(date_required);
    for alias in crate::domain::entry::rules::FIELDS
        .iter()
        .filter(|field| field.alias_of.is_some())
    {
        properties.remove(alias.name);
    }
    properties
}

/// The request bodies, from the same rules the parsers apply.
pub fn request_schemas() -> Vec<(&'static str, Value)> {
    let email = json!({
        "type": "string", "format": "email", "maxLength": user::EMAIL_MAX_CHARS,
        "description": "Trimmed and lower-cased; unique case-insensitively", "examples": ["ada@example.com"]
    });
    let (min, max) = user::PASSWORD_CHARS;
    let new_password = json!({
        "type": "string", "minLength": min, "maxLength": max, "pattern": user::PASSWORD_PATTERN, "writeOnly": true,
        "description": format!(
            "A lower-case letter, an upper-case letter and a digit, or a passphrase of at least {} characters; \
             not trivially guessable (a zxcvbn score of 0, e.g. `Password1`, is refused)",
            user::PASSPHRASE_CHARS
        ),
        "examples": ["Secret123x"]
    });
    let refresh_token =
        json!({ "type": "string", "minLength": 1, "description": "A refresh token", "writeOnly": true });
    let current_password = json!({
        "type": "string", "minLength": 1, "maxLength": user::LOGIN_PASSWORD_MAX_BYTES / 4, "writeOnly": true,
        "examples": ["Secret123x"]
    });

    // The step-up of an account with two-factor login on (API.md "Two-factor login").
    let (code, recovery_code) = (step_up_code(), step_up_recovery_code());
    let create = entry_fields::entry_properties(true);
    let update = entry_fields::entry_properties(false);

    vec![
        (
            "RegisterRequest",
            object(
                &["name", "email", "password"],
                properties(
                    json!({ "name": text(user::NAME, "Ada Lovelace"), "email": email, "password": new_password,
                        "inviteCode": { "type": "string", "examples": ["3f9c2a1b0e8d7c6b5a49"],
                            "description": "Needed when the server runs with REGISTRATION=invite" } }),
                ),
                "A new account",
            ),
        ),
        (
            "LoginRequest",
            object(
                &["email", "password"],
                properties(json!({ "email": email, "password": current_password.clone() })),
                "Credentials",
            ),
        ),
        (
            "RefreshRequest",
            object(
                &["refreshToken"],
                properties(json!({ "refreshToken": refresh_token })),
                "A refresh token to exchange",
            ),
        ),
        (
            "LogoutRequest",
            object(
                &[],
                properties(json!({ "refreshToken": optional(refresh_token) })),
                "The refresh token to revoke; without one, all of the caller's refresh tokens are revoked",
            ),
        ),
        (
            "ProfileUpdate",
            object(
                &[],
                properties(json!({
                    "name": optional(text(user::NAME, "Ada Lovelace")),
                    "timezone": optional(json!({
                        "type": "string",
                        "description": "An IANA time zone name (also accepted in another case); fixed offsets such as GMT+4 are refused",
                        "enum": crate::domain::timezone::TimeZone::names().collect::<Vec<_>>(),
                        "examples": ["Asia/Kolkata"]
                    })),
                })),
                "The fields to change; nothing else is writable",
            ),
        ),
        (
            "ChangePasswordRequest",
            object(
                &["currentPassword", "newPassword"],
                properties(
                    json!({ "currentPassword": current_password.clone(), "newPassword": new_password.clone(),
                    "code": code.clone(), "recoveryCode": recovery_code.clone() }),
                ),
                "The current password and a new one (the registration rules apply)",
            ),
        ),
        (
            "DeleteAccountRequest",
            object(
                &["password"],
                properties(json!({ "password": current_password, "code": code, "recoveryCode": recovery_code })),
                "The account's password",
            ),
        ),
        (
            "ImportDocument",
            json!({
                "type": "object",
                "description": "An export document (`GET /export`) of this or another account. Each entry is checked by the rules of POST /entries; invalid ones are listed in `errors`, the rest imported. Ids, owners and timestamps in the file are ignored.",
                "required": ["format", "version", "entries"],
                "properties": {
                    "format": { "type": "string", "enum": [crate::domain::export::FORMAT] },
                    "version": { "type": "integer", "enum": [crate::domain::export::VERSION] },
                    "entries": {
                        "type": "array",
                        "maxItems": crate::domain::export::MAX_ENTRIES,
                        "description": "Entries as `GET /export` writes them (or the old backend's documents); each is checked by the rules of POST /entries, and one that fails is listed in the answer's `errors`, not refused",
                        "items": {}
                    }
                }
            }),
        ),
        (
            "EntryInput",
            object(&["date"], create, "A new entry; omitted fields take their defaults"),
        ),
        (
            "EntryUpdate",
            object(&[], update, "The fields to change; omitted fields keep their value"),
        ),
        (
            "McpMessage",
            json!({
                "type": "object",
                "description": "A JSON-RPC 2.0 message of the Model Context Protocol: a request (with `id`: `initialize`, `tools/list`, `tools/call`, `ping`) or a notification (no `id`: `notifications/initialized`)",
                "required": ["jsonrpc", "method"],
                "properties": {
                    "jsonrpc": { "type": "string", "enum": ["2.0"] },
                    "id": { "description": "Absent in a notification", "anyOf": [{ "type": "integer" }, { "type": "string" }] },
                    "method": { "type": "string", "examples": ["tools/call"] },
                    "params": { "type": "object", "description": "The method's parameters: for `tools/call`, `{name, arguments}`" }
                }
            }),
        ),
        (
            "ChatRequest",
            object(
                &["message"],
                properties(json!({ "message": text(CHAT_MESSAGE, "How can I sleep better?") })),
                "A question",
            ),
        ),
        (
            "WeeklyReportRequest",
            object(
                &[],
                serde_json::Map::new(),
                "No fields: the report covers the caller's last 7 days",
            ),
        ),
        ("PersonalTokenRequest", personal_token_request()),
    ]
}

/// The finished document: the operations collected from the router, this crate's metadata, the
/// rule-derived request schemas, and the error responses every route of a kind shares.
pub fn document(operations: utoipa::openapi::OpenApi) -> Value {
    let mut doc = ApiDoc::openapi();
    doc.merge(operations);
    #[allow(clippy::expect_used)]
    let mut doc = serde_json::to_value(&doc).expect("an OpenAPI document always serializes to JSON");
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        for (name, schema) in request_schemas()
            .into_iter()
            .chain(entry_fields::goal_schemas())
            .chain(entry_fields::response_schemas())
        {
            schemas.insert(name.to_owned(), schema);
        }
    }
    super::scopes::document_personal_tokens(&mut doc);
    add_shared_errors(&mut doc);
    doc
}

/// Errors that follow from what an operation is, stated once here instead of on every handler:
/// an operation behind `bearerAuth` can answer 401, one with a request body 413 and 415. Each gets
/// an example with its real message, as every error response does; a handler's own response for a
/// status (a refresh token's 401, say) is left as it is. Responses are listed by status.
fn add_shared_errors(doc: &mut Value) {
    let shared = |description: &str, message: &str| {
        json!({
            "description": description,
            "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/ErrorBody" },
                "example": { "status": "error", "message": message }
            }}
        })
    };
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let operations = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|operations| operations.values_mut())
        .filter_map(Value::as_object_mut);
    for operation in operations {
        let bearer = operation
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|schemes| schemes.iter().any(|scheme| scheme.get(BEARER).is_some()));
        let has_body = operation.contains_key("requestBody");
        let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        if bearer {
            responses.entry("401").or_insert_with(|| {
                shared(
                    "No token, or an invalid, expired or revoked one",
                    "Invalid or expired token",
                )
            });
        }
        if has_body {
            responses
                .entry("413")
                .or_insert_with(|| shared("Body over the limit", "Request body too large"));
            responses
                .entry("415")
                .or_insert_with(|| shared("Body is not JSON", JSON_ONLY));
        }
        let mut sorted: Vec<(String, Value)> = std::mem::take(responses).into_iter().collect();
        sorted.sort_by(|(a, _), (b, _)| a.cmp(b));
        responses.extend(sorted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_schema_placeholder_is_replaced() {
        let names: Vec<&str> = request_schemas()
            .into_iter()
            .chain(entry_fields::goal_schemas())
            .map(|(name, _)| name)
            .collect();
        for name in [
            RegisterRequest::name(),
            LoginRequest::name(),
            RefreshRequest::name(),
            LogoutRequest::name(),
            ProfileUpdate::name(),
            ChangePasswordRequest::name(),
            DeleteAccountRequest::name(),
            ImportDocument::name(),
            EntryInput::name(),
            EntryUpdate::name(),
            GoalsInput::name(),
            ChatRequest::name(),
            WeeklyReportRequest::name(),
            PersonalTokenRequest::name(),
        ] {
            assert!(names.contains(&name.as_ref()), "{name} has no rule-derived schema");
        }
    }
}
