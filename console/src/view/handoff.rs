//! Who answers the open conversation, above its transcript: a bot (replying takes it over), or
//! the humans after a bot's handoff, with the bot's reason, summary, team, priority, the
//! visitor's language and mood when the bot measured them, and the
//! fields it collected, so the agent never asks the visitor again. A conversation a bot handed
//! off can be handed back to the site's bot.

use leptos::prelude::*;
use switchboard_protocol::{ConversationSummary, HandedOff, HandoffReason, Owner, Priority};

use crate::connection;
use crate::i18n::t;
use crate::state::Console;

pub fn banner(c: Console) -> impl IntoView {
    // A memo, so activity in other conversations does not re-render the card.
    let line = Memo::new(move |_| {
        let id = c.selected.get()?;
        // From every summary heard of: the open conversation may have left the open tab.
        c.summaries
            .with(|all| all.get(&id).map(|s| (s.owner.clone(), s.handoff.clone())))
    });
    move || match line.get() {
        Some((Owner::Bot { id }, _)) => view! {
            <p class="c-owner-bot" data-testid="bot-owner" role="status">
                {bot_answering(&id)}
            </p>
        }
        .into_any(),
        Some((Owner::Humans, Some(h))) => card(c, h).into_any(),
        _ => ().into_any(),
    }
}

/// "The bot orderbot is answering…", the bot's id in bold wherever the language puts it.
fn bot_answering(id: &str) -> impl IntoView {
    let (before, after) = t()
        .bot_answering
        .split_once("{bot}")
        .unwrap_or((t().bot_answering, ""));
    view! { {before} <strong>{id.to_owned()}</strong> {after} }
}

fn reason(r: HandoffReason) -> &'static str {
    let s = t();
    match r {
        HandoffReason::Requested => s.reason_requested,
        HandoffReason::Frustration => s.reason_frustration,
        HandoffReason::CannotHelp => s.reason_cannot_help,
        HandoffReason::Policy => s.reason_policy,
        HandoffReason::Other => s.reason_other,
    }
}

fn priority(p: Priority) -> String {
    crate::desk::priority_label(p).to_lowercase()
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
        <section class="c-handoff" data-testid="handoff" aria-label=t().handoff_from_bot>
            <p class="c-handoff-head">
                <strong data-testid="handoff-reason">{reason(handoff.reason)}</strong>
                {t().handed_off_by} {by}
                {t().priority_label_inline}
                <span data-testid="handoff-priority" data-priority=crate::desk::priority_key(handoff.priority)>
                    {priority(handoff.priority)}
                </span>
                {handoff.team.map(|team| view! { {t().team_label_inline} <span data-testid="handoff-team">{team}</span> })}
                {handoff.language.map(|l| view! { {t().language_label_inline} <span data-testid="handoff-language" lang="en">{l}</span> })}
                {handoff.sentiment.map(|s| view! {
                    {t().sentiment_label_inline}
                    <span data-testid="handoff-sentiment" data-negative=(s < 0).to_string()>{format!("{s:+}")}</span>
                })}
            </p>
            <p class="c-handoff-summary" data-testid="handoff-summary">{handoff.summary}</p>
            <dl class="c-handoff-fields">{fields}</dl>
            <button type="button" class="c-hand-back" data-testid="hand-back" on:click=hand_back>
                {t().hand_back}
            </button>
        </section>
    }
}

/// The inbox's marker of who answers: "Bot", or "Handoff" while a handed-off conversation waits.
pub fn owner_badge(s: &ConversationSummary) -> Option<(&'static str, &'static str)> {
    match (&s.owner, &s.handoff) {
        (Owner::Bot { .. }, _) => Some(("bot", t().bot)),
        (Owner::Humans, Some(_)) => Some(("handoff", t().badge_handoff)),
        _ => None,
    }
}
