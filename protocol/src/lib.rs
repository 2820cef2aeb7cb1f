//! Switchboard's wire protocol, defined once and shared by the relay, the widget, the agent
//! console and bots.
//!
//! Every frame is one JSON text WebSocket frame holding one message, tagged by `"type"`.
//!
//! Layout:
//! - [`limits`]: named size limits every side enforces;
//! - [`codes`]: typed error codes ([`ErrorCode`]) and WebSocket close codes ([`CloseCode`]);
//! - [`context`]: what the visitor's page and the site tell an agent (page, identity, cart, order);
//! - [`message`]: a stored chat message with its per-conversation sequence number;
//! - [`receipts`]: read marks ("Seen") and the visitor's page trail;
//! - [`note`]: agents' private notes in a conversation (never sent to visitors or bots);
//! - [`canned`]: a site's canned replies and the one rule for filling their placeholders;
//! - [`client`]: frames a client (visitor, agent or bot) sends, and their decoding and validation;
//! - [`server`]: frames the relay sends;
//! - [`rich`]: quick replies, buttons and cards bots and agents attach to messages;
//! - [`handoff`]: who owns a conversation (a bot or humans) and the typed bot-to-human handoff;
//! - [`csat`]: the rating a visitor gives a resolved conversation (scale, comment, checks);
//! - [`stream`]: a bot's answer shown while it is written (`delta` frames), stored once;
//! - [`search`]: full-text search over transcripts (queries, hits, snippets);
//! - [`lifecycle`]: a conversation's status and the system events that record its changes;
//! - [`login`]: the console's password sign-in over HTTP (request and answer bodies);
//! - [`webhook`]: the envelope, signature headers and HTTP API bodies for webhook bots;
//! - [`linkify`]: the one rule for turning message text into text and safe links;
//! - [`client_id`]: the client ids browsers put on what they send (`browser` feature);
//! - `signature`: signing and verifying webhook POSTs (`signature` feature).
//!
//! This crate depends on serde only (with the `browser` feature, on web-sys for random ids;
//! with `signature`, on hmac and sha2), so the browser bundles and any bot can use it.

pub mod canned;
pub mod client;
pub mod client_id;
pub mod codes;
pub mod context;
pub mod csat;
pub mod handoff;
#[cfg(feature = "identity")]
pub mod identity;
pub mod lifecycle;
pub mod limits;
pub mod linkify;
pub mod login;
pub mod message;
pub mod note;
pub mod receipts;
pub mod rich;
pub mod search;
pub mod server;
#[cfg(feature = "signature")]
pub mod signature;
pub mod stream;
pub mod webhook;

pub use canned::CannedReply;
pub use client::{ClientMsg, DecodeError, Role};
pub use codes::{CloseCode, ErrorCode};
pub use context::{Cart, Context, Identity, LineItem, Order, Page, Utm};
pub use handoff::{HandedOff, Handoff, HandoffReason, Owner, Priority};
pub use lifecycle::{
    AgentEntry, AgentRole, Directory, Presence, Status, SystemEvent, TeamEntry, View, ViewCounts,
};
pub use message::{ChatMessage, Sender, SenderKind};
pub use note::{Note, WriteNote};
pub use receipts::{PageVisit, ReadSide};
pub use rich::{Button, Card, Price, QuickReply, Rich};
pub use server::{ConversationSummary, InboxCursor, ServerMsg, VisitorMsg};
pub use stream::Delta;

/// The protocol version a client announces in `hello`. The relay refuses a different major
/// version with [`CloseCode::PROTOCOL_VERSION`]; additions within a version are backwards
/// compatible (new optional fields, new message types clients ignore).
pub const PROTOCOL_VERSION: u32 = 1;

/// Milliseconds since the Unix epoch, UTC. Plain integers keep the browser bundles free of a
/// date library.
pub type Millis = u64;
