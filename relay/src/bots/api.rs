//! The bot HTTP API, for bots that are plain HTTP services (webhook bots):
//! `POST /v1/bot/conversations/{id}/messages|typing|handoff` with `Authorization: Bearer TOKEN`.
//! Each request becomes the client frame a WebSocket bot would send and runs through the same
//! [`BotSession`] handling, so both ways to attach obey the same checks.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::de::DeserializeOwned;
use switchboard_protocol::client::Send;
use switchboard_protocol::limits::MAX_HTTP_BODY_BYTES;
use switchboard_protocol::webhook::{PostMessage, PostTyping, IDEMPOTENCY_KEY_HEADER};
use switchboard_protocol::{ClientMsg, ErrorCode, Handoff, ServerMsg};

use crate::client_addr::ClientAddr;
use crate::outbox::{Frame, Outbox, Outgoing};
use crate::session::{BotSession, Handler};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/bot/conversations/{id}/messages", post(message))
        .route("/v1/bot/conversations/{id}/typing", post(typing))
        .route("/v1/bot/conversations/{id}/handoff", post(handoff))
        // The limit is checked again below so an oversize body gets a typed error.
        .layer(DefaultBodyLimit::max(MAX_HTTP_BODY_BYTES))
}

/// A refused request: the status and the same `error` frame a WebSocket client gets.
struct Refused(ErrorCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = match self.0 {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::NotOwner | ErrorCode::OutOfOrder => StatusCode::CONFLICT,
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        json(status, ServerMsg::error(self.0, self.1).to_json())
    }
}

fn json(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}

async fn message(
    State(state): State<AppState>,
    Path(conversation_id): Path<String>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let key = headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let request = |post: PostMessage| match key {
        Some(client_id) => Ok(ClientMsg::Send(Send {
            conversation_id,
            client_id,
            text: post.text,
            rich: post.rich,
            canned_id: None,
        })),
        None => Err(Refused(
            ErrorCode::Invalid,
            format!("the {IDEMPOTENCY_KEY_HEADER} header is required"),
        )),
    };
    run(&state, addr, &headers, body, request).await
}

async fn typing(
    State(state): State<AppState>,
    Path(conversation_id): Path<String>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    run(&state, addr, &headers, body, |t: PostTyping| {
        Ok(ClientMsg::Typing {
            conversation_id,
            active: t.active,
        })
    })
    .await
}

async fn handoff(
    State(state): State<AppState>,
    Path(conversation_id): Path<String>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    run(&state, addr, &headers, body, |handoff: Handoff| {
        Ok(ClientMsg::Handoff {
            conversation_id,
            handoff,
        })
    })
    .await
}

/// Authenticates, decodes, validates and handles one request; answers with the frame the bot
/// session produced (`ack`, `released`) or 204 when it produced none (typing).
async fn run<B: DeserializeOwned>(
    state: &AppState,
    addr: IpAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    to_msg: impl FnOnce(B) -> Result<ClientMsg, Refused>,
) -> Response {
    match handle(state, addr, headers, body, to_msg).await {
        Ok(Some(frame)) => json(StatusCode::OK, axum::body::Bytes::from(frame)),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(refused) => refused.into_response(),
    }
}

async fn handle<B: DeserializeOwned>(
    state: &AppState,
    addr: IpAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    to_msg: impl FnOnce(B) -> Result<ClientMsg, Refused>,
) -> Result<Option<Frame>, Refused> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let limited = |r: crate::session::Refusal| Refused(r.code, r.message);
    state.limiters.auth_allowed(addr).map_err(limited)?;
    let bot = token.and_then(|t| state.bots.by_token(t)).ok_or_else(|| {
        state.limiters.auth_failed(addr);
        Refused(
            ErrorCode::Unauthorized,
            "Authorization: Bearer <bot token> is missing or not valid".into(),
        )
    })?;
    state.limiters.bot_api(&bot.id).map_err(limited)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Refused(
                ErrorCode::TooLarge,
                format!("body is larger than {MAX_HTTP_BODY_BYTES} bytes"),
            )
        } else {
            Refused(ErrorCode::BadJson, e.body_text())
        }
    })?;
    let parsed: B = serde_json::from_slice(&body).map_err(|e| {
        let code = if e.is_syntax() || e.is_eof() {
            ErrorCode::BadJson
        } else {
            ErrorCode::Invalid
        };
        Refused(code, e.to_string())
    })?;
    let msg = to_msg(parsed)?;
    msg.validate().map_err(|(code, m)| Refused(code, m))?;
    let (outbox, mut rx) = Outbox::channel(state.hub.next_id(), 4);
    BotSession::new(bot)
        .handle(state, msg, &outbox)
        .await
        .map_err(|r| Refused(r.code, r.message))?;
    drop(outbox);
    // The session answers a request with at most one frame.
    // Already serialized for a socket: answered as it is.
    match rx.recv().await {
        Some(Outgoing::Frame(f)) => Ok(Some(f)),
        _ => Ok(None),
    }
}
