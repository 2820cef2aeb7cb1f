//! The conversation's story: the relay's system events as quiet centred lines in the
//! transcript ("Alex joined", "Transferred to Billing", "Resolved"), worded in the visitor's
//! language from the event's code, and the notices under the transcript (queue position,
//! resolved).

use leptos::prelude::*;
use switchboard_protocol::SystemEvent;

use crate::i18n::Strings;
use crate::state::Widget;

/// The line for an event, or `None` for one the visitor is not shown (the relay already keeps
/// the helpdesk's own events from visitors; an unknown one stays quiet too).
pub fn text(s: &Strings, event: &SystemEvent) -> Option<String> {
    let name = |name: &Option<String>, id: &Option<String>| name.clone().or_else(|| id.clone());
    match event {
        SystemEvent::Assigned {
            agent, agent_name, ..
        } => Some(
            s.joined
                .replace("{name}", agent_name.as_deref().unwrap_or(agent.as_str())),
        ),
        SystemEvent::Transferred {
            to_agent,
            to_team,
            to_agent_name,
            to_team_name,
            ..
        } => {
            // A team says more to the visitor than the agent within it.
            let to = name(to_team_name, to_team).or_else(|| name(to_agent_name, to_agent))?;
            Some(s.transferred.replace("{name}", &to))
        }
        SystemEvent::Resolved { .. } => Some(s.resolved.to_owned()),
        SystemEvent::Reopened { .. } => Some(s.reopened.to_owned()),
        SystemEvent::Rated { score, scale, .. } => Some(
            s.rated
                .replace("{score}", &super::csat::score_text(s, *score, *scale)),
        ),
        _ => None,
    }
}

/// One event as a line of the log.
pub fn row(w: Widget, event: &SystemEvent) -> impl IntoView {
    let code = event.code();
    let event = event.clone();
    let text = move || text(w.t(), &event).unwrap_or_default();
    view! {
        <li class="sb-event" data-testid="system-event" data-code=code>
            {text}
        </li>
    }
}

/// Under the transcript: the queue position while the conversation waits for an agent, and
/// the resolved state (the composer stays: writing reopens).
pub fn notices(w: Widget) -> impl IntoView {
    // Plain closures, not a memo: the check is a short scan, and a memo's machinery would
    // cost the wasm more than it saves.
    let resolved = move || w.resolved();
    let queue = move || match (resolved(), w.queue.get()) {
        (false, Some(n)) => Some(w.t().queue(n)),
        _ => None,
    };
    view! {
        {move || resolved().then(|| view! {
            <p class="sb-notice sb-resolved" data-testid="conversation-resolved" role="status">
                {w.tr(|s| s.resolved_notice)}
            </p>
        })}
        {move || queue().map(|text| view! {
            <p class="sb-notice" data-testid="queue-position" role="status">{text}</p>
        })}
    }
}

/// The header's line once connected: someone is there (and how soon they usually answer), or
/// nobody is.
pub fn availability(w: Widget) -> Option<String> {
    let s = w.t();
    match (w.online.get()?, w.typical_reply_ms.get()) {
        (true, Some(ms)) => Some(s.replies_in(ms)),
        (true, None) => Some(s.we_are_online.to_owned()),
        (false, _) => Some(s.away.to_owned()),
    }
}
