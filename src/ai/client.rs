//! A client for any OpenAI-compatible chat-completions API (Groq by default; a self-hosted server
//! works too). Retries 429, 5xx, timeouts and connection failures with exponential backoff, honouring
//! `Retry-After`, all within one overall deadline. The API key lives only in the request header; the
//! provider's error bodies are never read into logs or responses.
//!
//! A streamed answer (`stream: true`) is retried the same way until the provider starts answering;
//! after that its server-sent events are read with `eventsource-stream`, each delta passed on as it
//! arrives, still within the deadline. Dropping the stream drops the connection: the provider stops.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::AiSettings;
use crate::metrics::SharedMetrics;

/// First retry delay; doubles per retry unless the provider says otherwise.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_ANSWER_TOKENS: u32 = 700;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AiError {
    #[error("the AI provider did not answer within {0:?}")]
    Timeout(Duration),
    /// A failure described without the provider's own text (status code or transport error kind).
    #[error("the AI provider failed: {0}")]
    Provider(String),
}

#[derive(Serialize, Clone, Debug)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: "system",
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user",
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: "assistant",
            content: content.into(),
        }
    }
}

#[derive(Serialize)]
struct CompletionRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    temperature: f32,
    max_tokens: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

/// One event of a streamed answer: `choices[0].delta.content`, and `finish_reason` on the last.
#[derive(Deserialize)]
struct StreamChunk {
    #[serde(default)]
    choices: Vec<StreamChoice>,
}

#[derive(Deserialize)]
struct StreamChoice {
    #[serde(default)]
    delta: StreamDelta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct StreamDelta {
    content: Option<String>,
}

/// The text of a streamed answer as the provider writes it: deltas, then the end of the stream (a
/// complete answer) or an error (the answer is incomplete).
pub type ReplyStream = Pin<Box<dyn Stream<Item = Result<String, AiError>> + Send>>;

#[derive(Deserialize)]
struct CompletionResponse {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

/// The provider's last observed state, for `/api/health`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderHealth {
    Unknown = 0,
    Answering = 1,
    Failing = 2,
}

#[derive(Clone)]
pub struct AiClient {
    http: reqwest::Client,
    endpoint: Arc<str>,
    model: Arc<str>,
    api_key: SecretString,
    timeout: Duration,
    max_retries: u32,
    last_outcome: Arc<AtomicU8>,
    metrics: SharedMetrics,
}

enum Failure {
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    Final(String),
}

/// How a client retries a failed provider call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retries {
    /// `AI_MAX_RETRIES` retries within `AI_TIMEOUT_SECS`: answers given inline.
    Configured,
    /// One call per attempt: a queued job's retries are the job system's.
    Never,
}

impl AiClient {
    /// `None` without an API key.
    pub fn new(settings: &AiSettings, retries: Retries, metrics: SharedMetrics) -> anyhow::Result<Option<Self>> {
        let Some(api_key) = settings.api_key.clone() else {
            return Ok(None);
        };
        // rustls with the ring provider; installing it twice (tests, worker + server) is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5).min(settings.timeout))
            .user_agent(concat!("healthtracker/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Some(Self {
            http,
            endpoint: format!("{}/chat/completions", settings.base_url).into(),
            model: settings.model.clone().into(),
            api_key,
            timeout: settings.timeout,
            max_retries: match retries {
                Retries::Configured => settings.max_retries,
                Retries::Never => 0,
            },
            last_outcome: Arc::new(AtomicU8::new(ProviderHealth::Unknown as u8)),
            metrics,
        }))
    }

    pub fn health(&self) -> ProviderHealth {
        match self.last_outcome.load(Ordering::Relaxed) {
            1 => ProviderHealth::Answering,
            2 => ProviderHealth::Failing,
            _ => ProviderHealth::Unknown,
        }
    }

    /// The assistant's answer to `messages`.
    pub async fn complete(&self, messages: &[Message]) -> Result<String, AiError> {
        let deadline = Instant::now() + self.timeout;
        let outcome = self.retrying(deadline, || self.call(messages)).await;
        self.note_outcome(outcome.is_ok());
        outcome
    }

    /// The assistant's answer to `messages` as it is written. Errs (like [`AiClient::complete`])
    /// when the provider never starts answering; a failure after that is the stream's last item.
    pub async fn stream(&self, messages: &[Message]) -> Result<ReplyStream, AiError> {
        let deadline = Instant::now() + self.timeout;
        let opened = self.retrying(deadline, || self.send(messages, true)).await;
        self.note_outcome(opened.is_ok());
        let events = opened?.bytes_stream().eventsource();
        let timeout = self.timeout;
        // The state: the events still to read, and whether a `finish_reason` was seen.
        let deltas = futures_util::stream::unfold(Some((events, false)), move |state| async move {
            let (mut events, mut finished) = state?;
            loop {
                let next = tokio::time::timeout_at(deadline.into(), events.next()).await;
                let event = match next {
                    Err(_) => return Some((Err(AiError::Timeout(timeout)), None)),
                    // Some servers end without `[DONE]` after the last chunk; that is complete.
                    Ok(None) if finished => return None,
                    // The provider hung up before saying it had finished.
                    Ok(None) => return Some((Err(AiError::Provider("the stream ended early".to_owned())), None)),
                    Ok(Some(Err(_))) => {
                        return Some((Err(AiError::Provider("the stream broke off".to_owned())), None));
                    }
                    Ok(Some(Ok(event))) => event,
                };
                if event.data.trim() == "[DONE]" {
                    return None;
                }
                let Ok(chunk) = serde_json::from_str::<StreamChunk>(&event.data) else {
                    return Some((Err(AiError::Provider("an unreadable stream event".to_owned())), None));
                };
                let Some(choice) = chunk.choices.into_iter().next() else {
                    continue;
                };
                finished |= choice.finish_reason.is_some();
                if let Some(text) = choice.delta.content.filter(|text| !text.is_empty()) {
                    return Some((Ok(text), Some((events, finished))));
                }
            }
        });
        Ok(Box::pin(deltas))
    }

    fn note_outcome(&self, answered: bool) {
        let health = if answered {
            ProviderHealth::Answering
        } else {
            ProviderHealth::Failing
        };
        self.last_outcome.store(health as u8, Ordering::Relaxed);
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries or `deadline` run out.
    async fn retrying<T, F, Fut>(&self, deadline: Instant, mut attempt: F) -> Result<T, AiError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let mut retries = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(AiError::Timeout(self.timeout));
            }
            let started = Instant::now();
            let outcome = tokio::time::timeout(remaining, attempt()).await;
            self.metrics
                .record_ai_call(matches!(outcome, Ok(Ok(_))), started.elapsed());
            let failure = match outcome {
                Err(_) => return Err(AiError::Timeout(self.timeout)),
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(failure)) => failure,
            };
            let (reason, retry_after) = match failure {
                Failure::Final(reason) => return Err(AiError::Provider(reason)),
                Failure::Retryable { reason, retry_after } => (reason, retry_after),
            };
            if retries >= self.max_retries {
                return Err(AiError::Provider(reason));
            }
            let wait = retry_after.unwrap_or(FIRST_BACKOFF * 2u32.saturating_pow(retries));
            if Instant::now() + wait >= deadline {
                // Waiting would overrun the deadline: fail now rather than late.
                return Err(AiError::Provider(reason));
            }
            retries += 1;
            tracing::warn!(%reason, retry = retries, wait_ms = wait.as_millis() as u64, "AI provider call failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends the request; a response with a success status is the provider answering.
    async fn send(&self, messages: &[Message], stream: bool) -> Result<reqwest::Response, Failure> {
        let request = CompletionRequest {
            model: &self.model,
            messages,
            temperature: 0.7,
            max_tokens: MAX_ANSWER_TOKENS,
            stream,
        };
        let response = self
            .http
            .post(&*self.endpoint)
            .bearer_auth(self.api_key.expose_secret())
            .json(&request)
            .send()
            .await
            .map_err(|e| Failure::Retryable {
                reason: transport_reason(&e),
                retry_after: None,
            })?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            return Err(Failure::Retryable {
                reason: format!("HTTP {}", status.as_u16()),
                retry_after,
            });
        }
        if !status.is_success() {
            return Err(Failure::Final(format!("HTTP {}", status.as_u16())));
        }
        Ok(response)
    }

    async fn call(&self, messages: &[Message]) -> Result<String, Failure> {
        let response = self.send(messages, false).await?;
        let body: CompletionResponse = response.json().await.map_err(|e| Failure::Retryable {
            reason: transport_reason(&e),
            retry_after: None,
        })?;
        body.choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())
            .ok_or_else(|| Failure::Final("empty answer".to_owned()))
    }
}

/// A transport failure by kind only (reqwest's Display can include the URL).
fn transport_reason(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_decode() {
        "unreadable answer"
    } else {
        "request failed"
    };
    kind.to_owned()
}

/// `Retry-After`: delay-seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::parse_retry_after;
    use std::time::Duration;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
