//! Presence: the agent's own switch in the header (online takes conversations, away keeps the
//! connection but is assigned nothing new, offline appears offline), and how other agents'
//! presence reads where they are offered (assign and transfer pickers).

use leptos::prelude::*;
use switchboard_protocol::Presence;

use crate::desk;
use crate::i18n::{fill, t};
use crate::state::Console;

pub fn key(p: Presence) -> &'static str {
    match p {
        Presence::Online => "online",
        Presence::Away => "away",
        Presence::Offline => "offline",
    }
}

fn parse(s: &str) -> Option<Presence> {
    match s {
        "online" => Some(Presence::Online),
        "away" => Some(Presence::Away),
        "offline" => Some(Presence::Offline),
        _ => None,
    }
}

/// An agent's status as the relay last told it; no news is offline.
pub fn of(c: Console, agent: &str) -> Presence {
    c.presence
        .with(|p| p.get(agent).copied())
        .unwrap_or(Presence::Offline)
}

/// "Sam · online", for picker options.
pub fn named(c: Console, id: &str, name: &str) -> String {
    let s = t();
    let status = match of(c, id) {
        Presence::Online => s.status_online,
        Presence::Away => s.status_away,
        Presence::Offline => s.status_offline,
    };
    fill(s.presence_named, &[("name", name), ("status", status)])
}

pub fn switch(c: Console) -> impl IntoView {
    view! {
        <label class="c-presence" data-state=move || key(c.my_presence.get())>
            <span class="c-sr">{t().your_status}</span>
            <span class="c-presence-dot" aria-hidden="true"></span>
            <select
                data-testid="presence-select"
                prop:value=move || key(c.my_presence.get())
                on:change=move |ev| {
                    if let Some(p) = parse(&event_target_value(&ev)) {
                        desk::set_presence(c, p);
                    }
                }
            >
                <option value="online">{t().presence_online}</option>
                <option value="away">{t().presence_away}</option>
                <option value="offline">{t().presence_offline}</option>
            </select>
        </label>
    }
}
