//! The model: any OpenAI-compatible chat-completions endpoint (llama.cpp's server, vLLM,
//! Ollama, or a hosted one), non-streaming or streaming (server-sent events). A third-party
//! service: every call has a deadline, a bounded answer, and a log line with its latency
//! and token counts (never the text, which is the visitor's).

use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// The API's base URL, up to and including `/v1` (`http://127.0.0.1:11434/v1`);
    /// `/chat/completions` is appended.
    pub url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer`; local servers need none.
    pub key: Option<String>,
    pub stream: bool,
    /// The whole call, from request to last token.
    pub timeout: Duration,
    /// The model's answer is cut here (`max_tokens` in the request).
    pub max_tokens: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Completion {
    pub text: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The answer went past the byte limit and was cut there.
    pub cut: bool,
}

#[derive(Debug, PartialEq)]
pub enum ModelError {
    Timeout,
    Status(u16),
    Transport(String),
    Malformed(String),
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::Timeout => f.write_str("timed out"),
            ModelError::Status(s) => write!(f, "answered HTTP {s}"),
            ModelError::Transport(e) => write!(f, "transport: {e}"),
            ModelError::Malformed(e) => write!(f, "malformed answer: {e}"),
        }
    }
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    messages: &'a [Message],
    max_tokens: u32,
    temperature: f32,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Deserialize)]
struct Response {
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<Content>,
    #[serde(default)]
    delta: Option<Content>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    content: Option<String>,
}

pub struct Model {
    config: ModelConfig,
    http: reqwest::Client,
}

impl Model {
    pub fn new(config: ModelConfig) -> Model {
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .build()
            .expect("an HTTP client with rustls");
        Model { config, http }
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Whether answers are asked for as a stream.
    pub fn streams(&self) -> bool {
        self.config.stream
    }

    /// One chat completion, its text at most `max_bytes` long.
    pub async fn complete(
        &self,
        messages: &[Message],
        max_bytes: usize,
    ) -> Result<Completion, ModelError> {
        self.complete_with(messages, max_bytes, &mut |_| {}).await
    }

    /// The same, giving each piece of a streamed answer to `piece` as it arrives (a model
    /// called without streaming gives none).
    pub async fn complete_with(
        &self,
        messages: &[Message],
        max_bytes: usize,
        piece: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Completion, ModelError> {
        let started = Instant::now();
        let result =
            tokio::time::timeout(self.config.timeout, self.call(messages, max_bytes, piece))
                .await
                .unwrap_or(Err(ModelError::Timeout));
        let latency_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(c) => tracing::info!(
                model = %self.config.model,
                stream = self.config.stream,
                latency_ms,
                prompt_tokens = c.prompt_tokens,
                completion_tokens = c.completion_tokens,
                cut = c.cut,
                "model call"
            ),
            Err(e) => tracing::warn!(
                model = %self.config.model,
                stream = self.config.stream,
                latency_ms,
                error = %e,
                "model call failed"
            ),
        }
        result
    }

    async fn call(
        &self,
        messages: &[Message],
        max_bytes: usize,
        piece: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Completion, ModelError> {
        let stream = self.config.stream;
        let body = Request {
            model: &self.config.model,
            messages,
            max_tokens: self.config.max_tokens,
            temperature: 0.2,
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
        };
        let url = format!("{}/chat/completions", self.config.url.trim_end_matches('/'));
        let mut request = self.http.post(url).json(&body);
        if let Some(key) = &self.config.key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ModelError::Transport(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(ModelError::Status(response.status().as_u16()));
        }
        let mut out = if stream {
            read_stream(response, max_bytes, piece).await?
        } else {
            let r: Response = response
                .json()
                .await
                .map_err(|e| ModelError::Malformed(e.without_url().to_string()))?;
            let usage = r.usage.unwrap_or_default();
            Completion {
                text: r
                    .choices
                    .into_iter()
                    .next()
                    .and_then(|c| c.message)
                    .and_then(|m| m.content)
                    .ok_or_else(|| ModelError::Malformed("no choice".into()))?,
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                cut: false,
            }
        };
        if out.text.len() > max_bytes {
            out.text.truncate(out.text.floor_char_boundary(max_bytes));
            out.cut = true;
        }
        if out.completion_tokens == 0 {
            // A server that reports no usage: about 4 bytes a token, so budgets still hold.
            out.prompt_tokens = messages.iter().map(|m| m.content.len() as u64).sum::<u64>() / 4;
            out.completion_tokens = out.text.len() as u64 / 4 + 1;
        }
        Ok(out)
    }
}

/// Reads `data:` events until `[DONE]`; stops early (and drops the connection) once the text
/// passed `max_bytes`, so a runaway model costs no more than one message.
async fn read_stream(
    response: reqwest::Response,
    max_bytes: usize,
    on_piece: &mut (dyn FnMut(&str) + Send),
) -> Result<Completion, ModelError> {
    let mut events = response.bytes_stream().eventsource();
    let mut out = Completion::default();
    while let Some(event) = events.next().await {
        let event = event.map_err(|e| ModelError::Transport(e.to_string()))?;
        if event.data.trim() == "[DONE]" {
            break;
        }
        let chunk: Response =
            serde_json::from_str(&event.data).map_err(|e| ModelError::Malformed(e.to_string()))?;
        if let Some(u) = chunk.usage {
            out.prompt_tokens = u.prompt_tokens;
            out.completion_tokens = u.completion_tokens;
        }
        if let Some(piece) = chunk
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.delta)
            .and_then(|d| d.content)
        {
            out.text.push_str(&piece);
            on_piece(&piece);
        }
        if out.text.len() > max_bytes {
            out.cut = true;
            break;
        }
    }
    Ok(out)
}
