//! The live inbox: newest activity first, unread marks.

use leptos::prelude::*;
use switchboard_protocol::ConversationSummary;

use super::clock;
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
                <For
                    each=move || c.inbox.get()
                    key=|s| format!("{}|{}|{}", s.id, s.last_seq, s.last_activity)
                    children=move |s| item(c, s)
                />
            </ul>
        </nav>
    }
}

fn item(c: Console, s: ConversationSummary) -> impl IntoView {
    let id = s.id.clone();
    let who = s.visitor_name.clone().unwrap_or_else(|| {
        format!(
            "Visitor {}",
            s.visitor_id.chars().skip(2).take(6).collect::<String>()
        )
    });
    let page = s.page_title.clone().unwrap_or_default();
    let preview = s
        .last_message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default();
    let summary = StoredValue::new(s.clone());
    let unread = move || summary.with_value(|s| c.unread(s));
    let selected = {
        let id = id.clone();
        move || c.selected.get().as_deref() == Some(id.as_str())
    };
    let open = {
        let id = id.clone();
        move |_| {
            c.selected.set(Some(id.clone()));
            c.mark_seen(&id);
            connection::sync(c, &id);
        }
    };
    view! {
        <li
            data-testid="conversation"
            data-id=id.clone()
            data-unread=move || if unread() { "true" } else { "false" }
            class="c-item"
            class:c-unread=unread
            class:c-selected=selected
        >
            <button on:click=open>
                <span class="c-who">{who}</span>
                <span class="c-when">{clock(s.last_activity)}</span>
                <span class="c-page">{page}</span>
                <span class="c-preview">{preview}</span>
            </button>
        </li>
    }
}
