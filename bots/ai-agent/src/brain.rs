//! What the AI bot answers, and when it hands off instead.
//!
//! In order, for each visitor message: a person asked for, the mood turned negative, the
//! turn limit or the token budget reached → hand off without asking the model. Nothing in
//! the knowledge base about it and no order or cart in the context → hand off. Else the
//! model answers from the articles found and the context; "not covered" from the model, an
//! order number the context does not hold, or no answer in time → hand off. Every handoff
//! carries a summary, the language, the mood and the fields the bot collected.

use std::collections::BTreeMap;

use switchboard_botclient::{Brain, Reply, Stream};
use switchboard_protocol::limits::{MAX_LABEL_BYTES, MAX_SHORT_BYTES, MAX_TEXT_BYTES};
use switchboard_protocol::rich::{Button, QuickReply, Rich};
use switchboard_protocol::{ChatMessage, Context, Handoff, HandoffReason, Priority, SenderKind};

use crate::kb::KnowledgeBase;
use crate::llm::{Model, Role};
use crate::prompt::{self, Prompt};
use crate::reveal::Gate;
use crate::signals;

/// The chip's postback payload: "Talk to a person".
pub const HUMAN: &str = "human";

#[derive(Clone, Debug)]
pub struct Limits {
    /// Visitor messages the bot answers before it hands off.
    pub max_turns: u32,
    /// Model tokens (prompt + answer) one conversation may use.
    pub token_budget: u64,
    /// A message scoring at or below this (-100..=100) hands off.
    pub negative_at: i8,
    /// Earlier turns sent with each question.
    pub history: usize,
    /// Articles sent with each question.
    pub sources: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_turns: 8,
            token_budget: 20_000,
            negative_at: -50,
            history: 6,
            sources: 3,
        }
    }
}

pub struct AiBrain {
    pub model: Model,
    pub kb: KnowledgeBase,
    pub prompt: Prompt,
    pub limits: Limits,
}

/// What the bot remembers of one conversation.
#[derive(Debug, Default)]
pub struct Memory {
    /// The conversation so far, oldest first (visitor = user, bot = assistant).
    turns: Vec<(Role, String)>,
    visitor_turns: u32,
    tokens_used: u64,
    /// All the visitor wrote, for the language (longer text, surer guess), capped.
    visitor_text: String,
}

const HUMAN_WORDS: &[&str] = &[
    "human",
    "agent",
    "a person",
    "real person",
    "someone",
    "somebody",
    "operator",
    "representative",
];

const SORRY: &str = "I'm sorry, I can't answer that right now. I'm getting a person to help you; they'll see what we talked about.";
const PERSON: &str = "I'm getting a person to help you. They'll see what we talked about.";
const NOT_COVERED: &str = "I don't have an answer to that in our help articles. I'm getting a person to help you; they'll see what we talked about.";
const WONT_SAY: &str = "I can only help with questions about our shop and your order.";

impl Brain for AiBrain {
    type Memory = Memory;

    fn remember(&self, memory: &mut Memory, transcript: &[ChatMessage]) {
        for m in transcript {
            let role = match m.sender.kind {
                SenderKind::Visitor => Role::User,
                SenderKind::Bot => Role::Assistant,
                _ => continue,
            };
            memory.turns.push((role, m.text.clone()));
        }
    }

    async fn answer(
        &self,
        memory: &mut Memory,
        context: &Context,
        question: &ChatMessage,
    ) -> Reply {
        self.respond(memory, context, question, None).await
    }

    async fn answer_streaming(
        &self,
        memory: &mut Memory,
        context: &Context,
        question: &ChatMessage,
        stream: &mut Stream,
    ) -> Reply {
        self.respond(memory, context, question, Some(stream)).await
    }
}

impl AiBrain {
    /// The answer; with `stream` and a model that streams, what the gate (`reveal`) lets
    /// through is shown while the model writes, and the checks below still decide what is
    /// stored.
    async fn respond(
        &self,
        memory: &mut Memory,
        context: &Context,
        question: &ChatMessage,
        stream: Option<&mut Stream>,
    ) -> Reply {
        let text = question.text.trim();
        memory.visitor_turns += 1;
        if memory.visitor_text.len() < 2048 {
            memory.visitor_text.push_str(text);
            memory.visitor_text.push('\n');
        }
        let mood = signals::sentiment(text);
        macro_rules! handoff {
            ($reason:expr, $why:expr, $say:expr) => {
                self.hand_off(memory, context, text, mood, $reason, $why, $say)
            };
        }
        let lower = text.to_lowercase();
        if question.postback.as_deref() == Some(HUMAN)
            || HUMAN_WORDS.iter().any(|w| lower.contains(w))
        {
            return handoff!(HandoffReason::Requested, "asked for a person", PERSON);
        }
        if mood <= self.limits.negative_at {
            return handoff!(HandoffReason::Frustration, "sounds upset", PERSON);
        }
        if memory.visitor_turns > self.limits.max_turns {
            return handoff!(
                HandoffReason::Policy,
                "reached the bot's turn limit",
                PERSON
            );
        }
        if memory.tokens_used >= self.limits.token_budget {
            return handoff!(HandoffReason::Policy, "used the bot's token budget", PERSON);
        }
        let sources = self.kb.search(text, self.limits.sources);
        if sources.is_empty() && context.order.is_none() && context.cart.is_none() {
            return handoff!(
                HandoffReason::CannotHelp,
                "asked what the help articles do not cover",
                NOT_COVERED
            );
        }
        let start = memory.turns.len().saturating_sub(self.limits.history);
        let messages = self
            .prompt
            .messages(&memory.turns[start..], &sources, context, text);
        // Room for the "…" a cut answer ends with.
        let max = MAX_TEXT_BYTES - 4;
        let completion = match stream {
            Some(stream) if self.model.streams() => {
                let mut gate = Gate::new(&self.prompt, context, sources.len());
                let mut show = |piece: &str| {
                    if let Some(new) = gate.push(piece) {
                        stream.piece(&new);
                    }
                };
                self.model.complete_with(&messages, max, &mut show).await
            }
            _ => self.model.complete(&messages, max).await,
        };
        let completion = match completion {
            Ok(c) => c,
            Err(e) => {
                let why = format!("asked something the model did not answer ({e})");
                return handoff!(HandoffReason::CannotHelp, &why, SORRY);
            }
        };
        memory.tokens_used += completion.prompt_tokens + completion.completion_tokens;
        let answer = completion.text.trim();
        if answer.is_empty() || answer.trim_end_matches('.') == prompt::HANDOFF {
            return handoff!(
                HandoffReason::CannotHelp,
                "asked what the help articles do not cover",
                NOT_COVERED
            );
        }
        if self.prompt.leaks(answer) {
            tracing::warn!(conversation = %question.conversation_id, "model answer withheld: it repeats the instructions");
            return Reply::Say {
                text: WONT_SAY.into(),
                rich: Some(chips(Vec::new())),
            };
        }
        if !prompt::invented_orders(answer, context).is_empty() {
            tracing::warn!(conversation = %question.conversation_id, "model answer withheld: an order number not in the context");
            return handoff!(
                HandoffReason::CannotHelp,
                "asked about an order the bot could not confirm",
                SORRY
            );
        }
        let (cited, mut text) = prompt::citations(answer, sources.len());
        if completion.cut {
            text.push('…');
        }
        let cited: Vec<_> = if cited.is_empty() {
            sources.first().into_iter().copied().collect()
        } else {
            cited.into_iter().map(|n| sources[n - 1]).collect()
        };
        let links = cited
            .into_iter()
            .take(switchboard_protocol::limits::MAX_BUTTONS)
            .map(|a| Button::Link {
                label: cut(&a.title, MAX_LABEL_BYTES),
                url: a.url.clone(),
            })
            .collect();
        memory.turns.push((Role::User, text_of(question)));
        memory.turns.push((Role::Assistant, text.clone()));
        Reply::Say {
            text,
            rich: Some(chips(links)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn hand_off(
        &self,
        memory: &Memory,
        context: &Context,
        text: &str,
        mood: i8,
        reason: HandoffReason,
        why: &str,
        say: &str,
    ) -> Reply {
        let mut fields = BTreeMap::new();
        let mut about = String::new();
        if let Some(o) = &context.order {
            fields.insert("order".to_string(), cut(&o.number, MAX_SHORT_BYTES));
            if let Some(s) = &o.status {
                fields.insert("order status".to_string(), cut(s, MAX_SHORT_BYTES));
            }
            about = format!(" (order #{})", cut(&o.number, 64));
        }
        if let Some(id) = &context.identity {
            if let Some(e) = &id.email {
                fields.insert("email".to_string(), cut(e, MAX_SHORT_BYTES));
            }
            if let Some(n) = &id.name {
                fields.insert("name".to_string(), cut(n, MAX_SHORT_BYTES));
            }
        }
        if let Some(cart) = &context.cart {
            fields.insert("cart items".to_string(), cart.items.len().to_string());
        }
        fields.insert("bot turns".to_string(), memory.visitor_turns.to_string());
        let quoted = cut(text, 300);
        fields.insert("last message".to_string(), cut(text, MAX_SHORT_BYTES));
        let summary = format!("Visitor {why}{about}: \"{quoted}\"");
        Reply::HandOff {
            text: say.to_owned(),
            handoff: Handoff {
                reason,
                summary: cut(&summary, switchboard_protocol::limits::MAX_SUMMARY_BYTES),
                team: None,
                priority: if reason == HandoffReason::Frustration {
                    Priority::High
                } else {
                    Priority::Normal
                },
                fields,
                language: signals::language(&memory.visitor_text),
                sentiment: Some(mood),
            },
        }
    }
}

fn text_of(m: &ChatMessage) -> String {
    m.text.trim().to_owned()
}

fn chips(links: Vec<Button>) -> Rich {
    Rich {
        buttons: links,
        quick_replies: vec![QuickReply {
            label: "Talk to a person".into(),
            payload: HUMAN.into(),
        }],
        ..Rich::default()
    }
}

fn cut(s: &str, max: usize) -> String {
    s[..s.floor_char_boundary(max)].to_owned()
}
