//! The AI coach: what can be asked of it (`AiTask`) and how an answer is produced. A task runs inline
//! (synchronous mode) or in a queued job (asynchronous mode); a streamed chat (`http::ai::stream`) does
//! not go through `AiTask` but sends the same prompt (`prompts`) through `AiClient::stream`. A chat's
//! turn is remembered by `remember_turn` once it is answered, whichever path ran it.

pub mod client;
pub mod prompts;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use self::client::{AiClient, AiError, ReplyStream, Retries};
use crate::domain::coach::{ChatContext, ChatMessage, HISTORY_KEEP, HistoryMessage, Role, WeeklySummary};
use crate::domain::ids::UserId;
use crate::storage::CoachStore;

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

    /// Asks the model.
    pub async fn run(&self, client: &AiClient) -> Result<AiAnswer, AiError> {
        match self {
            AiTask::Chat { message, context, .. } => {
                let reply = client.complete(&prompts::chat(message, context)).await?;
                Ok(AiAnswer::Chat(ChatAnswer {
                    message: reply.clone(),
                    reply,
                }))
            }
            AiTask::WeeklyReport { summary } => {
                let report = client.complete(&prompts::weekly_report(summary)).await?;
                Ok(AiAnswer::Report(Box::new(ReportAnswer {
                    report,
                    summary: summary.clone(),
                })))
            }
        }
    }
}

/// Stores a chat's question and `reply` in the user's history (newest [`HISTORY_KEEP`] kept). Best
/// effort: the user has their answer either way, so a failure is logged, not returned.
pub async fn remember_turn(
    store: &dyn CoachStore,
    user: UserId,
    question: &ChatMessage,
    asked_at: DateTime<Utc>,
    reply: &str,
) {
    let turn = [
        HistoryMessage {
            role: Role::User,
            content: question.as_str().to_owned(),
            created_at: asked_at,
        },
        HistoryMessage {
            role: Role::Assistant,
            content: reply.to_owned(),
            created_at: Utc::now().max(asked_at),
        },
    ];
    if let Err(error) = store.append_ai_messages(user, &turn, HISTORY_KEEP).await {
        tracing::warn!(user_id = %user, error = %error, "could not store a chat turn in the history");
    }
}

/// Stores the turn of a chat task once answered (a report is not part of the conversation).
pub async fn remember(store: &dyn CoachStore, user: UserId, task: &AiTask, answer: &AiAnswer) {
    if let (AiTask::Chat { message, asked_at, .. }, AiAnswer::Chat(chat)) = (task, answer) {
        remember_turn(store, user, message, *asked_at, &chat.reply).await;
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
