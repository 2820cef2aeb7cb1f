//! Who answers a conversation, and the typed handoff from a bot to humans.
//!
//! Exactly one owner at a time: a bot or the human agents. The relay refuses a bot's messages
//! to a conversation it does not own with [`crate::ErrorCode::NotOwner`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::context::{short, Invalid};
use crate::limits::{MAX_HANDOFF_FIELDS, MAX_SUMMARY_BYTES};
use crate::{ErrorCode, Millis};

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Owner {
    /// The bot with this id answers; agents see the conversation but do not need to act.
    Bot { id: String },
    /// The human agents' queue (no bot routed, or after a handoff).
    #[default]
    Humans,
}

impl Owner {
    pub fn bot_id(&self) -> Option<&str> {
        match self {
            Owner::Bot { id } => Some(id),
            Owner::Humans => None,
        }
    }
}

/// Why a bot handed a conversation to humans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// The visitor asked for a person.
    Requested,
    /// The visitor sounds frustrated.
    Frustration,
    /// The bot has no answer.
    CannotHelp,
    /// The site's rules send this case to humans (refunds above a limit, say).
    Policy,
    Other,
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

/// What a bot tells the humans it hands a conversation to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    pub reason: HandoffReason,
    /// A sentence or two for the agent: what the visitor wants, what the bot tried.
    pub summary: String,
    /// The team to route to; absent means any agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default)]
    pub priority: Priority,
    /// Facts the bot collected (order number, email, ...), shown above the transcript.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

impl Handoff {
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.summary.trim().is_empty() {
            return Err((ErrorCode::Invalid, "handoff.summary is empty".into()));
        }
        if self.summary.len() > MAX_SUMMARY_BYTES {
            return Err((
                ErrorCode::TooLarge,
                format!("handoff.summary is longer than {MAX_SUMMARY_BYTES} bytes"),
            ));
        }
        if let Some(team) = &self.team {
            short("handoff.team", team)?;
        }
        if self.fields.len() > MAX_HANDOFF_FIELDS {
            return Err((
                ErrorCode::TooLarge,
                format!("handoff.fields has more than {MAX_HANDOFF_FIELDS} entries"),
            ));
        }
        for (k, v) in &self.fields {
            if k.is_empty() {
                return Err((
                    ErrorCode::Invalid,
                    "handoff.fields has an empty name".into(),
                ));
            }
            short("handoff.fields name", k)?;
            short("handoff.fields value", v)?;
        }
        Ok(())
    }
}

/// A handoff as stored with the conversation and shown to agents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandedOff {
    /// The bot that handed off.
    pub by: String,
    pub at: Millis,
    #[serde(flatten)]
    pub handoff: Handoff,
}
