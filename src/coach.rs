//! The coach's work, whichever path runs it. A chat or a weekly report becomes an [`AiTask`] here,
//! with what it needs from the store (the week's figures, the goals, the newest turns of the
//! conversation); the HTTP routes then answer it inline, stream it or queue it, and the worker runs
//! the queued ones — every path through the same task — and each ends in [`remember`], the one
//! place a chat's turn joins the conversation.

use chrono::{DateTime, Utc};

use crate::ai::{AiAnswer, AiTask};
use crate::domain::coach::{
    CHAT_FOOD_ITEMS_MAX, CONTEXT_TURNS, ChatContext, ChatMessage, HISTORY_KEEP, HistoryMessage, REPORT_DAYS, Role,
    WeekFigures, WeeklySummary,
};
use crate::domain::day::Day;
use crate::domain::entry::EntryRange;
use crate::domain::ids::UserId;
use crate::storage::{CoachStore, Storage, StoreResult};

/// A chat: `message` with the user's last 7 days (to `today`), their goals and the newest turns of
/// their conversation (three reads at once).
pub async fn chat(
    store: &dyn Storage,
    user: UserId,
    today: Day,
    message: ChatMessage,
    asked_at: DateTime<Utc>,
) -> StoreResult<AiTask> {
    let week = EntryRange::last_days(today, REPORT_DAYS);
    let (entries, turns, goals) = tokio::try_join!(
        store.list_entries(user, &week),
        store.ai_history(user, CONTEXT_TURNS),
        store.goals(user)
    )?;
    let context = ChatContext {
        week: WeekFigures::from_entries(&entries, CHAT_FOOD_ITEMS_MAX, &goals),
        turns,
    };
    Ok(AiTask::Chat {
        message,
        context,
        asked_at,
    })
}

/// A report on the user's last 7 days (to `today`) against the 7 before; `None` when nothing was
/// logged in the last 7.
pub async fn weekly_report(store: &dyn Storage, user: UserId, today: Day) -> StoreResult<Option<AiTask>> {
    let fortnight = EntryRange::last_days(today, WeeklySummary::DAYS_READ);
    let (entries, goals) = tokio::try_join!(store.list_entries(user, &fortnight), store.goals(user))?;
    Ok(WeeklySummary::from_fortnight(&entries, today, &goals).map(|summary| AiTask::WeeklyReport { summary }))
}

/// Once a task is answered: a chat's question and reply join the user's conversation (newest
/// [`HISTORY_KEEP`] kept); a report is not part of it. Best effort: the user has their answer either
/// way, so a failure is logged, not returned.
pub async fn remember(store: &dyn CoachStore, user: UserId, task: &AiTask, answer: &AiAnswer) {
    let (AiTask::Chat { message, asked_at, .. }, AiAnswer::Chat(chat)) = (task, answer) else {
        return;
    };
    let turn = [
        HistoryMessage {
            role: Role::User,
            content: message.as_str().to_owned(),
            created_at: *asked_at,
        },
        HistoryMessage {
            role: Role::Assistant,
            content: chat.reply.clone(),
            created_at: Utc::now().max(*asked_at),
        },
    ];
    if let Err(error) = store.append_ai_messages(user, &turn, HISTORY_KEEP).await {
        tracing::warn!(user_id = %user, error = %error, "could not store a chat turn in the history");
    }
}
