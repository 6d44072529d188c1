//! The envelope of every answer: `{"status": "success", …}` or `{"status": "error", "message", …}`
//! (the old backend's shapes, which the frontend reads). Handlers build their bodies from these; the
//! OpenAPI document (`openapi`) describes them from the same types.

use serde::Serialize;
use utoipa::ToSchema;

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
#[schema(example = json!({"status": "error", "message": "Calories must be an integer between 0 and 10000", "details": [{"path": "calories", "msg": "Calories must be an integer between 0 and 10000", "value": 10001}]}))]
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
