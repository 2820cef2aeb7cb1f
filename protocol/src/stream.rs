//! Streamed answers: a bot shows its reply while it is still being written (an LLM's tokens),
//! then stores it once.
//!
//! A stream is named by the `client_id` its final message will carry. The bot sends `delta`
//! frames numbered from 0, each appending `text`; the relay fans them out to the visitor (on
//! every node) without storing them, and the bot ends the stream with an ordinary `send` of the
//! whole text under the same `client_id`, which is stored with its seq like any message. A
//! client shows a stream only from its delta 0 and only while the numbers follow on, and
//! replaces it with the stored message of that `client_id`: a client that (re)connects in the
//! middle of a stream sees the stored answer once it is stored, never half an answer twice.

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_DELTA_BYTES, MAX_ID_BYTES};
use crate::ErrorCode;

/// Bot only: the next piece of the answer that will be stored as `client_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    pub conversation_id: String,
    /// The `client_id` of the `send` that will end the stream.
    pub client_id: String,
    /// 0 for the first piece, then one more for each.
    pub index: u32,
    /// Appended to what came before; 1 to [`MAX_DELTA_BYTES`] bytes.
    pub text: String,
}

impl Delta {
    pub fn validate(&self) -> Result<(), (ErrorCode, String)> {
        if self.conversation_id.is_empty() || self.conversation_id.len() > MAX_ID_BYTES {
            return Err((
                ErrorCode::Invalid,
                format!("conversation_id must be 1-{MAX_ID_BYTES} bytes"),
            ));
        }
        if !crate::client::valid_client_id(&self.client_id) {
            return Err((
                ErrorCode::Invalid,
                "client_id must be 1-64 bytes of [A-Za-z0-9_-]".into(),
            ));
        }
        if self.text.is_empty() {
            return Err((ErrorCode::Invalid, "a delta's text is empty".into()));
        }
        if self.text.len() > MAX_DELTA_BYTES {
            return Err((
                ErrorCode::TooLarge,
                format!(
                    "a delta is {} bytes, limit {MAX_DELTA_BYTES}",
                    self.text.len()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientMsg, ServerMsg, VisitorMsg};

    fn delta(text: &str) -> Delta {
        Delta {
            conversation_id: "c1".into(),
            client_id: "answer-1".into(),
            index: 0,
            text: text.into(),
        }
    }

    #[test]
    fn deltas_round_trip_and_are_checked() {
        let msg = ClientMsg::Delta(delta("Your order "));
        let json = msg.to_json();
        assert!(json.starts_with(r#"{"type":"delta""#), "{json}");
        assert_eq!(ClientMsg::decode(&json).unwrap(), msg);
        assert!(msg.validate().is_ok());
        assert_eq!(delta("").validate().unwrap_err().0, ErrorCode::Invalid);
        let big = "x".repeat(MAX_DELTA_BYTES + 1);
        assert_eq!(delta(&big).validate().unwrap_err().0, ErrorCode::TooLarge);
        let mut bad = delta("a");
        bad.client_id = "no spaces".into();
        assert_eq!(bad.validate().unwrap_err().0, ErrorCode::Invalid);
    }

    #[test]
    fn a_visitor_reads_the_relayed_delta() {
        let msg = ServerMsg::Delta {
            conversation_id: "c1".into(),
            client_id: "answer-1".into(),
            sender: crate::Sender {
                kind: crate::SenderKind::Bot,
                id: "orderbot".into(),
                name: Some("Order bot".into()),
                avatar: None,
            },
            index: 3,
            text: "delayed".into(),
        };
        let v: VisitorMsg = serde_json::from_str(&msg.to_json()).unwrap();
        assert!(matches!(v, VisitorMsg::Delta { index: 3, .. }));
    }
}
