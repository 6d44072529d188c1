//! The MCP tools: each names the scope it needs, takes an input schema drawn from the same rules as
//! its REST route (the entry field table, the routes' query parameters), and calls the same
//! functions the REST handlers call. A result is the REST route's JSON body.

use std::sync::{Arc, LazyLock};

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Map, Value, json};
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::auth::scopes::{Access, Scope};
use crate::domain::entry::{EntryChanges, EntryRange, NewEntry};
use crate::domain::validation::FieldError;
use crate::http::account::ProfileView;
use crate::http::entries::{self, EntryResponse, ListQuery, NOT_FOUND};
use crate::http::error::{ApiError, ApiResult};
use crate::http::goals::GoalsResponse;
use crate::http::openapi;
use crate::http::stats::{self, StatsParams};
use crate::state::AppState;

/// The tools, in the order they are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolName {
    GetEntries,
    GetDay,
    GetStats,
    GetGoals,
    GetProfile,
    LogDay,
    UpdateDay,
}

impl ToolName {
    pub const ALL: [ToolName; 7] = [
        ToolName::GetEntries,
        ToolName::GetDay,
        ToolName::GetStats,
        ToolName::GetGoals,
        ToolName::GetProfile,
        ToolName::LogDay,
        ToolName::UpdateDay,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ToolName::GetEntries => "get_entries",
            ToolName::GetDay => "get_day",
            ToolName::GetStats => "get_stats",
            ToolName::GetGoals => "get_goals",
            ToolName::GetProfile => "get_profile",
            ToolName::LogDay => "log_day",
            ToolName::UpdateDay => "update_day",
        }
    }

    pub fn parse(name: &str) -> Option<ToolName> {
        ToolName::ALL.into_iter().find(|tool| tool.as_str() == name)
    }

    /// The scope a personal token needs to see and call the tool. `get_profile` needs none: the
    /// name and time zone (no e-mail) are what an assistant needs to read any day right.
    pub const fn scope(self) -> Option<Scope> {
        match self {
            ToolName::GetEntries | ToolName::GetDay | ToolName::GetStats => Some(Scope::EntriesRead),
            ToolName::GetGoals => Some(Scope::GoalsRead),
            ToolName::GetProfile => None,
            ToolName::LogDay | ToolName::UpdateDay => Some(Scope::EntriesWrite),
        }
    }

    pub fn allowed(self, access: Access) -> bool {
        self.scope().is_none_or(|scope| access.allows(scope))
    }

    const fn writes(self) -> bool {
        matches!(self, ToolName::LogDay | ToolName::UpdateDay)
    }

    const fn description(self) -> &'static str {
        match self {
            ToolName::GetEntries => {
                "The user's daily health entries, newest day first: the last 30 days logged, or those from `from` to `to` (YYYY-MM-DD), at most `limit`."
            }
            ToolName::GetDay => "The entry of one day (YYYY-MM-DD): every field recorded that day.",
            ToolName::GetStats => {
                "Trends over a range of days (default: the 28 days to today) per day, ISO week or month: days logged, workout days, moods, and average/min/max/sum of calories, sleep, steps, heart rate and water; plus the logging and workout streaks."
            }
            ToolName::GetGoals => "The user's goals: for some measures, the range a day's value should be in.",
            ToolName::GetProfile => "The user's name, time zone (their days are counted in it) and today's date there.",
            ToolName::LogDay => {
                "Record a day: creates the day's entry when there is none (fields not given take their defaults), otherwise sets the fields given and keeps the others."
            }
            ToolName::UpdateDay => {
                "Change some fields of a day already recorded (the others are kept); fails when the day has no entry. `null` clears a measure that can be unrecorded."
            }
        }
    }

    /// The tool's input schema: a JSON Schema object.
    fn input_schema(self) -> Value {
        match self {
            ToolName::GetEntries => query_schema(ListQuery::into_params(|| None)),
            ToolName::GetStats => query_schema(StatsParams::into_params(|| None)),
            ToolName::GetDay => {
                let date = openapi::entry_tool_properties(true)
                    .remove("date")
                    .unwrap_or(Value::Null);
                json!({ "type": "object", "required": ["date"], "properties": { "date": date } })
            }
            ToolName::GetGoals | ToolName::GetProfile => json!({ "type": "object", "properties": {} }),
            ToolName::LogDay | ToolName::UpdateDay => json!({
                "type": "object",
                "required": ["date"],
                "properties": openapi::entry_tool_properties(true),
            }),
        }
    }

    fn describe(self) -> Tool {
        let schema = match self.input_schema() {
            Value::Object(schema) => schema,
            _ => JsonObject::new(),
        };
        let annotations = ToolAnnotations::new()
            .read_only(!self.writes())
            .destructive(false)
            // The same arguments twice leave the day as once.
            .idempotent(true)
            .open_world(false);
        Tool::new(self.as_str(), self.description(), Arc::new(schema)).with_annotations(annotations)
    }
}

/// Every tool's description, built once (the schemas never change while the server runs).
static TOOLS: LazyLock<Vec<(ToolName, Tool)>> =
    LazyLock::new(|| ToolName::ALL.into_iter().map(|name| (name, name.describe())).collect());

/// The tools `access` may call, in listing order.
pub fn listed(access: Access) -> Vec<Tool> {
    TOOLS
        .iter()
        .filter(|(name, _)| name.allowed(access))
        .map(|(_, tool)| tool.clone())
        .collect()
}

/// The description of the tool called `name`, whoever asks.
pub fn describe(name: &str) -> Option<Tool> {
    TOOLS
        .iter()
        .find(|(tool, _)| tool.as_str() == name)
        .map(|(_, tool)| tool.clone())
}

/// A route's query parameters (their utoipa description: the same attributes that document the
/// REST route) as the properties of an object schema.
fn query_schema(parameters: Vec<utoipa::openapi::path::Parameter>) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for parameter in parameters {
        let Ok(Value::Object(parameter)) = serde_json::to_value(&parameter) else {
            continue;
        };
        let Some(Value::String(name)) = parameter.get("name").cloned() else {
            continue;
        };
        let mut schema = parameter.get("schema").cloned().unwrap_or_else(|| json!({}));
        if let (Some(description), Value::Object(fields)) = (parameter.get("description"), &mut schema) {
            fields.insert("description".into(), description.clone());
        }
        if parameter.get("required") == Some(&Value::Bool(true)) {
            required.push(Value::String(name.clone()));
        }
        properties.insert(name, schema);
    }
    json!({ "type": "object", "required": required, "properties": properties })
}

/// A query-style argument as the REST route would receive it: text (a number the model sent as a
/// JSON number is its digits); `null` or absent is `None`.
fn query_argument(arguments: &Value, name: &str) -> Option<String> {
    match arguments.get(name)? {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// A tool outside the token's scopes is refused as its REST route would be (403).
fn authorize(tool: ToolName, access: Access) -> ApiResult<()> {
    match tool.scope() {
        Some(scope) if !access.allows(scope) => Err(crate::http::scopes::lacks_scope(scope)),
        _ => Ok(()),
    }
}

/// Runs `tool` for `caller`: the REST route's JSON body, or the API's error.
pub async fn call(state: &AppState, caller: &Caller, tool: ToolName, arguments: JsonObject) -> ApiResult<Value> {
    authorize(tool, caller.access)?;
    let body = Value::Object(arguments);
    match tool {
        ToolName::GetEntries => {
            let range = EntryRange::parse(
                query_argument(&body, "from").as_deref(),
                query_argument(&body, "to").as_deref(),
                query_argument(&body, "limit").as_deref(),
            )
            .map_err(ApiError::Validation)?;
            let (count, items) = entries::entry_page(state, caller, &range).await?;
            let data: Value = serde_json::from_slice(&items).map_err(|e| ApiError::Internal(e.into()))?;
            Ok(json!({ "status": "success", "count": count, "data": data }))
        }
        ToolName::GetDay => {
            let day = NewEntry::parse(&json!({ "date": body.get("date") }), caller.timezone)
                .map_err(ApiError::Validation)?
                .date;
            let entry = state.store.entry_on_day(caller.id, day).await?.ok_or(NOT_FOUND)?;
            to_value(&EntryResponse::new(None, &entry))
        }
        ToolName::GetStats => {
            let params = StatsParams {
                from: query_argument(&body, "from"),
                to: query_argument(&body, "to"),
                bucket: query_argument(&body, "bucket"),
            };
            let trends = stats::trends(state, caller, &params).await?;
            serde_json::from_slice(&trends.body).map_err(|e| ApiError::Internal(e.into()))
        }
        ToolName::GetGoals => to_value(&GoalsResponse::new(None, state.store.goals(caller.id).await?)),
        ToolName::GetProfile => {
            let user = state.accounts.profile(caller).await?;
            let mut user = to_value(&ProfileView::new(state, &user).await?)?;
            if let Value::Object(fields) = &mut user {
                fields.remove("email");
            }
            let today = state.clock.today_in(caller.timezone).to_ymd();
            Ok(json!({ "status": "success", "user": user, "today": today }))
        }
        ToolName::LogDay => log_day(state, caller, &body).await,
        ToolName::UpdateDay => update_day(state, caller, &body).await,
    }
}

/// Create or fill a day: `POST /entries` when the day has no entry, else `PUT /entries/{id}` with
/// the fields given. A create that loses a race with another for the same day fills it instead.
async fn log_day(state: &AppState, caller: &Caller, body: &Value) -> ApiResult<Value> {
    let new = NewEntry::parse(body, caller.timezone).map_err(ApiError::Validation)?;
    if state.store.entry_on_day(caller.id, new.date).await?.is_none() {
        match entries::insert_entry(state, caller, new).await {
            Ok(entry) => return to_value(&EntryResponse::new(Some("Entry created successfully"), &entry)),
            Err(ApiError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
    }
    update_day(state, caller, body).await
}

/// `PUT /entries/{id}` of the day's entry with the fields given; a day without one is 404.
async fn update_day(state: &AppState, caller: &Caller, body: &Value) -> ApiResult<Value> {
    let changes = day_changes(body, caller)?;
    let day = changes.date.ok_or(NOT_FOUND)?;
    let existing = state.store.entry_on_day(caller.id, day).await?.ok_or(NOT_FOUND)?;
    let entry = entries::change_entry(state, caller, existing.id, &changes).await?;
    to_value(&EntryResponse::new(Some("Entry updated successfully"), &entry))
}

/// The fields of a day tool's arguments, by the entry rules; `date` (the day meant) is required.
fn day_changes(body: &Value, caller: &Caller) -> ApiResult<EntryChanges> {
    let changes = EntryChanges::parse(body, caller.timezone).map_err(ApiError::Validation)?;
    if changes.date.is_none() {
        return Err(ApiError::Validation(vec![FieldError {
            path: "date".into(),
            msg: "Date is required".into(),
            value: body.get("date").cloned(),
        }]));
    }
    Ok(changes)
}

fn to_value<T: serde::Serialize>(body: &T) -> ApiResult<Value> {
    serde_json::to_value(body).map_err(|e| ApiError::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::scopes::ScopeSet;

    fn names(access: Access) -> Vec<String> {
        listed(access).into_iter().map(|tool| tool.name.into_owned()).collect()
    }

    #[test]
    fn a_login_sees_every_tool_and_a_read_only_token_only_the_reads() {
        assert_eq!(names(Access::Login).len(), ToolName::ALL.len());
        let read_only = Access::Personal {
            scopes: [Scope::EntriesRead, Scope::GoalsRead].into_iter().collect(),
        };
        assert_eq!(
            names(read_only),
            ["get_entries", "get_day", "get_stats", "get_goals", "get_profile"]
        );
        let goals_only = Access::Personal {
            scopes: [Scope::GoalsRead].into_iter().collect(),
        };
        assert_eq!(names(goals_only), ["get_goals", "get_profile"]);
        let writer = Access::Personal {
            scopes: [Scope::EntriesWrite].into_iter().collect(),
        };
        assert_eq!(names(writer), ["get_profile", "log_day", "update_day"]);
        assert_eq!(
            names(Access::Personal {
                scopes: ScopeSet::EMPTY
            }),
            ["get_profile"]
        );
    }

    #[test]
    fn a_tool_outside_the_scopes_is_refused_with_the_apis_message() {
        let read_only = Access::Personal {
            scopes: [Scope::EntriesRead].into_iter().collect(),
        };
        assert!(authorize(ToolName::GetStats, read_only).is_ok());
        assert!(authorize(ToolName::GetProfile, read_only).is_ok());
        for (tool, scope) in [
            (ToolName::LogDay, "entries:write"),
            (ToolName::UpdateDay, "entries:write"),
            (ToolName::GetGoals, "goals:read"),
        ] {
            match authorize(tool, read_only) {
                Err(ApiError::Forbidden(message)) => {
                    assert_eq!(message, format!("This token lacks the scope {scope}"))
                }
                other => panic!("{tool:?}: {other:?}"),
            }
        }
        assert!(
            ToolName::ALL
                .into_iter()
                .all(|tool| authorize(tool, Access::Login).is_ok())
        );
    }

    #[test]
    fn tool_names_round_trip() {
        for tool in ToolName::ALL {
            assert_eq!(ToolName::parse(tool.as_str()), Some(tool));
        }
        assert_eq!(ToolName::parse("delete_day"), None);
    }

    #[test]
    fn schemas_come_from_the_rest_routes_rules() {
        let log_day = describe("log_day").expect("log_day").input_schema;
        assert_eq!(log_day["required"], json!(["date"]));
        let properties = log_day["properties"].as_object().expect("properties");
        // Every field of the table, without the deprecated aliases.
        assert!(properties.contains_key("steps") && properties.contains_key("bloodPressure"));
        assert!(!properties.contains_key("sleepHours"), "{:?}", properties.keys());
        let entries = describe("get_entries").expect("get_entries").input_schema;
        assert_eq!(entries["properties"]["limit"]["maximum"], json!(EntryRange::MAX_LIMIT));
        let stats = describe("get_stats").expect("get_stats").input_schema;
        assert_eq!(stats["properties"]["bucket"]["enum"], json!(["day", "week", "month"]));
        assert_eq!(stats["required"], json!([]));
    }
}
