//! The AI coach: what can be asked of it (`AiTask`) and how an answer is produced. The same task runs
//! inline (synchronous mode) or in a queued job (asynchronous mode).

pub mod client;
pub mod prompts;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use self::client::{AiClient, AiError, Retries};
use crate::domain::coach::{ChatMessage, WeeklySummary};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum AiTask {
    Chat { message: ChatMessage },
    WeeklyReport { summary: WeeklySummary },
}

/// What kind of task a job runs: its `name` in job status, logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TaskKind {
    Chat,
    WeeklyReport,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Chat => "chat",
            TaskKind::WeeklyReport => "weekly-report",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [TaskKind::Chat, TaskKind::WeeklyReport]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

impl AiTask {
    pub fn kind(&self) -> TaskKind {
        match self {
            AiTask::Chat { .. } => TaskKind::Chat,
            AiTask::WeeklyReport { .. } => TaskKind::WeeklyReport,
        }
    }

    /// Asks the model.
    pub async fn run(&self, client: &AiClient) -> Result<AiAnswer, AiError> {
        match self {
            AiTask::Chat { message } => {
                let reply = client.complete(&prompts::chat(message)).await?;
                Ok(AiAnswer::Chat(ChatAnswer {
                    message: reply.clone(),
                    reply,
                }))
            }
            AiTask::WeeklyReport { summary } => {
                let report = client.complete(&prompts::weekly_report(summary)).await?;
                Ok(AiAnswer::Report(ReportAnswer {
                    report,
                    summary: summary.clone(),
                }))
            }
        }
    }
}

/// An answer: what a synchronous response carries, and a finished job's `result`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AiAnswer {
    Chat(ChatAnswer),
    Report(ReportAnswer),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatAnswer {
    /// The coach's answer.
    pub reply: String,
    /// The same as `reply` (the existing frontend reads `message`).
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportAnswer {
    /// The coach's weekly report.
    pub report: String,
    /// The week's figures, computed by the server.
    pub summary: WeeklySummary,
}
