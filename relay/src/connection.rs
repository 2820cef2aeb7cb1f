//! One WebSocket as a stream of typed protocol messages: decoding with typed errors on the way
//! in, a bounded queue and a writer task on the way out. Session code never sees a socket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};

use switchboard_protocol::{ClientMsg, CloseCode, DecodeError};
use tokio_util::sync::CancellationToken;

use crate::hub::{ConnId, Outbox, OutboxRx, Outgoing};

/// Most frames the writer sends in one write.
const WRITE_BATCH: usize = 64;

/// How long the writer keeps trying to deliver a close frame to a client that does not read.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Liveness and backpressure settings of every connection (`config::Tuning`).
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    /// How often the relay pings, and clients are asked to ping (`welcome.ping_interval_ms`).
    pub ping_interval: Duration,
    /// A connection silent this long (no frame, no pong) is dead and closed.
    pub idle_timeout: Duration,
    /// Frames a connection may have queued before it counts as too slow and is closed with
    /// `CloseCode::SLOW`. Bounds a connection's queue to this many frames of at most
    /// `MAX_FRAME_BYTES` each (chat frames are typically under 1 KiB).
    pub outbox_capacity: usize,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            ping_interval: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            outbox_capacity: 1024,
        }
    }
}

/// What the reading side produced.
pub enum Incoming {
    /// Boxed: a `hello` with its context is large and most frames are not.
    Msg(Box<ClientMsg>),
    Bad(DecodeError),
    /// The client closed, the socket failed, or it went idle.
    End,
    /// A frame over `limits::MAX_FRAME_HARD_BYTES`: the socket layer refused to buffer it.
    TooBig,
}

pub struct Reader {
    stream: SplitStream<WebSocket>,
    idle_timeout: Duration,
}

impl Reader {
    /// The next client message, skipping control frames. Ends after `idle_timeout` of silence.
    pub async fn next(&mut self) -> Incoming {
        loop {
            let frame = match tokio::time::timeout(self.idle_timeout, self.stream.next()).await {
                Ok(Some(Err(e))) => {
                    return if is_capacity(e) {
                        Incoming::TooBig
                    } else {
                        Incoming::End
                    }
                }
                Err(_) | Ok(None) => return Incoming::End,
                Ok(Some(Ok(frame))) => frame,
            };
            match frame {
                Message::Text(text) => {
                    return match ClientMsg::decode(text.as_str()) {
                        Ok(msg) => Incoming::Msg(Box::new(msg)),
                        Err(e) => Incoming::Bad(e),
                    }
                }
                Message::Binary(_) => {
                    return Incoming::Bad(DecodeError::BadJson(
                        "binary frames are not accepted".into(),
                    ))
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Close(_) => return Incoming::End,
            }
        }
    }
}

fn is_capacity(e: axum::Error) -> bool {
    matches!(
        e.into_inner()
            .downcast_ref::<tokio_tungstenite::tungstenite::Error>(),
        Some(tokio_tungstenite::tungstenite::Error::Capacity(_))
    )
}

/// Splits a socket into a [`Reader`] and an [`Outbox`] drained by a writer task. The writer
/// ends (closing the socket) when the session queues a close, when every outbox clone is
/// dropped, or when the outbox overflows (close `SLOW`). Frames queued before a close are sent
/// before it, so an `ack` is never dropped in favour of a close.
pub fn split(
    socket: WebSocket,
    id: ConnId,
    tuning: Tuning,
    slow_closes: Arc<AtomicU64>,
) -> (Reader, Outbox, Writer) {
    let (sink, stream) = socket.split();
    let slow = CancellationToken::new();
    let (outbox, rx) = Outbox::channel(id, tuning.outbox_capacity, slow.clone());
    let task = tokio::spawn(write_loop(
        sink,
        rx,
        slow,
        tuning.ping_interval,
        slow_closes,
    ));
    (
        Reader {
            stream,
            idle_timeout: tuning.idle_timeout,
        },
        outbox,
        Writer { task },
    )
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
    rx: OutboxRx,
    slow: CancellationToken,
    ping_interval: Duration,
    slow_closes: Arc<AtomicU64>,
) {
    let mut ping = tokio::time::interval(ping_interval);
    ping.tick().await;
    let close = loop {
        let mut batch = Vec::new();
        let mut closing = None;
        tokio::select! {
            biased;
            _ = slow.cancelled() => break Some(CloseCode::SLOW),
            next = rx.recv() => match next {
                Some(Outgoing::Frame(frame)) => {
                    batch.push(Message::Text(frame));
                    // Whatever else is already queued goes in the same write: one syscall for
                    // a burst instead of one per frame.
                    while batch.len() < WRITE_BATCH {
                        match rx.try_recv() {
                            Some(Outgoing::Frame(frame)) => batch.push(Message::Text(frame)),
                            Some(Outgoing::Close(code)) => {
                                closing = Some(code);
                                break;
                            }
                            None => break,
                        }
                    }
                }
                Some(Outgoing::Close(code)) => break Some(code),
                None => break None,
            },
            _ = ping.tick() => batch.push(Message::Ping(Default::default())),
        };
        // A client that stopped reading blocks this write once the socket buffers are full;
        // the overflow signal must still get through, so race the two.
        let write = async {
            for message in batch {
                sink.feed(message).await?;
            }
            sink.flush().await
        };
        tokio::select! {
            biased;
            _ = slow.cancelled() => break Some(CloseCode::SLOW),
            sent = write => if sent.is_err() { return },
        }
        if closing.is_some() {
            break closing;
        }
    };
    if let Some(code) = close {
        if code == CloseCode::SLOW {
            slow_closes.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("closing a slow connection");
        }
        let frame = CloseFrame {
            code: code.code,
            reason: code.reason.into(),
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame)))).await;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
}
