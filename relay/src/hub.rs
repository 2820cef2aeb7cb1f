//! In-process live fan-out: which connections hear about which conversation.
//!
//! Visitors subscribe to their conversation; agents hear every conversation of the sites they
//! serve (the inbox is live). Frames are serialized once per publish and shared as reference-counted [`Frame`]s, so a
//! delivery to N sockets copies no bytes.
//! Delivery into a connection's bounded [`Outbox`] never blocks: a full outbox marks the
//! connection slow and it is closed with `CloseCode::SLOW`; the client then resumes from its
//! last seq, so nothing is lost, only re-fetched from the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use futures_util::StreamExt;
use switchboard_protocol::{CloseCode, ServerMsg};

use crate::broker::{Audience, Event};
use crate::config::Agent;

pub type ConnId = u64;

/// A serialized text frame; cloning it shares the bytes.
pub type Frame = axum::extract::ws::Utf8Bytes;

/// What a session queues for its connection's socket.
#[derive(Debug)]
pub enum Outgoing {
    Frame(Frame),
    Close(CloseCode),
}

/// The sending half of one connection's bounded outbound queue.
#[derive(Clone)]
pub struct Outbox {
    pub id: ConnId,
    tx: flume::Sender<Outgoing>,
    slow: Arc<SlowSignal>,
}

/// Raised when a push finds the queue full: the connection is too slow and gets closed. It
/// must wake the connection, which may be parked on a socket that stopped taking bytes.
#[derive(Default)]
struct SlowSignal {
    raised: AtomicBool,
    waker: AtomicWaker,
}

impl SlowSignal {
    fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// The receiving half: what the connection drains into its socket.
pub struct OutboxRx {
    queue: flume::r#async::RecvStream<'static, Outgoing>,
    slow: Arc<SlowSignal>,
}

impl OutboxRx {
    /// The next queued item; `None` once every [`Outbox`] clone is dropped and all is drained.
    pub async fn recv(&mut self) -> Option<Outgoing> {
        self.queue.next().await
    }

    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outgoing>> {
        self.queue.poll_next_unpin(cx)
    }

    /// Whether a push found the queue full; registers for the wakeup when one does.
    pub fn poll_slow(&self, cx: &mut Context<'_>) -> bool {
        if self.slow.raised.load(Ordering::Acquire) {
            return true;
        }
        self.slow.waker.register(cx.waker());
        self.slow.raised.load(Ordering::Acquire)
    }
}

impl Outbox {
    /// A queue of at most `capacity` items.
    pub fn channel(id: ConnId, capacity: usize) -> (Outbox, OutboxRx) {
        let (tx, rx) = flume::bounded(capacity);
        let slow = Arc::new(SlowSignal::default());
        let rx = OutboxRx {
            queue: rx.into_stream(),
            slow: slow.clone(),
        };
        (Outbox { id, tx, slow }, rx)
    }

    /// Queues a frame; returns false if the connection is gone or was just found too slow.
    pub fn push(&self, frame: Frame) -> bool {
        match self.tx.try_send(Outgoing::Frame(frame)) {
            Ok(()) => true,
            Err(flume::TrySendError::Full(_)) => {
                self.slow.raise();
                false
            }
            Err(flume::TrySendError::Disconnected(_)) => false,
        }
    }

    pub fn send(&self, msg: &ServerMsg) -> bool {
        self.push(msg.to_json().into())
    }

    /// Queues a close frame behind everything already queued.
    pub fn close(&self, code: CloseCode) {
        if self.tx.try_send(Outgoing::Close(code)).is_err() {
            self.slow.raise();
        }
    }
}

/// How many locks the per-conversation ordering is striped over.
const ORDER_STRIPES: usize = 64;

pub struct Hub {
    // A std Mutex: every critical section is a few map operations with no await inside, so
    // an async lock would only add overhead (the mini-redis `db.rs` reasoning).
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    connections: AtomicUsize,
    /// Connections closed because their outbound queue overflowed (`/healthz`).
    pub slow_closes: Arc<AtomicU64>,
    /// Held from a message's append until it is published, so live frames of one conversation
    /// go out in seq order even when two senders write at once. Striped: conversations that
    /// share a stripe only serialize an append the store serializes anyway.
    order: Vec<tokio::sync::Mutex<()>>,
}

impl Default for Hub {
    fn default() -> Hub {
        Hub {
            inner: Mutex::default(),
            next_id: AtomicU64::default(),
            connections: AtomicUsize::default(),
            slow_closes: Arc::default(),
            order: (0..ORDER_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }
}

#[derive(Default)]
struct Inner {
    conversations: HashMap<String, Vec<Outbox>>,
    agents: HashMap<ConnId, (Outbox, Arc<Agent>)>,
    bots: HashMap<ConnId, (Outbox, String)>,
    joined: HashMap<ConnId, Vec<String>>,
}

impl Hub {
    pub fn next_id(&self) -> ConnId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Locks the ordering stripe of a conversation; hold it across append and publish.
    pub async fn order(&self, conversation_id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let stripe = BuildHasherDefault::<DefaultHasher>::default().hash_one(conversation_id)
            as usize
            % ORDER_STRIPES;
        self.order[stripe].lock().await
    }

    pub fn slow_closes(&self) -> u64 {
        self.slow_closes.load(Ordering::Relaxed)
    }

    /// Counts a connection for as long as the returned guard lives.
    pub fn track(self: &Arc<Self>) -> ConnectionGuard {
        self.connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard { hub: self.clone() }
    }

    pub fn join_conversation(&self, conversation_id: &str, outbox: Outbox) {
        // Capacity 1 to start: a visitor joins one conversation and most conversations have
        // one visitor socket; the default first growth (4) would quadruple every idle entry.
        let mut inner = self.lock();
        inner
            .joined
            .entry(outbox.id)
            .or_insert_with(|| Vec::with_capacity(1))
            .push(conversation_id.to_owned());
        inner
            .conversations
            .entry(conversation_id.to_owned())
            .or_insert_with(|| Vec::with_capacity(1))
            .push(outbox);
    }

    pub fn join_agents(&self, outbox: Outbox, agent: Arc<Agent>) {
        self.lock().agents.insert(outbox.id, (outbox, agent));
    }

    pub fn join_bot(&self, outbox: Outbox, bot_id: &str) {
        self.lock()
            .bots
            .insert(outbox.id, (outbox, bot_id.to_owned()));
    }

    /// Whether an agent serving `site` is connected to this node.
    pub fn agent_online(&self, site: &str) -> bool {
        self.lock().agents.values().any(|(_, a)| a.serves(site))
    }

    /// The site patterns (`*` included) this node's agents serve, for presence announcements.
    pub fn agent_sites(&self) -> std::collections::BTreeSet<String> {
        let inner = self.lock();
        inner
            .agents
            .values()
            .flat_map(|(_, a)| a.sites.iter().cloned())
            .collect()
    }

    /// Forgets a connection everywhere; called when its session ends.
    pub fn leave(&self, id: ConnId) {
        let mut inner = self.lock();
        inner.agents.remove(&id);
        inner.bots.remove(&id);
        for conv in inner.joined.remove(&id).unwrap_or_default() {
            if let Some(list) = inner.conversations.get_mut(&conv) {
                list.retain(|o| o.id != id);
                if list.is_empty() {
                    inner.conversations.remove(&conv);
                }
            }
        }
    }

    /// Hands a live event to the matching local connections.
    pub fn deliver(&self, event: &Event) {
        let inner = self.lock();
        if event.audience == Audience::Bot {
            for (outbox, bot) in inner.bots.values() {
                if *bot == event.site {
                    outbox.push(event.frame.clone());
                }
            }
            return;
        }
        if event.audience != Audience::Agents {
            for outbox in inner
                .conversations
                .get(&event.conversation_id)
                .into_iter()
                .flatten()
            {
                outbox.push(event.frame.clone());
            }
        }
        if event.audience != Audience::Visitors {
            for (outbox, agent) in inner.agents.values() {
                if agent.serves(&event.site) {
                    outbox.push(event.frame.clone());
                }
            }
        }
    }

    /// Closes every local connection with `code`; used when this node may have missed live
    /// events (its Redis subscription dropped), so clients reconnect and resync from the store.
    pub fn close_all(&self, code: CloseCode) {
        let inner = self.lock();
        let mut seen = std::collections::HashSet::new();
        let visitors = inner.conversations.values().flatten();
        let staff = inner.agents.values().map(|(o, _)| o);
        let bots = inner.bots.values().map(|(o, _)| o);
        for outbox in visitors.chain(staff).chain(bots) {
            if seen.insert(outbox.id) {
                outbox.close(code);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct ConnectionGuard {
    hub: Arc<Hub>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.hub.connections.fetch_sub(1, Ordering::Relaxed);
    }
}
