//! A fake OpenAI-compatible provider served by the test itself on port 0 (the real one is a paid
//! external service). It records every request and can be told to fail, stall or rate-limit.

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
    RateLimited { retry_after_secs: u64 },
    Stall(Duration),
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
            answer(call)
        }
    };
    state.running.fetch_sub(1, Ordering::SeqCst);
    response
}

fn answer(call: usize) -> Response {
    Json(json!({
        "id": format!("chatcmpl-{call}"),
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer_text(call)}, "finish_reason": "stop"}]
    }))
    .into_response()
}
