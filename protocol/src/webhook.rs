//! What the relay POSTs to a webhook bot, and the HTTP API such a bot answers through.
//!
//! Every POST carries one [`WebhookEvent`] as its JSON body and three headers:
//! [`EVENT_ID_HEADER`], [`TIMESTAMP_HEADER`] (Unix seconds) and [`SIGNATURE_HEADER`]
//! = `v1=` + lowercase hex of HMAC-SHA256(secret, `"{timestamp}.{body}"`). A bot recomputes the
//! signature over the raw body, compares in constant time, refuses timestamps more than
//! [`REPLAY_WINDOW_SECS`] from its clock, and deduplicates on the event id: a retried event
//! keeps its id, so it is never seen as two events.

use serde::{Deserialize, Serialize};

use crate::rich::Rich;
use crate::{Millis, ServerMsg};

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
