//! One task per WebSocket: the `hello` handshake, then a loop that hands each client frame to
//! the role's handler ([`visitor`] or [`agent`]) and turns refusals into `error` frames.
//!
//! A refused frame changes nothing: every check runs before the store is touched, and the
//! store's own operations are single transactions.

mod agent;
mod bot;
mod directory;
mod lifecycle;
mod note;
mod receipts;
mod search;
mod stream;
mod views;
mod visitor;

use std::future::Future;
use std::time::Duration;

use tracing::Instrument;

use axum::extract::ws::WebSocket;
use switchboard_protocol::client::Hello;
use switchboard_protocol::limits::MAX_HISTORY_BATCH;
use switchboard_protocol::{ClientMsg, CloseCode, ErrorCode, ServerMsg, PROTOCOL_VERSION};

use crate::bots::routing;
use crate::broker::{Appended, Audience, Conversation, Event, NewMessage, StoreError};
use crate::connection::{Connection, Incoming};
use crate::limits::{FrameLimits, FrameRates, Limits, Verdict};
use crate::metrics::{Limit, Metrics, StoreOp};
use crate::outbox::Outbox;
use crate::AppState;

pub use agent::AgentSession;
pub use bot::BotSession;
pub use visitor::VisitorSession;

/// How long a new connection may take to send `hello`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Why one frame was refused: becomes an `error` frame.
#[derive(Debug)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
    pub client_id: Option<String>,
    /// With `rate_limited`: when the same frame would be accepted.
    pub retry_after_ms: Option<u64>,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
            client_id: None,
            retry_after_ms: None,
        }
    }

    /// The `error` frame a client gets for this refusal.
    pub fn to_msg(&self) -> ServerMsg {
        ServerMsg::Error {
            code: self.code,
            message: self.message.clone(),
            client_id: self.client_id.clone(),
            retry_after_ms: self.retry_after_ms,
        }
    }

    /// A second `hello` on an accepted connection.
    pub(crate) fn hello_again() -> Refusal {
        Refusal::new(ErrorCode::OutOfOrder, "hello was already accepted")
    }

    /// A bot writing where it does not (or no longer) answer.
    pub(crate) fn not_owner() -> Refusal {
        Refusal::new(
            ErrorCode::NotOwner,
            "this conversation is not yours to answer (it was handed off or taken over)",
        )
    }

    /// A blocked visitor's frame (or `hello`).
    pub(crate) fn blocked() -> Refusal {
        Refusal::new(ErrorCode::Blocked, "you cannot write to this site")
    }

    pub(crate) fn for_client(mut self, client_id: &str) -> Refusal {
        self.client_id = Some(client_id.to_owned());
        self
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        match e {
            StoreError::NotFound(what) => {
                Refusal::new(ErrorCode::NotFound, format!("{what} not found"))
            }
            StoreError::NotOwner(_) => Refusal::not_owner(),
            StoreError::Blocked => Refusal::blocked(),
            StoreError::Conflict(current) => Refusal::new(
                ErrorCode::Conflict,
                format!(
                    "the conversation changed meanwhile (now version {}); look again",
                    current.version
                ),
            ),
            StoreError::Invalid(why) => Refusal::new(ErrorCode::Invalid, why),
            StoreError::SearchUnavailable => Refusal::new(
                ErrorCode::SearchUnavailable,
                "this relay's store has no full-text search engine",
            ),
            StoreError::Backend(detail) => {
                tracing::error!(%detail, "store failed");
                Refusal::new(
                    ErrorCode::Unavailable,
                    "storage is unavailable; nothing was stored, retry",
                )
            }
        }
    }
}

/// What a role does with a connection after `hello`.
pub(crate) trait Handler: Sized {
    /// What the HTTP upgrade already established (the visitor's site).
    type Params: Send;
    /// Accepts or refuses the `hello`; on refusal the connection is closed with the code.
    async fn start(
        state: &AppState,
        params: Self::Params,
        hello: Hello,
        outbox: &Outbox,
    ) -> Result<Self, CloseCode>;
    async fn handle(
        &mut self,
        state: &AppState,
        msg: ClientMsg,
        outbox: &Outbox,
    ) -> Result<(), Refusal>;
    /// This role's per-connection quotas.
    fn rates(limits: &Limits) -> &FrameRates;
    /// The conversation whose live frames this connection joined in the hub, if any.
    fn conversation(&self) -> Option<&str> {
        None
    }
}

/// Runs a connection to its end.
///
/// A plain function returning an `async move` block rather than an `async fn`: an `async fn`
/// copies its arguments into locals and its future keeps both slots, and every byte of this
/// future is paid by every idle connection.
pub(crate) fn run<H: Handler>(
    socket: WebSocket,
    state: AppState,
    params: H::Params,
) -> impl Future<Output = ()> {
    let counted = state.hub.track();
    let (mut conn, outbox) = Connection::new(
        socket,
        state.hub.next_id(),
        state.config.tuning.clone(),
        state.metrics.clone(),
    );
    async move {
        // Everything large is boxed and lives only while it is used: an idle connection,
        // which waits in `conn.next()` for most of its life, should hold no hello, no decoded
        // frame and no store call.
        let started = Box::pin(async {
            let hello = handshake(&mut conn, &outbox, &state.metrics).await?;
            let start = H::start(&state, params, hello, &outbox);
            Some(conn.serving(start).await.map(Box::new))
        });
        // Matched without a binding, so the future keeps no slot for it.
        let mut handler = match started.await {
            Some(Ok(handler)) => {
                tracing::debug!(
                    conn = outbox.id,
                    conversation = handler.conversation(),
                    "session started"
                );
                Some(handler)
            }
            Some(Err(code)) => {
                outbox.close(code);
                None
            }
            // The handshake closed the connection, saying why.
            None => None,
        };
        // Boxed on the first frame: an idle connection carries a pointer, not the limiters.
        let mut limits: Option<Box<FrameLimits>> = None;
        if let Some(handler) = handler.as_deref_mut() {
            // Shutdown reaches sessions through the hub (`Hub::close_all`), not through a
            // cancellation future every idle session would hold; one that joined the hub
            // just after that sweep sees the token here (the hub's lock orders the two).
            if state.shutdown.is_cancelled() {
                outbox.close(CloseCode::RECONNECT_NOW);
            }
            loop {
                // The message is taken out before it is served, so the future keeps no
                // `Incoming` beside the work.
                let msg = match conn.next().await {
                    Incoming::Msg(msg) => msg,
                    Incoming::Bad(e) => {
                        state.metrics.frame_in("other");
                        state.metrics.refused(e.code());
                        // With the frame's client id where it could be read, so the client
                        // marks that message failed instead of resending it forever.
                        outbox.send(&ServerMsg::Error {
                            code: e.code(),
                            message: e.to_string(),
                            client_id: e.client_id().map(str::to_owned),
                            retry_after_ms: None,
                        });
                        continue;
                    }
                    // Also how a queued close (shutdown included) ends the session.
                    Incoming::End => break,
                    Incoming::TooBig => {
                        outbox.close(CloseCode::TOO_BIG);
                        break;
                    }
                    Incoming::BadUtf8 => {
                        outbox.close(CloseCode::INVALID_PAYLOAD);
                        break;
                    }
                };
                state.metrics.frame_in(msg.kind());
                let config = &state.limiters.config;
                // With the limits off (load tests) no limiter is allocated at all.
                let verdict = if config.enabled {
                    limits
                        .get_or_insert_with(|| Box::new(FrameLimits::new(H::rates(config))))
                        .check(&msg, config.close_after_refusals)
                } else {
                    Verdict::Pass
                };
                match verdict {
                    Verdict::Pass => {}
                    Verdict::Refuse(mut r) => {
                        state.metrics.rate_limited(Limit::Frame);
                        state.metrics.refused(r.code);
                        r.client_id = client_id_of(&msg);
                        outbox.send(&r.to_msg());
                        continue;
                    }
                    Verdict::Close(mut r) => {
                        state.metrics.rate_limited(Limit::Frame);
                        state.metrics.refused(r.code);
                        r.client_id = client_id_of(&msg);
                        outbox.send(&r.to_msg());
                        outbox.close(CloseCode::RATE_LIMITED);
                        break;
                    }
                }
                let handled = conn.serving(framed(handler, &state, msg, &outbox)).await;
                if let Err(r) = handled {
                    state.metrics.refused(r.code);
                    let unavailable = r.code == ErrorCode::Unavailable;
                    outbox.send(&r.to_msg());
                    if unavailable {
                        // Frames behind the failed one must not be stored before it is resent,
                        // or the conversation's order would break: end the connection; the
                        // client resends everything unacked.
                        outbox.close(CloseCode::UNAVAILABLE);
                        break;
                    }
                }
            }
        }
        tracing::debug!(conn = outbox.id, "session ended");
        state
            .hub
            .leave(outbox.id, handler.as_deref().and_then(H::conversation));
        drop(handler);
        drop(outbox);
        // Boxed: closing holds timers and a send, which an idle connection need not carry.
        Box::pin(conn.finish()).await;
        // Counted until closed: shutdown waits for this count to reach zero.
        drop(counted);
    }
}

/// One client frame's work, boxed, in its log span. The span is made here, not in the
/// session's loop, so the future an idle connection holds keeps no slot for it. Disabled at
/// the default level (`info`), when the macro builds nothing: with
/// `RUST_LOG=switchboard_relay::session=debug` every line the frame causes carries the
/// connection and the conversation.
fn framed<'a, H: Handler>(
    handler: &'a mut H,
    state: &'a AppState,
    msg: Box<ClientMsg>,
    outbox: &'a Outbox,
) -> std::pin::Pin<Box<impl Future<Output = Result<(), Refusal>> + 'a>> {
    let span = tracing::debug_span!(
        "frame",
        conn = outbox.id,
        kind = msg.kind(),
        conversation = conversation_of(&msg).or(handler.conversation()),
    );
    Box::pin(frame(handler, state, msg, outbox).instrument(span))
}

/// One client frame: checked, then handled by the role.
async fn frame<H: Handler>(
    handler: &mut H,
    state: &AppState,
    msg: Box<ClientMsg>,
    outbox: &Outbox,
) -> Result<(), Refusal> {
    let msg = *msg;
    let handled = match msg.validate() {
        Ok(()) => handler.handle(state, msg, outbox).await,
        Err((code, message)) => Err(Refusal {
            code,
            message,
            client_id: client_id_of(&msg),
            retry_after_ms: None,
        }),
    };
    match &handled {
        Ok(()) => tracing::debug!("frame handled"),
        Err(r) => tracing::debug!(refused = r.code.as_str(), "frame refused"),
    }
    handled
}

/// The conversation a frame names, for its log span.
fn conversation_of(msg: &ClientMsg) -> Option<&str> {
    match msg {
        ClientMsg::Send(s) => Some(&s.conversation_id),
        ClientMsg::Note(n) => Some(&n.conversation_id),
        ClientMsg::Rate(r) => Some(&r.conversation_id),
        ClientMsg::Typing {
            conversation_id, ..
        }
        | ClientMsg::Sync {
            conversation_id, ..
        }
        | ClientMsg::Postback {
            conversation_id, ..
        }
        | ClientMsg::Handoff {
            conversation_id, ..
        }
        | ClientMsg::HandBack { conversation_id }
        | ClientMsg::Assign {
            conversation_id, ..
        }
        | ClientMsg::Transfer {
            conversation_id, ..
        }
        | ClientMsg::SetStatus {
            conversation_id, ..
        }
        | ClientMsg::SetPriority {
            conversation_id, ..
        }
        | ClientMsg::Block {
            conversation_id, ..
        }
        | ClientMsg::VisitorHistory { conversation_id }
        | ClientMsg::Read {
            conversation_id, ..
        } => Some(conversation_id),
        _ => None,
    }
}

/// Waits for a valid `hello`; anything else closes the connection with a code saying why.
async fn handshake(conn: &mut Connection, outbox: &Outbox, metrics: &Metrics) -> Option<Hello> {
    let refuse = |code: ErrorCode, message: String, close: CloseCode| {
        metrics.refused(code);
        outbox.send(&ServerMsg::error(code, message));
        outbox.close(close);
        None
    };
    let first = tokio::time::timeout(HELLO_TIMEOUT, conn.next()).await;
    match &first {
        Ok(Incoming::Msg(msg)) => metrics.frame_in(msg.kind()),
        Ok(Incoming::Bad(_)) => metrics.frame_in("other"),
        _ => {}
    }
    match first {
        Err(_) => {
            outbox.close(CloseCode::HELLO_TIMEOUT);
            None
        }
        Ok(Incoming::End) => None,
        Ok(Incoming::TooBig) => {
            outbox.close(CloseCode::TOO_BIG);
            None
        }
        Ok(Incoming::BadUtf8) => {
            outbox.close(CloseCode::INVALID_PAYLOAD);
            None
        }
        Ok(Incoming::Bad(e)) => refuse(e.code(), e.to_string(), CloseCode::BAD_HELLO),
        Ok(Incoming::Msg(msg)) if matches!(*msg, ClientMsg::Hello(_)) => {
            let msg = *msg;
            if let Err((code, message)) = msg.validate() {
                return refuse(code, message, CloseCode::BAD_HELLO);
            }
            let ClientMsg::Hello(hello) = msg else {
                unreachable!()
            };
            if hello.protocol != PROTOCOL_VERSION {
                return refuse(
                    ErrorCode::Invalid,
                    format!(
                        "protocol {} is not supported; this relay speaks {PROTOCOL_VERSION}",
                        hello.protocol
                    ),
                    CloseCode::PROTOCOL_VERSION,
                );
            }
            Some(hello)
        }
        Ok(Incoming::Msg(other)) => refuse(
            ErrorCode::OutOfOrder,
            format!("expected hello, got {}", other.kind()),
            CloseCode::BAD_HELLO,
        ),
    }
}

/// The frame's client id, if it is a valid one: an invalid one is not echoed back.
fn client_id_of(msg: &ClientMsg) -> Option<String> {
    let id = match msg {
        ClientMsg::Send(s) => &s.client_id,
        ClientMsg::Postback { client_id, .. } => client_id,
        ClientMsg::Note(n) => &n.client_id,
        _ => return None,
    };
    switchboard_protocol::client::valid_client_id(id).then(|| id.clone())
}

pub fn ping_interval_ms(state: &AppState) -> u64 {
    state.config.tuning.ping_interval.as_millis() as u64
}

/// Stores a message, acknowledges it to the sender, and fans it out to the conversation's
/// visitors and the site's agents. A resend (known client id) is acknowledged again and not
/// fanned out twice.
async fn deliver(
    state: &AppState,
    outbox: &Outbox,
    conv: &Conversation,
    mut new: NewMessage,
) -> Result<Appended, Refusal> {
    // Every sender's message is stamped here, by the relay's clock (tests script it).
    new.at = state.config.clock.now();
    let client_id = new.client_id.clone();
    let started = std::time::Instant::now();
    let appended = state.broker.append(&conv.site, new).await;
    state.metrics.store(StoreOp::Append, started.elapsed());
    let appended = appended.map_err(|e| Refusal::from(e).for_client(&client_id))?;
    let m = &appended.message;
    tracing::debug!(
        conversation = %m.conversation_id,
        seq = m.seq,
        duplicate = appended.duplicate,
        "message stored"
    );
    outbox.send(&ServerMsg::Ack {
        conversation_id: m.conversation_id.clone(),
        client_id: m.client_id.clone(),
        seq: m.seq,
        at: m.at,
        duplicate: appended.duplicate,
    });
    if !appended.duplicate {
        let entries: Vec<&switchboard_protocol::ChatMessage> =
            appended.reopened.iter().chain([m]).collect();
        crate::site_webhooks::record(state, &conv.site, &entries).await;
    }
    if appended.first_reply_ms.is_some() {
        state.reply_times.forget(&conv.site);
    }
    if appended.reopened.is_some() {
        state.assigner.wake();
        // Agents see the status change in the line; not the hot path (only a conversation
        // someone set aside pays for it).
        routing::publish_summary(state, &conv.id).await?;
    }
    if !appended.duplicate && m.seq == 1 {
        // A new conversation entered its team's queue.
        state.assigner.wake();
        // The conversation just entered the inbox: agents need its line and context. Later
        // messages update the line from the `message` frame itself, which keeps the hot path at
        // one broker round trip.
        let context = state.broker.conversation_context(&conv.id).await?;
        let msg = ServerMsg::Context {
            conversation_id: conv.id.clone(),
            context,
        };
        publish(state, Audience::Agents, conv, &msg).await;
        routing::publish_summary(state, &conv.id).await?;
    }
    Ok(appended)
}

/// Sends a live frame to the conversation's visitors and/or the site's agents, on every node.
async fn publish(state: &AppState, audience: Audience, conv: &Conversation, msg: &ServerMsg) {
    let started = std::time::Instant::now();
    state
        .broker
        .publish(Event::new(audience, &conv.site, &conv.id, msg))
        .await;
    state.metrics.store(StoreOp::Publish, started.elapsed());
}

/// Who reads a conversation's log, which decides what of each entry they get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reader {
    Visitor,
    Agent,
    Bot,
}

/// Sends every message after `since` (one batch), then `synced`; to a visitor each entry as
/// visitors see it ([`lifecycle::visitor_copy`](crate::broker::lifecycle::visitor_copy)), to a
/// bot as bots do ([`lifecycle::bot_copy`](crate::broker::lifecycle::bot_copy)).
async fn send_history(
    state: &AppState,
    outbox: &Outbox,
    conversation_id: &str,
    since: u64,
    reader: Reader,
) -> Result<(), Refusal> {
    let started = std::time::Instant::now();
    let messages = state
        .broker
        .history(conversation_id, since, MAX_HISTORY_BATCH)
        .await;
    state.metrics.store(StoreOp::History, started.elapsed());
    let messages = messages?;
    let more = messages.len() == MAX_HISTORY_BATCH;
    let mut last_seq = since;
    for m in messages {
        last_seq = m.seq;
        let m = match reader {
            Reader::Visitor => crate::broker::lifecycle::visitor_copy(&m).unwrap_or(m),
            Reader::Bot => crate::broker::lifecycle::bot_copy(m),
            Reader::Agent => m,
        };
        outbox.send(&ServerMsg::Message(m));
    }
    outbox.send(&ServerMsg::Synced {
        conversation_id: conversation_id.to_owned(),
        last_seq,
        more,
    });
    Ok(())
}
