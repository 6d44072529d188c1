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

use crate::domain::coach::CHAT_MESSAGE;
use crate::domain::entry::{Meal, Mood, rules as entry};
use crate::domain::user::rules as user;
use crate::domain::validation::{BOOLEAN_STRINGS, DecimalRule, IntegerRule, TextRule};

pub const BEARER: &str = "bearerAuth";

/// `"success"`, the first field of every successful answer.
#[derive(Serialize, ToSchema, Clone, Copy, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Success {
    Success,
}

/// `"error"`, the first field of every error.
#[derive(Serialize, ToSchema, Clone, Copy, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Failure {
    Error,
}

/// The error envelope (every non-2xx answer).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"status": "error", "message": "Validation failed", "details": [{"path": "calories", "msg": "Calories must be an integer between 0 and 10000", "value": 10001}]}))]
pub struct ErrorBody {
    pub status: Failure,
    pub message: String,
    /// On 5xx: the id of the log line that explains it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
    /// On validation errors: every failing field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<crate::domain::validation::FieldError>>,
}

/// A success with only a message.
#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    pub status: Success,
    pub message: String,
}

impl MessageResponse {
    pub fn new(message: &str) -> Self {
        Self {
            status: Success::Success,
            message: message.to_owned(),
        }
    }
}

struct SecurityScheme_;

impl Modify for SecurityScheme_ {
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
    }
}

const DESCRIPTION: &str = "\
Health tracking API: accounts, one entry per day, a dashboard, and an AI coach.

Every route is served twice: under `/api` (what the React frontend calls) and at the root (what the \
old Node backend mounted) — pick a server above. Errors are JSON: `{status: \"error\", message, \
details?, errorId?}`. Numbers may be sent as JSON numbers or digit strings (`\"2000\"`); an optional \
field sent as `\"\"` or `null` counts as absent; free text is stripped of HTML and trimmed before its \
length is checked.";

#[derive(OpenApi)]
#[openapi(
    info(title = "HealthTracker API", description = DESCRIPTION, license(name = "MIT")),
    servers(
        (url = "/api", description = "Mounted under /api (the React frontend)"),
        (url = "/", description = "Mounted at the root (the old backend's paths)")
    ),
    modifiers(&SecurityScheme_),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "entries", description = "Daily entries, one per user per UTC day"),
        (name = "ai", description = "The AI coach: chat and weekly report, answered inline or queued"),
        (name = "health", description = "Probes"),
        (name = "meta", description = "This documentation and the metrics")
    ),
    components(schemas(ErrorBody, MessageResponse))
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
    EntryInput,
    EntryUpdate,
    ChatRequest,
    WeeklyReportRequest
);

/// What an optional field may also be: `""` (an empty form input) or `null`, both meaning "absent".
fn optional(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "string", "enum": [""] }, { "type": "null" }] })
}

fn integer(rule: IntegerRule, example: u64) -> Value {
    json!({
        "description": format!("{}: an integer 0–{}, or the same as a digit string", rule.label, rule.max),
        "anyOf": [
            { "type": "integer", "minimum": 0, "maximum": rule.max },
            { "type": "string", "pattern": rule.string_pattern() }
        ],
        "examples": [example]
    })
}

fn decimal(rule: DecimalRule, example: f64) -> Value {
    json!({
        "description": format!("{}: a number 0–{}, or the same as a decimal string", rule.label, rule.max),
        "anyOf": [
            { "type": "number", "minimum": 0, "maximum": rule.max },
            { "type": "string", "pattern": rule.string_pattern() }
        ],
        "examples": [example]
    })
}

fn text(rule: TextRule, example: &str) -> Value {
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
        "description": "A calendar day: YYYY-MM-DD, or an RFC 3339 timestamp (its UTC day is used)",
        "anyOf": [{ "type": "string", "format": "date" }, { "type": "string", "format": "date-time" }],
        "examples": ["2026-11-28"]
    })
}

fn enumeration<T: Serialize>(values: &[T], example: &str) -> Value {
    json!({ "type": "string", "enum": values, "examples": [example] })
}

fn entry_fields() -> serde_json::Map<String, Value> {
    let food_item = json!({
        "type": "object",
        "required": ["meal", "food"],
        "properties": {
            "meal": enumeration(&Meal::ALL, "lunch"),
            "food": text(entry::FOOD, "Grilled salmon"),
            "calories": optional(integer(entry::FOOD_CALORIES, 450)),
        }
    });
    let sleep = decimal(entry::SLEEP_HOURS, 7.5);
    let mut deprecated_alias = sleep.clone();
    deprecated_alias["description"] = json!("Alias of `sleep` (what the existing frontend sends); `sleep` wins");
    deprecated_alias["deprecated"] = json!(true);
    let fields = json!({
        "calories": optional(integer(entry::CALORIES, 2100)),
        "sleep": optional(sleep),
        "sleepHours": optional(deprecated_alias),
        "workouts": optional(json!({
            "description": "Whether you worked out: a boolean, 0/1, or \"true\"/\"false\"/\"1\"/\"0\"",
            "anyOf": [
                { "type": "boolean" },
                { "type": "integer", "enum": [0, 1] },
                { "type": "string", "enum": BOOLEAN_STRINGS }
            ],
            "examples": [true]
        })),
        "foodIntake": optional(json!({ "type": "array", "maxItems": entry::FOOD_ITEMS_MAX, "items": food_item })),
        "heartRate": optional(integer(entry::HEART_RATE, 64)),
        "steps": optional(integer(entry::STEPS, 9500)),
        "symptoms": optional(json!({
            "type": "array",
            "maxItems": entry::SYMPTOMS_MAX,
            "items": text(entry::SYMPTOM, "headache")
        })),
        "mood": optional(enumeration(&Mood::ALL, "good")),
        "waterIntake": optional(decimal(entry::WATER_LITRES, 2.5)),
        "notes": optional(text(entry::NOTES, "Felt rested")),
    });
    fields.as_object().cloned().unwrap_or_default()
}

fn object(required: &[&str], properties: serde_json::Map<String, Value>, description: &str) -> Value {
    json!({ "type": "object", "description": description, "required": required, "properties": properties })
}

fn properties(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
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
        "description": "At least one lower-case letter, one upper-case letter and one digit", "examples": ["Secret123"]
    });
    let refresh_token =
        json!({ "type": "string", "minLength": 1, "description": "A refresh token", "writeOnly": true });

    let mut create = entry_fields();
    create.insert("date".into(), day());
    let mut update = entry_fields();
    update.insert("date".into(), optional(day()));

    vec![
        (
            "RegisterRequest",
            object(
                &["name", "email", "password"],
                properties(
                    json!({ "name": text(user::NAME, "Ada Lovelace"), "email": email, "password": new_password }),
                ),
                "A new account",
            ),
        ),
        (
            "LoginRequest",
            object(
                &["email", "password"],
                properties(json!({
                    "email": email,
                    "password": { "type": "string", "minLength": 1, "maxLength": user::LOGIN_PASSWORD_MAX_BYTES / 4,
                                  "writeOnly": true, "examples": ["Secret123"] }
                })),
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
            "EntryInput",
            object(&["date"], create, "A new entry; omitted fields take their defaults"),
        ),
        (
            "EntryUpdate",
            object(&[], update, "The fields to change; omitted fields keep their value"),
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
    ]
}

/// The finished document: the operations collected from the router, this crate's metadata, and the
/// rule-derived request schemas.
pub fn document(operations: utoipa::openapi::OpenApi) -> Value {
    let mut doc = ApiDoc::openapi();
    doc.merge(operations);
    let mut doc = serde_json::to_value(&doc).unwrap_or_else(|_| json!({}));
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        for (name, schema) in request_schemas() {
            schemas.insert(name.to_owned(), schema);
        }
    }
    add_common_error_examples(&mut doc);
    doc
}

/// The errors many routes share say the same everywhere, so their examples are written once, here;
/// a handler's own `example = …` (a specific 401, every 400/404/409/429/5xx) is left as it is.
fn add_common_error_examples(doc: &mut Value) {
    const COMMON: [(&str, &str); 3] = [
        ("401", "Invalid or expired token"),
        ("413", "Request body too large"),
        ("415", "Content-Type must be application/json"),
    ];
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let responses = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|operations| operations.values_mut())
        .filter_map(|operation| operation.get_mut("responses").and_then(Value::as_object_mut));
    for responses in responses {
        for (status, message) in COMMON {
            if let Some(content) = responses
                .get_mut(status)
                .and_then(|response| response.pointer_mut("/content/application~1json"))
                .and_then(Value::as_object_mut)
            {
                content
                    .entry("example")
                    .or_insert_with(|| json!({ "status": "error", "message": message }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_schema_placeholder_is_replaced() {
        let names: Vec<&str> = request_schemas().iter().map(|(name, _)| *name).collect();
        for name in [
            RegisterRequest::name(),
            LoginRequest::name(),
            RefreshRequest::name(),
            LogoutRequest::name(),
            EntryInput::name(),
            EntryUpdate::name(),
            ChatRequest::name(),
            WeeklyReportRequest::name(),
        ] {
            assert!(names.contains(&name.as_ref()), "{name} has no rule-derived schema");
        }
    }
}
