//! A bot's connection to the relay, shared by the Rust bots: `hello` with the bot token, then
//! it answers the conversations routed to it until they are released. Reconnects with
//! backoff; what it owns is routed to it again on every connect, and its replies carry client
//! ids derived from the message they answer, so a reconnect never makes it answer twice.
//!
//! What to answer is the bot's [`Brain`]. Each answer is worked out in a task of its own, so
//! a slow one (a model call) holds up neither the socket's pings nor other conversations;
//! answers within one conversation stay in order (its memory is locked while one is made).
//! A brain may show its answer while it is being written ([`Brain::answer_streaming`]): the
//! pieces go out as `delta` frames under the answer's client id, ahead of the answer itself.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use switchboard_protocol::client::{Hello, Send};
use switchboard_protocol::limits::MAX_DELTA_BYTES;
use switchboard_protocol::rich::Rich;
use switchboard_protocol::server::Routed;
use switchboard_protocol::{
    ChatMessage, ClientMsg, CloseCode, Context, Delta, Handoff, SenderKind, ServerMsg,
    PROTOCOL_VERSION,
};
use tokio::sync::{mpsc, Mutex};
use tokio_tungstenite::tungstenite::Message;

/// One answer of a bot.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Say {
        text: String,
        rich: Option<Rich>,
    },
    /// Say `text`, then hand the conversation to humans.
    HandOff {
        text: String,
        handoff: Handoff,
    },
}

/// What a bot answers. One memory per conversation, made on the first routed frame and
/// dropped when the conversation is released.
pub trait Brain: std::marker::Send + Sync + 'static {
    type Memory: Default + std::marker::Send + 'static;

    /// Takes in what was said before the bot was (re)connected: the routed transcript, oldest
    /// first, ending before `question` if one is waiting.
    fn remember(&self, _memory: &mut Self::Memory, _transcript: &[ChatMessage]) {}

    /// The answer to `question` (a visitor message), with the conversation's current context.
    fn answer(
        &self,
        memory: &mut Self::Memory,
        context: &Context,
        question: &ChatMessage,
    ) -> impl Future<Output = Reply> + std::marker::Send;

    /// The same, showing the answer while it is written: what is given to `stream.piece` goes
    /// to the visitor at once, and the returned reply (which may differ: cut, or a handoff's
    /// words) replaces it. By default, no pieces.
    fn answer_streaming(
        &self,
        memory: &mut Self::Memory,
        context: &Context,
        question: &ChatMessage,
        stream: &mut Stream,
    ) -> impl Future<Output = Reply> + std::marker::Send {
        let _ = stream;
        self.answer(memory, context, question)
    }
}

/// Where a brain puts the pieces of an answer it is writing (see [`Brain::answer_streaming`]).
pub struct Stream {
    conversation_id: String,
    client_id: String,
    next: u32,
    out: mpsc::UnboundedSender<Outgoing>,
}

impl Stream {
    /// Shows `text` after what was shown before (split to the protocol's piece size).
    pub fn piece(&mut self, mut text: &str) {
        while !text.is_empty() {
            let mut end = text.len().min(MAX_DELTA_BYTES);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let _ = self.out.send(Outgoing::Delta(Delta {
                conversation_id: self.conversation_id.clone(),
                client_id: self.client_id.clone(),
                index: self.next,
                text: text[..end].to_owned(),
            }));
            self.next += 1;
            text = &text[end..];
        }
    }

    /// How many pieces were shown.
    pub fn pieces(&self) -> u32 {
        self.next
    }
}

/// How the bot behaves on the socket.
#[derive(Clone, Debug)]
pub struct Options {
    /// The least time "typing" shows before an answer: long enough to be seen.
    pub min_typing: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_typing: Duration::from_millis(400),
        }
    }
}

struct Conversation<M> {
    memory: Arc<Mutex<M>>,
    context: Context,
    /// The last visitor message answered (or seen in a routed transcript as answered).
    answered: u64,
}

/// An answer made, to be written by the connection.
struct Answered {
    conversation_id: String,
    seq: u64,
    reply: Reply,
}

/// What an answer's task hands the connection, in the order it is to be written: the pieces of
/// a streamed answer, then the answer.
enum Outgoing {
    Delta(Delta),
    Answered(Answered),
}

/// The client id of the answer to the visitor message `seq`: derived from the question, so a
/// second answer to it is a duplicate the relay drops rather than a second message (and the
/// stream that shows it is named by it too).
fn answer_id(seq: u64) -> String {
    format!("answer-{seq}")
}

/// Runs until the relay refuses the token for good.
pub async fn run<B: Brain>(url: &str, token: &str, brain: Arc<B>, options: Options) {
    let mut wait = Duration::from_millis(250);
    loop {
        match connect_once(url, token, &brain, &options).await {
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
type WsError = tokio_tungstenite::tungstenite::Error;

/// One connection; returns the close code if the relay sent one.
async fn connect_once<B: Brain>(
    url: &str,
    token: &str,
    brain: &Arc<B>,
    options: &Options,
) -> Result<Option<u16>, WsError> {
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
    let mut conversations: HashMap<String, Conversation<B::Memory>> = HashMap::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Outgoing>();
    let mut ping = tokio::time::interval(Duration::from_secs(10));
    loop {
        let frame = tokio::select! {
            f = ws.next() => f,
            Some(out) = done_rx.recv() => {
                match out {
                    // Released meanwhile: the relay would refuse it (not_owner) anyway.
                    Outgoing::Answered(done) if conversations.contains_key(&done.conversation_id) => {
                        write_reply(&mut ws, done).await?;
                    }
                    Outgoing::Delta(d) if conversations.contains_key(&d.conversation_id) => {
                        send(&mut ws, &ClientMsg::Delta(d)).await?;
                    }
                    _ => {}
                }
                continue;
            }
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
        let question = match msg {
            ServerMsg::Welcome(w) => {
                tracing::info!(bot = %w.id, site = ?w.site, "connected");
                None
            }
            ServerMsg::Routed(r) => {
                let id = r.conversation.id.clone();
                let conv = conversations
                    .entry(id.clone())
                    .or_insert_with(|| Conversation {
                        memory: Arc::default(),
                        context: Context::default(),
                        answered: 0,
                    });
                adopt(brain.as_ref(), conv, &r).map(|q| (id, q))
            }
            ServerMsg::Message(m) if m.sender.kind == SenderKind::Visitor => conversations
                .get(&m.conversation_id)
                .filter(|c| m.seq > c.answered)
                .map(|_| (m.conversation_id.clone(), m)),
            ServerMsg::Context {
                conversation_id,
                context,
            } => {
                if let Some(conv) = conversations.get_mut(&conversation_id) {
                    conv.context = context;
                }
                None
            }
            ServerMsg::Released {
                conversation_id, ..
            } => {
                conversations.remove(&conversation_id);
                tracing::info!(conversation = %conversation_id, "released to humans");
                None
            }
            ServerMsg::Error { code, message, .. } => {
                tracing::warn!(?code, %message, "relay refused a frame");
                None
            }
            _ => None,
        };
        let Some((id, question)) = question else {
            continue;
        };
        let Some(conv) = conversations.get_mut(&id) else {
            continue;
        };
        conv.answered = question.seq;
        send(&mut ws, &typing(&id, true)).await?;
        let (brain, memory, context) = (brain.clone(), conv.memory.clone(), conv.context.clone());
        let (done_tx, min_typing) = (done_tx.clone(), options.min_typing);
        tokio::spawn(async move {
            let started = Instant::now();
            let mut stream = Stream {
                conversation_id: id.clone(),
                client_id: answer_id(question.seq),
                next: 0,
                out: done_tx.clone(),
            };
            let reply = {
                let mut memory = memory.lock().await;
                brain
                    .answer_streaming(&mut memory, &context, &question, &mut stream)
                    .await
            };
            // A streamed answer was seen being written; "typing" before it is not needed.
            if stream.pieces() == 0 {
                tokio::time::sleep(min_typing.saturating_sub(started.elapsed())).await;
            }
            let _ = done_tx.send(Outgoing::Answered(Answered {
                conversation_id: id,
                seq: question.seq,
                reply,
            }));
        });
    }
}

/// Takes in a routed conversation; returns the visitor message still waiting for an answer:
/// the latest one, if nothing from the bot came after it.
fn adopt<B: Brain>(
    brain: &B,
    conv: &mut Conversation<B::Memory>,
    r: &Routed,
) -> Option<ChatMessage> {
    conv.context = r.context.clone();
    let last = r.transcript.last()?;
    let waiting = last.sender.kind == SenderKind::Visitor && last.seq > conv.answered;
    let before = if waiting {
        &r.transcript[..r.transcript.len() - 1]
    } else {
        &r.transcript[..]
    };
    // Locked: an answer is being made, so the memory is already in use and up to date.
    if let Ok(mut memory) = conv.memory.try_lock() {
        brain.remember(&mut memory, before);
    }
    if waiting {
        Some(last.clone())
    } else {
        conv.answered = conv.answered.max(last.seq);
        None
    }
}

fn typing(conversation_id: &str, active: bool) -> ClientMsg {
    ClientMsg::Typing {
        conversation_id: conversation_id.to_owned(),
        active,
    }
}

async fn write_reply(ws: &mut Socket, done: Answered) -> Result<(), WsError> {
    let id = done.conversation_id;
    let say = |text: String, rich| {
        ClientMsg::Send(Send {
            conversation_id: id.clone(),
            client_id: answer_id(done.seq),
            text,
            rich,
            canned_id: None,
        })
    };
    match done.reply {
        Reply::Say { text, rich } => send(ws, &say(text, rich)).await?,
        Reply::HandOff { text, handoff } => {
            send(ws, &say(text, None)).await?;
            send(
                ws,
                &ClientMsg::Handoff {
                    conversation_id: id.clone(),
                    handoff,
                },
            )
            .await?;
        }
    }
    send(ws, &typing(&id, false)).await
}

async fn send(ws: &mut Socket, msg: &ClientMsg) -> Result<(), WsError> {
    ws.send(Message::text(msg.to_json())).await
}
