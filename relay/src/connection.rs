//! One WebSocket as its session sees it: typed protocol messages in (decoded with typed
//! errors), a bounded [`Outbox`] queue out.
//!
//! One task per connection. The session's task drives both directions: while it waits for the
//! next client frame ([`Connection::next`]) or handles one ([`Connection::serving`]), queued
//! frames keep flowing into the socket, pings go out and silence is noticed. A second task per
//! socket (a writer) would cost an idle connection its task, a lock around the shared socket
//! and a timer (about 1.3 KB), and every delivery a second wakeup.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use switchboard_protocol::{ClientMsg, CloseCode, DecodeError};
use tokio::time::{Instant, Sleep};

use crate::metrics::Metrics;
use crate::outbox::{ConnId, Outbox, OutboxRx, Outgoing};

/// Most frames written in one go before the task yields to others; they leave in one write.
const WRITE_BATCH: usize = 64;

/// How long closing waits at each step (queued frames, the close frame, the TCP close) for a
/// client that does not read.
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
    /// After a write, frames queued within this window wait for its end and leave together
    /// (`--write-coalesce-us`; zero: every frame leaves at once).
    pub write_coalesce: Duration,
    /// How long an agent counts as present after its last connection to a node dropped
    /// (`--presence-grace-ms`); claims are renewed three times within it.
    pub presence_grace: Duration,
    /// How often a node runs an assignment pass for the sites whose lease it holds
    /// (`--assign-interval-ms`); it also runs at once on its own events.
    pub assign_interval: Duration,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            ping_interval: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            outbox_capacity: 1024,
            write_coalesce: Duration::ZERO,
            presence_grace: Duration::from_secs(15),
            assign_interval: Duration::from_secs(1),
        }
    }
}

/// What the reading side produced.
pub enum Incoming {
    /// Boxed: a `hello` with its context is large and most frames are not.
    Msg(Box<ClientMsg>),
    Bad(DecodeError),
    /// The client closed, the socket failed, it went silent, or the outbound side ended (a
    /// close was queued, or the client read too slowly).
    End,
    /// A frame over `limits::MAX_FRAME_HARD_BYTES`: the socket layer refused to buffer it.
    TooBig,
    /// A text frame that is not UTF-8: the socket cannot be trusted to frame what follows.
    BadUtf8,
}

/// Why the outbound side stopped.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// The session queued a close; everything queued before it was written.
    Close(CloseCode),
    /// The queue overflowed.
    Slow,
    /// Writing failed: the socket is gone.
    Broken,
    /// Every [`Outbox`] was dropped and the queue is empty.
    Drained,
}

pub struct Connection {
    socket: WebSocket,
    queue: OutboxRx,
    tuning: Arc<Tuning>,
    /// One timer serves both pings and the silence check: a frame only stamps `last_heard`,
    /// so the hot path never touches the timer wheel.
    timer: Pin<Box<Sleep>>,
    next_ping: Instant,
    last_heard: Instant,
    /// Until when queued frames wait to be coalesced (`Tuning::write_coalesce`).
    hold_until: Option<Instant>,
    ping_due: bool,
    silent: bool,
    unflushed: bool,
    ended: Option<Ending>,
    metrics: Arc<Metrics>,
}

impl Connection {
    /// Takes over a socket; frames pushed into the returned [`Outbox`] go out while the
    /// session awaits [`Connection::next`] or [`Connection::serving`].
    pub fn new(
        socket: WebSocket,
        id: ConnId,
        tuning: Arc<Tuning>,
        metrics: Arc<Metrics>,
    ) -> (Connection, Outbox) {
        let (outbox, queue) = Outbox::channel(id, tuning.outbox_capacity);
        let now = Instant::now();
        let next_ping = now + tuning.ping_interval;
        let timer = Box::pin(tokio::time::sleep_until(
            next_ping.min(now + tuning.idle_timeout),
        ));
        let conn = Connection {
            socket,
            queue,
            tuning,
            timer,
            next_ping,
            last_heard: now,
            hold_until: None,
            ping_due: false,
            silent: false,
            unflushed: false,
            ended: None,
            metrics,
        };
        (conn, outbox)
    }

    /// The next client message, skipping control frames; queued frames go out meanwhile.
    pub async fn next(&mut self) -> Incoming {
        poll_fn(|cx| {
            if self.poll_outbound(cx).is_ready() || self.silent {
                return Poll::Ready(Incoming::End);
            }
            let incoming = self.poll_read(cx);
            if self.unflushed {
                // A ping just read queued its pong.
                let _ = self.poll_outbound(cx);
            }
            incoming
        })
        .await
    }

    /// Runs one piece of the session's work (a store call, a handshake) to its end while
    /// queued frames go out. The work always finishes, even if the socket fails meanwhile:
    /// an append must not be cut between storing and publishing.
    pub async fn serving<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = pin!(work);
        let out = poll_fn(|cx| {
            let out = work.as_mut().poll(cx);
            // After the work, so what it just queued (an ack) leaves in this same poll.
            let _ = self.poll_outbound(cx);
            out
        })
        .await;
        // The client is alive as far as we know: we were busy with its frame.
        self.heard();
        out
    }

    /// Ends the connection: writes what is queued up to a queued close (the session has
    /// dropped its [`Outbox`] and left the hub), sends the close frame, closes the socket.
    /// Each step is bounded by [`CLOSE_GRACE`].
    pub async fn finish(mut self) {
        let ending = match self.ended {
            Some(ending) => ending,
            None => tokio::time::timeout(CLOSE_GRACE, poll_fn(|cx| self.poll_outbound(cx)))
                .await
                .unwrap_or(Ending::Drained),
        };
        let code = match ending {
            Ending::Close(code) => Some(code),
            Ending::Slow => {
                self.metrics.slow_closes.inc();
                tracing::debug!("closing a slow connection");
                Some(CloseCode::SLOW)
            }
            Ending::Drained => None,
            Ending::Broken => return,
        };
        if let Some(code) = code {
            let frame = CloseFrame {
                code: code.code,
                reason: code.reason.into(),
            };
            // Behind every frame already written into the socket's buffer, so acks get out.
            let close = self.socket.send(Message::Close(Some(frame)));
            let _ = tokio::time::timeout(CLOSE_GRACE, close).await;
            // The closing handshake: read (and drop) what the client still sends until its
            // own close. Closing the socket with unread bytes in it would make the kernel
            // answer with a reset, which can destroy our close frame before the client reads
            // it, and a flooding client would then never learn why (4029) it was closed.
            let drain = async {
                while let Some(Ok(m)) = self.socket.next().await {
                    if matches!(m, Message::Close(_)) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
        }
        let _ = tokio::time::timeout(CLOSE_GRACE, self.socket.close()).await;
    }

    fn heard(&mut self) {
        self.last_heard = Instant::now();
        self.silent = false;
    }

    /// Drives the outbound side; ready once it has ended for good.
    fn poll_outbound(&mut self, cx: &mut Context<'_>) -> Poll<Ending> {
        if let Some(ending) = self.ended {
            return Poll::Ready(ending);
        }
        let ending = ready!(self.poll_write(cx));
        self.ended = Some(ending);
        Poll::Ready(ending)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Ending> {
        if self.queue.poll_slow(cx) {
            return Poll::Ready(Ending::Slow);
        }
        self.poll_timer(cx);
        if let Some(until) = self.hold_until {
            if Instant::now() < until {
                // The timer is armed for `until`; pushes meanwhile do not wake us (below).
                return Poll::Pending;
            }
            self.hold_until = None;
        }
        let coalesce = !self.tuning.write_coalesce.is_zero();
        let mut quiet = Context::from_waker(Waker::noop());
        let mut written = 0;
        loop {
            if written == WRITE_BATCH {
                // Enough for one turn: flush below, then let other connections run.
                cx.waker().wake_by_ref();
                break;
            }
            match Pin::new(&mut self.socket).poll_ready(cx) {
                Poll::Pending => break,
                Poll::Ready(Err(_)) => return Poll::Ready(Ending::Broken),
                Poll::Ready(Ok(())) => {}
            }
            let message = if std::mem::take(&mut self.ping_due) {
                Message::Ping(Default::default())
            } else {
                // Once this turn writes and a hold will follow, an empty queue must not wake
                // us on the next push: the hold's end will look.
                let waker = if coalesce && written > 0 {
                    &mut quiet
                } else {
                    &mut *cx
                };
                match self.queue.poll_recv(waker) {
                    Poll::Ready(Some(Outgoing::Frame(frame))) => {
                        self.metrics.frame_out(frame.as_str());
                        Message::Text(frame)
                    }
                    Poll::Ready(Some(Outgoing::Close(code))) => {
                        return Poll::Ready(Ending::Close(code))
                    }
                    Poll::Ready(None) => return Poll::Ready(Ending::Drained),
                    Poll::Pending => break,
                }
            };
            if Pin::new(&mut self.socket).start_send(message).is_err() {
                return Poll::Ready(Ending::Broken);
            }
            written += 1;
            self.unflushed = true;
        }
        // Whatever was queued leaves in one write: one syscall for a burst, not one per frame.
        if self.unflushed {
            match Pin::new(&mut self.socket).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => return Poll::Ready(Ending::Broken),
                Poll::Pending => {}
            }
        }
        if coalesce && written > 0 {
            let until = Instant::now() + self.tuning.write_coalesce;
            self.hold_until = Some(until);
            if until < self.timer.deadline() {
                self.timer.as_mut().reset(until);
            }
            // Registers the timer for the hold's end.
            self.poll_timer(cx);
        }
        Poll::Pending
    }

    /// Fires pings on schedule and notices silence, re-arming the one timer (which also ends
    /// a coalescing hold).
    fn poll_timer(&mut self, cx: &mut Context<'_>) {
        while self.timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            if now >= self.next_ping {
                self.ping_due = true;
                self.next_ping = now + self.tuning.ping_interval;
            }
            let silent_from = self.last_heard + self.tuning.idle_timeout;
            let mut next = if now >= silent_from {
                self.silent = true;
                self.next_ping
            } else {
                silent_from.min(self.next_ping)
            };
            if let Some(until) = self.hold_until.filter(|u| *u > now) {
                next = next.min(until);
            }
            self.timer.as_mut().reset(next);
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Incoming> {
        loop {
            let frame = match ready!(Pin::new(&mut self.socket).poll_next(cx)) {
                Some(Ok(frame)) => frame,
                Some(Err(e)) if is_capacity(&e) => return Poll::Ready(Incoming::TooBig),
                Some(Err(e)) if is_utf8(&e) => return Poll::Ready(Incoming::BadUtf8),
                Some(Err(_)) | None => return Poll::Ready(Incoming::End),
            };
            self.heard();
            return Poll::Ready(match frame {
                Message::Text(text) => match ClientMsg::decode(text.as_str()) {
                    Ok(msg) => Incoming::Msg(Box::new(msg)),
                    Err(e) => Incoming::Bad(e),
                },
                Message::Binary(_) => Incoming::Bad(DecodeError::BadJson(
                    "binary frames are not accepted".into(),
                )),
                Message::Ping(_) => {
                    // tungstenite queued the pong; it leaves with the next flush.
                    self.unflushed = true;
                    continue;
                }
                Message::Pong(_) => continue,
                Message::Close(_) => Incoming::End,
            });
        }
    }
}

fn is_utf8(e: &axum::Error) -> bool {
    use std::error::Error;
    matches!(
        e.source()
            .and_then(|e| e.downcast_ref::<tokio_tungstenite::tungstenite::Error>()),
        Some(tokio_tungstenite::tungstenite::Error::Utf8(_))
    )
}

fn is_capacity(e: &axum::Error) -> bool {
    use std::error::Error;
    matches!(
        e.source()
            .and_then(|e| e.downcast_ref::<tokio_tungstenite::tungstenite::Error>()),
        Some(tokio_tungstenite::tungstenite::Error::Capacity(_))
    )
}
