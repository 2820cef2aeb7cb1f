//! The agent's WebSocket: hello with the token, the inbox, catch-up of the open conversation,
//! pings, reconnect with backoff and jitter (at once after 4012); a refused token (4001) sends
//! the agent back to sign-in.

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
use switchboard_protocol::{ClientMsg, CloseCode, SenderKind, ServerMsg, PROTOCOL_VERSION};

use crate::state::{send, session, store_token, Console, Line};

const BACKOFF_START_MS: u32 = 500;
const BACKOFF_MAX_MS: u32 = 30_000;

pub fn start(console: Console) {
    let generation = session(|s| {
        s.generation += 1;
        s.generation
    });
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

async fn run(console: Console, generation: u64) {
    let mut backoff = BACKOFF_START_MS;
    while session(|s| s.generation) == generation {
        let Some(token) = console.token.get_untracked() else {
            return;
        };
        let (close, welcomed) = match WebSocket::open(&url()) {
            Ok(ws) => connect(console, ws, token).await,
            Err(_) => (None, false),
        };
        session(|s| s.tx = None);
        if session(|s| s.generation) != generation {
            return;
        }
        if welcomed {
            backoff = BACKOFF_START_MS;
        }
        match close {
            Some(code) if code == CloseCode::UNAUTHORIZED.code => {
                store_token(None);
                console.token.set(None);
                console
                    .signin_error
                    .set(Some("That token is not valid".into()));
                return;
            }
            Some(code) if code == CloseCode::RECONNECT_NOW.code => {
                console.conn.set("reconnecting");
                TimeoutFuture::new(50 + jitter(250)).await;
                continue;
            }
            _ => {}
        }
        console.conn.set("reconnecting");
        TimeoutFuture::new(backoff / 2 + jitter(backoff / 2)).await;
        backoff = (backoff * 2).min(BACKOFF_MAX_MS);
    }
}

fn jitter(max: u32) -> u32 {
    (js_sys::Math::random() * max as f64) as u32
}

async fn connect(console: Console, ws: WebSocket, token: String) -> (Option<u16>, bool) {
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
        token: Some(token),
        context: None,
    });
    let _ = tx.unbounded_send(hello.to_json());
    session(|s| s.tx = Some(tx.clone()));
    let last_frame = Rc::new(Cell::new(js_sys::Date::now()));
    let (dead, mut dead_rx) = oneshot::channel();
    spawn_local(keepalive(tx.clone(), last_frame.clone(), dead));
    let mut welcomed = false;
    let mut close = None;
    while let Either::Left((Some(item), _)) =
        futures::future::select(stream.next(), &mut dead_rx).await
    {
        last_frame.set(js_sys::Date::now());
        match item {
            Ok(Message::Text(text)) => {
                if let Ok(msg) = serde_json::from_str::<ServerMsg>(&text) {
                    welcomed |= matches!(msg, ServerMsg::Welcome(_));
                    handle(console, msg);
                }
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
    (close, welcomed)
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
        let interval = session(|s| s.ping_interval_ms).clamp(1_000, 60_000) as u32;
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

/// Asks for what the console misses of a conversation.
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
            session(|s| s.ping_interval_ms = w.ping_interval_ms);
            console.agent_name.set(w.name.unwrap_or(w.id));
            console.signin_error.set(None);
            console.conn.set("online");
            if let Some(conv) = console.selected.get_untracked() {
                sync(console, &conv);
            }
            // Replies typed while disconnected go now; a resend of one whose ack was lost is
            // recognised by its client id.
            let pending: Vec<(String, String, String)> =
                console.transcripts.with_untracked(|all| {
                    all.iter()
                        .flat_map(|(conv, lines)| {
                            lines
                                .iter()
                                .filter(|l| l.state == "pending")
                                .map(move |l| (conv.clone(), l.client_id.clone(), l.text.clone()))
                        })
                        .collect()
                });
            for (conversation_id, client_id, text) in pending {
                send(&ClientMsg::Send(switchboard_protocol::client::Send {
                    conversation_id,
                    client_id,
                    text,
                }));
            }
        }
        ServerMsg::Conversations { items } => {
            for s in items {
                console.upsert_summary(s);
            }
        }
        ServerMsg::Conversation(s) => console.upsert_summary(s),
        ServerMsg::Message(m) => {
            if m.sender.kind == SenderKind::Visitor
                && console.visitor_typing.get_untracked().as_deref() == Some(&m.conversation_id)
            {
                console.visitor_typing.set(None);
            }
            let (seq, conv) = (m.seq, m.conversation_id.clone());
            console.add_message(m);
            // A skipped seq in a transcript we show: fetch what is missing, once.
            let shown = console
                .transcripts
                .with_untracked(|t| t.contains_key(&conv));
            if shown
                && seq > console.last_seq(&conv) + 1
                && session(|s| s.syncing.insert(conv.clone()))
            {
                sync(console, &conv);
            }
        }
        ServerMsg::Context {
            conversation_id,
            context,
        } => {
            console.contexts.update(|c| {
                c.insert(conversation_id, context);
            });
        }
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
        } => {
            console.transcripts.update(|all| {
                if let Some(lines) = all.get_mut(&conversation_id) {
                    if lines.iter().any(|l| l.seq == Some(seq)) {
                        lines.retain(|l| !(l.seq.is_none() && l.client_id == client_id));
                    } else if let Some(l) = lines
                        .iter_mut()
                        .find(|l| l.seq.is_none() && l.client_id == client_id)
                    {
                        l.seq = Some(seq);
                        l.at = at;
                        l.state = "sent";
                    }
                    lines.sort_by_key(|l| (l.seq.is_none(), l.seq.unwrap_or(0), l.at));
                }
            });
        }
        ServerMsg::Error {
            client_id: Some(id),
            ..
        } => {
            console.transcripts.update(|all| {
                for l in all.values_mut().flatten() {
                    if l.seq.is_none() && l.client_id == id {
                        l.state = "failed";
                    }
                }
            });
        }
        ServerMsg::Typing {
            conversation_id,
            sender,
            active,
        } if sender.kind == SenderKind::Visitor => {
            if active {
                console.visitor_typing.set(Some(conversation_id));
                let generation = session(|s| {
                    s.typing_generation += 1;
                    s.typing_generation
                });
                spawn_local(async move {
                    TimeoutFuture::new(8_000).await;
                    if session(|s| s.typing_generation) == generation {
                        console.visitor_typing.set(None);
                    }
                });
            } else {
                console.visitor_typing.set(None);
            }
        }
        _ => {}
    }
}

/// A reply typed by the agent: shown at once as pending, sent, confirmed by its ack.
pub fn reply(console: Console, conversation_id: String, text: String) {
    let a = (js_sys::Math::random() * 4_294_967_296.0) as u32;
    let b = (js_sys::Math::random() * 4_294_967_296.0) as u32;
    let client_id = format!("{a:08x}{b:08x}");
    let line = Line {
        seq: None,
        client_id: client_id.clone(),
        kind: SenderKind::Agent,
        name: Some(console.agent_name.get_untracked()),
        text: text.clone(),
        at: js_sys::Date::now() as u64,
        state: "pending",
    };
    console
        .transcripts
        .update(|all| all.entry(conversation_id.clone()).or_default().push(line));
    let send_msg = ClientMsg::Send(switchboard_protocol::client::Send {
        conversation_id: conversation_id.clone(),
        client_id,
        text,
    });
    send(&ClientMsg::Typing {
        conversation_id,
        active: false,
    });
    send(&send_msg);
}
