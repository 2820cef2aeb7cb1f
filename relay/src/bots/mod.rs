//! Bots: who they are ([`Bots`]), how a frame reaches one however it is attached ([`notify`]),
//! which conversations they own ([`routing`]), where a handoff goes ([`triage`]), webhook delivery ([`webhook`]), the HTTP API
//! webhook bots answer through ([`api`]) and agent presence across nodes ([`presence`]).

pub mod api;
pub mod presence;
pub mod routing;
pub mod triage;
pub mod webhook;

use std::collections::HashMap;
use std::sync::Arc;

use switchboard_protocol::{Sender, SenderKind, ServerMsg};

use crate::broker::Event;
use crate::config::Bot;
use crate::{token, AppState};

/// The configured bots, by id and by the SHA-256 of their token.
#[derive(Default)]
pub struct Bots {
    by_id: HashMap<String, Arc<Bot>>,
    by_token: HashMap<String, Arc<Bot>>,
}

impl Bots {
    pub fn new(bots: &[Bot]) -> Bots {
        let mut out = Bots::default();
        for bot in bots {
            let bot = Arc::new(bot.clone());
            // A `sha256:` token is looked up by the hash it gives.
            out.by_token
                .insert(crate::config::token_hash(&bot.token), bot.clone());
            out.by_id.insert(bot.id.clone(), bot);
        }
        out
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Bot>> {
        self.by_id.get(id)
    }

    pub fn by_token(&self, token: &str) -> Option<Arc<Bot>> {
        self.by_token.get(&token::hash(token)).cloned()
    }
}

/// How a bot appears in the conversation.
pub fn sender(bot: &Bot) -> Sender {
    Sender {
        kind: SenderKind::Bot,
        id: bot.id.clone(),
        name: Some(bot.name.clone()),
        avatar: bot.avatar.clone(),
    }
}

/// Hands a frame to a bot: queued for its webhook, or published to its WebSocket connections
/// on whichever node they are. Called only on the node where the triggering change happened,
/// so a webhook bot gets each event once however many nodes run.
pub async fn notify(state: &AppState, bot_id: &str, conversation_id: &str, msg: ServerMsg) {
    // The last gate before a bot's socket or webhook queue: a private note never passes it,
    // whoever asked.
    let msg = match msg {
        ServerMsg::Message(m) if m.is_note() => return,
        ServerMsg::Routed(mut r) => {
            r.transcript = r
                .transcript
                .into_iter()
                .map(crate::broker::lifecycle::bot_copy)
                .collect();
            ServerMsg::Routed(r)
        }
        other => other,
    };
    let Some(bot) = state.bots.get(bot_id) else {
        tracing::warn!(bot = bot_id, "event for a bot that is not configured");
        return;
    };
    if bot.webhook().is_some() {
        webhook::enqueue(state, bot_id, msg).await;
    } else {
        state
            .broker
            .publish(Event::to_bot(bot_id, conversation_id, &msg))
            .await;
    }
}
