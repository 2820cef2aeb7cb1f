//! Frames the relay sends.

use serde::{Deserialize, Serialize};

use crate::canned::CannedReply;
use crate::client::Role;
use crate::context::Context;
use crate::handoff::{HandedOff, Owner, Priority};
use crate::lifecycle::{Directory, Presence, Status, View, ViewCounts};
use crate::limits::MAX_ID_BYTES;
use crate::message::{ChatMessage, Sender, SenderKind};
use crate::receipts::{PageVisit, ReadSide};
use crate::search::SearchHit;
use crate::{ErrorCode, Millis};

/// Declares [`ServerMsg`] and [`VisitorMsg`] from one list of variants: the visitor's
/// variants are written once and appear in both, so the two cannot disagree on the wire.
macro_rules! server_msgs {
    (
        visitor { $( $(#[$vm:meta])* $vname:ident $vbody:tt ),* $(,)? }
        others { $( $(#[$om:meta])* $oname:ident $obody:tt ),* $(,)? }
    ) => {
        // Frames live only between decoding and use, never in bulk collections, so the size
        // of the largest variant (the context) costs nothing worth a Box that every reader
        // would have to unwrap.
        #[allow(clippy::large_enum_variant)]
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum ServerMsg {
            $( $(#[$vm])* $vname $vbody, )*
            $( $(#[$om])* $oname $obody, )*
        }

        /// The frames a visitor can receive, for the widget to decode. Decoding only these
        /// keeps the agent and bot types (inbox, context, handoff) out of the widget's wasm,
        /// and any other `type` becomes [`VisitorMsg::Other`], which clients must ignore.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum VisitorMsg {
            $( $(#[$vm])* $vname $vbody, )*
            /// A frame of a type this client does not handle.
            #[serde(other)]
            Other,
        }
    };
}

server_msgs! {
    visitor {
        /// Answer to an accepted `hello`.
        Welcome(Welcome),
        /// The message with this `client_id` is durably stored as `seq`. `duplicate` is true
        /// when it had been stored before (a resend); the client treats both the same.
        Ack {
            conversation_id: String,
            client_id: String,
            seq: u64,
            at: Millis,
            #[serde(default)]
            duplicate: bool,
        },
        /// A stored message: live, or part of a catch-up after `sync`.
        Message(ChatMessage),
        /// End of a catch-up: every message up to `last_seq` has been sent. With `more`, the
        /// batch limit was reached and the client sends `sync` again from the last seq it got.
        Synced {
            conversation_id: String,
            last_seq: u64,
            #[serde(default)]
            more: bool,
        },
        Typing {
            conversation_id: String,
            sender: Sender,
            active: bool,
        },
        /// A piece of a bot's answer still being written (see [`crate::stream`]): append
        /// `text` to the stream `client_id` if `index` is the next one, else wait for the
        /// stored message. Not stored.
        Delta {
            conversation_id: String,
            client_id: String,
            sender: Sender,
            index: u32,
            text: String,
        },
        /// One client frame was refused; nothing changed. `client_id` names the refused `send`.
        Error {
            code: ErrorCode,
            message: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            client_id: Option<String>,
            /// With `rate_limited`: milliseconds until the same frame would be accepted.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            retry_after_ms: Option<u64>,
        },
        Pong {
            #[serde(default, skip_serializing_if = "Option::is_none")]
            nonce: Option<u64>,
        },
        /// Whether an agent of the site is online now: after `welcome`, and whenever it changes.
        /// `typical_reply_ms`: the site's median first-response time (a visitor's first
        /// message to the first agent reply) over its recent conversations; absent until the
        /// site has enough of them.
        Availability {
            online: bool,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            typical_reply_ms: Option<u64>,
        },
        /// The visitor's conversation waits for an agent; `position` 1 is next. Sent while it
        /// waits, when the position changes (approximately: at each assignment pass), and
        /// again every few seconds, so a visitor who reconnected learns it.
        Queue { conversation_id: String, position: u32 },
        /// A read mark moved forward (see [`crate::receipts`]): the visitor's to the site's
        /// agents, the agents' to the visitor, on every node; also after a `sync`, for each
        /// side with a mark (agents get both, visitors the agents').
        Read {
            conversation_id: String,
            side: ReadSide,
            seq: u64,
        },
    }
    others {
        /// Agents only: the visitor's context for a conversation (after `sync`, and on every
        /// change).
        Context {
            conversation_id: String,
            context: Context,
        },
        /// Agents only: a page of the inbox, newest activity first: at connect (the newest
        /// page), and as the answer to `list_conversations`.
        Conversations {
            items: Vec<ConversationSummary>,
            /// The cursor this page answers; absent for the newest page, which replaces the
            /// client's list (a page with `before` is appended to it).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            before: Option<InboxCursor>,
            /// Older conversations exist: ask for them with `before` = `next`.
            #[serde(default)]
            more: bool,
            /// Where this page ends in the inbox's order; present exactly when `more` is.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            next: Option<InboxCursor>,
        },
        /// Agents only: a page of one view (the answer to `list_view`), paged like
        /// `conversations`, with the count of every view.
        View {
            view: View,
            items: Vec<ConversationSummary>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            before: Option<InboxCursor>,
            #[serde(default)]
            more: bool,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            next: Option<InboxCursor>,
            counts: ViewCounts,
        },
        /// Agents only: one conversation was created or changed; replace it in the inbox.
        Conversation(ConversationSummary),
        /// Agents only: the answer to `search`: a page of hits, newest first, for the query's
        /// `text` and `offset` (so a client can drop an answer to a query it replaced).
        /// `more`: the next page (`offset` + hits) has more.
        SearchResults {
            text: String,
            offset: usize,
            hits: Vec<SearchHit>,
            #[serde(default)]
            more: bool,
        },
        /// Agents only: the answer to `visitor_history`: the visitor's (or verified customer's)
        /// other conversations, newest activity first, at most
        /// [`crate::limits::MAX_VISITOR_HISTORY`].
        VisitorHistory {
            conversation_id: String,
            items: Vec<ConversationSummary>,
        },
        /// Bots only: this conversation is now the bot's to answer (a new conversation under a
        /// bot-first site, a humans-first fallback, or an agent handing it back), with
        /// everything the bot needs to answer without asking again. Later visitor messages
        /// arrive as `message`.
        Routed(Routed),
        /// Bots only: the bot no longer owns this conversation (it handed off, or an agent took
        /// over); its messages to it are now refused with `not_owner`.
        Released {
            conversation_id: String,
            owner: Owner,
        },
        /// Agents only: an agent of the site went online, away or offline (after a grace
        /// period without a connection). Sent for every agent after `welcome`, then on changes.
        Presence {
            site: String,
            agent: String,
            status: Presence,
        },
        /// Agents only: the agent's role and the teams and agents of the sites it serves, so a
        /// console can offer assign and transfer targets by name. Right after `welcome`.
        Directory(Directory),
        /// Agents only, to the agent a private note mentions (on every node it is connected
        /// to): the note's conversation, seq, author and text, for a notice. Live only; the
        /// note itself is in the conversation's log with its `mentions`.
        Mention(Mention),
        /// Agents only: every canned reply of `site`, by shortcut. The answer to
        /// `list_canned`, and to every agent of the site after an admin changed one.
        Canned {
            site: String,
            items: Vec<CannedReply>,
        },
        /// Agents only: the visitor's last pages, oldest first (see [`crate::receipts`]):
        /// after `sync`, and whenever the visitor reaches another page.
        PageTrail {
            conversation_id: String,
            pages: Vec<PageVisit>,
        },
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    pub conversation_id: String,
    pub seq: u64,
    /// The agent who wrote the note.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_name: Option<String>,
    pub text: String,
    pub at: Millis,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Routed {
    pub conversation: ConversationSummary,
    pub context: Context,
    /// The conversation so far (at most one history batch; `sync` for older messages).
    pub transcript: Vec<ChatMessage>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol: u32,
    pub role: Role,
    /// The visitor's or agent's id; the `sender.id` of its own messages.
    pub id: String,
    /// Visitor: the token to keep (first-party storage) and send in the next `hello`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Visitor: the conversation this visitor chats in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Bot: the site it serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Visitor: the conversation's latest seq, so the widget knows what to `sync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<u64>,
    /// Agent or bot: the display name visitors see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Visitor: the site's typical first-response time, as in `availability`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typical_reply_ms: Option<u64>,
    /// Visitor: the rating the site asks for once a conversation is resolved; absent, none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csat: Option<crate::csat::Csat>,
    /// Milliseconds between the client's pings; the relay closes a connection silent for
    /// three times this.
    pub ping_interval_ms: u64,
}

/// One line of an agent's inbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: String,
    pub site: String,
    pub visitor_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_name: Option<String>,
    /// The site's customer id (the identity token's `sub`), only when verified: the same
    /// customer's conversations from any device carry the same one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    pub created_at: Millis,
    pub last_activity: Millis,
    pub last_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<Preview>,
    /// Who answers it now.
    #[serde(default)]
    pub owner: Owner,
    /// The latest handoff from a bot, shown above the transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<HandedOff>,
    #[serde(default)]
    pub status: Status,
    /// The agent it is assigned to; none: it waits in its team's queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// The team whose queue it is in; none: the site's default team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default)]
    pub priority: Priority,
    /// The note of the latest transfer, for agents only (never in the visitor's log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Bumped by every lifecycle change; sent back as `expected_version` so a change made on
    /// a stale view is refused with `conflict` instead of overwriting another agent's.
    #[serde(default)]
    pub version: u64,
    /// An agent blocked the visitor: the conversation is resolved and listed in no view and no
    /// inbox page; a `conversation` frame with it set tells agents to drop the line.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blocked: bool,
}

/// A position in an inbox: the inbox is ordered by `last_activity`, newest first, and among
/// equal times by `id`, descending. A page `before` a cursor holds what comes strictly after it
/// in that order, so paging neither skips nor repeats a conversation that stays quiet; one
/// that becomes active meanwhile moves to the top, where the agent hears of it live.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxCursor {
    pub last_activity: Millis,
    pub id: String,
}

/// Largest `last_activity` a cursor may hold: Redis keeps inbox times as doubles, which are
/// exact up to 2^53 (a millisecond clock reaches that in the year 287396).
pub const MAX_CURSOR_MILLIS: Millis = 1 << 53;

impl InboxCursor {
    pub fn validate(&self) -> Result<(), (ErrorCode, String)> {
        if self.id.is_empty() || self.id.len() > MAX_ID_BYTES {
            return Err((
                ErrorCode::Invalid,
                format!("before.id must be 1-{MAX_ID_BYTES} bytes"),
            ));
        }
        if self.last_activity > MAX_CURSOR_MILLIS {
            return Err((
                ErrorCode::Invalid,
                format!("before.last_activity must be at most {MAX_CURSOR_MILLIS}"),
            ));
        }
        Ok(())
    }
}

/// The start of the latest message, for the inbox list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub sender: SenderKind,
    pub text: String,
}

impl ServerMsg {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialize")
    }

    pub fn error(code: ErrorCode, message: impl Into<String>) -> ServerMsg {
        ServerMsg::Error {
            code,
            message: message.into(),
            client_id: None,
            retry_after_ms: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Sender;

    fn sender() -> Sender {
        Sender {
            kind: SenderKind::Bot,
            id: "orderbot".into(),
            name: Some("Orderbot".into()),
            avatar: None,
        }
    }

    #[test]
    fn visitor_frames_read_the_same_as_server_frames() {
        let frames = [
            ServerMsg::Ack {
                conversation_id: "c_1".into(),
                client_id: "a".into(),
                seq: 3,
                at: 9,
                duplicate: true,
            },
            ServerMsg::Synced {
                conversation_id: "c_1".into(),
                last_seq: 3,
                more: false,
            },
            ServerMsg::Typing {
                conversation_id: "c_1".into(),
                sender: sender(),
                active: true,
            },
            ServerMsg::Error {
                code: ErrorCode::NotOwner,
                message: "no".into(),
                client_id: Some("a".into()),
                retry_after_ms: Some(1500),
            },
            ServerMsg::Pong { nonce: Some(7) },
        ];
        for frame in frames {
            let json = frame.to_json();
            let read: VisitorMsg = serde_json::from_str(&json).unwrap();
            assert_ne!(read, VisitorMsg::Other, "{json}");
            assert_eq!(serde_json::to_string(&read).unwrap(), json);
        }
    }

    #[test]
    fn frames_for_agents_and_bots_and_unknown_types_are_other_to_a_visitor() {
        let released = ServerMsg::Released {
            conversation_id: "c_1".into(),
            owner: Owner::Humans,
        };
        for json in [
            released.to_json(),
            r#"{"type":"conversations","items":[]}"#.into(),
            r#"{"type":"conversations","items":[],"more":true,"next":{"last_activity":1,"id":"c"}}"#
                .into(),
            r#"{"type":"from_the_future","x":1}"#.into(),
        ] {
            let read: VisitorMsg = serde_json::from_str(&json).unwrap();
            assert_eq!(read, VisitorMsg::Other, "{json}");
        }
    }
}
