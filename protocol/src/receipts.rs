//! Read receipts and the visitor's page trail.
//!
//! A read mark says "this side has seen everything up to `seq`" in one conversation. There
//! are two sides: the visitor, and the agents as one (the visitor is told that a person has
//! read, not who; per-agent marks would cost a write per agent and say nothing more to the
//! visitor). Marks only move forward: a lower or equal `seq` changes nothing; a `seq` past the
//! conversation's last is refused with [`crate::ErrorCode::SeqAhead`]. A mark is not activity:
//! it changes neither the conversation's `last_activity`, nor its preview, nor its version.
//!
//! The page trail is the visitor's last [`crate::limits::MAX_PAGE_TRAIL`] pages, oldest first, each with the
//! time the relay saw it: the relay adds one whenever the context's page URL differs from the
//! trail's last (a page load, or a single-page app's navigation the widget reports with
//! `set_context`). Its entries come from a checked [`crate::Context`], so their URLs are
//! http(s) and their lengths within the context's limits.

use serde::{Deserialize, Serialize};

use crate::Millis;

/// Whose read mark it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadSide {
    Visitor,
    /// Any agent of the site.
    Agents,
}

/// One page of the trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageVisit {
    pub url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// When the relay learned of it.
    pub at: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientMsg, ErrorCode, ServerMsg, VisitorMsg};

    #[test]
    fn read_frames_round_trip_and_validate() {
        let json = r#"{"type":"read","conversation_id":"c1","seq":7}"#;
        let msg = ClientMsg::decode(json).unwrap();
        assert_eq!(
            msg,
            ClientMsg::Read {
                conversation_id: "c1".into(),
                seq: 7
            }
        );
        assert!(msg.validate().is_ok());
        assert_eq!(msg.to_json(), json);
        for bad in [
            r#"{"type":"read","conversation_id":"c1"}"#,
            r#"{"type":"read","conversation_id":"c1","seq":-1}"#,
            r#"{"type":"read","conversation_id":"c1","seq":"7"}"#,
            r#"{"type":"read","seq":7}"#,
        ] {
            assert_eq!(
                ClientMsg::decode(bad).unwrap_err().code(),
                ErrorCode::Invalid,
                "{bad}"
            );
        }
        let empty = ClientMsg::Read {
            conversation_id: String::new(),
            seq: 1,
        };
        assert_eq!(empty.validate().unwrap_err().0, ErrorCode::Invalid);
        let zero = ClientMsg::Read {
            conversation_id: "c1".into(),
            seq: 0,
        };
        assert_eq!(zero.validate().unwrap_err().0, ErrorCode::Invalid);

        let read = ServerMsg::Read {
            conversation_id: "c1".into(),
            side: ReadSide::Agents,
            seq: 3,
        };
        let back: VisitorMsg = serde_json::from_str(&read.to_json()).unwrap();
        assert_eq!(
            back,
            VisitorMsg::Read {
                conversation_id: "c1".into(),
                side: ReadSide::Agents,
                seq: 3
            }
        );
    }

    #[test]
    fn the_trail_is_for_agents_only() {
        let trail = ServerMsg::PageTrail {
            conversation_id: "c1".into(),
            pages: vec![PageVisit {
                url: "https://shop.example/a".into(),
                title: String::new(),
                at: 5,
            }],
        };
        assert_eq!(
            trail.to_json(),
            r#"{"type":"page_trail","conversation_id":"c1","pages":[{"url":"https://shop.example/a","at":5}]}"#
        );
        let read: VisitorMsg = serde_json::from_str(&trail.to_json()).unwrap();
        assert_eq!(read, VisitorMsg::Other);
    }
}
