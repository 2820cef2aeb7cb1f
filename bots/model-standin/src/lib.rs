//! A **stand-in** for the third-party model service the AI bot talks to: an OpenAI-compatible
//! `POST /v1/chat/completions` on a local port that answers from a script the test gives it,
//! plainly or as server-sent events, slowly, with an error status, or never. It keeps every
//! request it was sent, so a test can check what the bot put in the prompt.
//!
//! It is not a model and pretends no understanding: a script is a function from the request
//! to one [`Answer`].

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures_util::stream;
use serde_json::{json, Value};

/// What the stand-in does with one request.
#[derive(Clone, Debug)]
pub enum Answer {
    /// This text, as one JSON body (or as a stream, if the request asked for one).
    Text(String),
    /// This text in pieces, `gap` apart, as server-sent events whatever was asked.
    Stream { pieces: Vec<String>, gap: Duration },
    /// The text after `delay`.
    Slow { delay: Duration, text: String },
    /// An error status with an OpenAI-style error body.
    Status(u16),
    /// Never answers (the connection stays open).
    Silent,
    /// Repeats every message of the request back, the way a model fooled by an injection
    /// would print its instructions.
    Echo,
}

type Script = dyn Fn(&Value) -> Answer + Send + Sync;

#[derive(Clone)]
struct Shared {
    script: Arc<Script>,
    requests: Arc<Mutex<Vec<Value>>>,
}

pub struct ModelStandIn {
    /// The base URL to configure the bot with (`http://127.0.0.1:PORT/v1`).
    pub url: String,
    requests: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ModelStandIn {
    pub async fn start(script: impl Fn(&Value) -> Answer + Send + Sync + 'static) -> ModelStandIn {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            script: Arc::new(script),
            requests: requests.clone(),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        ModelStandIn {
            url,
            requests,
            task,
        }
    }

    /// Every request body received so far, oldest first.
    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for ModelStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The text of every message in a request, joined: what a test searches the prompt in.
pub fn prompt_text(request: &Value) -> String {
    request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The visitor's question in a request from the AI bot (its last message is a data document).
pub fn question(request: &Value) -> String {
    let last = request["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    let json = last.split_once('\n').map(|(_, j)| j).unwrap_or(last);
    serde_json::from_str::<Value>(json)
        .ok()
        .and_then(|v| v["visitor_message"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn complete(State(s): State<Shared>, Json(request): Json<Value>) -> Response {
    s.requests.lock().unwrap().push(request.clone());
    let wants_stream = request["stream"].as_bool().unwrap_or(false);
    match (s.script)(&request) {
        Answer::Text(text) if wants_stream => sse(vec![text], Duration::ZERO),
        Answer::Text(text) => whole(text),
        Answer::Stream { pieces, gap } => sse(pieces, gap),
        Answer::Slow { delay, text } => {
            tokio::time::sleep(delay).await;
            if wants_stream {
                sse(vec![text], Duration::ZERO)
            } else {
                whole(text)
            }
        }
        Answer::Status(code) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(json!({"error": {"message": "stand-in error", "type": "server_error"}})),
        )
            .into_response(),
        Answer::Silent => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Answer::Echo => whole(prompt_text(&request)),
    }
}

fn tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn whole(text: String) -> Response {
    let n = tokens(&text);
    Json(json!({
        "id": "standin-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": n, "total_tokens": 100 + n},
    }))
    .into_response()
}

fn sse(pieces: Vec<String>, gap: Duration) -> Response {
    let n: u64 = pieces.iter().map(|p| tokens(p)).sum();
    let mut events: Vec<(Duration, String)> = pieces
        .into_iter()
        .map(|p| {
            let chunk = json!({"choices": [{"index": 0, "delta": {"content": p}}]});
            (gap, format!("data: {chunk}\n\n"))
        })
        .collect();
    let usage = json!({"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": n, "total_tokens": 100 + n}});
    events.push((Duration::ZERO, format!("data: {usage}\n\n")));
    events.push((Duration::ZERO, "data: [DONE]\n\n".to_owned()));
    let body = stream::unfold(events.into_iter(), |mut it| async move {
        let (gap, event) = it.next()?;
        tokio::time::sleep(gap).await;
        Some((Ok::<_, Infallible>(event), it))
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(body),
    )
        .into_response()
}
