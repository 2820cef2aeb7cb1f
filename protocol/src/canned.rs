//! Canned replies: a site's saved answers, each with a shortcut and a body whose placeholders
//! (`{{order.number}}`) the console fills from the conversation's context. The agent sees the
//! filled text in the reply box and may edit it before sending; a value the context lacks
//! stays as its placeholder, which blocks the send (console) and is refused (relay), so a
//! visitor never receives raw braces.
//!
//! Placeholders: `{{visitor.name}}`, `{{visitor.email}}`, `{{order.number}}`,
//! `{{order.status}}`, `{{agent.name}}`; any other name is a key of the context's `custom`
//! map (`{{plan}}` → `custom.plan`). A name is 1–[`MAX_PLACEHOLDER_BYTES`] bytes of
//! `[A-Za-z0-9_.-]`; spaces inside the braces are ignored.

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::limits::{
    MAX_CANNED_BODY_BYTES, MAX_CANNED_SHORTCUT_BYTES, MAX_ID_BYTES, MAX_PLACEHOLDER_BYTES,
};
use crate::ErrorCode;

/// One stored canned reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedReply {
    /// Chosen by the relay when it is created; what `send.canned_id` names.
    pub id: String,
    /// What an agent types after `/` to find it, e.g. `where-is-my-order`.
    pub shortcut: String,
    /// The text with placeholders.
    pub body: String,
}

/// A validation failure: the code to send and a human-readable reason.
pub type Invalid = (ErrorCode, String);

impl CannedReply {
    /// The limits on what an admin writes (the id is the relay's).
    pub fn validate(&self) -> Result<(), Invalid> {
        shortcut(&self.shortcut)?;
        body(&self.body)
    }
}

/// 1–[`MAX_CANNED_SHORTCUT_BYTES`] bytes of letters, digits, `-` and `_` (any script's
/// letters: a shortcut is typed, so it is in the agent's language).
pub fn shortcut(s: &str) -> Result<(), Invalid> {
    if s.len() > MAX_CANNED_SHORTCUT_BYTES {
        return Err((
            ErrorCode::TooLarge,
            format!(
                "shortcut is {} bytes, limit {MAX_CANNED_SHORTCUT_BYTES}",
                s.len()
            ),
        ));
    }
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    {
        return Err((
            ErrorCode::Invalid,
            "shortcut must be letters, digits, - and _ (no spaces)".into(),
        ));
    }
    Ok(())
}

/// Not blank, within [`MAX_CANNED_BODY_BYTES`], every `{{` closed around a valid name.
pub fn body(s: &str) -> Result<(), Invalid> {
    if s.len() > MAX_CANNED_BODY_BYTES {
        return Err((
            ErrorCode::TooLarge,
            format!("body is {} bytes, limit {MAX_CANNED_BODY_BYTES}", s.len()),
        ));
    }
    if crate::client::is_blank(s) {
        return Err((ErrorCode::Invalid, "body is empty".into()));
    }
    pieces(s).map(drop).map_err(|why| (ErrorCode::Invalid, why))
}

/// A canned reply's id as a frame names it.
pub fn id(field: &str, v: &str) -> Result<(), Invalid> {
    if v.is_empty() || v.len() > MAX_ID_BYTES {
        return Err((
            ErrorCode::Invalid,
            format!("{field} must be 1-{MAX_ID_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// A piece of a body: literal text, or a placeholder's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Splits a body into text and placeholders; an unclosed `{{` or a bad name is an error
/// (saying which), so an admin learns of a typo when saving, not when an agent uses it.
pub fn pieces(body: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err("a {{ is not closed with }}".into());
        };
        let name = after[..close].trim();
        if !valid_name(name) {
            return Err(format!(
                "{{{{{name}}}}} is not a placeholder: names are 1-{MAX_PLACEHOLDER_BYTES} bytes of letters, digits, ., - and _"
            ));
        }
        out.push(Piece::Placeholder(name));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_PLACEHOLDER_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The placeholders still in `text` (`{{name}}` with a valid name), in order: what must be
/// replaced before the text may be sent. Stray braces that are not a placeholder are text.
pub fn unfilled(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) if valid_name(after[..close].trim()) => {
                found.push(after[..close].trim());
                rest = &after[close + 2..];
            }
            // Not a placeholder here; one may still start inside (`{{{{x}}`).
            _ => rest = &rest[open + 1..],
        }
    }
    found
}

/// The value of a placeholder for this conversation, if the context has one. Empty strings
/// count as missing: "Hello ," is as wrong as raw braces.
pub fn value(name: &str, context: Option<&Context>, agent_name: &str) -> Option<String> {
    let v = match name {
        "agent.name" => Some(agent_name.to_owned()),
        "visitor.name" => context
            .and_then(|c| c.identity.as_ref())
            .and_then(|i| i.name.clone()),
        "visitor.email" => context
            .and_then(|c| c.identity.as_ref())
            .and_then(|i| i.email.clone()),
        "order.number" => context
            .and_then(|c| c.order.as_ref())
            .map(|o| o.number.clone()),
        "order.status" => context
            .and_then(|c| c.order.as_ref())
            .and_then(|o| o.status.clone()),
        key => context
            .and_then(|c| c.custom.get(key))
            .and_then(|v| match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            }),
    };
    v.filter(|s| !s.trim().is_empty())
}

/// A body with every placeholder the context could fill replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filled {
    /// The text for the reply box: missing values stay as `{{name}}`, so they are seen.
    pub text: String,
    /// Names of the placeholders left unfilled, each once, in order.
    pub missing: Vec<String>,
}

/// Fills `body` from the conversation's context and the agent's display name, in one pass (a
/// value that itself looks like a placeholder is not expanded again).
pub fn fill(body: &str, context: Option<&Context>, agent_name: &str) -> Filled {
    let Ok(pieces) = pieces(body) else {
        // Bodies are checked when stored; one that is not parses as plain text.
        return Filled {
            text: body.to_owned(),
            missing: unfilled(body).into_iter().map(str::to_owned).collect(),
        };
    };
    let mut text = String::with_capacity(body.len());
    let mut missing: Vec<String> = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => text.push_str(t),
            Piece::Placeholder(name) => match value(name, context, agent_name) {
                Some(v) => text.push_str(&v),
                None => {
                    text.push_str("{{");
                    text.push_str(name);
                    text.push_str("}}");
                    if !missing.iter().any(|m| m == name) {
                        missing.push(name.to_owned());
                    }
                }
            },
        }
    }
    Filled { text, missing }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Identity, Order};

    fn context() -> Context {
        let mut c = Context {
            identity: Some(Identity {
                name: Some("Ada".into()),
                ..Default::default()
            }),
            order: Some(Order {
                number: "1042".into(),
                status: Some("shipped".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        c.custom.insert("plan".into(), serde_json::json!("Pro"));
        c.custom.insert("seats".into(), serde_json::json!(5));
        c.custom.insert("none".into(), serde_json::Value::Null);
        c
    }

    #[test]
    fn fills_every_kind_of_placeholder() {
        let f = fill(
            "Hi {{visitor.name}}, order {{ order.number }} is {{order.status}}. {{plan}} x{{seats}} — {{agent.name}}",
            Some(&context()),
            "Sam",
        );
        assert_eq!(f.text, "Hi Ada, order 1042 is shipped. Pro x5 — Sam");
        assert!(f.missing.is_empty());
    }

    #[test]
    fn missing_values_stay_visible_and_are_listed_once() {
        let f = fill(
            "{{visitor.email}} {{order.number}} {{none}} {{visitor.email}}",
            None,
            "Sam",
        );
        assert_eq!(
            f.text,
            "{{visitor.email}} {{order.number}} {{none}} {{visitor.email}}"
        );
        assert_eq!(f.missing, ["visitor.email", "order.number", "none"]);
        assert_eq!(unfilled(&f.text).len(), 4);
    }

    #[test]
    fn a_value_is_not_expanded_again() {
        let mut c = context();
        c.identity.as_mut().unwrap().name = Some("{{agent.name}}".into());
        let f = fill("Hi {{visitor.name}}", Some(&c), "Sam");
        assert_eq!(f.text, "Hi {{agent.name}}");
        assert!(f.missing.is_empty());
        // Still raw braces: the send stays blocked until the agent edits it.
        assert_eq!(unfilled(&f.text), ["agent.name"]);
    }

    #[test]
    fn empty_values_count_as_missing() {
        let mut c = context();
        c.order.as_mut().unwrap().number = "  ".into();
        assert_eq!(
            fill("#{{order.number}}", Some(&c), "").missing,
            ["order.number"]
        );
        assert_eq!(fill("{{agent.name}}", None, "").missing, ["agent.name"]);
    }

    #[test]
    fn bodies_are_checked_when_stored() {
        assert!(body("Order {{order.number}} {not a placeholder} }}").is_ok());
        assert_eq!(body("Hi {{visitor.name").unwrap_err().0, ErrorCode::Invalid);
        assert_eq!(body("Hi {{}}").unwrap_err().0, ErrorCode::Invalid);
        assert_eq!(body("Hi {{a b}}").unwrap_err().0, ErrorCode::Invalid);
        assert_eq!(body("Hi {{<script>}}").unwrap_err().0, ErrorCode::Invalid);
        assert_eq!(body(" \u{200B} ").unwrap_err().0, ErrorCode::Invalid);
        assert_eq!(
            body(&"x".repeat(MAX_CANNED_BODY_BYTES + 1)).unwrap_err().0,
            ErrorCode::TooLarge
        );
        assert!(shortcut("wo-ist_meine-bestellung2").is_ok());
        assert!(shortcut("bestellstatus-ü").is_ok());
        for bad in ["", "two words", "a/b", "<b>"] {
            assert_eq!(shortcut(bad).unwrap_err().0, ErrorCode::Invalid, "{bad}");
        }
        assert_eq!(
            shortcut(&"s".repeat(MAX_CANNED_SHORTCUT_BYTES + 1))
                .unwrap_err()
                .0,
            ErrorCode::TooLarge
        );
    }

    #[test]
    fn unfilled_finds_placeholders_only() {
        assert!(unfilled("a { b } {{ }} {{a b}} }} {{").is_empty());
        assert_eq!(unfilled("{{{{x}}"), ["x"]);
        assert_eq!(unfilled("x {{ order.number }} y"), ["order.number"]);
    }
}
