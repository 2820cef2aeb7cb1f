//! In-process live fan-out: which connections hear about which conversation.
//!
//! Visitors subscribe to their conversation; agents hear every conversation of the sites they
//! serve (the inbox is live). Frames are serialized once per publish and shared as
//! reference-counted [`Frame`](crate::outbox::Frame)s, so a delivery to N sockets copies no
//! bytes. Delivery into a connection's bounded [`Outbox`] never blocks (see [`crate::outbox`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use smallvec::SmallVec;
use switchboard_protocol::CloseCode;

use crate::broker::{Audience, Event};
use crate::config::Agent;
use crate::metrics::Metrics;
use crate::outbox::{ConnId, Outbox};

/// How many locks the per-conversation ordering is striped over.
const ORDER_STRIPES: usize = 256;

pub struct Hub {
    // A std Mutex: every critical section is a few map operations with no await inside, so
    // an async lock would only add overhead (the mini-redis `db.rs` reasoning).
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    connections: AtomicUsize,
    /// This relay's metrics (`/metrics`); here because every part that counts holds the hub.
    pub metrics: Arc<Metrics>,
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
            metrics: Arc::default(),
            order: (0..ORDER_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }
}

#[derive(Default)]
struct Inner {
    /// Inline room for one socket: most conversations have exactly one visitor socket, and a
    /// heap vector would cost every idle visitor an allocation.
    conversations: HashMap<String, SmallVec<[Outbox; 1]>>,
    agents: HashMap<ConnId, (Outbox, Arc<Agent>)>,
    /// The session (its hash) of agent connections signed in by the console's cookie.
    agent_sessions: HashMap<ConnId, String>,
    bots: HashMap<ConnId, (Outbox, String)>,
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

    /// Connections closed because their outbound queue overflowed (`/healthz`).
    pub fn slow_closes(&self) -> u64 {
        self.metrics.slow_closes.get()
    }

    /// Counts a connection for as long as the returned guard lives.
    pub fn track(self: &Arc<Self>) -> ConnectionGuard {
        self.connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard { hub: self.clone() }
    }

    pub fn join_conversation(&self, conversation_id: &str, outbox: Outbox) {
        self.lock()
            .conversations
            .entry(conversation_id.to_owned())
            .or_default()
            .push(outbox);
    }

    /// An agent connection; `session` is the hash of the sign-in session that opened it, so
    /// signing out can close it.
    pub fn join_agents(&self, outbox: Outbox, agent: Arc<Agent>, session: Option<String>) {
        let mut inner = self.lock();
        if let Some(s) = session {
            inner.agent_sessions.insert(outbox.id, s);
        }
        inner.agents.insert(outbox.id, (outbox, agent));
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

    /// The agents connected to this node, once each.
    pub fn connected_agents(&self) -> Vec<Arc<Agent>> {
        let mut agents: Vec<Arc<Agent>> = self
            .lock()
            .agents
            .values()
            .map(|(_, a)| a.clone())
            .collect();
        agents.sort_by(|a, b| a.id.cmp(&b.id));
        agents.dedup_by(|a, b| a.id == b.id);
        agents
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

    /// Forgets a connection; called when its session ends, with the conversation it joined
    /// (the session knows it, so the hub keeps no second index per connection).
    pub fn leave(&self, id: ConnId, conversation: Option<&str>) {
        let mut inner = self.lock();
        inner.agents.remove(&id);
        inner.agent_sessions.remove(&id);
        inner.bots.remove(&id);
        if let Some(conv) = conversation {
            if let Some(list) = inner.conversations.get_mut(conv) {
                list.retain(|o| o.id != id);
                if list.is_empty() {
                    inner.conversations.remove(conv);
                }
            }
        }
    }

    /// Hands a live event to the matching local connections.
    pub fn deliver(&self, event: &Event) {
        if event.audience == Audience::Deleted {
            return self.close_conversation(&event.conversation_id, CloseCode::RECONNECT_NOW);
        }
        if event.audience == Audience::SignedOut {
            return self.close_session(&event.conversation_id);
        }
        if event.audience == Audience::Blocked {
            return self.close_conversation(&event.conversation_id, CloseCode::BLOCKED);
        }
        self.metrics.fanned_out(&event.frame, crate::clock::now());
        let inner = self.lock();
        if event.audience == Audience::Agent {
            for (outbox, agent) in inner.agents.values() {
                if agent.id == event.site {
                    outbox.push(event.frame.clone());
                }
            }
            return;
        }
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

    /// Closes every local connection with `code`, behind what each has queued: on shutdown,
    /// and when this node may have missed live events (its Redis subscription dropped), so
    /// clients reconnect and resync from the store.
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

    /// Closes this node's visitor connections of one conversation with `code`, behind what
    /// they have queued (the conversation was deleted).
    pub fn close_conversation(&self, conversation_id: &str, code: CloseCode) {
        let inner = self.lock();
        for outbox in inner
            .conversations
            .get(conversation_id)
            .into_iter()
            .flatten()
        {
            outbox.close(code);
        }
    }

    /// Closes this node's agent connections of one sign-in session with 4001 (signed out).
    pub fn close_session(&self, session: &str) {
        let inner = self.lock();
        for (id, _) in inner.agent_sessions.iter().filter(|(_, s)| *s == session) {
            if let Some((outbox, _)) = inner.agents.get(id) {
                outbox.close(CloseCode::UNAUTHORIZED);
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
