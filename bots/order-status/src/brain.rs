//! What the bot says. It knows the visitor's order from the context, so "where is my order?"
//! is answered at once; it hands off with a summary when the visitor asks for a person, sounds
//! frustrated, or asks what it cannot answer twice.

use std::collections::BTreeMap;

use switchboard_protocol::rich::{Button, QuickReply, Rich};
use switchboard_protocol::{Context, Handoff, HandoffReason, Order, Priority};

/// Postback payloads of the bot's own chips.
pub const ORDER_STATUS: &str = "order_status";
pub const HUMAN: &str = "human";

pub use switchboard_botclient::Reply;

/// The order-status bot's [`switchboard_botclient::Brain`].
pub struct OrderBrain;

impl switchboard_botclient::Brain for OrderBrain {
    type Memory = Memory;

    async fn answer(
        &self,
        memory: &mut Memory,
        context: &Context,
        question: &switchboard_protocol::ChatMessage,
    ) -> Reply {
        memory.context = context.clone();
        answer(memory, &question.text, question.postback.as_deref())
    }
}

/// What the bot remembers of one conversation.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    pub context: Context,
    /// Questions it could not answer, in a row.
    pub misses: u32,
}

const HUMAN_WORDS: &[&str] = &[
    "human",
    "agent",
    "person",
    "someone",
    "somebody",
    "real people",
    "operator",
];
const FRUSTRATION_WORDS: &[&str] = &[
    "useless",
    "ridiculous",
    "terrible",
    "awful",
    "angry",
    "worst",
    "stupid",
    "wtf",
    "!!!",
    "not helpful",
    "unacceptable",
];
const ORDER_WORDS: &[&str] = &[
    "order",
    "where",
    "status",
    "deliver",
    "shipping",
    "shipped",
    "ship",
    "arrive",
    "track",
    "package",
    "parcel",
    "when will",
];
const GREETINGS: &[&str] = &["hi", "hello", "hey", "good morning", "good evening"];

fn has_any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.contains(w))
}

fn chips() -> Rich {
    Rich {
        quick_replies: vec![
            QuickReply {
                label: "Where is my order?".into(),
                payload: ORDER_STATUS.into(),
            },
            QuickReply {
                label: "Talk to a person".into(),
                payload: HUMAN.into(),
            },
        ],
        ..Rich::default()
    }
}

/// The answer to one visitor message (`postback` set when they clicked a chip).
pub fn answer(memory: &mut Memory, text: &str, postback: Option<&str>) -> Reply {
    let lower = text.to_lowercase();
    let greeting = GREETINGS
        .iter()
        .any(|g| lower.trim_matches(|c: char| !c.is_alphanumeric()) == *g);
    if postback == Some(HUMAN) || has_any(&lower, HUMAN_WORDS) {
        return hand_off(memory, text, HandoffReason::Requested, Priority::Normal);
    }
    if has_any(&lower, FRUSTRATION_WORDS) {
        return hand_off(memory, text, HandoffReason::Frustration, Priority::High);
    }
    if postback == Some(ORDER_STATUS) || has_any(&lower, ORDER_WORDS) {
        return match &memory.context.order {
            Some(order) => {
                memory.misses = 0;
                order_status(order)
            }
            None => hand_off(memory, text, HandoffReason::CannotHelp, Priority::Normal),
        };
    }
    if greeting {
        return Reply::Say {
            text: "Hi! I'm Orderbot. I can tell you where your order is, or get you a person."
                .into(),
            rich: Some(chips()),
        };
    }
    memory.misses += 1;
    if memory.misses >= 2 {
        return hand_off(memory, text, HandoffReason::CannotHelp, Priority::Normal);
    }
    Reply::Say {
        text: "Sorry, I only know about orders. Ask me where your order is, or talk to a person."
            .into(),
        rich: Some(chips()),
    }
}

/// "Order #1042 is delayed by the storm: placed 2026-11-20, now expected 2026-11-27."
fn order_status(order: &Order) -> Reply {
    let status = order.status.as_deref().unwrap_or("being processed");
    let state = match status.to_lowercase().as_str() {
        "delayed" => "is delayed".to_string(),
        "shipped" => "has shipped".to_string(),
        "delivered" => "was delivered".to_string(),
        "processing" | "pending" => "is being prepared".to_string(),
        "cancelled" | "canceled" => "was cancelled".to_string(),
        other => format!("is {other}"),
    };
    let mut text = format!("Order #{} {state}", order.number);
    match (&order.placed_at, &order.estimated_delivery) {
        (Some(p), Some(e)) => text.push_str(&format!(": placed {p}, arriving by {e}.")),
        (None, Some(e)) => text.push_str(&format!(", arriving by {e}.")),
        (Some(p), None) => text.push_str(&format!(" (placed {p}).")),
        (None, None) => text.push('.'),
    }
    let rich = order.tracking_url.as_ref().map(|url| Rich {
        buttons: vec![Button::Link {
            label: "Track the package".into(),
            url: url.clone(),
        }],
        quick_replies: vec![QuickReply {
            label: "Talk to a person".into(),
            payload: HUMAN.into(),
        }],
        ..Rich::default()
    });
    Reply::Say { text, rich }
}

fn hand_off(memory: &Memory, text: &str, reason: HandoffReason, priority: Priority) -> Reply {
    let ctx = &memory.context;
    let mut fields = BTreeMap::new();
    let about = match &ctx.order {
        Some(o) => {
            fields.insert("order".to_string(), o.number.clone());
            if let Some(s) = &o.status {
                fields.insert("order status".to_string(), s.clone());
            }
            if let Some(e) = &o.estimated_delivery {
                fields.insert("estimated delivery".to_string(), e.clone());
            }
            format!(" about order #{}", o.number)
        }
        None => String::new(),
    };
    if let Some(id) = &ctx.identity {
        if let Some(e) = &id.email {
            fields.insert("email".to_string(), e.clone());
        }
        if let Some(n) = &id.name {
            fields.insert("name".to_string(), n.clone());
        }
    }
    let quoted: String = text.chars().take(200).collect();
    fields.insert("last message".to_string(), quoted.clone());
    let summary = match reason {
        HandoffReason::Requested => format!("Visitor asked for a person{about}: \"{quoted}\""),
        HandoffReason::Frustration => {
            format!("Visitor sounds frustrated{about}: \"{quoted}\"")
        }
        _ => format!("Bot could not answer{about}: \"{quoted}\""),
    };
    Reply::HandOff {
        text: "I'm getting a person to help you. They'll see what we talked about.".into(),
        handoff: Handoff {
            reason,
            summary,
            team: None,
            priority,
            fields,
            language: None,
            sentiment: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_order() -> Memory {
        Memory {
            context: Context {
                order: Some(Order {
                    number: "1042".into(),
                    status: Some("delayed".into()),
                    placed_at: Some("2026-11-20".into()),
                    estimated_delivery: Some("2026-11-27".into()),
                    tracking_url: Some("https://tracking.example/1042".into()),
                    ..Order::default()
                }),
                ..Context::default()
            },
            misses: 0,
        }
    }

    #[test]
    fn answers_from_the_order_in_the_context() {
        let Reply::Say { text, rich } = answer(&mut with_order(), "Where is my order?", None)
        else {
            panic!("expected an answer")
        };
        assert_eq!(
            text,
            "Order #1042 is delayed: placed 2026-11-20, arriving by 2026-11-27."
        );
        assert!(rich.unwrap().validate().is_ok());
    }

    #[test]
    fn hands_off_on_request_frustration_and_second_miss() {
        let mut m = with_order();
        let Reply::HandOff { handoff, .. } = answer(&mut m, "I want a human please", None) else {
            panic!("expected a handoff")
        };
        assert_eq!(handoff.reason, HandoffReason::Requested);
        assert_eq!(handoff.fields["order"], "1042");
        assert!(handoff.summary.contains("order #1042"));
        assert!(handoff.validate().is_ok());
        let Reply::HandOff { handoff, .. } = answer(&mut m, "this is useless!!!", None) else {
            panic!("expected a handoff")
        };
        assert_eq!(handoff.reason, HandoffReason::Frustration);
        assert!(matches!(
            answer(&mut m, "do you sell socks", None),
            Reply::Say { .. }
        ));
        let Reply::HandOff { handoff, .. } = answer(&mut m, "blue ones", None) else {
            panic!("expected a handoff on the second miss")
        };
        assert_eq!(handoff.reason, HandoffReason::CannotHelp);
    }

    #[test]
    fn without_an_order_it_hands_off_instead_of_asking() {
        let mut m = Memory::default();
        let Reply::HandOff { handoff, .. } = answer(&mut m, "where is my parcel", None) else {
            panic!("expected a handoff")
        };
        assert_eq!(handoff.reason, HandoffReason::CannotHelp);
    }
}
