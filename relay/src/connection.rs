//! One WebSocket as a stream of typed protocol messages: decoding with typed errors on the way
//! in, a bounded queue and a writer task on the way out. Session code never sees a socket.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};

use switchboard_protocol::{ClientMsg, CloseCode, DecodeError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::hub::{ConnId, Outbox, Outgoing};

/// Frames a connection may have queued before it counts as too slow. At the 64 KiB frame
/// limit this bounds a connection's queue memory; real frames are far smaller.
pub const OUTBOX_CAPACITY: usize = 1024;
/// How often the relay pings and clients are asked to ping.
pub const PING_INTERVAL: Duration = Duration::from_secs(20);
/// A connection silent this long (no frame, no pong) is dead.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the reading side produced.
pub enum Incoming {
    Msg(ClientMsg),
    Bad(DecodeError),
    /// The client closed, the socket failed, or it went idle.
    End,
    /// A frame over `limits::MAX_FRAME_HARD_BYTES`: the socket layer refused to buffer it.
    TooBig,
}

pub struct Reader {
    stream: SplitStream<WebSocket>,
}

impl Reader {
    /// The next client message, skipping control frames. Ends after [`IDLE_TIMEOUT`] of silence.
    pub async fn next(&mut self) -> Incoming {
        loop {
            let frame = match tokio::time::timeout(IDLE_TIMEOUT, self.stream.next()).await {
                Ok(Some(Err(e))) => return if is_capacity(e) { Incoming::TooBig } else { Incoming::End },
                Err(_) | Ok(None) => return Incoming::End,
                Ok(Some(Ok(frame))) => frame,
            };
            match frame {
                Message::Text(text) => {
                    return match ClientMsg::decode(text.as_str()) {
                        Ok(msg) => Incoming::Msg(msg),
                        Err(e) => Incoming::Bad(e),
                    }
                }
                Message::Binary(_) => {
                    return Incoming::Bad(DecodeError::BadJson("binary frames are not accepted".into()))
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Close(_) => return Incoming::End,
            }
        }
    }
}

fn is_capacity(e: axum::Error) -> bool {
    matches!(
        e.into_inner().downcast_ref::<tokio_tungstenite::tungstenite::Error>(),
        Some(tokio_tungstenite::tungstenite::Error::Capacity(_))
    )
}

/// Splits a socket into a [`Reader`] and an [`Outbox`] drained by a writer task. The writer
/// ends (closing the socket) when the session drops every outbox clone, when the outbox overflows
/// (close `SLOW`), or when `shutdown` fires (close `RECONNECT_NOW`).
pub fn split(socket: WebSocket, id: ConnId, shutdown: CancellationToken) -> (Reader, Outbox, Writer) {
    let (sink, stream) = socket.split();
    let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
    let slow = CancellationToken::new();
    let outbox = Outbox::new(id, tx, slow.clone());
    let task = tokio::spawn(write_loop(sink, rx, slow, shutdown));
    (Reader { stream }, outbox, Writer { task })
}

pub struct Writer {
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    /// Waits (bounded) for queued frames to be flushed after the session dropped its outboxes.
    pub async fn finish(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Outgoing>,
    slow: CancellationToken,
    shutdown: CancellationToken,
) {
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    let close = loop {
        tokio::select! {
            biased;
            _ = slow.cancelled() => break Some(CloseCode::SLOW),
            next = rx.recv() => match next {
                Some(Outgoing::Frame(frame)) => {
                    if sink.send(Message::Text(frame.as_ref().into())).await.is_err() {
                        return;
                    }
                }
                Some(Outgoing::Close(code)) => break Some(code),
                None => break None,
            },
            _ = shutdown.cancelled() => {
                // Flush what is queued (acks for stored messages) before asking the client to
                // reconnect, so nothing acknowledged is left unsent.
                while let Ok(Outgoing::Frame(frame)) = rx.try_recv() {
                    if sink.send(Message::Text(frame.as_ref().into())).await.is_err() {
                        return;
                    }
                }
                break Some(CloseCode::RECONNECT_NOW);
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    };
    if let Some(code) = close {
        let frame = CloseFrame { code: code.code, reason: code.reason.into() };
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
    let _ = sink.close().await;
}
