//! Who answers the open conversation, above its transcript: a bot (replying takes it over), or
//! the humans after a bot's handoff, with the bot's reason, summary, team, priority and the
//! fields it collected, so the agent never asks the visitor again. A conversation a bot handed
//! off can be handed back to the site's bot.

use leptos::prelude::*;
use switchboard_protocol::{ConversationSummary, HandedOff, HandoffReason, Owner, Priority};

use crate::connection;
use crate::state::Console;

pub fn banner(c: Console) -> impl IntoView {
    // A memo, so activity in other conversations does not re-render the card.
    let line = Memo::new(move |_| {
        let id = c.selected.get()?;
        // From every summary heard of: the open conversation may have left the open tab.
        c.summaries
            .with(|all| all.get(&id).map(|s| (s.owner.clone(), s.handoff.clone())))
    });
    move || {
        match line.get() {
        Some((Owner::Bot { id }, _)) => view! {
            <p class="c-owner-bot" data-testid="bot-owner" role="status">
                "The bot " <strong>{id}</strong> " is answering. A reply from you takes the conversation over."
            </p>
        }
        .into_any(),
        Some((Owner::Humans, Some(h))) => card(c, h).into_any(),
        _ => ().into_any(),
    }
    }
}

fn reason(r: HandoffReason) -> &'static str {
    match r {
        HandoffReason::Requested => "Visitor asked for a person",
        HandoffReason::Frustration => "Visitor sounds frustrated",
        HandoffReason::CannotHelp => "Bot could not help",
        HandoffReason::Policy => "Site policy",
        HandoffReason::Other => "Other",
    }
}

fn priority(p: Priority) -> &'static str {
    match p {
        Priority::Low => "low",
        Priority::Normal => "normal",
        Priority::High => "high",
        Priority::Urgent => "urgent",
    }
}

fn card(c: Console, h: HandedOff) -> impl IntoView {
    let HandedOff { by, handoff, .. } = h;
    let fields = handoff
        .fields
        .into_iter()
        .map(|(k, v)| {
            view! {
                <dt>{k.clone()}</dt>
                <dd data-testid="handoff-field" data-key=k>{v}</dd>
            }
        })
        .collect_view();
    let hand_back = move |_| {
        if let Some(conv) = c.selected.get_untracked() {
            connection::hand_back(&conv);
        }
    };
    view! {
        <section class="c-handoff" data-testid="handoff" aria-label="Handoff from the bot">
            <p class="c-handoff-head">
                <strong data-testid="handoff-reason">{reason(handoff.reason)}</strong>
                " · handed off by " {by}
                " · priority "
                <span data-testid="handoff-priority" data-priority=priority(handoff.priority)>
                    {priority(handoff.priority)}
                </span>
                {handoff.team.map(|t| view! { " · team " <span data-testid="handoff-team">{t}</span> })}
            </p>
            <p class="c-handoff-summary" data-testid="handoff-summary">{handoff.summary}</p>
            <dl class="c-handoff-fields">{fields}</dl>
            <button type="button" class="c-hand-back" data-testid="hand-back" on:click=hand_back>
                "Hand back to bot"
            </button>
        </section>
    }
}

/// The inbox's marker of who answers: "Bot", or "Handoff" while a handed-off conversation waits.
pub fn owner_badge(s: &ConversationSummary) -> Option<(&'static str, &'static str)> {
    match (&s.owner, &s.handoff) {
        (Owner::Bot { .. }, _) => Some(("bot", "Bot")),
        (Owner::Humans, Some(_)) => Some(("handoff", "Handoff")),
        _ => None,
    }
}
