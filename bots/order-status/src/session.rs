//! The bot's connection to the relay: `hello` with the bot token, then it answers the
//! conversations routed to it until they are released. Reconnects with backoff; what it owns
//! is routed to it again on every connect, and its replies carry client ids derived from the
//! message they answer, so a reconnect never makes it answer twice.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use switchboard_protocol::client::{Hello, Send};
use switchboard_protocol::server::Routed;
use switchboard_protocol::{
    ChatMessage, ClientMsg, CloseCode, SenderKind, ServerMsg, PROTOCOL_VERSION,
};
use tokio_tungstenite::tungstenite::Message;

use crate::brain::{self, Memory, Reply};

/// How long the bot shows "typing" before it answers: long enough to be seen.
const TYPING: Duration = Duration::from_millis(400);

#[derive(Default)]
struct Conversation {
    memory: Memory,
    /// The last visitor message answered (or seen in a routed transcript as answered).
    answered: u64,
}

/// Runs until the relay refuses the token for good.
pub async fn run(url: &str, token: &str) {
    let mut wait = Duration::from_millis(250);
    loop {
        match connect_once(url, token).await {
            Ok(Some(code)) if !CloseCode::should_reconnect(code) => {
                tracing::error!(code, "the relay refused this bot; giving up");
                return;
            }
            Ok(_) => wait = Duration::from_millis(250),
            Err(e) => tracing::warn!(error = %e, "connection failed"),
        }
        let jitter = rand::rng().random_range(0..=wait.as_millis() as u64);
        tokio::time::sleep(wait + Duration::from_millis(jitter)).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One connection; returns the close code if the relay sent one.
async fn connect_once(
    url: &str,
    token: &str,
) -> Result<Option<u16>, tokio_tungstenite::tungstenite::Error> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    send(
        &mut ws,
        &ClientMsg::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            token: Some(token.to_owned()),
            context: None,
            identity_token: None,
        }),
    )
    .await?;
    let mut conversations: HashMap<String, Conversation> = HashMap::new();
    let mut ping = tokio::time::interval(Duration::from_secs(10));
    loop {
        let frame = tokio::select! {
            f = ws.next() => f,
            _ = ping.tick() => {
                send(&mut ws, &ClientMsg::Ping { nonce: None }).await?;
                continue;
            }
        };
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(c))) => return Ok(c.map(|c| u16::from(c.code))),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e),
            None => return Ok(None),
        };
        let Ok(msg) = serde_json::from_str::<ServerMsg>(text.as_str()) else {
            continue;
        };
        match msg {
            ServerMsg::Welcome(w) => tracing::info!(bot = %w.id, site = ?w.site, "connected"),
            ServerMsg::Routed(r) => {
                let id = r.conversation.id.clone();
                let conv = conversations.entry(id.clone()).or_default();
                if let Some(question) = adopt(conv, &r) {
                    reply(&mut ws, &id, conv, &question).await?;
                }
            }
            ServerMsg::Message(m) if m.sender.kind == SenderKind::Visitor => {
                if let Some(conv) = conversations.get_mut(&m.conversation_id) {
                    if m.seq > conv.answered {
                        reply(&mut ws, &m.conversation_id.clone(), conv, &m).await?;
                    }
                }
            }
            ServerMsg::Context {
                conversation_id,
                context,
            } => {
                if let Some(conv) = conversations.get_mut(&conversation_id) {
                    conv.memory.context = context;
                }
            }
            ServerMsg::Released {
                conversation_id, ..
            } => {
                conversations.remove(&conversation_id);
                tracing::info!(conversation = %conversation_id, "released to humans");
            }
            ServerMsg::Error { code, message, .. } => {
                tracing::warn!(?code, %message, "relay refused a frame")
            }
            _ => {}
        }
    }
}

/// Takes in a routed conversation; returns the visitor message still waiting for an answer:
/// the latest one, if nothing from the bot came after it.
fn adopt(conv: &mut Conversation, r: &Routed) -> Option<ChatMessage> {
    conv.memory.context = r.context.clone();
    let last = r.transcript.last()?;
    if last.sender.kind == SenderKind::Visitor && last.seq > conv.answered {
        Some(last.clone())
    } else {
        conv.answered = conv.answered.max(last.seq);
        None
    }
}

async fn reply(
    ws: &mut Socket,
    conversation_id: &str,
    conv: &mut Conversation,
    question: &ChatMessage,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    conv.answered = question.seq;
    let answer = brain::answer(
        &mut conv.memory,
        &question.text,
        question.postback.as_deref(),
    );
    let typing = |active| ClientMsg::Typing {
        conversation_id: conversation_id.to_owned(),
        active,
    };
    send(ws, &typing(true)).await?;
    tokio::time::sleep(TYPING).await;
    let say = |text: String, rich| {
        ClientMsg::Send(Send {
            conversation_id: conversation_id.to_owned(),
            // Derived from the question, so a second answer to it is a duplicate the relay
            // drops rather than a second message.
            client_id: format!("answer-{}", question.seq),
            text,
            rich,
            canned_id: None,
        })
    };
    match answer {
        Reply::Say { text, rich } => send(ws, &say(text, rich)).await?,
        Reply::HandOff { text, handoff } => {
            send(ws, &say(text, None)).await?;
            send(
                ws,
                &ClientMsg::Handoff {
                    conversation_id: conversation_id.to_owned(),
                    handoff,
                },
            )
            .await?;
        }
    }
    send(ws, &typing(false)).await
}

async fn send(
    ws: &mut Socket,
    msg: &ClientMsg,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    ws.send(Message::text(msg.to_json())).await
}
