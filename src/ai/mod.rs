//! The AI coach: what can be asked of it (`AiTask`) and how an answer is produced. The same task runs
//! inline (synchronous mode) or in a queued job (asynchronous mode).

pub mod client;
pub mod prompts;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use self::client::{AiClient, AiError};
use crate::domain::coach::{ChatMessage, WeeklySummary};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum AiTask {
    Chat { message: ChatMessage },
    WeeklyReport { summary: WeeklySummary },
}

impl AiTask {
    /// The job name clients see.
    pub fn name(&self) -> &'static str {
        match self {
            AiTask::Chat { .. } => "chat",
            AiTask::WeeklyReport { .. } => "weekly-report",
        }
    }

    /// Asks the model; the result holds the response fields of this task (`reply`/`message`, or
    /// `report`/`summary`).
    pub async fn run(&self, client: &AiClient) -> Result<Value, AiError> {
        match self {
            AiTask::Chat { message } => {
                let reply = client.complete(&prompts::chat(message)).await?;
                // `message` repeats the reply: the existing frontend reads `message`.
                Ok(json!({ "reply": reply, "message": reply }))
            }
            AiTask::WeeklyReport { summary } => {
                let report = client.complete(&prompts::weekly_report(summary)).await?;
                Ok(json!({ "report": report, "summary": summary }))
            }
        }
    }
}
