//! Who answers a conversation: the site's routing policy at creation, the bot's view of a
//! conversation it is given, and the humans-first fallback to the bot.

use std::time::Duration;

use switchboard_protocol::limits::{MAX_HISTORY_BATCH, MAX_INBOX};
use switchboard_protocol::server::Routed;
use switchboard_protocol::{ConversationSummary, InboxCursor, Owner, SenderKind, ServerMsg};

use super::{notify, presence};
use crate::broker::{
    Appended, Audience, Change, Conversation, Event, HandoffChange, Lifecycle, Result, StoreError,
};
use crate::config::{Routing, Site};
use crate::{clock, AppState};

/// The owner of a new conversation of `site`.
pub fn initial_owner(site: &Site) -> Owner {
    match (site.routing, &site.bot) {
        (Routing::BotFirst, Some(id)) => Owner::Bot { id: id.clone() },
        _ => Owner::Humans,
    }
}

/// Everything a bot needs to answer a conversation without asking again.
pub async fn routed(state: &AppState, conversation_id: &str) -> Result<Option<ServerMsg>> {
    match state.broker.summary(conversation_id).await? {
        Some(summary) => routed_from(state, summary).await.map(Some),
        None => Ok(None),
    }
}

/// [`routed`] for a summary the caller has just read (an inbox listing).
pub async fn routed_from(state: &AppState, conversation: ConversationSummary) -> Result<ServerMsg> {
    let context = state.broker.conversation_context(&conversation.id).await?;
    // The latest batch: a long conversation's start matters less than its end.
    let since = conversation
        .last_seq
        .saturating_sub(MAX_HISTORY_BATCH as u64);
    // Private notes reach a bot as bare entries, like the visitor's.
    let transcript = state
        .broker
        .history(&conversation.id, since, MAX_HISTORY_BATCH)
        .await?
        .into_iter()
        .map(crate::broker::lifecycle::bot_copy)
        .collect();
    Ok(ServerMsg::Routed(Routed {
        conversation,
        context,
        transcript,
    }))
}

/// Gives the bot a conversation it now owns.
pub async fn route(state: &AppState, conversation_id: &str, bot_id: &str) -> Result<()> {
    if let Some(frame) = routed(state, conversation_id).await? {
        notify(state, bot_id, conversation_id, frame).await;
    }
    Ok(())
}

/// Every conversation of a site that one owner owns, a page at a time (newest activity first):
/// memory bounded by a page however many there are, and no cap on how many. Reads the site's
/// inbox with its cursor and keeps the owner's; a conversation that becomes active while the
/// pages are read moves ahead of the cursor and is not read again (it had its live event).
pub struct Owned {
    sites: [String; 1],
    owner: Owner,
    cursor: Option<InboxCursor>,
    done: bool,
}

impl Owned {
    pub fn new(site: &str, owner: Owner) -> Owned {
        Owned::after(site, owner, None)
    }

    /// The same, from a position in the inbox (exclusive) on.
    pub fn after(site: &str, owner: Owner, cursor: Option<InboxCursor>) -> Owned {
        Owned {
            sites: [site.to_owned()],
            owner,
            cursor,
            done: false,
        }
    }

    /// The owner's conversations among the next [`MAX_INBOX`] of the site (possibly none);
    /// `None` once every page was read.
    pub async fn next_page(
        &mut self,
        state: &AppState,
    ) -> Result<Option<Vec<ConversationSummary>>> {
        if self.done {
            return Ok(None);
        }
        let page = state
            .broker
            .inbox(&self.sites, self.cursor.as_ref(), MAX_INBOX)
            .await?;
        self.done = page.next.is_none();
        self.cursor = page.next;
        Ok(Some(
            page.items
                .into_iter()
                .filter(|c| c.owner == self.owner)
                .collect(),
        ))
    }
}

/// After a bot's handoff: the conversation enters the handoff's team queue at its priority.
/// The handoff has happened, so this must land whatever agents changed meanwhile: a conflict
/// is retried on the state it reports. A handoff that changes nothing of the lifecycle (no
/// team, the priority it had) records nothing.
pub async fn enter_queue(
    state: &AppState,
    conv: &Conversation,
    bot: &str,
    route: Lifecycle,
) -> Result<()> {
    // A handoff naming no team, of a conversation in none, enters the site's default team's
    // queue: every human-owned conversation waits in some queue.
    let route = match route {
        Lifecycle::HandedOff {
            team: None,
            priority,
        } if conv.state.team.is_none() => Lifecycle::HandedOff {
            team: state
                .sites
                .get(&conv.site)
                .and_then(|s| s.default_team.clone()),
            priority,
        },
        other => other,
    };
    let mut version = conv.state.version;
    for _ in 0..5 {
        let change = Change {
            by: bot.to_owned(),
            at: state.config.clock.now(),
            what: route.clone(),
            names: Default::default(),
        };
        match state.broker.change(&conv.id, version, change).await {
            Ok(changed) => {
                crate::site_webhooks::record(state, &conv.site, &[&changed.message]).await;
                state.assigner.wake();
                return Ok(());
            }
            Err(StoreError::Invalid(_)) => {
                state.assigner.wake();
                return Ok(());
            }
            Err(StoreError::Conflict(current)) => version = current.version,
            Err(e) => return Err(e),
        }
    }
    tracing::warn!(conversation = %conv.id, "handoff routing kept conflicting; left as it is");
    Ok(())
}

/// Tells the site's agents (and so the console) that a conversation's line changed.
pub async fn publish_summary(state: &AppState, conversation_id: &str) -> Result<()> {
    if let Some(summary) = state.broker.summary(conversation_id).await? {
        publish_line(state, summary).await;
    }
    Ok(())
}

/// The same, for a summary the caller has just read.
pub async fn publish_line(state: &AppState, summary: ConversationSummary) {
    if summary.last_seq > 0 {
        let (site, id) = (summary.site.clone(), summary.id.clone());
        let msg = ServerMsg::Conversation(summary);
        state
            .broker
            .publish(Event::new(Audience::Agents, &site, &id, &msg))
            .await;
    }
}

/// Whether the conversation's last word is the visitor's: a question still to answer.
pub(crate) fn awaits_answer(summary: &ConversationSummary) -> bool {
    summary
        .last_message
        .as_ref()
        .is_some_and(|m| m.sender == SenderKind::Visitor)
}

/// After a visitor's message (or postback) is stored: the owning bot gets it (the whole
/// conversation if it is the first message); under humans-first, the bot steps in when no
/// agent is online or nobody answered in time.
pub async fn after_visitor_message(state: &AppState, conv: &Conversation, appended: &Appended) {
    if appended.duplicate {
        return;
    }
    let m = &appended.message;
    let result = match &appended.owner {
        Owner::Bot { id } if m.seq == 1 => route(state, &conv.id, id).await,
        Owner::Bot { id } => {
            notify(state, id, &conv.id, ServerMsg::Message(m.clone())).await;
            Ok(())
        }
        Owner::Humans => humans_first(state, conv).await,
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, conversation = %conv.id, "routing to bot failed");
    }
}

async fn humans_first(state: &AppState, conv: &Conversation) -> Result<()> {
    let Some(site) = state.sites.get(&conv.site).cloned() else {
        return Ok(());
    };
    let (Routing::HumansFirst, Some(bot)) = (site.routing, site.bot.clone()) else {
        return Ok(());
    };
    if !presence::agents_online(state, &site.key).await? {
        return take_unanswered(state, &conv.id, &bot).await;
    }
    let state = state.clone();
    let id = conv.id.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(site.bot_after_secs)) => {}
            _ = state.shutdown.cancelled() => return,
        }
        if let Err(e) = take_unanswered(&state, &id, &bot).await {
            tracing::warn!(error = %e, conversation = %id, "bot fallback failed");
        }
    });
    Ok(())
}

/// Moves a humans-first conversation to the bot if the visitor is still waiting: the humans
/// own it, no bot ever handed it off (that would bounce it back), and the last word is the
/// visitor's. The compare-and-set makes concurrent timers and nodes take it at most once.
async fn take_unanswered(state: &AppState, conversation_id: &str, bot: &str) -> Result<()> {
    let Some(summary) = state.broker.summary(conversation_id).await? else {
        return Ok(());
    };
    if summary.owner != Owner::Humans || summary.handoff.is_some() || !awaits_answer(&summary) {
        return Ok(());
    }
    let new = Owner::Bot { id: bot.to_owned() };
    if state
        .broker
        .set_owner(conversation_id, &Owner::Humans, &new, HandoffChange::Keep)
        .await?
    {
        tracing::info!(
            conversation = conversation_id,
            bot,
            at = clock::now(),
            "no agent answered; bot takes over"
        );
        route(state, conversation_id, bot).await?;
        publish_summary(state, conversation_id).await?;
    }
    Ok(())
}
