//! HTTP routes: the two WebSocket upgrades (with their origin checks), `/healthz`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::extract::ws::WebSocket;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use switchboard_protocol::limits::MAX_FRAME_HARD_BYTES;

use crate::accept::Slot;
use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::metrics::{Limit, Metrics, Role, Scraped, StoreOp};
use crate::session::{self, AgentSession, BotSession, VisitorSession};
use crate::{login, token, AppState};

/// Per-connection socket buffers. tungstenite's default read buffer is 128 KiB per connection
/// and is allocated up front; chat frames are mostly a few hundred bytes, so 512 B keeps an
/// idle connection cheap at the price of a few more reads for a large `hello` (its context).
/// The buffer grows to a whole frame when one is longer.
const READ_BUFFER: usize = 512;
const WRITE_BUFFER: usize = 1024;

fn limits(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_FRAME_HARD_BYTES)
        .max_frame_size(MAX_FRAME_HARD_BYTES)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
}

/// Completes the upgrade and runs the session in a task of its own: axum's upgrade task keeps
/// its request state (~250 B) beside the future it awaits, for the connection's whole life.
/// The connection's place in the budget goes with the session and is given back when it ends.
fn upgrade<F>(
    ws: WebSocketUpgrade,
    slot: Option<Extension<Slot>>,
    (metrics, role): (Arc<Metrics>, Role),
    session: impl FnOnce(WebSocket) -> F + Send + 'static,
) -> Response
where
    F: Future<Output = ()> + Send + 'static,
{
    let admitted = slot.and_then(|s| s.take());
    limits(ws).on_upgrade(move |socket| {
        let session = session(socket);
        tokio::spawn(async move {
            metrics.connection_opened(role);
            session.await;
            metrics.connection_closed(role);
            drop(admitted);
        });
        std::future::ready(())
    })
}

/// Any WebSocket upgrade: within the address's rate of new connections.
fn admit(state: &AppState, addr: ClientAddr) -> Result<(), ApiError> {
    state.limiters.connect(addr.0).map_err(|r| {
        state.metrics.rate_limited(Limit::Connect);
        ApiError::RateLimited(r.retry_after_ms.unwrap_or(1_000))
    })
}

/// `GET /v1/visitor?site=KEY`: the widget's connection. The page's `Origin` must be allowed
/// for the site, so another site cannot open chats in this site's name.
pub async fn visitor_ws(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    addr: ClientAddr,
    slot: Option<Extension<Slot>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let key = query.get("site").ok_or(ApiError::UnknownSite)?;
    let site = state.sites.get(key).cloned().ok_or(ApiError::UnknownSite)?;
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .unwrap_or("");
    if !site.allows_origin(origin) {
        tracing::info!(site = %site.key, origin, "visitor origin refused");
        return Err(ApiError::OriginNotAllowed);
    }
    // The last connections are kept for agents, bots and health checks.
    let limits = &state.limiters.config;
    if state.budget.open() > limits.max_connections.saturating_sub(limits.reserved) {
        return Err(ApiError::Busy);
    }
    admit(&state, addr)?;
    let role = (state.metrics.clone(), Role::Visitor);
    Ok(upgrade(ws, slot, role, move |socket| {
        session::run::<VisitorSession>(socket, state, (site, addr.0))
    }))
}

/// `GET /v1/agent`: the console's (or an agent tool's) connection. Browsers must come from the
/// relay's own origin (the console), which stops other pages from riding an agent's session;
/// clients without an `Origin` header are not browsers and rely on the token alone. The
/// console's session cookie signs the agent in (then `hello` needs no token), but only with
/// the relay's own `Origin` present (`login::cookie_agent`).
pub async fn agent_ws(
    State(state): State<AppState>,
    addr: ClientAddr,
    slot: Option<Extension<Slot>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !login::own_origin(&state, &headers, origin) {
            tracing::info!(origin, "agent origin refused");
            return Err(ApiError::OriginNotAllowed);
        }
    }
    admit(&state, addr)?;
    let cookie_agent = login::cookie_agent(&state, &headers).await;
    let role = (state.metrics.clone(), Role::Agent);
    Ok(upgrade(ws, slot, role, move |socket| {
        session::run::<AgentSession>(socket, state, (addr.0, cookie_agent))
    }))
}

/// `GET /v1/bot`: a bot process's connection, authenticated by the bot token in `hello`.
pub async fn bot_ws(
    State(state): State<AppState>,
    addr: ClientAddr,
    slot: Option<Extension<Slot>>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    admit(&state, addr)?;
    let role = (state.metrics.clone(), Role::Bot);
    Ok(upgrade(ws, slot, role, move |socket| {
        session::run::<BotSession>(socket, state, addr.0)
    }))
}

/// `GET /healthz`: 200 when the store answers, 503 otherwise. The public answer is only
/// `ok`/`degraded`; counts and the broker's name (which help an attacker size a flood) need
/// the operator token (`Authorization: Bearer …`).
pub async fn healthz(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let started = std::time::Instant::now();
    let store = state.broker.ping().await;
    state.metrics.store(StoreOp::Ping, started.elapsed());
    let status = if store.is_ok() { "ok" } else { "degraded" };
    let body = if is_operator(&state, &headers) {
        // Each webhook bot's queue, and what could not be queued: a bot that is down shows here
        // long before anything is refused.
        let mut backlog = serde_json::Map::new();
        for bot in state.webhooks.bots() {
            if let Ok(n) = state.broker.bot_backlog(bot).await {
                backlog.insert(bot.to_owned(), n.into());
            }
        }
        Json(serde_json::json!({
            "webhook_backlog": backlog,
            "webhook_refused": state.webhooks.refused(),
            "status": status,
            "broker": state.broker.name(),
            "broker_ok": store.is_ok(),
            "connections": state.hub.connections(),
            "open_sockets": state.budget.open(),
            "slow_closes": state.hub.slow_closes(),
        }))
    } else {
        Json(serde_json::json!({ "status": status }))
    };
    let status = if store.is_ok() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body).into_response()
}

/// Whether the request carries the operator token (`Authorization: Bearer …`).
pub fn is_operator(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.operator_token.as_deref().is_some_and(|t| {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        given.is_some_and(|g| token::hash(g) == crate::config::token_hash(t))
    })
}

/// `GET /metrics` on the public listener: the operator token only, because the counts size
/// the relay's traffic and its weak spots for anyone planning a flood. Without the token it
/// is a plain 404, like any unknown path. `--metrics-listen` serves it without a token on an
/// address of its own (a private interface the scraper reaches).
///
/// A wrong token counts as a failed authentication of the address (as on the admin API), so
/// the token cannot be guessed at speed; the metrics listener has no such gate.
pub async fn metrics(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = state.limiters.auth_allowed(addr.0) {
        return ApiError::RateLimited(r.retry_after_ms.unwrap_or(1_000)).into_response();
    }
    if !is_operator(&state, &headers) {
        if headers.contains_key(header::AUTHORIZATION) {
            state.limiters.auth_failed(addr.0);
        }
        return ApiError::NotFound.into_response();
    }
    metrics_open(State(state)).await
}

/// `GET /metrics` on `--metrics-listen`: no token (the address is the access control).
pub async fn metrics_open(State(state): State<AppState>) -> Response {
    let mut scraped = Scraped {
        open_sockets: state.budget.open() as usize,
        webhook_overflow: state.webhooks.refused(),
        ..Scraped::default()
    };
    for bot in state.webhooks.bots() {
        if let Ok(n) = state.broker.bot_backlog(bot).await {
            scraped.webhook_backlog.push((bot.to_owned(), n));
        }
    }
    crate::site_webhooks::scrape(&state, &mut scraped).await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(scraped),
    )
        .into_response()
}
