//! Rich content a bot or an agent may attach to a message: quick-reply chips, buttons and
//! cards. Visitors click them; a postback button comes back to the conversation's owner as a
//! `postback` (stored like a visitor message, so it is never lost or doubled).

use serde::{Deserialize, Serialize};

use crate::context::{is_mailto_url, short, url, Invalid};
use crate::limits::{
    MAX_BUTTONS, MAX_CARDS, MAX_CARD_TEXT_BYTES, MAX_LABEL_BYTES, MAX_PAYLOAD_BYTES,
    MAX_QUICK_REPLIES,
};
use crate::ErrorCode;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rich {
    /// Chips under the message; the widget shows them only while this is the latest message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<QuickReply>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cards: Vec<Card>,
}

/// A chip: clicking it sends `payload` back as a postback with `label` as the visible text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickReply {
    pub label: String,
    pub payload: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Button {
    /// Sends `payload` back to the conversation's owner.
    Postback { label: String, payload: String },
    /// Opens `url` in a new tab: http or https, or a `mailto:` with exactly one plain address
    /// (no `cc`, `bcc`, `body` or other parameters).
    Link { label: String, url: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Card {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    /// Where the card's title links to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

/// A display price, in the currency's major unit (like the context's amounts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub amount: f64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}

impl Rich {
    pub fn is_empty(&self) -> bool {
        self.quick_replies.is_empty() && self.buttons.is_empty() && self.cards.is_empty()
    }

    /// Checks counts, sizes and that every link and image is http(s), so nothing a bot sends
    /// can run script in the widget or the console.
    pub fn validate(&self) -> Result<(), Invalid> {
        count("quick_replies", self.quick_replies.len(), MAX_QUICK_REPLIES)?;
        count("buttons", self.buttons.len(), MAX_BUTTONS)?;
        count("cards", self.cards.len(), MAX_CARDS)?;
        for q in &self.quick_replies {
            label("quick_replies.label", &q.label)?;
            payload("quick_replies.payload", &q.payload)?;
        }
        buttons("buttons", &self.buttons)?;
        for card in &self.cards {
            label("cards.title", &card.title)?;
            if let Some(text) = &card.text {
                if text.len() > MAX_CARD_TEXT_BYTES {
                    return Err((
                        ErrorCode::TooLarge,
                        format!("cards.text is longer than {MAX_CARD_TEXT_BYTES} bytes"),
                    ));
                }
            }
            if let Some(u) = &card.image_url {
                url("cards.image_url", u, false)?;
            }
            if let Some(u) = &card.url {
                url("cards.url", u, false)?;
            }
            if let Some(p) = &card.price {
                if !p.amount.is_finite() {
                    return Err((
                        ErrorCode::Invalid,
                        "cards.price.amount is not a number".into(),
                    ));
                }
                short("cards.price.currency", &p.currency)?;
            }
            count("cards.buttons", card.buttons.len(), MAX_BUTTONS)?;
            buttons("cards.buttons", &card.buttons)?;
        }
        Ok(())
    }
}

fn buttons(field: &str, list: &[Button]) -> Result<(), Invalid> {
    for b in list {
        match b {
            Button::Postback {
                label: l,
                payload: p,
            } => {
                label(field, l)?;
                payload(field, p)?;
            }
            Button::Link { label: l, url: u } => {
                label(field, l)?;
                // A link button may also write one e-mail; only http(s) and a plain
                // `mailto:` reach a visitor.
                if !is_mailto_url(u) {
                    url(field, u, false)?;
                }
            }
        }
    }
    Ok(())
}

fn count(field: &str, n: usize, max: usize) -> Result<(), Invalid> {
    if n > max {
        return Err((
            ErrorCode::TooLarge,
            format!("{field} has {n} entries, limit {max}"),
        ));
    }
    Ok(())
}

fn label(field: &str, v: &str) -> Result<(), Invalid> {
    if v.trim().is_empty() {
        return Err((ErrorCode::Invalid, format!("{field} is empty")));
    }
    if v.len() > MAX_LABEL_BYTES {
        return Err((
            ErrorCode::TooLarge,
            format!("{field} is longer than {MAX_LABEL_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Postback payloads travel back through the relay and into a bot: bounded, and non-empty so a
/// bot can always tell a postback from plain text.
pub(crate) fn payload(field: &str, v: &str) -> Result<(), Invalid> {
    if v.is_empty() {
        return Err((ErrorCode::Invalid, format!("{field} payload is empty")));
    }
    if v.len() > MAX_PAYLOAD_BYTES {
        return Err((
            ErrorCode::TooLarge,
            format!("{field} payload is longer than {MAX_PAYLOAD_BYTES} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_script_links_and_oversize() {
        let ok = Rich {
            buttons: vec![Button::Link {
                label: "Track".into(),
                url: "https://track.example/1".into(),
            }],
            ..Rich::default()
        };
        assert!(ok.validate().is_ok());
        let mail = |url: &str| Rich {
            buttons: vec![Button::Link {
                label: "Write us".into(),
                url: url.into(),
            }],
            ..Rich::default()
        };
        assert!(mail("mailto:help@shop.example").validate().is_ok());
        for bad in [
            "mailto:help@shop.example?bcc=all@evil.example",
            "mailto:help@shop.example?body=secret",
            "mailto:a@shop.example,b@evil.example",
            "mailto:",
        ] {
            assert_eq!(
                mail(bad).validate().unwrap_err().0,
                ErrorCode::Invalid,
                "{bad}"
            );
        }
        let js = Rich {
            cards: vec![Card {
                title: "x".into(),
                text: None,
                image_url: Some("javascript:alert(1)".into()),
                price: None,
                url: None,
                buttons: vec![],
            }],
            ..Rich::default()
        };
        assert_eq!(js.validate().unwrap_err().0, ErrorCode::Invalid);
        let many = Rich {
            quick_replies: (0..=MAX_QUICK_REPLIES)
                .map(|i| QuickReply {
                    label: format!("q{i}"),
                    payload: "p".into(),
                })
                .collect(),
            ..Rich::default()
        };
        assert_eq!(many.validate().unwrap_err().0, ErrorCode::TooLarge);
    }
}
