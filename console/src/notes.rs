//! Private notes from the console's side: writing one (with the agents its `@mentions` name,
//! read from the relay's directory) and hearing that one names this agent.
//!
//! [`on_mention`] is the one place a `mention` frame arrives; anything that should happen on
//! a mention (the in-app notice today, a browser notification later) starts there.

use leptos::prelude::*;
use switchboard_protocol::server::Mention;
use switchboard_protocol::{AgentEntry, ClientMsg, Note, SenderKind, WriteNote};

use crate::state::{send, session, Console, Delivery, Line};

/// Notices kept on screen at most; older ones drop off.
const MAX_NOTICES: usize = 5;

/// Writes a private note into a conversation: shown at once as pending, confirmed by its ack,
/// resent as a note (never as a reply) after a reconnect.
pub fn write(console: Console, conversation_id: String, text: String) {
    let mentions = session(|s| mentioned(&s.directory.agents, &text));
    let client_id = switchboard_protocol::client_id::random();
    let line = Line {
        seq: None,
        client_id: client_id.clone(),
        kind: SenderKind::Agent,
        name: Some(console.agent_name.get_untracked()).filter(|n| !n.is_empty()),
        text: text.clone(),
        at: js_sys::Date::now() as u64,
        delivery: Delivery::Pending,
        error: None,
        rich: None,
        postback: None,
        code: None,
        note: Some(Note {
            mentions: mentions.clone(),
        }),
    };
    console
        .transcripts
        .update(|all| all.entry(conversation_id.clone()).or_default().push(line));
    send(&ClientMsg::Note(WriteNote {
        conversation_id,
        client_id,
        text,
        mentions,
    }));
}

/// The agents `text` mentions: `@` followed by an agent's id, or by its name with the spaces
/// left out (`@SamLee`), or by its first name when no other agent shares it; case does not
/// matter. Each agent once, at most the protocol's limit.
pub fn mentioned(agents: &[AgentEntry], text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split('@').skip(1) {
        let handle: String = word
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .collect();
        let handle = handle.trim_end_matches('.').to_lowercase();
        if handle.is_empty() {
            continue;
        }
        let first = |a: &AgentEntry| {
            a.name
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_lowercase()
        };
        let by_id_or_name = agents.iter().find(|a| {
            a.id.to_lowercase() == handle
                || a.name.split_whitespace().collect::<String>().to_lowercase() == handle
        });
        let by_first = || {
            let mut same = agents.iter().filter(|a| first(a) == handle);
            match (same.next(), same.next()) {
                (Some(a), None) => Some(a),
                _ => None,
            }
        };
        if let Some(a) = by_id_or_name.or_else(by_first) {
            if !out.contains(&a.id) {
                out.push(a.id.clone());
            }
        }
    }
    out.truncate(switchboard_protocol::limits::MAX_MENTIONS);
    out
}

/// A private note named this agent. The one entry point for what a mention does: today a
/// notice in the console's live region (see `view::note::notices`).
pub fn on_mention(console: Console, mention: Mention) {
    // While the tab is hidden the agent hears of it as of a new conversation (`notify`).
    let by = mention
        .by_name
        .clone()
        .unwrap_or_else(|| mention.by.clone());
    let title = crate::i18n::fill(crate::i18n::t().mentioned_you, &[("name", &by)]);
    let body: String = mention.text.chars().take(140).collect();
    crate::notify::raise(
        crate::notify::Kind::Mention(mention.conversation_id.clone()),
        &title,
        &body,
    );
    console.mentions.update(|all| {
        if all
            .iter()
            .any(|m| m.conversation_id == mention.conversation_id && m.seq == mention.seq)
        {
            return;
        }
        all.push(mention);
        let over = all.len().saturating_sub(MAX_NOTICES);
        all.drain(..over);
    });
}

/// The agent dealt with a notice (opened its conversation or dismissed it).
pub fn dismiss(console: Console, conversation_id: &str, seq: u64) {
    console
        .mentions
        .update(|all| all.retain(|m| !(m.conversation_id == conversation_id && m.seq == seq)));
}
