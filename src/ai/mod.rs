//! The AI provider's side of the coach: what can be asked (`AiTask`), its prompt (`prompts`), and
//! how an answer is produced (`AiClient`): whole (`AiTask::run`, inline or in a queued job) or
//! streamed (`AiTask::stream`). What a task needs from the store, and what is remembered once it is
//! answered, is the `coach` module's business: this module holds no store.

pub mod client;
pub mod prompts;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use self::client::{AiClient, AiError, ReplyStream, Retries};
use crate::domain::coach::{ChatContext, ChatMessage, WeeklySummary};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum AiTask {
    Chat {
        message: ChatMessage,
        /// Read when the request came in. (Jobs queued before context existed have none.)
        #[serde(default)]
        context: ChatContext,
        #[serde(default = "Utc::now")]
        asked_at: DateTime<Utc>,
    },
    WeeklyReport {
        summary: WeeklySummary,
    },
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

    /// What the model is sent.
    pub fn prompt(&self) -> Vec<client::Message> {
        match self {
            AiTask::Chat { message, context, .. } => prompts::chat(message, context),
            AiTask::WeeklyReport { summary } => prompts::weekly_report(summary),
        }
    }

    /// Asks the model and waits for the whole answer.
    pub async fn run(&self, client: &AiClient) -> Result<AiAnswer, AiError> {
        let text = client.complete(&self.prompt()).await?;
        Ok(self.answer(text))
    }

    /// Asks the model and reads its answer as it is written; [`AiTask::answer`] makes the whole
    /// text an answer once the stream ends.
    pub async fn stream(&self, client: &AiClient) -> Result<ReplyStream, AiError> {
        client.stream(&self.prompt()).await
    }

    /// The answer the model's whole `text` makes for this task.
    pub fn answer(&self, text: String) -> AiAnswer {
        match self {
            AiTask::Chat { .. } => AiAnswer::Chat(ChatAnswer {
                message: text.clone(),
                reply: text,
            }),
            AiTask::WeeklyReport { summary } => AiAnswer::Report(Box::new(ReportAnswer {
                report: text,
                summary: summary.clone(),
            })),
        }
    }
}

/// An answer: what a synchronous response carries, and a finished job's `result`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AiAnswer {
    Chat(ChatAnswer),
    Report(Box<ReportAnswer>),
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
