//! Who answers a conversation, and the typed handoff from a bot to humans.
//!
//! Exactly one owner at a time: a bot or the human agents. The relay refuses a bot's messages
//! to a conversation it does not own with [`crate::ErrorCode::NotOwner`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::context::{short, Invalid};
use crate::limits::{MAX_HANDOFF_FIELDS, MAX_LANGUAGE_BYTES, MAX_SUMMARY_BYTES};
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
    /// The visitor's language as the bot detected it: an ISO 639-3 code (`eng`, `hin`, `ara`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The visitor's mood as the bot measured it, from -100 (very negative) to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<i8>,
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
        if let Some(language) = &self.language {
            if language.is_empty()
                || language.len() > MAX_LANGUAGE_BYTES
                || !language
                    .chars()
                    .all(|c| c.is_ascii_alphabetic() || c == '-')
            {
                return Err((
                    ErrorCode::Invalid,
                    "handoff.language is not a language code".into(),
                ));
            }
        }
        if self.sentiment.is_some_and(|s| !(-100..=100).contains(&s)) {
            return Err((
                ErrorCode::Invalid,
                "handoff.sentiment is outside -100..=100".into(),
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_and_sentiment_are_optional_and_checked() {
        // A handoff from before the fields existed still decodes, and encodes without them.
        let old: Handoff =
            serde_json::from_str(r#"{"reason":"requested","summary":"Wants a person"}"#).unwrap();
        assert_eq!((old.language.as_deref(), old.sentiment), (None, None));
        assert!(!serde_json::to_string(&old).unwrap().contains("language"));
        let mut h: Handoff = serde_json::from_str(
            r#"{"reason":"frustration","summary":"Upset","language":"hin","sentiment":-62}"#,
        )
        .unwrap();
        assert!(h.validate().is_ok());
        h.sentiment = Some(-101);
        assert_eq!(h.validate().unwrap_err().0, ErrorCode::Invalid);
        h.sentiment = Some(100);
        for bad in ["", "h<i>n", "x".repeat(17).as_str()] {
            h.language = Some(bad.into());
            assert_eq!(h.validate().unwrap_err().0, ErrorCode::Invalid, "{bad}");
        }
        h.language = Some("pt-BR".into());
        assert!(h.validate().is_ok());
    }
}
