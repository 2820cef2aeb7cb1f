//! Private notes: what agents write into a conversation for each other. A note is stored in
//! the conversation's log like a message (it takes the next seq), but only agents ever read
//! it: the relay sends visitors and bots that entry of the log as a bare system entry (its seq
//! and time), live and in every catch-up, so their seqs stay gap-free and nothing of the note
//! reaches them.

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_ID_BYTES, MAX_MENTIONS, MAX_PRIVATE_NOTE_BYTES};
use crate::ErrorCode;

/// What marks a [`crate::ChatMessage`] as a private note (`sender` is the agent who wrote it,
/// `text` the note).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// The agents the note names (`@mention`): each got a `mention` frame when it was written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
}

/// The `note` frame's body: an agent writes a private note, mentioning agents of the
/// conversation's site by id. Acknowledged like a `send` (`ack` with its seq; a resend with
/// the same `client_id` is acknowledged again, not stored twice).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteNote {
    pub conversation_id: String,
    /// 1–64 bytes of `[A-Za-z0-9_-]`, unique per agent, like a `send`'s.
    pub client_id: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
}

impl WriteNote {
    /// The sizes and shapes serde cannot check; whether the mentioned agents exist is the
    /// relay's to say (`unknown_agent`).
    pub fn validate(&self) -> Result<(), (ErrorCode, String)> {
        if self.text.len() > MAX_PRIVATE_NOTE_BYTES {
            return Err((
                ErrorCode::TooLarge,
                format!(
                    "note is {} bytes, limit {MAX_PRIVATE_NOTE_BYTES}",
                    self.text.len()
                ),
            ));
        }
        if crate::client::is_blank(&self.text) {
            return Err((ErrorCode::Invalid, "note is empty".into()));
        }
        if self.mentions.len() > MAX_MENTIONS {
            return Err((
                ErrorCode::TooLarge,
                format!("a note mentions at most {MAX_MENTIONS} agents"),
            ));
        }
        if self
            .mentions
            .iter()
            .any(|m| m.is_empty() || m.len() > MAX_ID_BYTES)
        {
            return Err((
                ErrorCode::Invalid,
                format!("mentions must be agent ids of 1-{MAX_ID_BYTES} bytes"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientMsg;

    fn note(text: &str, mentions: &[&str]) -> ClientMsg {
        ClientMsg::Note(WriteNote {
            conversation_id: "c1".into(),
            client_id: "n-1".into(),
            text: text.into(),
            mentions: mentions.iter().map(|m| m.to_string()).collect(),
        })
    }

    #[test]
    fn note_frames_round_trip_and_validate() {
        let json = r#"{"type":"note","conversation_id":"c1","client_id":"n-1","text":"hi @sam","mentions":["sam"]}"#;
        let msg = ClientMsg::decode(json).unwrap();
        assert_eq!(msg, note("hi @sam", &["sam"]));
        assert_eq!(msg.to_json(), json);
        assert!(msg.validate().is_ok());
        let long = "x".repeat(MAX_PRIVATE_NOTE_BYTES + 1);
        assert_eq!(
            note(&long, &[]).validate().unwrap_err().0,
            ErrorCode::TooLarge
        );
        assert_eq!(
            note("\u{200B} ", &[]).validate().unwrap_err().0,
            ErrorCode::Invalid
        );
        let many: Vec<&str> = (0..=MAX_MENTIONS).map(|_| "sam").collect();
        assert_eq!(
            note("hi", &many).validate().unwrap_err().0,
            ErrorCode::TooLarge
        );
        assert_eq!(
            note("hi", &[""]).validate().unwrap_err().0,
            ErrorCode::Invalid
        );
        let bad_id = r#"{"type":"note","conversation_id":"c1","client_id":"<b>","text":"hi"}"#;
        assert_eq!(
            ClientMsg::decode(bad_id).unwrap().validate().unwrap_err().0,
            ErrorCode::Invalid
        );
        assert_eq!(
            ClientMsg::decode(r#"{"type":"note","conversation_id":"c1"}"#)
                .unwrap_err()
                .code(),
            ErrorCode::Invalid
        );
    }
}
