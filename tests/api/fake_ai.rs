//! A fake OpenAI-compatible provider served by the test itself on port 0 (the real one is a paid
//! external service). It records every request and can be told to fail, stall or rate-limit; asked
//! with `stream: true` it answers with server-sent events as OpenAI does (a role-only first chunk,
//! a chunk per word, `finish_reason`, `[DONE]`), pausing between chunks or breaking off if told to,
//! and counts the streams a client abandoned.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const FAKE_API_KEY: &str = "gsk_test_key_that_must_never_be_logged";

/// What the provider does with one request.
#[derive(Clone, Debug)]
pub enum Behaviour {
    Answer,
    Fail(u16),
    RateLimited {
        retry_after_secs: u64,
    },
    Stall(Duration),
    /// An answer (not streamed) with this text.
    AnswerText(String),
    /// A streamed answer with `pause` before each word.
    StreamSlowly(Duration),
    /// A streamed answer that breaks off (the connection fails) after `words` words.
    StreamThenBreak {
        words: usize,
    },
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub body: Value,
    pub authorization: Option<String>,
    /// What the provider did with this request.
    #[allow(dead_code)] // read by the fault tests
    pub behaviour: Behaviour,
}

#[derive(Default)]
struct FakeState {
    requests: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<Behaviour>>,
    default: Mutex<Option<Behaviour>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
    /// Streams dropped by the client before their end.
    abandoned: AtomicUsize,
    /// Words sent in streams.
    words_streamed: AtomicUsize,
}

#[derive(Clone)]
pub struct FakeProvider {
    pub base_url: String,
    state: Arc<FakeState>,
}

/// The text the fake answers with: recognisable, and tells which call it was.
pub fn answer_text(call: usize) -> String {
    format!("Keep it up! (fake answer {call})")
}

impl FakeProvider {
    pub async fn start() -> Self {
        let state = Arc::new(FakeState::default());
        let app = axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(complete))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake provider");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base_url: format!("http://{address}/v1"),
            state,
        }
    }

    /// The next `behaviours`, in order, then the default.
    pub fn then(&self, behaviours: impl IntoIterator<Item = Behaviour>) -> &Self {
        if let Ok(mut script) = self.state.script.lock() {
            script.extend(behaviours);
        }
        self
    }

    /// What every request without a scripted behaviour gets (an answer unless set).
    pub fn always(&self, behaviour: Behaviour) -> &Self {
        if let Ok(mut default) = self.state.default.lock() {
            *default = Some(behaviour);
        }
        self
    }

    pub fn calls(&self) -> usize {
        self.state.requests.lock().map(|r| r.len()).unwrap_or_default()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Streams the client stopped reading before their end (it hung up).
    pub fn abandoned_streams(&self) -> usize {
        self.state.abandoned.load(Ordering::SeqCst)
    }

    pub fn words_streamed(&self) -> usize {
        self.state.words_streamed.load(Ordering::SeqCst)
    }

    /// The most requests ever handled at the same time.
    pub fn max_concurrent(&self) -> usize {
        self.state.max_running.load(Ordering::SeqCst)
    }
}

async fn complete(State(state): State<Arc<FakeState>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let behaviour = state
        .script
        .lock()
        .ok()
        .and_then(|mut s| s.pop_front())
        .or_else(|| state.default.lock().ok().and_then(|d| d.clone()))
        .unwrap_or(Behaviour::Answer);
    let streamed = body["stream"] == true;
    let call = {
        let mut requests = state.requests.lock().expect("lock");
        requests.push(Recorded {
            body,
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            behaviour: behaviour.clone(),
        });
        requests.len()
    };
    let running = state.running.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_running.fetch_max(running, Ordering::SeqCst);
    let response = match behaviour {
        Behaviour::Answer if streamed => stream(&state, call, Duration::ZERO, None),
        Behaviour::StreamSlowly(pause) => stream(&state, call, pause, None),
        // Paced, so what was written reaches the client before the connection breaks.
        Behaviour::StreamThenBreak { words } => stream(&state, call, Duration::from_millis(50), Some(words)),
        Behaviour::AnswerText(text) => answer_with(call, &text),
        Behaviour::Answer => answer(call),
        Behaviour::Fail(status) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(json!({"error": {"message": "upstream exploded: internal provider detail", "type": "server_error"}})),
        )
            .into_response(),
        Behaviour::RateLimited { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", retry_after_secs.to_string())],
            Json(json!({"error": {"message": "rate limited"}})),
        )
            .into_response(),
        Behaviour::Stall(duration) => {
            tokio::time::sleep(duration).await;
            if streamed {
                stream(&state, call, Duration::ZERO, None)
            } else {
                answer(call)
            }
        }
    };
    state.running.fetch_sub(1, Ordering::SeqCst);
    response
}

fn answer(call: usize) -> Response {
    answer_with(call, &answer_text(call))
}

fn answer_with(call: usize, text: &str) -> Response {
    Json(json!({
        "id": format!("chatcmpl-{call}"),
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]
    }))
    .into_response()
}

/// The words of [`answer_text`] as a stream sends them (joined, they are the answer).
pub fn answer_words(call: usize) -> Vec<String> {
    let text = answer_text(call);
    let mut words: Vec<String> = text.split_inclusive(' ').map(str::to_owned).collect();
    if words.is_empty() {
        words.push(text);
    }
    words
}

/// Counts a stream as abandoned unless it reached its end.
struct StreamEnd {
    state: Arc<FakeState>,
    finished: bool,
}

impl StreamEnd {
    fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for StreamEnd {
    fn drop(&mut self) {
        if !self.finished {
            self.state.abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn sse(data: &Value) -> axum::body::Bytes {
    axum::body::Bytes::from(format!("data: {data}\n\n"))
}

fn stream(state: &Arc<FakeState>, call: usize, pause: Duration, break_after: Option<usize>) -> Response {
    let id = format!("chatcmpl-{call}");
    let chunk = |delta: Value, finish: Value| {
        sse(&json!({"id": id, "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}))
    };
    let mut frames: Vec<(bool, axum::body::Bytes)> =
        vec![(false, chunk(json!({"role": "assistant", "content": ""}), Value::Null))];
    for word in answer_words(call) {
        frames.push((true, chunk(json!({"content": word}), Value::Null)));
    }
    frames.push((false, chunk(json!({}), json!("stop"))));
    frames.push((false, axum::body::Bytes::from_static(b"data: [DONE]\n\n")));
    let end = StreamEnd {
        state: Arc::clone(state),
        finished: false,
    };
    let body = futures::stream::unfold(
        (frames.into_iter(), 0usize, end),
        move |(mut frames, words, mut end)| async move {
            let Some((is_word, frame)) = frames.next() else {
                end.finish();
                return None;
            };
            if is_word {
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                if break_after == Some(words) {
                    end.finish();
                    return Some((
                        Err(std::io::Error::other("the fake provider broke off")),
                        (frames, words, end),
                    ));
                }
                end.state.words_streamed.fetch_add(1, Ordering::SeqCst);
            }
            let words = words + usize::from(is_word);
            Some((Ok(frame), (frames, words, end)))
        },
    );
    (
        [("content-type", "text/event-stream"), ("cache-control", "no-cache")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}
