//! Frames a client sends to the relay, and how the relay decodes and checks them.
//!
//! A connection starts with exactly one [`Hello`]; everything else before it is refused with
//! [`ErrorCode::OutOfOrder`]. Visitors connect to `/v1/visitor?site=SITE_KEY`, agents to
//! `/v1/agent`; the endpoint fixes the [`Role`].

use serde::{Deserialize, Serialize};

use crate::canned;
use crate::context::Context;
use crate::csat::Rate;
use crate::handoff::{Handoff, Priority};
use crate::lifecycle::{Presence, Status, View};
use crate::limits::{
    MAX_CLIENT_ID_BYTES, MAX_FRAME_BYTES, MAX_IDENTITY_TOKEN_BYTES, MAX_ID_BYTES, MAX_INBOX,
    MAX_NOTE_BYTES, MAX_TEXT_BYTES, MAX_TOKEN_BYTES,
};
use crate::note::WriteNote;
use crate::rich::Rich;
use crate::search::SearchQuery;
use crate::server::InboxCursor;
use crate::stream::Delta;
use crate::ErrorCode;

/// Which kind of client a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Visitor,
    Agent,
    Bot,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    Hello(Hello),
    Send(Send),
    /// Start or stop the typing indicator on the other side. Not stored.
    Typing {
        conversation_id: String,
        active: bool,
    },
    /// Visitor only: replace the stored context (page, identity, cart, order) with this one.
    SetContext {
        context: Context,
    },
    /// Visitor only: an identity token (JWT) the site's server signed. Once verified, its
    /// claims replace the context's identity (and cart, order) and are marked verified.
    Identify {
        token: String,
    },
    /// Ask for every stored message with `seq > since`, in order, followed by `synced`.
    /// Sent after `welcome` and whenever a client notices a gap.
    Sync {
        conversation_id: String,
        since: u64,
    },
    /// Keep-alive for browsers, which cannot send WebSocket pings. Answered with `pong`.
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<u64>,
    },
    /// Visitor only: a click on a postback chip or button. Stored like a message (`label` as
    /// its text, `payload` as its postback) and acknowledged the same way, so a click is never
    /// lost or doubled.
    Postback {
        conversation_id: String,
        client_id: String,
        label: String,
        payload: String,
    },
    /// Bot only: the next piece of an answer still being written (see [`crate::stream`]).
    /// Not stored; the `send` with the same `client_id` ends the stream.
    Delta(Delta),
    /// Bot only: give the conversation to the human agents, saying why.
    Handoff {
        conversation_id: String,
        handoff: Handoff,
    },
    /// Agent only: give the conversation back to the site's bot.
    HandBack {
        conversation_id: String,
    },
    /// Agent only: a page of the inbox, answered by `conversations`. Without `before`, the
    /// newest page; with it, the conversations after that position (the previous page's
    /// `next`). `limit`: 1 to [`MAX_INBOX`], default [`MAX_INBOX`].
    ListConversations {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<InboxCursor>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
    },
    /// Agent only: assign the conversation to `agent` (yourself, to take it), or unassign it
    /// (`agent` absent). Like every lifecycle change, applied only if the conversation is
    /// still at `expected_version` (its summary's `version`), else refused with `conflict`.
    Assign {
        conversation_id: String,
        expected_version: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    /// Agent only: move the conversation to another agent, another team's queue, or both,
    /// with a note for agents.
    Transfer {
        conversation_id: String,
        expected_version: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_agent: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_team: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Agent only: open, pending, snoozed until a time, or resolved.
    SetStatus {
        conversation_id: String,
        expected_version: u64,
        status: Status,
    },
    /// Agent only.
    SetPriority {
        conversation_id: String,
        expected_version: u64,
        priority: Priority,
    },
    /// Agent only: online (takes conversations), away (connected, assigned nothing new) or
    /// offline (appears offline). Applies to all of the agent's connections to this relay node;
    /// a new connection starts online.
    SetPresence {
        status: Presence,
    },
    /// Agent only: a page of one view of the inbox (same paging as `list_conversations`),
    /// answered by `view` with every view's count.
    ListView {
        view: View,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<InboxCursor>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
    },
    /// Agent only: block the conversation's visitor (and, with `ip`, the network address it
    /// connected from, for the site's configured time), resolve the conversation and hide it
    /// from every view. Admins lift blocks through the admin HTTP API.
    Block {
        conversation_id: String,
        #[serde(default)]
        ip: bool,
    },
    /// Agent only: a private note in the conversation, for agents (see [`crate::note`]).
    Note(WriteNote),
    /// Agent only: full-text search over the transcripts of the sites the agent serves,
    /// answered by `search_results` (see [`crate::search`]).
    Search(SearchQuery),
    /// Agent only: the other conversations of this conversation's visitor (and, once its
    /// identity is verified, of the same customer on any device), answered by
    /// `visitor_history`.
    VisitorHistory {
        conversation_id: String,
    },
    /// Agent only: the canned replies of `site`, or of every site the agent serves (one
    /// `canned` frame per site).
    ListCanned {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        site: Option<String>,
    },
    /// Admin only: store a new canned reply for `site`; answered (and told to the site's
    /// agents) with the site's `canned` list.
    CreateCanned {
        site: String,
        shortcut: String,
        body: String,
    },
    /// Admin only: replace a canned reply's shortcut and body.
    UpdateCanned {
        site: String,
        id: String,
        shortcut: String,
        body: String,
    },
    /// Admin only.
    DeleteCanned {
        site: String,
        id: String,
    },
    /// Visitor only: rate the conversation once it is resolved (see [`crate::csat`]).
    Rate(Rate),
    /// Visitor or agent: this side has seen the conversation up to `seq` (1 or more, at most
    /// its last seq, else `seq_ahead`). Marks only move forward; see [`crate::receipts`].
    Read {
        conversation_id: String,
        seq: u64,
    },
}

/// The first frame of every connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// [`crate::PROTOCOL_VERSION`] of the client.
    pub protocol: u32,
    /// Visitor: the token from an earlier `welcome`, to continue that visitor's conversation;
    /// absent for a new visitor. Agent: the agent token (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Visitor only: the context at connect time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// Visitor only: an identity token (JWT) the site's server signed, as in `identify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_token: Option<String>,
}

/// A chat message from a client. The relay answers with `ack` once it is durably stored.
/// Sending the same `client_id` again (a resend after a lost ack) stores nothing new and is
/// answered with the original `ack`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Send {
    pub conversation_id: String,
    /// Chosen by the client, unique per sender: 1–64 bytes of `[A-Za-z0-9_-]`.
    pub client_id: String,
    pub text: String,
    /// Bots and agents only: chips, buttons, cards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rich: Option<Rich>,
    /// Agents only: the canned reply this text was made from. The relay refuses the send
    /// (`canned_not_found`) unless it is one of the conversation's site's, and (`invalid`)
    /// while the text still holds an unfilled `{{placeholder}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canned_id: Option<String>,
}

/// Why a frame could not be turned into a [`ClientMsg`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    TooLarge(usize),
    BadJson(String),
    UnknownType(String),
    /// A known type with missing or mistyped fields; `client_id` is the frame's own when it
    /// could be read (a valid one), so a client can mark that message failed.
    Invalid {
        reason: String,
        client_id: Option<String>,
    },
}

impl DecodeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::TooLarge(_) => ErrorCode::TooLarge,
            DecodeError::BadJson(_) => ErrorCode::BadJson,
            DecodeError::UnknownType(_) => ErrorCode::UnknownType,
            DecodeError::Invalid { .. } => ErrorCode::Invalid,
        }
    }

    /// The refused frame's `client_id`, where it could be read.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            DecodeError::Invalid { client_id, .. } => client_id.as_deref(),
            _ => None,
        }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLarge(n) => write!(f, "frame is {n} bytes, limit {MAX_FRAME_BYTES}"),
            DecodeError::BadJson(e) => write!(f, "not JSON: {e}"),
            DecodeError::UnknownType(t) => write!(f, "unknown message type {t}"),
            DecodeError::Invalid { reason, .. } => write!(f, "invalid message: {reason}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The `type` values [`ClientMsg`] knows, to tell "unknown type" from "bad fields" (and for
/// the relay's metrics, which must name every one).
pub const KNOWN_TYPES: &[&str] = &[
    "hello",
    "send",
    "typing",
    "set_context",
    "sync",
    "ping",
    "postback",
    "handoff",
    "hand_back",
    "list_conversations",
    "assign",
    "transfer",
    "set_status",
    "set_priority",
    "set_presence",
    "list_view",
    "identify",
    "block",
    "note",
    "search",
    "visitor_history",
    "list_canned",
    "create_canned",
    "update_canned",
    "delete_canned",
    "rate",
    "read",
    "delta",
];

impl ClientMsg {
    /// Parses one text frame, classifying failures so the client gets a precise error code.
    pub fn decode(text: &str) -> Result<ClientMsg, DecodeError> {
        if text.len() > MAX_FRAME_BYTES {
            return Err(DecodeError::TooLarge(text.len()));
        }
        match serde_json::from_str::<ClientMsg>(text) {
            Ok(msg) => Ok(msg),
            Err(e) if e.is_syntax() || e.is_eof() => Err(DecodeError::BadJson(e.to_string())),
            Err(e) => {
                // The fields every frame may carry, read leniently: the type tells "unknown
                // type" from "bad fields", the client id names the message refused.
                #[derive(Deserialize)]
                struct Tag {
                    #[serde(rename = "type")]
                    ty: Option<serde_json::Value>,
                    client_id: Option<serde_json::Value>,
                }
                let tag = serde_json::from_str::<Tag>(text).ok();
                let client_id = match tag.as_ref().and_then(|t| t.client_id.as_ref()) {
                    Some(serde_json::Value::String(c)) if valid_client_id(c) => Some(c.clone()),
                    _ => None,
                };
                match tag.and_then(|t| t.ty) {
                    Some(serde_json::Value::String(t)) if KNOWN_TYPES.contains(&t.as_str()) => {
                        Err(DecodeError::Invalid {
                            reason: e.to_string(),
                            client_id,
                        })
                    }
                    Some(other) => Err(DecodeError::UnknownType(truncate(&other.to_string(), 64))),
                    None => Err(DecodeError::UnknownType("(missing)".into())),
                }
            }
        }
    }

    /// Checks the limits that serde cannot express. The relay calls this on every frame.
    pub fn validate(&self) -> Result<(), (ErrorCode, String)> {
        match self {
            ClientMsg::Hello(h) => {
                if h.token.as_ref().is_some_and(|t| t.len() > MAX_TOKEN_BYTES) {
                    return Err((ErrorCode::TooLarge, "token too long".into()));
                }
                if let Some(t) = &h.identity_token {
                    identity_token(t)?;
                }
                h.context.as_ref().map_or(Ok(()), Context::validate)
            }
            ClientMsg::Send(s) => {
                id("conversation_id", &s.conversation_id)?;
                client_id(&s.client_id)?;
                text(&s.text)?;
                if let Some(c) = &s.canned_id {
                    canned::id("canned_id", c)?;
                }
                s.rich.as_ref().map_or(Ok(()), Rich::validate)
            }
            ClientMsg::Postback {
                conversation_id,
                client_id: cid,
                label,
                payload,
            } => {
                id("conversation_id", conversation_id)?;
                client_id(cid)?;
                text(label)?;
                crate::rich::payload("postback", payload)
            }
            ClientMsg::Handoff {
                conversation_id,
                handoff,
            } => {
                id("conversation_id", conversation_id)?;
                handoff.validate()
            }
            ClientMsg::Search(q) => q.validate().map(drop),
            ClientMsg::HandBack { conversation_id }
            | ClientMsg::VisitorHistory { conversation_id }
            | ClientMsg::Block {
                conversation_id, ..
            } => id("conversation_id", conversation_id),
            ClientMsg::Assign {
                conversation_id,
                agent,
                ..
            } => {
                id("conversation_id", conversation_id)?;
                agent.as_deref().map_or(Ok(()), |a| id("agent", a))
            }
            ClientMsg::Transfer {
                conversation_id,
                to_agent,
                to_team,
                note,
                ..
            } => {
                id("conversation_id", conversation_id)?;
                if to_agent.is_none() && to_team.is_none() {
                    return Err((
                        ErrorCode::Invalid,
                        "transfer needs to_agent, to_team or both".into(),
                    ));
                }
                to_agent.as_deref().map_or(Ok(()), |a| id("to_agent", a))?;
                to_team.as_deref().map_or(Ok(()), |t| id("to_team", t))?;
                match note {
                    Some(n) if n.len() > MAX_NOTE_BYTES => Err((
                        ErrorCode::TooLarge,
                        format!("note is {} bytes, limit {MAX_NOTE_BYTES}", n.len()),
                    )),
                    _ => Ok(()),
                }
            }
            ClientMsg::SetStatus {
                conversation_id, ..
            }
            | ClientMsg::SetPriority {
                conversation_id, ..
            } => id("conversation_id", conversation_id),
            ClientMsg::Read {
                conversation_id,
                seq,
            } => {
                id("conversation_id", conversation_id)?;
                if *seq == 0 {
                    return Err((ErrorCode::Invalid, "seq must be 1 or more".into()));
                }
                Ok(())
            }
            ClientMsg::Typing {
                conversation_id, ..
            }
            | ClientMsg::Sync {
                conversation_id, ..
            } => id("conversation_id", conversation_id),
            ClientMsg::Note(n) => {
                id("conversation_id", &n.conversation_id)?;
                client_id(&n.client_id)?;
                n.validate()
            }
            ClientMsg::Rate(r) => {
                id("conversation_id", &r.conversation_id)?;
                r.validate()
            }
            ClientMsg::Delta(d) => d.validate(),
            ClientMsg::SetContext { context } => context.validate(),
            ClientMsg::Identify { token } => identity_token(token),
            ClientMsg::Ping { .. } | ClientMsg::SetPresence { .. } => Ok(()),
            ClientMsg::ListCanned { site } => site.as_deref().map_or(Ok(()), |s| id("site", s)),
            ClientMsg::CreateCanned {
                site,
                shortcut,
                body,
            } => {
                id("site", site)?;
                canned::shortcut(shortcut)?;
                canned::body(body)
            }
            ClientMsg::UpdateCanned {
                site,
                id: canned_id,
                shortcut,
                body,
            } => {
                id("site", site)?;
                canned::id("id", canned_id)?;
                canned::shortcut(shortcut)?;
                canned::body(body)
            }
            ClientMsg::DeleteCanned {
                site,
                id: canned_id,
            } => {
                id("site", site)?;
                canned::id("id", canned_id)
            }
            ClientMsg::ListConversations { before, limit }
            | ClientMsg::ListView { before, limit, .. } => {
                if limit.is_some_and(|n| n == 0 || n > MAX_INBOX) {
                    return Err((ErrorCode::Invalid, format!("limit must be 1-{MAX_INBOX}")));
                }
                before.as_ref().map_or(Ok(()), InboxCursor::validate)
            }
        }
    }

    /// The wire name of this message's type, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMsg::Hello(_) => "hello",
            ClientMsg::Send(_) => "send",
            ClientMsg::Typing { .. } => "typing",
            ClientMsg::SetContext { .. } => "set_context",
            ClientMsg::Identify { .. } => "identify",
            ClientMsg::Sync { .. } => "sync",
            ClientMsg::Ping { .. } => "ping",
            ClientMsg::Postback { .. } => "postback",
            ClientMsg::Handoff { .. } => "handoff",
            ClientMsg::HandBack { .. } => "hand_back",
            ClientMsg::ListConversations { .. } => "list_conversations",
            ClientMsg::Assign { .. } => "assign",
            ClientMsg::Transfer { .. } => "transfer",
            ClientMsg::SetStatus { .. } => "set_status",
            ClientMsg::SetPriority { .. } => "set_priority",
            ClientMsg::SetPresence { .. } => "set_presence",
            ClientMsg::ListView { .. } => "list_view",
            ClientMsg::Block { .. } => "block",
            ClientMsg::Note(_) => "note",
            ClientMsg::Search(_) => "search",
            ClientMsg::VisitorHistory { .. } => "visitor_history",
            ClientMsg::ListCanned { .. } => "list_canned",
            ClientMsg::CreateCanned { .. } => "create_canned",
            ClientMsg::UpdateCanned { .. } => "update_canned",
            ClientMsg::DeleteCanned { .. } => "delete_canned",
            ClientMsg::Rate(_) => "rate",
            ClientMsg::Read { .. } => "read",
            ClientMsg::Delta(_) => "delta",
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client messages always serialize")
    }
}

/// Client ids are echoed into logs and acks; a narrow alphabet keeps them harmless.
pub fn valid_client_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_CLIENT_ID_BYTES
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Only the size: what the token says is for the relay to verify.
fn identity_token(v: &str) -> Result<(), (ErrorCode, String)> {
    if v.len() > MAX_IDENTITY_TOKEN_BYTES {
        return Err((
            ErrorCode::TooLarge,
            format!("identity token is longer than {MAX_IDENTITY_TOKEN_BYTES} bytes"),
        ));
    }
    if v.is_empty() {
        return Err((ErrorCode::Invalid, "identity token is empty".into()));
    }
    Ok(())
}

fn client_id(v: &str) -> Result<(), (ErrorCode, String)> {
    if valid_client_id(v) {
        Ok(())
    } else {
        Err((
            ErrorCode::Invalid,
            format!("client_id must be 1-{MAX_CLIENT_ID_BYTES} bytes of [A-Za-z0-9_-]"),
        ))
    }
}

fn text(v: &str) -> Result<(), (ErrorCode, String)> {
    if v.len() > MAX_TEXT_BYTES {
        return Err((
            ErrorCode::TooLarge,
            format!("text is {} bytes, limit {MAX_TEXT_BYTES}", v.len()),
        ));
    }
    if is_blank(v) {
        return Err((ErrorCode::Invalid, "text is empty".into()));
    }
    Ok(())
}

/// Whether `text` shows nothing: only whitespace and invisible characters (zero-width
/// spaces and joiners, bidi controls, the BOM, fillers that render blank), which would
/// otherwise make an empty bubble in every view.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || is_invisible(c))
}

/// Format characters (Unicode category Cf) and the letters and symbols that render as
/// nothing. Not exhaustive for every script's rare format marks, but all that commonly
/// appear in pasted or crafted "empty" text.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{2800}' | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFF8}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E007F}'
    )
}

fn id(field: &str, v: &str) -> Result<(), (ErrorCode, String)> {
    if v.is_empty() || v.len() > MAX_ID_BYTES {
        return Err((
            ErrorCode::Invalid,
            format!("{field} must be 1-{MAX_ID_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    s.char_indices()
        .take_while(|(i, _)| *i < max)
        .map(|(_, c)| c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_bad_input() {
        assert_eq!(
            ClientMsg::decode("{nope").unwrap_err().code(),
            ErrorCode::BadJson
        );
        assert_eq!(
            ClientMsg::decode(r#"{"type":"launch"}"#)
                .unwrap_err()
                .code(),
            ErrorCode::UnknownType
        );
        assert_eq!(
            ClientMsg::decode(r#"{"text":"hi"}"#).unwrap_err().code(),
            ErrorCode::UnknownType
        );
        assert_eq!(
            ClientMsg::decode("[1,2]").unwrap_err().code(),
            ErrorCode::UnknownType
        );
        assert_eq!(
            ClientMsg::decode(r#"{"type":"send","text":1}"#)
                .unwrap_err()
                .code(),
            ErrorCode::Invalid
        );
        let big = format!(r#"{{"type":"ping","x":"{}"}}"#, "a".repeat(MAX_FRAME_BYTES));
        assert_eq!(
            ClientMsg::decode(&big).unwrap_err().code(),
            ErrorCode::TooLarge
        );
    }

    #[test]
    fn decode_errors_name_a_readable_client_id() {
        let bad = ClientMsg::decode(
            r#"{"type":"send","conversation_id":"c1","client_id":"m-7","text":5}"#,
        )
        .unwrap_err();
        assert_eq!(bad.code(), ErrorCode::Invalid);
        assert_eq!(bad.client_id(), Some("m-7"));
        // A client id that is itself invalid is not echoed.
        let bad = ClientMsg::decode(r#"{"type":"send","client_id":"<b>","text":5}"#).unwrap_err();
        assert_eq!(bad.client_id(), None);
        let bad = ClientMsg::decode(r#"{"type":"send","client_id":7}"#).unwrap_err();
        assert_eq!(bad.client_id(), None);
        // `identify` is a known type: bad fields are `invalid`, not `unknown_type`.
        assert_eq!(
            ClientMsg::decode(r#"{"type":"identify","token":1}"#)
                .unwrap_err()
                .code(),
            ErrorCode::Invalid
        );
    }

    #[test]
    fn invisible_only_text_is_blank() {
        for blank in [
            "\u{200B}",
            " \u{200C}\u{200D} ",
            "\u{2060}\u{FEFF}",
            "\u{202E}\u{2066}\u{2069}",
            "\u{3164}\n\t",
            "\u{E0041}",
        ] {
            assert!(is_blank(blank), "{blank:?}");
            let send = ClientMsg::Send(Send {
                conversation_id: "c1".into(),
                client_id: "m1".into(),
                text: blank.into(),
                rich: None,
                canned_id: None,
            });
            assert_eq!(send.validate().unwrap_err().0, ErrorCode::Invalid);
        }
        for shown in ["a\u{200B}", "\u{200D}👍", "\u{202E}abc", "ok"] {
            assert!(!is_blank(shown), "{shown:?}");
        }
    }

    #[test]
    fn block_frame_round_trips_and_validates() {
        let msg =
            ClientMsg::decode(r#"{"type":"block","conversation_id":"c1","ip":true}"#).unwrap();
        assert_eq!(
            msg,
            ClientMsg::Block {
                conversation_id: "c1".into(),
                ip: true
            }
        );
        assert!(msg.validate().is_ok());
        let plain = ClientMsg::decode(r#"{"type":"block","conversation_id":"c1"}"#).unwrap();
        assert_eq!(
            plain,
            ClientMsg::Block {
                conversation_id: "c1".into(),
                ip: false
            }
        );
        let long = ClientMsg::Block {
            conversation_id: "c".repeat(MAX_ID_BYTES + 1),
            ip: false,
        };
        assert_eq!(long.validate().unwrap_err().0, ErrorCode::Invalid);
        assert_eq!(
            ClientMsg::decode(r#"{"type":"block","ip":true}"#)
                .unwrap_err()
                .code(),
            ErrorCode::Invalid
        );
    }

    #[test]
    fn list_conversations_checks_its_limit_and_cursor() {
        let page = |json: &str| ClientMsg::decode(json).unwrap().validate();
        assert!(page(r#"{"type":"list_conversations"}"#).is_ok());
        assert!(page(
            r#"{"type":"list_conversations","before":{"last_activity":5,"id":"c_1"},"limit":200}"#
        )
        .is_ok());
        for bad in [
            r#"{"type":"list_conversations","limit":0}"#,
            r#"{"type":"list_conversations","limit":201}"#,
            r#"{"type":"list_conversations","before":{"last_activity":5,"id":""}}"#,
            r#"{"type":"list_conversations","before":{"last_activity":9007199254740993,"id":"c"}}"#,
        ] {
            assert_eq!(page(bad).unwrap_err().0, ErrorCode::Invalid, "{bad}");
        }
        assert_eq!(
            ClientMsg::decode(r#"{"type":"list_conversations","before":{"id":"c"}}"#)
                .unwrap_err()
                .code(),
            ErrorCode::Invalid
        );
    }

    #[test]
    fn round_trips_and_validates_send() {
        let msg = ClientMsg::Send(Send {
            conversation_id: "c1".into(),
            client_id: "m-1".into(),
            text: "hello".into(),
            rich: None,
            canned_id: None,
        });
        let back = ClientMsg::decode(&msg.to_json()).unwrap();
        assert_eq!(back, msg);
        assert!(back.validate().is_ok());
        let bad = ClientMsg::Send(Send {
            conversation_id: "c1".into(),
            client_id: "<script>".into(),
            text: "x".into(),
            rich: None,
            canned_id: None,
        });
        assert_eq!(bad.validate().unwrap_err().0, ErrorCode::Invalid);
    }

    #[test]
    fn lifecycle_frames_round_trip_and_validate() {
        let json = r#"{"type":"set_status","conversation_id":"c1","expected_version":3,"status":{"state":"snoozed","until":99}}"#;
        let msg = ClientMsg::decode(json).unwrap();
        assert_eq!(
            msg,
            ClientMsg::SetStatus {
                conversation_id: "c1".into(),
                expected_version: 3,
                status: Status::Snoozed { until: 99 },
            }
        );
        assert_eq!(msg.to_json(), json);
        // A lifecycle frame without its version is a known type with bad fields.
        let stale = r#"{"type":"assign","conversation_id":"c1","agent":"alex"}"#;
        assert_eq!(
            ClientMsg::decode(stale).unwrap_err().code(),
            ErrorCode::Invalid
        );
        let nowhere = ClientMsg::Transfer {
            conversation_id: "c1".into(),
            expected_version: 0,
            to_agent: None,
            to_team: None,
            note: None,
        };
        assert_eq!(nowhere.validate().unwrap_err().0, ErrorCode::Invalid);
        let long = ClientMsg::Transfer {
            conversation_id: "c1".into(),
            expected_version: 0,
            to_agent: None,
            to_team: Some("billing".into()),
            note: Some("x".repeat(MAX_NOTE_BYTES + 1)),
        };
        assert_eq!(long.validate().unwrap_err().0, ErrorCode::TooLarge);
    }
}
