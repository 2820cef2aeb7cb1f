//! The WebSocket session with the relay: `hello`, catch-up with `sync`, pings, the outbox
//! resend, and reconnecting with exponential backoff and jitter (at once after close 4012).
//!
//! No socket before it is asked for ([`want`]): the visitor opens the chat, or this browser
//! has a conversation to come back to ([`returning`]), checked when the widget mounts so a
//! returning visitor gets an agent's reply with the panel closed. The token is stored only
//! once there is such a conversation ([`keep_token`]).

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
use switchboard_protocol::client::Hello;
use switchboard_protocol::{
    ClientMsg, CloseCode, ErrorCode, ReadSide, SenderKind, SystemEvent, VisitorMsg,
    PROTOCOL_VERSION,
};
use wasm_bindgen::JsValue;

use crate::state::{core, Conn, Widget};
use crate::wire::Encode;
use crate::{outbox, storage};

const BACKOFF_START_MS: u32 = 500;
const BACKOFF_MAX_MS: u32 = 30_000;
/// How long an agent's typing indicator stays without a new typing frame.
const TYPING_TTL_MS: u32 = 8_000;
/// A streamed answer with no new piece for this long is taken down (the relay forgets such a
/// stream after a minute; the stored message, if it comes, shows it whole).
const STREAM_TTL_MS: u32 = 30_000;

/// Asks for a connection: this tab opens it if it leads, else the leader tab is asked to.
/// Returns false, and connects nothing, while consent is withdrawn.
pub fn want(widget: Widget) -> bool {
    let (blocked, leader, start) = core(|c| {
        if c.blocked {
            return (true, c.leader, false);
        }
        c.wanted = true;
        let start = c.leader && !c.running;
        c.running |= start;
        (false, c.leader, start)
    });
    if blocked {
        return false;
    }
    if start {
        spawn_local(run(widget));
    } else if !leader {
        crate::tabs::ask_leader();
    }
    true
}

/// This tab became the leader: it connects if a connection was asked for.
pub fn lead(widget: Widget) {
    if core(|c| c.wanted) {
        want(widget);
    }
}

/// Whether this browser has a conversation to come back to: a stored token (kept once a
/// message was sent or received), or messages typed but not yet sent.
pub fn returning() -> bool {
    storage::get(&token_key()).is_some() || !outbox::load().is_empty()
}

/// Stores the welcome's token: from now on this browser has a conversation to come back to.
pub fn keep_token() {
    if let Some(token) = core(|c| c.token.clone()) {
        let key = token_key();
        if storage::get(&key).as_deref() != Some(token.as_str()) {
            storage::set(&key, &token);
        }
    }
}

/// Sets the connection state and tells the other tabs.
fn set_conn(widget: Widget, conn: Conn) {
    widget.conn.set(conn);
    crate::tabs::announce(conn);
}

/// Leader: a tab that just opened gets the welcome and the whole conversation.
pub fn welcome_follower() {
    let (welcome, tx, conv) = core(|c| {
        (
            c.last_welcome.clone(),
            c.tx.clone(),
            c.conversation_id.clone(),
        )
    });
    if let (Some(welcome), Some(tx), Some(conv)) = (welcome, tx, conv) {
        crate::tabs::relay_frame(&welcome);
        sync(&tx, conv, 0);
    }
    let conn = core(|c| c.widget.map(|w| w.conn.get_untracked()));
    if let Some(conn) = conn {
        crate::tabs::announce(conn);
    }
}

/// A frame from the relay: this tab's own socket (`tx` given) or relayed by the leader.
pub fn handle_text(widget: Widget, text: &str, tx: Option<&mpsc::UnboundedSender<String>>) {
    match crate::wire::decode(text) {
        Some(msg) => {
            if tx.is_some() && matches!(msg, VisitorMsg::Welcome(_)) {
                core(|c| c.last_welcome = Some(text.to_owned()));
            }
            handle(widget, msg, tx)
        }
        None => web_sys::console::warn_1(&JsValue::from_str("Switchboard: unreadable frame")),
    }
}

pub fn token_key() -> String {
    core(|c| format!("switchboard:{}:token", c.site))
}

fn socket_url() -> String {
    core(|c| {
        let base = c
            .relay
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        let site = js_sys::encode_uri_component(&c.site);
        format!("{base}v1/visitor?site={site}")
    })
}

async fn run(widget: Widget) {
    let mut backoff = BACKOFF_START_MS;
    loop {
        // Consent withdrawn (or this tab resigned): the task ends, a later `want` starts one.
        if core(|c| {
            c.running &= !c.blocked && c.leader;
            !c.running
        }) {
            return;
        }
        let close = match WebSocket::open(&socket_url()) {
            Ok(ws) => session(widget, ws).await,
            Err(_) => None,
        };
        let welcomed = core(|c| {
            c.tx = None;
            std::mem::take(&mut c.welcomed)
        });
        if welcomed {
            // This attempt got through: the next outage starts the backoff over.
            backoff = BACKOFF_START_MS;
        }
        match close {
            Some(code) if !CloseCode::should_reconnect(code) => {
                set_conn(widget, Conn::Error);
                core(|c| c.running = false);
                return;
            }
            Some(code) if code == CloseCode::RECONNECT_NOW.code => {
                set_conn(widget, Conn::Reconnecting);
                // A few hundred ms of spread so a restarting relay is not hit by every
                // visitor in the same instant.
                TimeoutFuture::new(50 + jitter(250)).await;
                continue;
            }
            _ => {}
        }
        set_conn(widget, Conn::Reconnecting);
        if pause(widget, backoff / 2 + jitter(backoff / 2)).await {
            backoff = BACKOFF_START_MS;
        } else {
            backoff = (backoff * 2).min(BACKOFF_MAX_MS);
        }
    }
}

fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// Waits `ms` before the next attempt. While the browser is offline an attempt can only fail,
/// so it waits for the network instead and returns `true` as soon as it is back, to retry at
/// once. Polling once a second avoids a global `online` listener on the host's window.
async fn pause(widget: Widget, ms: u32) -> bool {
    let mut left = ms;
    loop {
        if !online() {
            set_conn(widget, Conn::Offline);
            while !online() {
                TimeoutFuture::new(1_000).await;
            }
            set_conn(widget, Conn::Reconnecting);
            return true;
        }
        if left == 0 {
            return false;
        }
        let step = left.min(1_000);
        TimeoutFuture::new(step).await;
        left -= step;
    }
}

fn jitter(max: u32) -> u32 {
    (js_sys::Math::random() * max as f64) as u32
}

/// One socket's life; returns its close code if the relay sent one.
async fn session(widget: Widget, ws: WebSocket) -> Option<u16> {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded::<String>();
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
        token: storage::get(&token_key()),
        context: Some(core(|c| c.context.clone())),
        identity_token: core(|c| c.identity_token.clone()),
    });
    let _ = tx.unbounded_send(hello.encode());
    core(|c| c.tx = Some(tx.clone()));

    let last_frame = Rc::new(Cell::new(js_sys::Date::now()));
    let (dead, mut dead_rx) = oneshot::channel();
    spawn_local(keepalive(tx.clone(), last_frame.clone(), dead));
    let mut close = None;
    while let Either::Left((Some(item), _)) =
        futures::future::select(stream.next(), &mut dead_rx).await
    {
        last_frame.set(js_sys::Date::now());
        match item {
            Ok(Message::Text(text)) => {
                crate::tabs::relay_frame(&text);
                handle_text(widget, &text, Some(&tx));
            }
            Ok(Message::Bytes(_)) => {}
            Err(WebSocketError::ConnectionClose(ev)) => {
                close = Some(ev.code);
                break;
            }
            Err(_) => break,
        }
    }
    tx.close_channel();
    close
}

/// Pings at the interval the relay asked for. Silence for three intervals (not even a pong)
/// means the connection is dead even if the browser has not noticed (a half-open TCP
/// connection after a network change): then `dead` fires and the session reconnects.
async fn keepalive(
    tx: mpsc::UnboundedSender<String>,
    last_frame: Rc<Cell<f64>>,
    dead: oneshot::Sender<()>,
) {
    loop {
        let interval = core(|c| c.ping_interval_ms).clamp(1_000, 60_000) as u32;
        TimeoutFuture::new(interval).await;
        if tx.is_closed() {
            return;
        }
        if js_sys::Date::now() - last_frame.get() > 3.0 * interval as f64 {
            let _ = dead.send(());
            return;
        }
        if tx
            .unbounded_send(ClientMsg::Ping { nonce: None }.encode())
            .is_err()
        {
            return;
        }
    }
}

fn sync(tx: &mpsc::UnboundedSender<String>, conversation_id: String, since: u64) {
    let _ = tx.unbounded_send(
        ClientMsg::Sync {
            conversation_id,
            since,
        }
        .encode(),
    );
}

fn handle(widget: Widget, msg: VisitorMsg, tx: Option<&mpsc::UnboundedSender<String>>) {
    match msg {
        VisitorMsg::Welcome(w) => {
            // A stream cut by the reconnect never goes on here: its stored message comes.
            widget.drop_drafts(None);
            let conv = w.conversation_id.clone().unwrap_or_default();
            core(|c| {
                c.token = w.token.clone();
                c.conversation_id = w.conversation_id.clone();
                c.visitor_id = Some(w.id.clone());
                c.ping_interval_ms = w.ping_interval_ms;
                c.welcomed = true;
                c.welcome_seq = w.last_seq.unwrap_or(0);
                c.csat = w.csat;
            });
            widget.typical_reply_ms.set(w.typical_reply_ms);
            widget.conn.set(Conn::Online);
            let Some(tx) = tx else {
                // The leader is connected for this browser: should this tab lead one day, it
                // connects too.
                core(|c| c.wanted = true);
                // A tab that just joined: the conversation's page is now this one.
                if !core(|c| c.caught_up) {
                    send(&ClientMsg::SetContext {
                        context: core(|c| c.context.clone()),
                    });
                }
                return;
            };
            crate::tabs::announce(Conn::Online);
            // Messages in the conversation, or about to be: worth coming back to. Otherwise a
            // stored token is stale (an unknown one got a fresh visitor) and would only make
            // every later page view connect for nothing.
            if w.last_seq.unwrap_or(0) > 0 || !outbox::load().is_empty() {
                keep_token();
            } else {
                storage::remove(&token_key());
            }
            if core(|c| std::mem::take(&mut c.dropped_before_welcome)) {
                let (context, token) = core(|c| (c.context.clone(), c.identity_token.clone()));
                let _ = tx.unbounded_send(ClientMsg::SetContext { context }.encode());
                if let Some(token) = token {
                    let _ = tx.unbounded_send(ClientMsg::Identify { token }.encode());
                }
            }
            sync(tx, conv.clone(), widget.last_seq());
            // Everything not yet acknowledged goes again, in the order it was typed; the relay
            // recognises anything it already stored by its client id.
            for entry in outbox::load() {
                let _ = tx.unbounded_send(entry.frame(conv.clone()).encode());
            }
        }
        VisitorMsg::Message(m) => {
            // After `reset`, frames of the previous visitor still in flight are not shown.
            if core(|c| c.conversation_id.as_ref() != Some(&m.conversation_id)) {
                return;
            }
            let me = core(|c| c.visitor_id.clone());
            let own = m.sender.kind == SenderKind::Visitor && Some(&m.sender.id) == me.as_ref();
            if own {
                keep_token();
                outbox::remove(&m.client_id);
            }
            // Agents and bots talk to the visitor; relay notes ("Alex joined") are shown but
            // neither count as unread nor reach the site's `message` listeners.
            let from_them = matches!(m.sender.kind, SenderKind::Agent | SenderKind::Bot);
            let payload = from_them.then(|| crate::wire::message_event(&m));
            let said = from_them.then(|| (m.sender.name.clone(), m.text.clone()));
            let (seq, conv) = (m.seq, m.conversation_id.clone());
            // Someone took the conversation (or it ended): it waits in no queue any more.
            let leaves_queue = match m.event.as_deref() {
                Some(SystemEvent::Assigned { .. } | SystemEvent::Resolved { .. }) => true,
                Some(SystemEvent::Transferred { to_agent, .. }) => to_agent.is_some(),
                _ => false,
            };
            let is_new = widget.upsert(m, own);
            // Only the latest entry speaks for now (a catch-up replays old assignments).
            if leaves_queue
                && widget
                    .lines
                    .with_untracked(|l| l.iter().all(|l| l.seq <= Some(seq)))
            {
                widget.queue.set(None);
            }
            // A seq skipped outside a catch-up: something was missed, ask for it (once).
            if let Some(tx) = tx {
                if seq > widget.last_seq() + 1
                    && core(|c| c.caught_up && !std::mem::replace(&mut c.syncing, true))
                {
                    sync(tx, conv, widget.last_seq());
                }
            }
            if from_them {
                widget.typing.set(None);
            }
            // Past this socket's welcome, a message was written since: new even mid catch-up
            // (only in the leader, whose welcome is its own; another tab's replay is older).
            let since_welcome = tx.is_some() && core(|c| seq > c.welcome_seq);
            if is_new && from_them && (core(|c| c.caught_up) || since_welcome) {
                if !widget.open.get_untracked() {
                    widget.unread.update(|n| *n += 1);
                    if let Some((name, text)) = said {
                        announce(widget, name, &text);
                    }
                }
                // Only the leader tab tells the site, so a sound plays once, not once per tab.
                if let (Some(p), Some(_)) = (payload, tx) {
                    crate::listeners::emit("message", &p);
                }
            }
        }
        VisitorMsg::Ack {
            client_id, seq, at, ..
        } => {
            keep_token();
            outbox::remove(&client_id);
            widget.acked(&client_id, seq, at);
        }
        VisitorMsg::Synced {
            conversation_id,
            last_seq,
            more,
        } => {
            core(|c| c.syncing = false);
            let Some(tx) = tx else {
                core(|c| c.caught_up |= !more);
                return;
            };
            if more {
                sync(tx, conversation_id, last_seq);
            } else {
                core(|c| c.caught_up = true);
                // A gap left (a message seen live before its predecessors): fetch it.
                let highest = widget
                    .lines
                    .with_untracked(|l| l.iter().filter_map(|l| l.seq).max().unwrap_or(0));
                if widget.last_seq() < highest {
                    sync(tx, conversation_id, widget.last_seq());
                }
            }
        }
        VisitorMsg::Read {
            conversation_id,
            side: ReadSide::Agents,
            seq,
        } if core(|c| c.conversation_id.as_ref() == Some(&conversation_id)) => {
            widget.seen.update(|s| *s = (*s).max(seq));
        }
        VisitorMsg::Availability {
            online,
            typical_reply_ms,
        } => {
            widget.online.set(Some(online));
            widget.typical_reply_ms.set(typical_reply_ms);
        }
        VisitorMsg::Queue {
            conversation_id,
            position,
        } if core(|c| c.conversation_id.as_ref() == Some(&conversation_id)) => {
            widget.queue.set(Some(position));
        }
        VisitorMsg::Delta {
            conversation_id,
            client_id,
            sender,
            index,
            text,
        } if core(|c| c.conversation_id.as_ref() == Some(&conversation_id)) => {
            let Some(pieces) = widget.delta(client_id.clone(), sender, index, &text) else {
                return;
            };
            // The words themselves show the bot is writing.
            widget.typing.set(None);
            // A bot that stops mid-answer (it crashed, its model timed out) leaves no half
            // answer behind for long.
            spawn_local(async move {
                TimeoutFuture::new(STREAM_TTL_MS).await;
                let stalled = widget.lines.with_untracked(|l| {
                    l.iter()
                        .any(|l| l.is_draft() && l.client_id == client_id && l.pieces == pieces)
                });
                if stalled {
                    widget.drop_drafts(Some(&client_id));
                }
            });
        }
        VisitorMsg::Typing { sender, active, .. } if sender.kind != SenderKind::Visitor => {
            if active {
                let name = sender
                    .name
                    .unwrap_or_else(|| widget.strings.get_untracked().agent.to_owned());
                widget.typing.set(Some(name));
                let generation = core(|c| {
                    c.typing_generation += 1;
                    c.typing_generation
                });
                spawn_local(async move {
                    TimeoutFuture::new(TYPING_TTL_MS).await;
                    if core(|c| c.typing_generation) == generation {
                        widget.typing.set(None);
                    }
                });
            } else {
                widget.typing.set(None);
            }
        }
        VisitorMsg::Error {
            code: ErrorCode::RateLimited,
            client_id: Some(id),
            retry_after_ms,
            ..
        } => {
            // Not stored, not refused for good: it stays in the outbox and goes again once
            // the relay's wait is over (in order: a later message cannot have been stored,
            // the limit holds them too).
            let wait = retry_after_ms.unwrap_or(1_000).clamp(100, 60_000) as u32;
            spawn_local(async move {
                TimeoutFuture::new(wait).await;
                let entry = outbox::load().into_iter().find(|e| e.client_id == id);
                if let (Some(entry), Some(conv)) = (entry, core(|c| c.conversation_id.clone())) {
                    send(&entry.frame(conv));
                }
            });
        }
        VisitorMsg::Error {
            code,
            client_id: Some(id),
            message,
            ..
        } if code != ErrorCode::Unavailable => {
            // Refused for good (too long, invalid): it will never be stored, so stop resending.
            web_sys::console::warn_1(&JsValue::from_str(&format!(
                "Switchboard: message refused: {message}"
            )));
            outbox::remove(&id);
            widget.failed(&id);
        }
        // A refused `rate` names no client id; no other frame the widget sends without one is
        // refused while a rating waits.
        VisitorMsg::Error {
            client_id: None, ..
        } if widget.rate.get_untracked() == Some(true) => {
            widget.rate.set(Some(false));
        }
        _ => {}
    }
}

/// Says a reply that arrived while the panel is closed: who wrote, and the start of it.
fn announce(widget: Widget, name: Option<String>, text: &str) {
    let s = widget.strings.get_untracked();
    let who = s
        .new_message
        .replace("{name}", name.as_deref().unwrap_or(s.agent));
    let mut excerpt: String = text.chars().take(200).collect();
    if excerpt.len() < text.len() {
        excerpt.push('…');
    }
    widget.announcement.set(if excerpt.trim().is_empty() {
        who
    } else {
        format!("{who}: {excerpt}")
    });
}

/// Sends a frame: on this tab's socket if it leads, else through the leader tab. Frames that
/// find no open socket are dropped; messages are safe in the outbox and go on the next welcome.
pub fn send(msg: &ClientMsg) {
    let json = crate::wire::encode(msg);
    let (leader, blocked) = core(|c| (c.leader, c.blocked));
    if blocked {
        return;
    }
    if leader {
        send_raw(json);
    } else {
        crate::tabs::forward(json);
    }
}

/// Leader: a frame on the socket, if it said welcome.
pub fn send_raw(json: String) {
    core(|c| match (&c.tx, c.welcomed) {
        (Some(tx), true) => {
            let _ = tx.unbounded_send(json);
        }
        _ => c.dropped_before_welcome = true,
    });
}
