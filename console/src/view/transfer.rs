//! The transfer dialog: to a team's queue, to an agent (of that team, when one is chosen), or
//! both, with an optional note for the next agent (never shown to the visitor). Escape or
//! Cancel closes it and focus returns to the Transfer button.

use leptos::ev::KeyboardEvent;
use leptos::html::Select;
use leptos::prelude::*;
use switchboard_protocol::limits::MAX_NOTE_BYTES;
use switchboard_protocol::ConversationSummary;

use super::actions::TRANSFER_BUTTON_ID;
use super::presence;
use crate::desk::{self, team_of};
use crate::i18n::t;
use crate::state::Console;

fn close(open: RwSignal<bool>) {
    open.set(false);
    if let Some(button) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(TRANSFER_BUTTON_ID))
        .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
    {
        let _ = button.focus();
    }
}

pub fn dialog(c: Console, s: ConversationSummary, open: RwSignal<bool>) -> impl IntoView {
    let site = s.site.clone();
    let current_team = c.directory.with_untracked(|d| team_of(d, &s));
    let teams: Vec<(String, String)> = c.directory.with_untracked(|d| {
        d.teams
            .iter()
            .filter(|t| t.site == site)
            .map(|t| (t.id.clone(), t.name.clone()))
            .collect()
    });
    let team = RwSignal::new(String::new());
    let agent = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let first = NodeRef::<Select>::new();
    Effect::new(move || {
        if let Some(select) = first.get() {
            let _ = select.focus();
        }
    });
    // The agents a transfer may name: the chosen team's members, else the site's agents.
    let agents = move || {
        let chosen = team.get();
        c.directory.with(|d| {
            let members = d
                .teams
                .iter()
                .find(|t| t.id == chosen && t.site == site)
                .map(|t| t.members.clone());
            d.agents
                .iter()
                .filter(|a| a.sites.contains(&site))
                .filter(|a| members.as_ref().is_none_or(|m| m.contains(&a.id)))
                .map(|a| (a.id.clone(), a.name.clone()))
                .collect::<Vec<_>>()
        })
    };
    let summary = StoredValue::new(s);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let to_team = Some(team.get_untracked()).filter(|t| !t.is_empty());
        let to_agent = Some(agent.get_untracked()).filter(|a| !a.is_empty());
        // Neither chosen: back into the queue of the team it is in.
        let to_team = match (&to_team, &to_agent) {
            (None, None) => current_team.clone(),
            _ => to_team,
        };
        let note = Some(note.get_untracked().trim().to_owned()).filter(|n| !n.is_empty());
        summary.with_value(|s| desk::transfer(c, s, to_agent, to_team, note));
        close(open);
    };
    let keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            close(open);
        }
    };
    let team_options = teams
        .into_iter()
        .map(|(id, name)| view! { <option value=id>{name}</option> })
        .collect_view();
    view! {
        <div
            class="c-dialog"
            role="dialog"
            aria-labelledby="transfer-title"
            data-testid="transfer-dialog"
            on:keydown=keydown
        >
            <h3 id="transfer-title">{t().transfer_title}</h3>
            <form on:submit=submit>
                <label for="transfer-team">{t().team}</label>
                <select
                    id="transfer-team"
                    data-testid="transfer-team"
                    node_ref=first
                    prop:value=move || team.get()
                    on:change=move |ev| {
                        team.set(event_target_value(&ev));
                        agent.set(String::new());
                    }
                >
                    <option value="">{t().keep_team}</option>
                    {team_options}
                </select>
                <label for="transfer-agent">{t().agent}</label>
                <select
                    id="transfer-agent"
                    data-testid="transfer-agent"
                    prop:value=move || agent.get()
                    on:change=move |ev| agent.set(event_target_value(&ev))
                >
                    <option value="">{t().anyone_in_team}</option>
                    {move || {
                        agents()
                            .into_iter()
                            .map(|(id, name)| {
                                let text = presence::named(c, &id, &name);
                                view! { <option value=id>{text}</option> }
                            })
                            .collect_view()
                    }}
                </select>
                <label for="transfer-note">{t().note_for_next}</label>
                <textarea
                    id="transfer-note"
                    data-testid="transfer-note"
                    maxlength=MAX_NOTE_BYTES.to_string()
                    prop:value=move || note.get()
                    on:input=move |ev| note.set(event_target_value(&ev))
                ></textarea>
                <div class="c-buttons">
                    <button type="submit" class="c-primary" data-testid="transfer-submit">{t().transfer}</button>
                    <button type="button" data-testid="transfer-cancel" on:click=move |_| close(open)>{t().cancel}</button>
                </div>
            </form>
        </div>
    }
}
