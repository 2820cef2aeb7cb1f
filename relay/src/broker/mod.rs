//! The broker seam: durable conversations, messages and visitors, plus live fan-out of events
//! to every relay node's connections.
//!
//! Two implementations, chosen in one place (`server::start`) from the configuration:
//! - [`sqlite::SqliteBroker`], the embedded default: one SQLite file on local disk and the
//!   in-process [`Hub`](crate::hub::Hub); one node, no other service;
//! - [`redis::RedisBroker`]: all state in Redis and fan-out over Redis pub/sub, so any number
//!   of stateless relay nodes serve any conversation.
//!
//! Delivery contract of [`Broker::append`]: it returns only after the message is durably stored
//! (it survives the relay process being killed); its `seq` is the next in the conversation,
//! starting at 1 with no gaps; and it is published to every node's local connections, in seq
//! order per conversation (append and publish are one atomic step). Appending a
//! `(sender, client_id)` pair that is already stored returns the stored message with
//! `duplicate = true`, stores nothing and publishes nothing. A visitor's message to a pending,
//! snoozed or resolved conversation reopens it in the same atomic step: a `reopened` system
//! message takes the seq before the visitor's; a conversation's first agent message records the
//! site's first-response time ([`Broker::first_reply_times`]). [`Broker::change`] (assignment, transfer,
//! status, priority) is a compare-and-set on the conversation's lifecycle version that stores
//! the new state and appends and publishes its system message in one atomic step, in seq
//! order with the messages. [`Broker::publish`] is live-only
//! and at-most-once (typing, context, inbox updates): a client that misses one loses nothing
//! stored.

pub mod lifecycle;
pub mod redis;
mod redis_kpi;
pub mod redisearch;
pub mod sqlite;
mod sqlite_kpi;
pub mod sqlite_reader;
pub mod sqlite_writer;

use async_trait::async_trait;
pub use lifecycle::{Change, Changed, Lifecycle, Names, State};
use switchboard_protocol::{
    CannedReply, ChatMessage, Context, ConversationSummary, HandedOff, InboxCursor, Millis, Owner,
    PageVisit, Presence, ReadSide, Rich, Sender, SenderKind, ServerMsg,
};

/// A visitor as stored: one per browser (per relay-issued token) and site.
#[derive(Clone, Debug)]
pub struct Visitor {
    pub id: String,
    pub site: String,
    pub context: Context,
}

/// A conversation's ownership facts, what every authorization check needs.
#[derive(Clone, Debug)]
pub struct Conversation {
    pub id: String,
    pub site: String,
    pub visitor_id: String,
    pub last_seq: u64,
    pub owner: Owner,
    /// Status, assignee, team, priority and their version, read in the same step.
    pub state: State,
}

pub struct NewMessage {
    pub conversation_id: String,
    pub client_id: String,
    pub sender: Sender,
    pub text: String,
    pub at: Millis,
    pub rich: Option<Rich>,
    pub postback: Option<String>,
    /// Store only if the conversation's owner is this one, checked in the same atomic step as
    /// the append, so a bot's message can never land after its handoff.
    pub require_owner: Option<Owner>,
}

impl NewMessage {
    /// A plain text message stored now, with no conditions.
    pub fn new(
        conversation_id: &str,
        client_id: String,
        sender: Sender,
        text: String,
    ) -> NewMessage {
        NewMessage {
            conversation_id: conversation_id.to_owned(),
            client_id,
            sender,
            text,
            at: crate::clock::now(),
            rich: None,
            postback: None,
            require_owner: None,
        }
    }
}

#[derive(Debug)]
pub struct Appended {
    pub message: ChatMessage,
    pub duplicate: bool,
    /// The conversation's owner when the message was stored (read in the same atomic step),
    /// so the sender's node knows which bot, if any, the message is for.
    pub owner: Owner,
    /// The `reopened` system message stored (and published) just before this one, when a
    /// visitor's message reopened the conversation.
    pub reopened: Option<ChatMessage>,
    /// This was the conversation's first agent message: the milliseconds since the
    /// conversation opened (the visitor's first message), now one of the site's
    /// [`Broker::first_reply_times`].
    pub first_reply_ms: Option<u64>,
}

/// How long a site webhook's cursor on a conversation is kept after it last moved (180 days):
/// the cursors of conversations nobody writes to any more go in time.
pub const CURSOR_TTL_MS: u64 = 180 * 24 * 3600 * 1000;

/// How many of a site's latest first-response times the broker keeps (the window the
/// "typically replies in" figure is the median of).
pub const REPLY_SAMPLES: usize = 50;

/// One page of an inbox.
#[derive(Debug, Default)]
pub struct InboxPage {
    pub items: Vec<ConversationSummary>,
    /// The position of the page's last entry when older conversations exist. Taken from the
    /// index the page was read from, not from `items`: a summary read a moment later may
    /// already show newer activity.
    pub next: Option<InboxCursor>,
}

/// A visitor as the privacy export shows it: everything stored about them besides their
/// conversations (the token is stored only as a hash and is not part of it).
#[derive(Clone, Debug, serde::Serialize)]
pub struct VisitorRecord {
    pub id: String,
    pub site: String,
    pub created_at: Millis,
    pub context: Context,
    /// The network it last connected from (an IPv4 address or an IPv6 /64), kept so an agent
    /// can block it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
}

/// One conversation in a visitor's export: its inbox line (lifecycle fields included) and
/// its whole log, system events too.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ConversationExport {
    #[serde(flatten)]
    pub summary: ConversationSummary,
    pub messages: Vec<ChatMessage>,
}

/// Everything stored about one visitor (`GET /v1/admin/visitors/{id}`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct VisitorExport {
    pub visitor: VisitorRecord,
    pub conversations: Vec<ConversationExport>,
    /// The pages the visitor was last seen on (the agents' "Pages visited"), oldest first:
    /// stored about them, so part of what they may ask to see.
    pub pages: Vec<PageVisit>,
}

/// What one purge round deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// The ids, so the caller can close what is still connected to them.
    pub conversations: Vec<String>,
    pub visitors: usize,
}

/// How many messages an export reads per call, so a long conversation is not one huge read.
const EXPORT_PAGE: usize = 500;

/// What a change of owner does to the stored handoff.
#[derive(Clone, Debug)]
pub enum HandoffChange {
    Keep,
    Set(HandedOff),
    Clear,
}

/// Which local connections a live event is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The visitor connections of the conversation.
    Visitors,
    /// The agents serving the conversation's site.
    Agents,
    Both,
    /// The connections of one bot; the event's `site` field then holds the bot id.
    Bot,
    /// Not a frame to send: the conversation was deleted, so its visitor connections on every
    /// node are closed (4012), and their clients start over with no stale state.
    Deleted,
    /// Not a frame to send: an agent signed out; the agent connections opened with that
    /// session (the event's `conversation_id` holds the session's hash) are closed on every
    /// node (4001), so a signed-out console keeps nothing open.
    SignedOut,
    /// Not a frame to send: an agent blocked the visitor, so its connections on every node are
    /// closed with 4004 (do not reconnect).
    Blocked,
    /// The connections of one agent (a `mention`); the event's `site` field then holds the
    /// agent id.
    Agent,
}

/// A live frame on its way to connections, serialized once where it is created.
#[derive(Clone, Debug)]
pub struct Event {
    pub audience: Audience,
    pub site: String,
    pub conversation_id: String,
    pub frame: crate::outbox::Frame,
}

impl Event {
    pub fn new(audience: Audience, site: &str, conversation_id: &str, msg: &ServerMsg) -> Event {
        Event {
            audience,
            site: site.to_owned(),
            conversation_id: conversation_id.to_owned(),
            frame: msg.to_json().into(),
        }
    }

    /// A frame for one agent's connections, wherever they are.
    pub fn to_agent(agent_id: &str, conversation_id: &str, msg: &ServerMsg) -> Event {
        Event::new(Audience::Agent, agent_id, conversation_id, msg)
    }

    /// A frame for one bot's connections, wherever they are.
    pub fn to_bot(bot_id: &str, conversation_id: &str, msg: &ServerMsg) -> Event {
        Event::new(Audience::Bot, bot_id, conversation_id, msg)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conversation {0} not found")]
    NotFound(String),
    #[error("the conversation is owned by {0:?}")]
    NotOwner(Owner),
    /// A visitor's message to a conversation an agent blocked.
    #[error("the visitor is blocked")]
    Blocked,
    /// A lifecycle change on a stale version; holds the current state.
    #[error("the conversation is at version {}, not the one expected", .0.version)]
    Conflict(Box<State>),
    /// A lifecycle change that would change nothing.
    #[error("{0}")]
    Invalid(String),
    #[error("storage failed: {0}")]
    Backend(String),
    /// The store has no full-text search engine (a Redis without the search module).
    #[error("full-text search is not available on this store")]
    SearchUnavailable,
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Which implementation this is, for logs and `/healthz`.
    fn name(&self) -> &'static str;
    /// Whether the backend answers now.
    async fn ping(&self) -> Result<()>;
    /// The visitor holding this token hash on this site, if any.
    async fn visitor_by_token(&self, site: &str, token_hash: &str) -> Result<Option<Visitor>>;
    /// A new visitor with a fresh id.
    async fn create_visitor(
        &self,
        site: &str,
        token_hash: &str,
        context: Context,
    ) -> Result<Visitor> {
        let id = crate::token::random_id("v");
        self.create_visitor_with_id(site, token_hash, &id, context)
            .await
    }
    /// Stores the visitor under the id its session chose (and announced in `welcome`) when
    /// it first said something. Idempotent: a retry after a timeout stores it once, with this
    /// context.
    async fn create_visitor_with_id(
        &self,
        site: &str,
        token_hash: &str,
        id: &str,
        context: Context,
    ) -> Result<Visitor>;
    /// Replaces the visitor's context whole.
    async fn set_context(&self, visitor_id: &str, context: &Context) -> Result<()>;
    /// The visitor's open conversation, created with `owner` if there is none.
    async fn open_conversation(
        &self,
        site: &str,
        visitor_id: &str,
        now: Millis,
        owner: &Owner,
    ) -> Result<Conversation> {
        self.open_queued_conversation(site, visitor_id, now, owner, None)
            .await
    }
    /// [`Broker::open_conversation`], storing `team` on a conversation it creates: a new
    /// humans-owned conversation enters its site's default team's queue from the start.
    async fn open_queued_conversation(
        &self,
        site: &str,
        visitor_id: &str,
        now: Millis,
        owner: &Owner,
        team: Option<&str>,
    ) -> Result<Conversation> {
        let id = crate::token::random_id("c");
        self.open_conversation_with_id(site, visitor_id, &id, now, owner, team)
            .await
    }
    /// As [`Broker::open_queued_conversation`], creating it (if the visitor has no open one)
    /// under the id the session announced in `welcome`. Idempotent: a retry returns the one
    /// stored.
    async fn open_conversation_with_id(
        &self,
        site: &str,
        visitor_id: &str,
        id: &str,
        now: Millis,
        owner: &Owner,
        team: Option<&str>,
    ) -> Result<Conversation>;
    /// How many visitors and conversations of the site are stored (operators, tests).
    async fn stored_counts(&self, site: &str) -> Result<(u64, u64)>;
    /// Moves the conversation from `expected` to `new` owner if it is still owned by
    /// `expected` (compare-and-set); false if someone else changed it first.
    async fn set_owner(
        &self,
        conversation_id: &str,
        expected: &Owner,
        new: &Owner,
        handoff: HandoffChange,
    ) -> Result<bool>;
    /// Records (`until` = expiry) or withdraws (`None`) this node's agents for a site, so
    /// other nodes can tell whether any agent is online.
    async fn set_presence(&self, site: &str, node: &str, until: Option<Millis>) -> Result<()>;
    /// Whether another node has an agent online for the site.
    async fn present_elsewhere(&self, site: &str, node: &str, now: Millis) -> Result<bool>;
    /// Records one agent's presence for a site as seen by one node, valid until `until`
    /// (renewed while the agent stays connected there, so it lapses a grace period after its
    /// last connection to that node dropped).
    async fn set_agent_presence(
        &self,
        site: &str,
        agent: &str,
        node: &str,
        status: Presence,
        until: Millis,
    ) -> Result<()>;
    /// The site's agents with a presence valid at `now`, each with its most available status
    /// over all nodes (online, then away, then offline), sorted by agent id.
    async fn agent_presence(&self, site: &str, now: Millis) -> Result<Vec<(String, Presence)>>;
    /// Takes or renews the site's assignment lease for `node` until `until`: true if `node`
    /// now holds it, false while another node's lease lasts. One node assigns a site's queue
    /// at a time.
    async fn assignment_lease(
        &self,
        site: &str,
        node: &str,
        until: Millis,
        now: Millis,
    ) -> Result<bool>;
    async fn conversation(&self, id: &str) -> Result<Option<Conversation>>;
    /// The context of the conversation's visitor.
    async fn conversation_context(&self, id: &str) -> Result<Context>;
    /// Durably stores a message of a conversation of `site` and publishes it; see the module
    /// docs for the contract.
    async fn append(&self, site: &str, msg: NewMessage) -> Result<Appended>;
    /// Durably stores an agent's private note (`note`: its `seq` is ignored, `note` set) as the
    /// conversation's next seq and publishes it whole to the site's agents and as its bare
    /// [`lifecycle::visitor_copy`] to the conversation's visitors, as one atomic step, in seq
    /// order with the messages. A note changes neither the conversation's activity nor its
    /// preview. A known `(sender, client_id)` returns the stored entry and `true`, storing
    /// and publishing nothing.
    async fn append_note(&self, site: &str, note: ChatMessage) -> Result<(ChatMessage, bool)>;
    /// Applies one lifecycle change if the conversation is still at `expected_version`
    /// (else [`StoreError::Conflict`] with the current state, nothing changed): stores the
    /// new state, appends the change's system message with the next seq and publishes it to
    /// the conversation's visitors and the site's agents, as one atomic step.
    async fn change(
        &self,
        conversation_id: &str,
        expected_version: u64,
        change: Change,
    ) -> Result<Changed>;
    /// The site's latest first-response times in milliseconds (from a conversation's opening,
    /// its visitor's first message, to its first agent message), newest first, at most
    /// [`REPLY_SAMPLES`]. [`Broker::append`] records one with a conversation's first agent
    /// message, in the same step that stores it (conversations stored before this was kept
    /// are never measured).
    async fn first_reply_times(&self, site: &str) -> Result<Vec<u64>>;
    /// Sends a live event to the matching connections on every node; at-most-once.
    async fn publish(&self, event: Event);
    /// Messages with `seq > since`, in order, at most `limit`.
    async fn history(
        &self,
        conversation_id: &str,
        since: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>>;
    /// Conversations of these sites that have at least one message, newest activity first
    /// (ties: higher id first), at most `limit`, after `before` in that order when given.
    /// Each site has its own index, so a busy site never pushes a quiet one's conversations
    /// out of its agents' list.
    async fn inbox(
        &self,
        sites: &[String],
        before: Option<&InboxCursor>,
        limit: usize,
    ) -> Result<InboxPage>;
    async fn summary(&self, conversation_id: &str) -> Result<Option<ConversationSummary>>;
    /// The visitor's stored record and the ids of all their conversations; `None` if no
    /// such visitor is stored.
    async fn visitor_record(
        &self,
        visitor_id: &str,
    ) -> Result<Option<(VisitorRecord, Vec<String>)>>;
    /// Deletes the visitor and everything stored about them: conversations with their
    /// messages, resend records and inbox lines, the token mapping, the open-conversation
    /// pointer and the context. Publishes nothing. Returns the ids of the conversations
    /// deleted, or `None` if no such visitor was stored.
    async fn delete_visitor(&self, visitor_id: &str) -> Result<Option<Vec<String>>>;
    /// One bounded round of retention: deletes at most `batch` conversations of `site` whose
    /// last activity is before `before` (with everything `delete_visitor` deletes for a
    /// conversation), then at most `batch` visitors of the site created before `before` that
    /// have no conversation left. Call again until a round deletes nothing (a round may
    /// delete more conversations than `batch`: a visitor's, on Redis).
    async fn purge(&self, site: &str, before: Millis, batch: usize) -> Result<Purged>;

    /// Everything stored about the visitor, conversations oldest first, each with its whole
    /// log; `None` if no such visitor is stored.
    async fn export_visitor(&self, visitor_id: &str) -> Result<Option<VisitorExport>> {
        let Some((visitor, ids)) = self.visitor_record(visitor_id).await? else {
            return Ok(None);
        };
        let mut conversations = Vec::with_capacity(ids.len());
        for id in ids {
            // Deleted between the two reads (retention): nothing left to export.
            let Some(summary) = self.summary(&id).await? else {
                continue;
            };
            let mut messages: Vec<ChatMessage> = Vec::new();
            loop {
                let since = messages.last().map_or(0, |m| m.seq);
                let page = self.history(&id, since, EXPORT_PAGE).await?;
                let done = page.len() < EXPORT_PAGE;
                messages.extend(page);
                if done {
                    break;
                }
            }
            conversations.push(ConversationExport { summary, messages });
        }
        conversations.sort_by(|a, b| {
            (a.summary.created_at, &a.summary.id).cmp(&(b.summary.created_at, &b.summary.id))
        });
        let pages = self.page_trail(visitor_id).await?;
        Ok(Some(VisitorExport {
            visitor,
            conversations,
            pages,
        }))
    }

    // Blocks (`block.rs`): per site, a key (`visitor:ID` or `addr:NET`) and when it ends.

    /// Blocks `key` on `site` until `until` (a later block of the same key replaces it).
    async fn block(&self, site: &str, key: &str, until: Millis) -> Result<()>;
    /// Lifts a block; false if there was none.
    async fn unblock(&self, site: &str, key: &str) -> Result<bool>;
    /// Whether any of `keys` is blocked on `site` at `now`.
    async fn is_blocked(&self, site: &str, keys: &[String], now: Millis) -> Result<bool>;
    /// The site's blocks in force at `now`, by key.
    async fn blocks(&self, site: &str, now: Millis) -> Result<Vec<(String, Millis)>>;
    /// Remembers the network a stored visitor last connected from, so an agent can block it
    /// (deleted with the visitor).
    async fn set_visitor_addr(&self, visitor_id: &str, addr: &str) -> Result<()>;
    async fn visitor_addr(&self, visitor_id: &str) -> Result<Option<String>>;

    // A webhook bot's durable event queue: ordered per bot, positions increasing, read from
    // the oldest, deleted once the bot took an event. See `bots::webhook` for the policy.

    /// Queues `body` (a serialized `WebhookEvent`) for `bot` if its backlog is below `limit`,
    /// as one atomic step; its position, or `None` (nothing stored) when the backlog is full.
    async fn push_bot_event(
        &self,
        bot: &str,
        at: Millis,
        body: &str,
        limit: u64,
    ) -> Result<Option<u64>>;
    /// The bot's oldest queued events, in order, at most `limit`.
    async fn bot_events(&self, bot: &str, limit: usize) -> Result<Vec<BotEvent>>;
    /// Deletes one delivered event; deleting one that is gone already is not an error.
    async fn ack_bot_event(&self, bot: &str, position: u64) -> Result<()>;
    /// How many events wait for the bot.
    async fn bot_backlog(&self, bot: &str) -> Result<u64>;
    /// Marks that an event the bot needed was refused for a full backlog (kept until taken).
    async fn set_bot_overflow(&self, bot: &str) -> Result<()>;
    /// Whether the overflow mark was set; clears it.
    async fn take_bot_overflow(&self, bot: &str) -> Result<bool>;
    /// Takes or renews the right to deliver the bot's queue for `ttl_ms`: true if `node` holds
    /// it now (it was free, expired, or already this node's). A node that dies stops renewing,
    /// so another takes over once the lease expires. The holder gives it up with a `ttl_ms`
    /// of 1.
    async fn bot_lease(&self, bot: &str, node: &str, ttl_ms: u64) -> Result<bool>;
    // The queue methods above serve sites' webhooks too, under queue names `hook:SITE:N`
    // (bot ids have no `:`, so they cannot meet). A site webhook also keeps a delivery log:

    /// Adds one line (a serialized `WebhookAttempt`) to the delivery log of `queue`, keeping
    /// its newest `keep` lines.
    async fn log_webhook_attempt(&self, queue: &str, line: &str, keep: usize) -> Result<()>;
    /// The newest `limit` lines of the delivery log of `queue`, newest first.
    async fn webhook_attempts(&self, queue: &str, limit: usize) -> Result<Vec<String>>;
    /// The seq of the conversation's last log entry the webhook of `queue` has dealt with (0:
    /// none, or not touched for [`CURSOR_TTL_MS`]).
    async fn webhook_cursor(&self, queue: &str, conversation_id: &str) -> Result<u64>;
    /// Moves that cursor to `seq` (never back: a lower `seq` leaves it where it is), forgotten
    /// [`CURSOR_TTL_MS`] after its last move.
    async fn set_webhook_cursor(&self, queue: &str, conversation_id: &str, seq: u64) -> Result<()>;

    // Agents' console sessions (`login`): stored by the SHA-256 of the cookie, never the
    // cookie itself, so a copy of the store signs nobody in.

    /// Stores a session for `agent` until `expires_at`; afterwards it is as if revoked (and
    /// the store drops it in time).
    async fn create_agent_session(&self, hash: &str, agent: &str, expires_at: Millis)
        -> Result<()>;
    /// The agent of a live session: stored, not revoked, `expires_at` after `now`.
    async fn agent_session(&self, hash: &str, now: Millis) -> Result<Option<String>>;
    /// Ends a session at once, on every node; true if there was one.
    async fn revoke_agent_session(&self, hash: &str) -> Result<bool>;

    // Search (`search.rs`) and a visitor's history.

    /// Visitor, agent and bot messages of `search.sites` holding every term, newest first
    /// (ties: the later seq first), after skipping `offset`, at most `limit`.
    /// [`StoreError::SearchUnavailable`] when the store has no search engine.
    async fn search(&self, search: &Search<'_>) -> Result<Vec<Found>>;
    /// The stored visitors of `site` whose verified identity is `customer_id` (one per
    /// browser the customer used), at most `limit`.
    async fn customer_visitors(
        &self,
        site: &str,
        customer_id: &str,
        limit: usize,
    ) -> Result<Vec<String>>;
    // A site's canned replies (`canned.rs`): in the store, so every node serves the same set.
    // Shortcuts are unique per site; the count is bounded; each write is one atomic step.

    /// The site's canned replies, by shortcut.
    async fn canned_replies(&self, site: &str) -> Result<Vec<CannedReply>>;
    /// One of the site's canned replies (another site's id reads as none).
    async fn canned_reply(&self, site: &str, id: &str) -> Result<Option<CannedReply>>;
    /// Stores a new canned reply (`create`, below `max` per site) or replaces the stored one
    /// with its id, keeping shortcuts unique.
    async fn put_canned(
        &self,
        site: &str,
        reply: &CannedReply,
        create: bool,
        max: usize,
    ) -> Result<CannedPut>;
    /// Deletes one; false if the site had none with that id.
    async fn delete_canned(&self, site: &str, id: &str) -> Result<bool>;
    /// Stores `replies` only if the site has no canned reply at all (checked in the same
    /// step, so two nodes starting together seed once); true if it did.
    async fn seed_canned(&self, site: &str, replies: &[CannedReply]) -> Result<bool>;

    // Read receipts and the page trail (`protocol::receipts`), deleted with their
    // conversation and visitor.

    /// Moves `side`'s read mark of the conversation to `seq` if that is forward and within
    /// the conversation's last seq, checked in the same atomic step as the write. Touches
    /// nothing else of the conversation (activity, preview, version) and publishes nothing.
    async fn mark_read(&self, conversation_id: &str, side: ReadSide, seq: u64) -> Result<ReadMark>;
    /// The conversation's marks: (visitor, agents), 0 where a side has none.
    async fn read_marks(&self, conversation_id: &str) -> Result<(u64, u64)>;
    /// Adds `page` to the stored visitor's trail unless its URL is the trail's last, keeping
    /// the newest `keep`, in one atomic step. The trail, oldest first, and whether it changed;
    /// an unknown visitor's is empty and unchanged.
    async fn push_page(
        &self,
        visitor_id: &str,
        page: &PageVisit,
        keep: usize,
    ) -> Result<(Vec<PageVisit>, bool)>;
    /// The visitor's trail, oldest first.
    async fn page_trail(&self, visitor_id: &str) -> Result<Vec<PageVisit>>;
    // KPIs (`kpi`): one facts record per conversation, projected from its log off the write
    // path. Every write to a conversation's log marks it (SQLite: a trigger in the write's
    // transaction; Redis: a set member written in the same pipeline, after the script), so a
    // projector that takes the marks before reading the logs never misses a write.

    /// Unmarks and returns at most `limit` of the site's conversations whose log changed
    /// since their facts were projected.
    async fn take_kpi_dirty(&self, site: &str, limit: usize) -> Result<Vec<String>>;
    /// Marks conversations again (their projection failed after they were taken).
    async fn mark_kpi_dirty(&self, site: &str, ids: &[String]) -> Result<()>;
    /// One conversation's stored facts.
    async fn kpi_facts(&self, site: &str, id: &str) -> Result<Option<crate::kpi::Facts>>;
    /// Stores facts, each replacing its conversation's unless the stored one is of a later
    /// seq (two projectors racing keep the newer).
    async fn put_kpi_facts(&self, facts: &[crate::kpi::Facts]) -> Result<()>;
    /// The rows of the site's conversations that started in `[from, to)`.
    async fn kpi_rows(
        &self,
        site: &str,
        from: Millis,
        to: Millis,
        dim: crate::kpi::Dim,
    ) -> Result<crate::kpi::Rows>;
}

/// What [`Broker::mark_read`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMark {
    /// Stored: the mark is now the seq given.
    Moved,
    /// At or below the stored mark (which it holds): nothing changed.
    Unchanged(u64),
    /// Past the conversation's last seq (which it holds): nothing changed.
    Ahead(u64),
}

/// The stored name of a read side.
pub(crate) fn side_str(side: ReadSide) -> &'static str {
    match side {
        ReadSide::Visitor => "read_visitor",
        ReadSide::Agents => "read_agents",
    }
}

/// A search as the store runs it: checked words and filters, the sites already narrowed to
/// the agent's.
#[derive(Clone, Debug)]
pub struct Search<'a> {
    pub sites: &'a [String],
    /// Lowercased runs of letters and digits (`protocol::search::terms`): never query syntax.
    pub terms: &'a [String],
    pub status: Option<&'static str>,
    pub team: Option<&'a str>,
    pub assignee: Option<&'a str>,
    pub from: Option<Millis>,
    pub to: Option<Millis>,
    pub offset: usize,
    pub limit: usize,
}

/// One message a search found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub conversation_id: String,
    pub seq: u64,
    pub at: Millis,
    pub sender: SenderKind,
    pub text: String,
}

/// The customer id of a context: its identity's id, only when verified (the site's server
/// signed it), since a page's own claim could name anyone's.
pub(crate) fn verified_customer(context: &Context) -> Option<&str> {
    context
        .identity
        .as_ref()
        .filter(|i| i.is_verified(switchboard_protocol::context::Verified::Id))
        .and_then(|i| i.id.as_deref())
        .filter(|id| !id.is_empty())
}

/// What [`Broker::put_canned`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CannedPut {
    Stored,
    /// An update of an id the site does not have.
    NotFound,
    /// A create at the site's limit.
    Full,
    /// Another of the site's canned replies has the shortcut.
    ShortcutTaken,
}

/// One queued webhook event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotEvent {
    /// Its place in the bot's queue (what [`Broker::ack_bot_event`] takes).
    pub position: u64,
    /// The serialized `WebhookEvent`, exactly as it is POSTed.
    pub body: String,
}

/// The stored name of a sender kind (both brokers keep it as text).
pub(crate) fn kind_str(kind: SenderKind) -> &'static str {
    match kind {
        SenderKind::Visitor => "visitor",
        SenderKind::Agent => "agent",
        SenderKind::Bot => "bot",
        SenderKind::System => "system",
    }
}

/// The stored form of an owner: `humans` or `bot:ID` (bot ids have no `:`).
pub(crate) fn owner_str(owner: &Owner) -> String {
    match owner {
        Owner::Humans => "humans".into(),
        Owner::Bot { id } => format!("bot:{id}"),
    }
}

pub(crate) fn parse_owner(s: &str) -> Owner {
    match s.strip_prefix("bot:") {
        Some(id) => Owner::Bot { id: id.into() },
        None => Owner::Humans,
    }
}

pub(crate) fn parse_handoff(s: Option<&str>) -> Option<HandedOff> {
    s.and_then(|s| serde_json::from_str(s).ok())
}

/// The stored name of a presence.
pub(crate) fn presence_str(p: Presence) -> &'static str {
    match p {
        Presence::Online => "online",
        Presence::Away => "away",
        Presence::Offline => "offline",
    }
}

pub(crate) fn parse_presence(s: &str) -> Presence {
    match s {
        "online" => Presence::Online,
        "away" => Presence::Away,
        _ => Presence::Offline,
    }
}

/// Per agent, the most available of its claims (online before away before offline).
pub(crate) fn best_presence(
    claims: impl IntoIterator<Item = (String, Presence)>,
) -> Vec<(String, Presence)> {
    let rank = |p: Presence| match p {
        Presence::Online => 0,
        Presence::Away => 1,
        Presence::Offline => 2,
    };
    let mut best = std::collections::BTreeMap::<String, Presence>::new();
    for (agent, p) in claims {
        let e = best.entry(agent).or_insert(p);
        if rank(p) < rank(*e) {
            *e = p;
        }
    }
    best.into_iter().collect()
}

/// The inverse of [`kind_str`]; an unknown name (a newer version's) reads as `system`.
pub(crate) fn parse_kind(s: &str) -> SenderKind {
    match s {
        "visitor" => SenderKind::Visitor,
        "agent" => SenderKind::Agent,
        "bot" => SenderKind::Bot,
        _ => SenderKind::System,
    }
}

/// A stored context read back. Contexts were validated before they were stored; one that no
/// longer parses (written by a newer version, say) degrades to an empty context rather than
/// failing the conversation.
pub(crate) fn parse_context(s: &str) -> Context {
    serde_json::from_str(s).unwrap_or_default()
}

/// The stored facts of a conversation, as both brokers keep them.
pub(crate) struct SummaryFields {
    pub id: String,
    pub site: String,
    pub visitor_id: String,
    pub created_at: Millis,
    pub last_activity: Millis,
    pub last_seq: u64,
    pub last_sender: Option<String>,
    pub last_text: Option<String>,
    pub owner: Option<String>,
    pub handoff: Option<String>,
    pub state: State,
}

impl SummaryFields {
    /// The inbox line, with what the agent needs at a glance taken from the visitor's context.
    pub(crate) fn into_summary(self, context: &Context) -> ConversationSummary {
        let page = context.page.as_ref();
        ConversationSummary {
            id: self.id,
            site: self.site,
            visitor_id: self.visitor_id,
            visitor_name: context
                .identity
                .as_ref()
                .and_then(|i| i.name.clone().or_else(|| i.email.clone())),
            customer_id: context
                .identity
                .as_ref()
                .filter(|i| i.is_verified(switchboard_protocol::context::Verified::Id))
                .and_then(|i| i.id.clone()),
            page_title: page.map(|p| p.title.clone()).filter(|t| !t.is_empty()),
            page_url: page.map(|p| p.url.clone()).filter(|u| !u.is_empty()),
            created_at: self.created_at,
            last_activity: self.last_activity,
            last_seq: self.last_seq,
            last_message: match (self.last_sender, self.last_text) {
                (Some(s), Some(text)) => Some(switchboard_protocol::server::Preview {
                    sender: parse_kind(&s),
                    text,
                }),
                _ => None,
            },
            owner: self.owner.as_deref().map(parse_owner).unwrap_or_default(),
            handoff: parse_handoff(self.handoff.as_deref()),
            status: self.state.status.at(crate::clock::now()),
            assignee: self.state.assignee,
            team: self.state.team,
            priority: self.state.priority,
            note: self.state.note,
            version: self.state.version,
            blocked: self.state.blocked,
        }
    }
}
