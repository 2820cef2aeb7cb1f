//! Typed error codes (sent in an `error` frame, the connection stays open) and close codes
//! (the connection ends). Modelled on centrifuge's `disconnect.go`: a number plus a stable
//! reason string, so logs and clients agree on what happened.

use serde::{Deserialize, Serialize};

/// Why the relay refused one client frame. Refused frames change nothing on the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame is not valid JSON, or is binary.
    BadJson,
    /// The JSON has no known `"type"`.
    UnknownType,
    /// The type is known but its fields are missing, mistyped, or fail validation.
    Invalid,
    /// The frame, a text, or the context exceeds a limit in [`crate::limits`].
    TooLarge,
    /// The conversation does not exist.
    NotFound,
    /// The conversation exists but this client may not act on it, or the message type is not
    /// for this client's role.
    Forbidden,
    /// A frame other than `hello` arrived before `hello` was accepted, or `hello` came twice.
    OutOfOrder,
    /// The relay could not store the message; nothing was acknowledged, resend later.
    Unavailable,
    /// The conversation is owned by someone else (humans, after a handoff): a bot may act only
    /// on conversations routed to it.
    NotOwner,
    /// An HTTP API request without a valid bot token.
    Unauthorized,
    /// Too many frames of this kind, connections or attempts: nothing changed. The `error`
    /// frame's `retry_after_ms` says when the same frame would be accepted.
    RateLimited,
    /// A lifecycle change was sent with an `expected_version` that is no longer the
    /// conversation's: someone changed it first. Nothing changed; look again and decide.
    Conflict,
    /// The team named is not a team of the conversation's site.
    UnknownTeam,
    /// The agent named is not an agent of the conversation's site (or of the team named).
    UnknownAgent,
    /// The identity token is not one the site's key signed for this site: malformed, bad
    /// signature, `alg: none` or another algorithm than the site's, wrong audience (site),
    /// missing `sub`/`exp`, or the site has no identity key. The identity is unchanged.
    IdentityInvalid,
    /// The identity token was signed by the site but its `exp` has passed: ask the site's
    /// server for a fresh one. The identity is unchanged.
    IdentityExpired,
    /// The site requires a verified identity before a visitor may send (`identity =
    /// "required"`): nothing was stored.
    IdentityRequired,
    /// An agent of the site blocked this visitor (or its network address): its `hello` is
    /// refused (then close 4004) and its messages are not stored.
    Blocked,
    /// This relay's store has no full-text search engine (a Redis without the search
    /// module): nothing was searched.
    SearchUnavailable,
    /// The canned reply named does not exist on the conversation's (or the frame's) site:
    /// unknown, deleted, or another site's (one answer for all three, so no site's canned
    /// replies can be probed from another). Nothing was stored.
    CannedNotFound,
    /// The site already stores [`crate::limits::MAX_CANNED_PER_SITE`] canned replies.
    CannedLimit,
    /// Another canned reply of the site has this shortcut.
    ShortcutTaken,
    /// A `rate` for a conversation that is not resolved (never, or reopened since): there is
    /// nothing to rate yet. Nothing was stored.
    NotResolved,
    /// The conversation's current resolution has its rating already (one per resolution;
    /// the first stands). Nothing was stored.
    AlreadyRated,
    /// A read mark past the conversation's last seq: nothing was stored.
    SeqAhead,
}

impl ErrorCode {
    /// Every code, for clients that read codes by name (the widget's decoder).
    pub const ALL: [ErrorCode; 25] = [
        ErrorCode::BadJson,
        ErrorCode::UnknownType,
        ErrorCode::Invalid,
        ErrorCode::TooLarge,
        ErrorCode::NotFound,
        ErrorCode::Forbidden,
        ErrorCode::OutOfOrder,
        ErrorCode::Unavailable,
        ErrorCode::NotOwner,
        ErrorCode::Unauthorized,
        ErrorCode::RateLimited,
        ErrorCode::Conflict,
        ErrorCode::UnknownTeam,
        ErrorCode::UnknownAgent,
        ErrorCode::IdentityInvalid,
        ErrorCode::IdentityExpired,
        ErrorCode::IdentityRequired,
        ErrorCode::Blocked,
        ErrorCode::SearchUnavailable,
        ErrorCode::CannedNotFound,
        ErrorCode::CannedLimit,
        ErrorCode::ShortcutTaken,
        ErrorCode::NotResolved,
        ErrorCode::AlreadyRated,
        ErrorCode::SeqAhead,
    ];

    /// The stable snake_case name, as on the wire.
    pub fn as_str(self) -> &'static str {
        // A new code goes into `ALL` too (`every_code_is_listed` checks the count).
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::Invalid => "invalid",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::OutOfOrder => "out_of_order",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::NotOwner => "not_owner",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Conflict => "conflict",
            ErrorCode::UnknownTeam => "unknown_team",
            ErrorCode::UnknownAgent => "unknown_agent",
            ErrorCode::IdentityInvalid => "identity_invalid",
            ErrorCode::IdentityExpired => "identity_expired",
            ErrorCode::IdentityRequired => "identity_required",
            ErrorCode::Blocked => "blocked",
            ErrorCode::SearchUnavailable => "search_unavailable",
            ErrorCode::CannedNotFound => "canned_not_found",
            ErrorCode::CannedLimit => "canned_limit",
            ErrorCode::ShortcutTaken => "shortcut_taken",
            ErrorCode::NotResolved => "not_resolved",
            ErrorCode::AlreadyRated => "already_rated",
            ErrorCode::SeqAhead => "seq_ahead",
        }
    }
}

/// A WebSocket close code with its reason. Codes 4000–4999 are the application range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CloseCode {
    pub code: u16,
    pub reason: &'static str,
}

impl CloseCode {
    /// Normal end (the client said goodbye).
    pub const NORMAL: CloseCode = CloseCode {
        code: 1000,
        reason: "normal",
    };
    /// A frame past [`crate::limits::MAX_FRAME_HARD_BYTES`]; the standard "message too big".
    pub const TOO_BIG: CloseCode = CloseCode {
        code: 1009,
        reason: "message too big",
    };
    /// The first frame was not a valid `hello`. Do not retry unchanged.
    pub const BAD_HELLO: CloseCode = CloseCode {
        code: 4000,
        reason: "bad hello",
    };
    /// The token in `hello` is not valid (agent token, or a site key that is not configured).
    /// Do not retry with the same token.
    pub const UNAUTHORIZED: CloseCode = CloseCode {
        code: 4001,
        reason: "unauthorized",
    };
    /// The client speaks another protocol version. Do not retry unchanged.
    pub const PROTOCOL_VERSION: CloseCode = CloseCode {
        code: 4002,
        reason: "protocol version",
    };
    /// No `hello` within the relay's hello timeout. Retry with backoff.
    pub const HELLO_TIMEOUT: CloseCode = CloseCode {
        code: 4003,
        reason: "hello timeout",
    };
    /// The client did not read fast enough and its outbound queue filled. Reconnect and resume
    /// from the last sequence number seen; nothing is lost.
    pub const SLOW: CloseCode = CloseCode {
        code: 4008,
        reason: "slow",
    };
    /// A text frame that is not valid UTF-8; the standard "invalid frame payload data".
    pub const INVALID_PAYLOAD: CloseCode = CloseCode {
        code: 1007,
        reason: "invalid payload",
    };
    /// The client kept sending over its rate limits after being told to slow down (or was
    /// refused at `hello` for its address's rate). Reconnect with backoff, no sooner than the
    /// last `retry_after_ms`.
    pub const RATE_LIMITED: CloseCode = CloseCode {
        code: 4029,
        reason: "rate limited",
    };
    /// The visitor (or its address) is blocked on this site. Do not reconnect.
    pub const BLOCKED: CloseCode = CloseCode {
        code: 4004,
        reason: "blocked",
    };
    /// The relay is shutting down or restarting. Reconnect at once, without backoff.
    pub const RECONNECT_NOW: CloseCode = CloseCode {
        code: 4012,
        reason: "reconnect now",
    };
    /// The relay's storage is unavailable, so it cannot serve the connection now. Reconnect
    /// with backoff.
    pub const UNAVAILABLE: CloseCode = CloseCode {
        code: 4013,
        reason: "unavailable",
    };

    /// Whether a client should come back at all after this close.
    pub fn should_reconnect(code: u16) -> bool {
        !(CloseCode::BAD_HELLO.code..=CloseCode::PROTOCOL_VERSION.code).contains(&code)
            && code != CloseCode::BLOCKED.code
    }
}

#[cfg(test)]
mod all_tests {
    use super::*;

    #[test]
    fn every_code_is_listed_under_its_wire_name() {
        let arms = include_str!("codes.rs")
            .split("pub fn as_str")
            .nth(1)
            .unwrap()
            .split("\n    }\n")
            .next()
            .unwrap()
            .matches("ErrorCode::")
            .count();
        assert_eq!(ErrorCode::ALL.len(), arms);
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }
}
