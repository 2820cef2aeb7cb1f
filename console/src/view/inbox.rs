//! The live inbox: newest activity first, unread marks.

use leptos::prelude::*;
use switchboard_protocol::ConversationSummary;

use super::handoff::owner_badge;
use super::relative;
use crate::connection;
use crate::state::Console;

pub fn inbox(c: Console) -> impl IntoView {
    view! {
        <nav class="c-inbox" aria-label="Conversations">
            <h2>"Inbox"</h2>
            <Show when=move || c.inbox.with(|i| i.is_empty())>
                <p class="c-empty">"No conversations yet."</p>
            </Show>
            <ul data-testid="conversation-list">
                // Keyed on what the line shows, so an update re-renders just that line.
                <For
                    each=move || c.inbox.get()
                    key=|s| (s.id.clone(), s.last_seq, s.last_activity, s.visitor_name.clone(), s.page_title.clone(), s.owner.clone(), s.handoff.is_some())
                    children=move |s| item(c, s)
                />
            </ul>
        </nav>
    }
}

/// "Visitor 3f9a1c" from an id like `v_3f9a1c…`.
fn short_id(id: &str) -> String {
    let tail = id.split_once('_').map_or(id, |(_, t)| t);
    tail.chars().take(6).collect()
}

fn item(c: Console, s: ConversationSummary) -> impl IntoView {
    let who = s
        .visitor_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("Visitor {}", short_id(&s.visitor_id)));
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
                on:click=move |_| connection::open(c, &id.get_value())
            >
                <span class="c-who">
                    <span class="c-dot" aria-hidden="true"></span>
                    {who}
                    {badge}
                    <Show when=unread>
                        <span class="c-sr">" (unread)"</span>
                    </Show>
                </span>
                <time class="c-when">{move || relative(at, c.now.get())}</time>
                <span class="c-page">{page}</span>
                <span class="c-preview">{preview}</span>
            </button>
        </li>
    }
}
