//! What the relay POSTs to a webhook bot and to a site's webhooks, and the HTTP API such a bot
//! answers through.
//!
//! Every POST carries one [`WebhookEvent`] (a [`SiteEvent`] for a site's webhook) as its JSON
//! body and three headers:
//! [`EVENT_ID_HEADER`], [`TIMESTAMP_HEADER`] (Unix seconds) and [`SIGNATURE_HEADER`]
//! = `v1=` + lowercase hex of HMAC-SHA256(secret, `"{timestamp}.{body}"`). A bot recomputes the
//! signature over the raw body, compares in constant time, refuses timestamps more than
//! [`REPLAY_WINDOW_SECS`] from its clock, and deduplicates on the event id: a retried event
//! keeps its id, so it is never seen as two events.

use serde::{Deserialize, Serialize};

use crate::rich::Rich;
use crate::{ChatMessage, Millis, ServerMsg};

pub const EVENT_ID_HEADER: &str = "switchboard-event-id";
pub const TIMESTAMP_HEADER: &str = "switchboard-timestamp";
pub const SIGNATURE_HEADER: &str = "switchboard-signature";
/// The header of the bot HTTP API that makes a POST safe to retry.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// How far a webhook's timestamp may be from the receiver's clock.
pub const REPLAY_WINDOW_SECS: u64 = 300;

/// One event for a bot: the same frame a WebSocket bot receives, wrapped with an id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// Unique per event, the same on every retry of it.
    pub id: String,
    pub bot_id: String,
    /// When the relay created the event.
    pub at: Millis,
    pub event: ServerMsg,
}

/// Body of `POST /v1/bot/conversations/{id}/messages`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PostMessage {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rich: Option<Rich>,
}

/// Body of `POST /v1/bot/conversations/{id}/typing`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostTyping {
    pub active: bool,
}

/// The kinds of event a site's webhooks (`[[sites.webhooks]]`, for CRMs and data tools)
/// subscribe to. Each is derived from one entry of a conversation's stored log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SiteEventType {
    /// The conversation's first entry was stored (the visitor's first message).
    #[serde(rename = "conversation.created")]
    ConversationCreated,
    #[serde(rename = "conversation.assigned")]
    ConversationAssigned,
    #[serde(rename = "conversation.transferred")]
    ConversationTransferred,
    #[serde(rename = "conversation.resolved")]
    ConversationResolved,
    #[serde(rename = "conversation.reopened")]
    ConversationReopened,
    /// A visitor, agent or bot message (never a private note, never a system entry).
    #[serde(rename = "message.created")]
    MessageCreated,
    /// A bot handed the conversation to humans.
    #[serde(rename = "handoff.requested")]
    HandoffRequested,
    /// The visitor rated the conversation.
    #[serde(rename = "csat.submitted")]
    CsatSubmitted,
}

impl SiteEventType {
    pub const ALL: [SiteEventType; 8] = [
        SiteEventType::ConversationCreated,
        SiteEventType::ConversationAssigned,
        SiteEventType::ConversationTransferred,
        SiteEventType::ConversationResolved,
        SiteEventType::ConversationReopened,
        SiteEventType::MessageCreated,
        SiteEventType::HandoffRequested,
        SiteEventType::CsatSubmitted,
    ];

    /// The name on the wire (`"type"` of [`SiteEvent`]).
    pub fn as_str(self) -> &'static str {
        match self {
            SiteEventType::ConversationCreated => "conversation.created",
            SiteEventType::ConversationAssigned => "conversation.assigned",
            SiteEventType::ConversationTransferred => "conversation.transferred",
            SiteEventType::ConversationResolved => "conversation.resolved",
            SiteEventType::ConversationReopened => "conversation.reopened",
            SiteEventType::MessageCreated => "message.created",
            SiteEventType::HandoffRequested => "handoff.requested",
            SiteEventType::CsatSubmitted => "csat.submitted",
        }
    }
}

/// One event POSTed to a site's webhook, signed and sent with the same headers as a bot's
/// [`WebhookEvent`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SiteEvent {
    /// `{conversation_id}.{seq}.{type}`: derived from the log entry, so it is the same on
    /// every retry and whichever node queued it; receivers deduplicate on it.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: SiteEventType,
    pub site: String,
    pub conversation_id: String,
    /// The log entry's seq: events of one conversation arrive in this order.
    pub seq: u64,
    /// When the entry was stored.
    pub at: Millis,
    /// The log entry the event comes from: the message (text, sender, rich content), or the
    /// system entry whose `event` names the change (assignee, team, who did it).
    pub entry: ChatMessage,
}

/// The outcome of one POST to a site's webhook, as the delivery log keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// 2xx: taken.
    Delivered,
    /// A status that is not retried (4xx other than 408 and 429): dropped.
    Refused,
    /// Not reached, or 5xx, 408 or 429: retried with backoff.
    Failed,
}

/// One line of a site's webhook delivery log (`GET /v1/admin/sites/{site}/webhooks`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAttempt {
    /// Which of the site's `[[sites.webhooks]]` (0-based, in file order).
    pub webhook: usize,
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: SiteEventType,
    pub conversation_id: String,
    /// 1 for the first POST of the event, counting up on each retry.
    pub attempt: u32,
    pub outcome: AttemptOutcome,
    /// The receiver's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// When the attempt ended.
    pub at: Millis,
}

/// A site webhook as the delivery log endpoint describes it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteWebhookInfo {
    pub webhook: usize,
    pub url: String,
    pub events: Vec<SiteEventType>,
    /// Events waiting in its queue, when the store answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog: Option<u64>,
}

/// Body of `GET /v1/admin/sites/{site}/webhooks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteWebhookLog {
    pub webhooks: Vec<SiteWebhookInfo>,
    /// Newest first.
    pub attempts: Vec<WebhookAttempt>,
}
