//! A chat message as the relay stores and delivers it.

use serde::{Deserialize, Serialize};

use crate::lifecycle::SystemEvent;
use crate::note::Note;
use crate::rich::Rich;
use crate::Millis;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderKind {
    Visitor,
    Agent,
    Bot,
    /// The relay itself: a lifecycle change, with its `event` (the text is empty).
    System,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    pub kind: SenderKind,
    /// Stable id: the visitor id, agent id, or bot id.
    pub id: String,
    /// Display name; for visitors the identified name if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Bots and agents: an http(s) image URL for the avatar the widget shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// A stored message. `seq` is assigned by the relay when the message is durably stored: it
/// starts at 1 in every conversation and has no gaps, so a client that has seen `seq = n`
/// has seen everything up to `n`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub conversation_id: String,
    pub seq: u64,
    /// The id the sending client chose; lets a sender match the message to its pending copy.
    pub client_id: String,
    pub sender: Sender,
    pub text: String,
    /// When the relay stored it.
    pub at: Millis,
    /// Chips, buttons and cards from a bot or agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rich: Option<Rich>,
    /// Set on a visitor's click of a postback chip or button: the payload the button carried.
    /// `text` is then the button's label, so the transcript reads naturally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postback: Option<String>,
    /// System messages only: the lifecycle change this entry of the log records. Boxed: every
    /// message frame carries the field and few carry an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Box<SystemEvent>>,
    /// Set on an agent's private note (see [`crate::note`]): agents only ever receive it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Box<Note>>,
}

impl ChatMessage {
    /// Whether this entry of the log is a private note.
    pub fn is_note(&self) -> bool {
        self.note.is_some()
    }
}
