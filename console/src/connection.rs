//! The agent's WebSocket: hello (with the token, or none when the session cookie signs in),
//! the inbox, catch-up of the open conversation,
//! pings, reconnect with backoff and jitter (at once after 4012); a refused token (4001) sends
//! the agent back to sign-in. Also the frames the views send (sync, reply, typing), because
//! they share the socket and the session.

use std::cell::Cell;
use std::rc::Rc;

use futures::channel::{mpsc, oneshot};
use futures::future::Either;
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_protocol::client::{Hello, Send};
use switchboard_protocol::{
    ClientMsg, CloseCode, Presence, Rich, SenderKind, ServerMsg, PROTOCOL_VERSION,
};

use crate::auth::{self, Auth};
use crate::desk;
use crate::i18n::t;
use crate::state::{send, session, Conn, Console, Delivery, Line};

const BACKOFF_START_MS: u32 = 500;
const BACKOFF_MAX_MS: u32 = 30_000;
/// Agent typing is announced at most this often.
const TYPING_THROTTLE_MS: f64 = 3_000.0;
/// A visitor's typing indicator hides after this long without news (the visitor may have
/// closed the tab mid-word, and no `active: false` comes then).
const VISITOR_TYPING_MS: u32 = 8_000;

/// Opens the connection for the signed-in agent, replacing any earlier one.
pub fn start(console: Console) {
    let generation = session(|s| {
        s.generation += 1;
        if let Some(tx) = s.tx.take() {
            tx.close_channel();
        }
        s.generation
    });
    console.conn.set(Conn::Connecting);
    spawn_local(run(console, generation));
}

/// Stops the current connection (sign-out).
pub fn stop() {
    session(|s| {
        s.generation += 1;
        if let Some(tx) = s.tx.take() {
            tx.close_channel();
        }
    });
}

fn url() -> String {
    let location = web_sys::window().map(|w| w.location());
    let host = location
        .as_ref()
        .and_then(|l| l.host().ok())
        .unwrap_or_default();
    let secure = location
        .and_then(|l| l.protocol().ok())
        .is_some_and(|p| p == "https:");
    format!("{}://{host}/v1/agent", if secure { "wss" } else { "ws" })
}

fn current(generation: u64) -> bool {
    session(|s| s.generation) == generation
}

async fn run(console: Console, generation: u64) {
    let mut backoff = BACKOFF_START_MS;
    while current(generation) {
        let Some(auth) = console.auth.get_untracked() else {
            return;
        };
        let (close, welcomed) = match WebSocket::open(&url()) {
            Ok(ws) => connect(console, ws, auth.token(), generation).await,
            Err(e) => {
                warn(&format!("cannot open the agent socket: {e}"));
                (None, false)
            }
        };
        if !current(generation) {
            return;
        }
        session(|s| s.tx = None);
        if welcomed {
            backoff = BACKOFF_START_MS;
        }
        match close {
            Some(code) if code == CloseCode::UNAUTHORIZED.code => {
                refuse(
                    console,
                    match auth {
                        Auth::Token(_) => t().token_invalid,
                        Auth::Session => t().session_ended,
                    },
                );
                return;
            }
            Some(code) if !CloseCode::should_reconnect(code) => {
                // A bad hello or another protocol version: retrying unchanged cannot help.
                refuse(console, t().console_mismatch);
                return;
            }
            Some(code) if code == CloseCode::RECONNECT_NOW.code => {
                console.conn.set(Conn::Reconnecting);
                // A little jitter so a restarting relay is not hit by every agent at once.
                TimeoutFuture::new(jitter(250)).await;
                continue;
            }
            _ => {}
        }
        console.conn.set(Conn::Reconnecting);
        TimeoutFuture::new(backoff / 2 + jitter(backoff / 2)).await;
        backoff = (backoff * 2).min(BACKOFF_MAX_MS);
    }
}

/// Back to sign-in with a message.
fn refuse(console: Console, message: &str) {
    auth::store(None);
    console.reset();
    console.auth.set(None);
    console.signin_error.set(Some(message.to_owned()));
}

fn jitter(max: u32) -> u32 {
    (js_sys::Math::random() * max as f64) as u32
}

/// One connection, from open to close. Returns the close code, if the relay sent one, and
/// whether it got as far as `welcome` (which resets the backoff).
async fn connect(
    console: Console,
    ws: WebSocket,
    token: Option<String>,
    generation: u64,
) -> (Option<u16>, bool) {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded::<String>();
    // The gloo sink waits for the socket to open, so frames queued before that are not lost.
    spawn_local(async move {
        while let Some(frame) = rx.next().await {
            if sink.send(Message::Text(frame)).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let hello = ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token,
        context: None,
        identity_token: None,
    });
    let _ = tx.unbounded_send(hello.to_json());
    session(|s| s.tx = Some(tx.clone()));
    let last_frame = Rc::new(Cell::new(js_sys::Date::now()));
    let (dead, mut dead_rx) = oneshot::channel();
    let mut dead = Some(dead);
    let mut welcomed = false;
    let mut close = None;
    while let Either::Left((Some(item), _)) =
        futures::future::select(stream.next(), &mut dead_rx).await
    {
        if !current(generation) {
            break;
        }
        last_frame.set(js_sys::Date::now());
        match item {
            Ok(Message::Text(text)) => match serde_json::from_str::<ServerMsg>(&text) {
                Ok(ServerMsg::Welcome(w)) => {
                    if let Some(dead) = dead.take() {
                        spawn_local(keepalive(
                            tx.clone(),
                            w.ping_interval_ms,
                            last_frame.clone(),
                            dead,
                        ));
                    }
                    welcomed = true;
                    handle(console, ServerMsg::Welcome(w));
                }
                Ok(msg) => handle(console, msg),
                Err(e) => warn(&format!("ignoring a frame the console cannot read: {e}")),
            },
            Ok(Message::Bytes(_)) => warn("ignoring a binary frame"),
            Err(WebSocketError::ConnectionClose(ev)) => {
                close = Some(ev.code);
                break;
            }
            Err(_) => break,
        }
    }
    tx.close_channel();
    (close, welcomed)
}

/// Pings at the interval the relay asked for. Silence for three intervals (not even a pong)
/// means the connection is dead even if the browser has not noticed (a half-open TCP
/// connection after a network change): then `dead` fires and the session reconnects.
async fn keepalive(
    tx: mpsc::UnboundedSender<String>,
    interval_ms: u64,
    last_frame: Rc<Cell<f64>>,
    dead: oneshot::Sender<()>,
) {
    let interval = interval_ms.clamp(1_000, 60_000) as u32;
    loop {
        TimeoutFuture::new(interval).await;
        if tx.is_closed() {
            return;
        }
        if js_sys::Date::now() - last_frame.get() > 3.0 * interval as f64 {
            let _ = dead.send(());
            return;
        }
        if tx
            .unbounded_send(ClientMsg::Ping { nonce: None }.to_json())
            .is_err()
        {
            return;
        }
    }
}

pub(crate) fn warn(text: &str) {
    web_sys::console::warn_1(&format!("switchboard console: {text}").into());
}

/// Feeds one text frame as if the socket had received it (tests use this).
pub fn receive(console: Console, text: &str) {
    match serde_json::from_str::<ServerMsg>(text) {
        Ok(msg) => handle(console, msg),
        Err(e) => warn(&format!("ignoring a frame the console cannot read: {e}")),
    }
}

/// Opens a conversation: marks it seen and asks for what the console misses of it.
pub fn open(console: Console, conversation_id: &str) {
    console.selected.set(Some(conversation_id.to_owned()));
    session(|s| s.loaded.insert(conversation_id.to_owned()));
    console.transcripts.update(|t| {
        t.entry(conversation_id.to_owned()).or_default();
    });
    console.mark_seen(conversation_id);
    sync(console, conversation_id);
}

/// Asks for every message after the last one held without a gap.
pub fn sync(console: Console, conversation_id: &str) {
    let since = console.last_seq(conversation_id);
    send(&ClientMsg::Sync {
        conversation_id: conversation_id.to_owned(),
        since,
    });
}

fn handle(console: Console, msg: ServerMsg) {
    match msg {
        ServerMsg::Welcome(w) => {
            console.load_seen(&w.id);
            console.me.set(w.id.clone());
            console.agent_name.set(w.name.unwrap_or(w.id));
            console.signin_error.set(None);
            console.conn.set(Conn::Online);
            if let Some(conv) = console.selected.get_untracked() {
                sync(console, &conv);
            }
            desk::list_view(console);
            crate::canned::list_all();
            let chosen = console.my_presence.get_untracked();
            if chosen != Presence::Online {
                desk::set_presence(console, chosen);
            }
            // Replies typed while disconnected go now; a resend of one whose ack was lost is
            // recognised by its client id and acknowledged again, not stored twice.
            for frame in console.pending() {
                send(&frame);
            }
        }
        // The connect-time page fills the list until the open tab's answer; later pages (a
        // refresh after a conflict) only freshen the summaries.
        ServerMsg::Conversations { items, .. } if console.view_answered.get_untracked() => {
            console.remember(&items)
        }
        ServerMsg::Conversations { items, .. } => console.replace_inbox(items),
        ServerMsg::Conversation(s) => {
            crate::notify::on_conversation(console, &s);
            console.upsert_summary(s);
            desk::relist_soon(console);
        }
        ServerMsg::View {
            view,
            items,
            counts,
            ..
        } => console.apply_view(view, items, counts),
        ServerMsg::Directory(d) => console.set_directory(d),
        ServerMsg::Mention(m) => crate::notes::on_mention(console, m),
        ServerMsg::Presence { agent, status, .. } => console.presence.update(|p| {
            p.insert(agent, status);
        }),
        ServerMsg::Message(m) => {
            if m.sender.kind == SenderKind::Visitor
                && console.visitor_typing.get_untracked().as_deref() == Some(&m.conversation_id)
            {
                console.visitor_typing.set(None);
            }
            let (seq, conv) = (m.seq, m.conversation_id.clone());
            crate::notify::on_message(console, &m);
            console.add_message(m);
            // A skipped seq in a transcript we hold: fetch what is missing, once.
            let loaded = session(|s| s.loaded.contains(&conv));
            if loaded
                && seq > console.last_seq(&conv) + 1
                && session(|s| s.syncing.insert(conv.clone()))
            {
                sync(console, &conv);
            }
        }
        ServerMsg::Context {
            conversation_id,
            context,
        } => console.contexts.update(|c| {
            c.insert(conversation_id, context);
        }),
        ServerMsg::Synced {
            conversation_id,
            more,
            ..
        } => {
            session(|s| s.syncing.remove(&conversation_id));
            if more {
                sync(console, &conversation_id);
            }
        }
        ServerMsg::Ack {
            conversation_id,
            client_id,
            seq,
            at,
            ..
        } => console.ack(&conversation_id, &client_id, seq, at),
        ServerMsg::Error {
            client_id: Some(id),
            message,
            ..
        } => console.fail(&id, message),
        ServerMsg::SearchResults {
            text,
            offset,
            hits,
            more,
        } => crate::lookup::results(console, text, offset, hits, more),
        ServerMsg::VisitorHistory {
            conversation_id,
            items,
        } => crate::lookup::history(console, conversation_id, items),
        ServerMsg::Error { code, message, .. }
            if crate::lookup::refused(console, code, &message) => {}
        ServerMsg::Canned { site, items } => crate::canned::on_list(site, items),
        ServerMsg::Read {
            conversation_id,
            side,
            seq,
        } => crate::receipts::on_read(console, conversation_id, side, seq),
        ServerMsg::PageTrail {
            conversation_id,
            pages,
        } => crate::receipts::on_trail(console, conversation_id, pages),
        ServerMsg::Error { code, message, .. } if crate::canned::on_error(code, &message) => {}
        ServerMsg::Error { code, message, .. } if !desk::refused(console, code, &message) => {
            warn(&format!(
                "the relay refused a frame: {}: {message}",
                code.as_str()
            ));
        }
        ServerMsg::Typing {
            conversation_id,
            sender,
            active,
        } if sender.kind == SenderKind::Visitor => {
            let generation = session(|s| {
                s.typing_generation += 1;
                s.typing_generation
            });
            if active {
                console.visitor_typing.set(Some(conversation_id));
                spawn_local(async move {
                    TimeoutFuture::new(VISITOR_TYPING_MS).await;
                    if session(|s| s.typing_generation) == generation {
                        console.visitor_typing.set(None);
                    }
                });
            } else if console.visitor_typing.get_untracked().as_deref() == Some(&conversation_id) {
                console.visitor_typing.set(None);
            }
        }
        // Bot frames: never sent to agents.
        ServerMsg::Typing { .. }
        | ServerMsg::Pong { .. }
        | ServerMsg::Routed(_)
        | ServerMsg::Released { .. }
        // Visitors' frames; an agent is never sent them (a streamed answer reaches agents
        // once stored, as its message).
        | ServerMsg::Availability { .. }
        | ServerMsg::Delta { .. }
        | ServerMsg::Queue { .. }
        // Shown as the action bar's notice.
        | ServerMsg::Error { .. } => {}
    }
}

/// Gives a handed-off conversation back to the site's bot; the inbox line follows from the
/// relay's `conversation` frame, or an `error` says why not.
pub fn hand_back(conversation_id: &str) {
    send(&ClientMsg::HandBack {
        conversation_id: conversation_id.to_owned(),
    });
}

/// A reply typed by the agent: shown at once as pending, sent, confirmed by its ack.
pub fn reply(console: Console, conversation_id: String, text: String) {
    reply_rich(console, conversation_id, text, None, None)
}

/// [`reply`] with quick-reply chips and buttons under it, naming the canned reply it was made
/// from, if any (the relay checks that one is the conversation's site's).
pub fn reply_rich(
    console: Console,
    conversation_id: String,
    text: String,
    rich: Option<Rich>,
    canned_id: Option<String>,
) {
    let client_id = switchboard_protocol::client_id::random();
    let line = Line {
        seq: None,
        client_id: client_id.clone(),
        kind: SenderKind::Agent,
        name: Some(console.agent_name.get_untracked()).filter(|n| !n.is_empty()),
        text: text.clone(),
        at: js_sys::Date::now() as u64,
        delivery: Delivery::Pending,
        error: None,
        rich: rich.clone(),
        postback: None,
        code: None,
        note: None,
    };
    console
        .transcripts
        .update(|all| all.entry(conversation_id.clone()).or_default().push(line));
    session(|s| s.last_typing_sent = 0.0);
    send(&ClientMsg::Typing {
        conversation_id: conversation_id.clone(),
        active: false,
    });
    take_on_reply(console, &conversation_id);
    send(&ClientMsg::Send(Send {
        conversation_id,
        client_id,
        text,
        rich,
        canned_id,
    }));
}

/// Replying to a conversation nobody has taken takes it (as in the helpdesks agents know):
/// otherwise it stays in the queue, offered to others, and its visitor keeps reading a queue
/// position while already talking to someone.
fn take_on_reply(console: Console, conversation_id: &str) {
    let me = console.me.get_untracked();
    let summary = console
        .summaries
        .with_untracked(|all| all.get(conversation_id).cloned());
    let Some(summary) = summary.filter(|s| s.assignee.is_none() && !me.is_empty()) else {
        return;
    };
    if console
        .directory
        .with_untracked(|d| crate::desk::allowed(d, &me, &summary).take)
    {
        crate::desk::assign(console, &summary, Some(me));
    }
}

/// Sends a failed reply again, under the same client id.
pub fn retry(console: Console, conversation_id: String, client_id: String) {
    let mut frame = None;
    console.transcripts.update(|all| {
        if let Some(l) = all
            .get_mut(&conversation_id)
            .into_iter()
            .flatten()
            .find(|l| l.seq.is_none() && l.client_id == client_id)
        {
            l.delivery = Delivery::Pending;
            l.error = None;
            frame = Some(l.frame(conversation_id.clone()));
        }
    });
    if let Some(frame) = frame {
        send(&frame);
    }
}

/// The agent typed in the reply box: tell the visitor, at most once per throttle window.
pub fn typing(console: Console) {
    let now = js_sys::Date::now();
    let due = session(|s| {
        let due = now - s.last_typing_sent > TYPING_THROTTLE_MS;
        if due {
            s.last_typing_sent = now;
        }
        due
    });
    if let (true, Some(conversation_id)) = (due, console.selected.get_untracked()) {
        send(&ClientMsg::Typing {
            conversation_id,
            active: true,
        });
    }
}
