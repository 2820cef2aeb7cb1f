//! The open view's conversations: newest activity first, unread marks, and on every line who
//! has it, its team, and its priority and status when they are not the usual ones.

use leptos::prelude::*;
use switchboard_protocol::{ConversationSummary, Priority, Status};

use super::handoff::owner_badge;
use super::layout::{self, Pane};
use super::{relative, views};
use crate::connection;
use crate::desk::{
    agent_name, priority_key, priority_label, status_key, status_label, team_name, team_of,
};
use crate::i18n::{fill, t};
use crate::state::Console;

pub fn inbox(c: Console) -> impl IntoView {
    view! {
        <nav class="c-inbox" aria-label=t().conversations>
            <h2>{t().inbox}</h2>
            {views::tabs(c)}
            <div
                role="tabpanel"
                id=views::PANEL_ID
                aria-labelledby=move || views::tab_id(c.view.get())
            >
                <Show when=move || c.inbox.with(|i| i.is_empty())>
                    <p class="c-empty">{t().no_conversations}</p>
                </Show>
                <ul data-testid="conversation-list">
                    // Keyed on what the line shows, so an update re-renders just that line
                    // (`version` moves with every assignee, team, status and priority change).
                    <For
                        each=move || c.inbox.get()
                        key=|s| (s.id.clone(), s.last_seq, s.last_activity, s.visitor_name.clone(), s.page_title.clone(), s.owner.clone(), s.handoff.is_some(), s.version)
                        children=move |s| item(c, s)
                    />
                </ul>
            </div>
        </nav>
    }
}

/// "Visitor 3f9a1c" from an id like `v_3f9a1c…`.
fn short_id(id: &str) -> String {
    let tail = id.split_once('_').map_or(id, |(_, t)| t);
    tail.chars().take(6).collect()
}

/// How the agent knows the visitor: their name, else "Visitor 3f9a1c".
pub fn visitor_label(s: &ConversationSummary) -> String {
    s.visitor_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| fill(t().visitor_short, &[("id", &short_id(&s.visitor_id))]))
}

fn item(c: Console, s: ConversationSummary) -> impl IntoView {
    let who = visitor_label(&s);
    let page = s.page_title.clone().unwrap_or_default();
    let preview = s
        .last_message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default();
    let at = s.last_activity;
    let badge = owner_badge(&s).map(|(kind, text)| {
        view! { <span class="c-badge" data-testid="owner-badge" data-owner=kind>{text}</span> }
    });
    let tags = tags(c, &s);
    let id = StoredValue::new(s.id.clone());
    let summary = StoredValue::new(s);
    let unread = move || summary.with_value(|s| c.unread(s));
    let selected = move || {
        c.selected
            .with(|sel| id.with_value(|id| sel.as_ref() == Some(id)))
    };
    view! {
        <li
            data-testid="conversation"
            data-id=id.get_value()
            data-unread=move || if unread() { "true" } else { "false" }
            class="c-item"
            class:c-unread=unread
            class:c-selected=selected
        >
            <button
                type="button"
                aria-current=move || selected().then_some("true")
                on:click=move |_| {
                    connection::open(c, &id.get_value());
                    layout::show(c, Pane::Conversation);
                }
            >
                <span class="c-who">
                    <span class="c-dot" aria-hidden="true"></span>
                    {who}
                    {badge}
                    <Show when=unread>
                        <span class="c-sr">{t().unread_mark}</span>
                    </Show>
                </span>
                <time class="c-when">{move || relative(at, c.now.get())}</time>
                <span class="c-page">{page}</span>
                <span class="c-preview">{preview}</span>
                {tags}
            </button>
        </li>
    }
}

/// Who has it and where it waits; priority and status only when they are not normal / open.
fn tags(c: Console, s: &ConversationSummary) -> impl IntoView {
    let assignee = s
        .assignee
        .as_deref()
        .map_or(t().unassigned.to_owned(), agent_name);
    let team = c
        .directory
        .with_untracked(|d| team_of(d, s))
        .map(|t| team_name(&t));
    let priority = (s.priority != Priority::Normal).then(|| {
        view! {
            <span class="c-tag c-prio" data-testid="line-priority" data-priority=priority_key(s.priority)>
                {priority_label(s.priority)}
            </span>
        }
    });
    let state = s.status.at(js_sys::Date::now() as u64);
    let status = (state != Status::Open).then(|| {
        view! {
            <span class="c-tag c-st" data-testid="line-status" data-status=status_key(state)>
                {status_label(state)}
            </span>
        }
    });
    view! {
        <span class="c-tags">
            <span class="c-tag" data-testid="line-assignee" data-assigned=s.assignee.is_some().to_string()>
                {assignee}
            </span>
            {team.map(|t| view! { <span class="c-tag" data-testid="line-team">{t}</span> })}
            {priority}
            {status}
        </span>
    }
}
