//! `POST /ai/chat` as server-sent events: `delta` events as the provider writes, then `done` with
//! the whole reply (after it joined the conversation), or `error` with the contract's message. The
//! events are produced as the client reads them: a client that goes away drops the stream, which
//! drops the provider's connection, so the provider stops writing too.

use std::convert::Infallible;
use std::sync::Arc;

use axum::http::header::{ACCEPT, CACHE_CONTROL};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use serde_json::json;

use super::super::error::{ApiError, ApiResult, write_rate_limit_headers};
use crate::ai::{AiClient, AiTask, ReplyStream};
use crate::coach;
use crate::domain::ids::UserId;
use crate::ratelimit::RateLimitInfo;
use crate::state::AppState;
use crate::storage::CoachStore;

const UNAVAILABLE: &str = "AI service unavailable";

/// Whether `Accept` names `text/event-stream` (whatever else it names too).
pub fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| item.split(';').next())
        .any(|media| media.trim().eq_ignore_ascii_case("text/event-stream"))
}

pub async fn chat_events(
    state: &AppState,
    client: &AiClient,
    user: UserId,
    task: AiTask,
    limit: RateLimitInfo,
) -> ApiResult<Response> {
    // Not one byte is sent until the provider answers: a provider that never does is the usual 502.
    let upstream = task.stream(client).await.map_err(|error| {
        tracing::warn!(job = task.kind().as_str(), error = %error, "AI stream could not start");
        ApiError::BadGateway(UNAVAILABLE)
    })?;
    let turn = Box::new(Turn {
        store: state.store.clone(),
        user,
        task,
    });
    let mut response = Sse::new(reply_events(upstream, turn)).into_response();
    let headers = response.headers_mut();
    // `Sse` sends `no-cache`, which lets a cache keep the answer (revalidating it before reuse); the
    // answer is the caller's data like every other, so nothing may store it.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Proxies that buffer (nginx) would hold the deltas back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    write_rate_limit_headers(&limit, response.headers_mut());
    Ok(response)
}

/// What is remembered once the reply is complete.
struct Turn {
    store: Arc<dyn CoachStore>,
    user: UserId,
    task: AiTask,
}

enum Streaming {
    Open {
        upstream: ReplyStream,
        reply: String,
        turn: Box<Turn>,
    },
    Over,
}

fn event(name: &str, data: &serde_json::Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

fn reply_events(upstream: ReplyStream, turn: Box<Turn>) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    let start = Streaming::Open {
        upstream,
        reply: String::new(),
        turn,
    };
    futures_util::stream::unfold(start, |state| async move {
        let Streaming::Open {
            mut upstream,
            mut reply,
            turn,
        } = state
        else {
            return None;
        };
        match upstream.next().await {
            Some(Ok(text)) => {
                reply.push_str(&text);
                let delta = event("delta", &json!({ "text": text }));
                Some((Ok(delta), Streaming::Open { upstream, reply, turn }))
            }
            None => {
                drop(upstream);
                let reply = reply.trim();
                if reply.is_empty() {
                    tracing::warn!(job = "chat", "AI stream ended without an answer");
                    return Some((Ok(event("error", &json!({ "message": UNAVAILABLE }))), Streaming::Over));
                }
                let answer = turn.task.answer(reply.to_owned());
                coach::remember(&*turn.store, turn.user, &turn.task, &answer).await;
                let done = event("done", &json!({ "reply": reply, "message": reply }));
                Some((Ok(done), Streaming::Over))
            }
            Some(Err(error)) => {
                tracing::warn!(job = "chat", error = %error, "AI stream failed midway");
                Some((Ok(event("error", &json!({ "message": UNAVAILABLE }))), Streaming::Over))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::wants_event_stream;
    use axum::http::{HeaderMap, HeaderValue, header::ACCEPT};

    #[test]
    fn event_stream_is_recognised_among_other_types() {
        let accept = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(ACCEPT, HeaderValue::from_static(v));
            wants_event_stream(&h)
        };
        assert!(accept("text/event-stream"));
        assert!(accept("application/json, Text/Event-Stream;q=0.9"));
        assert!(!accept("application/json"));
        assert!(!accept("*/*"));
        assert!(!wants_event_stream(&HeaderMap::new()));
    }
}
