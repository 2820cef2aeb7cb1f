//! The visitor's earlier conversations in the context sidebar (the same visitor, or the same
//! verified customer on another device), asked for whenever a conversation is opened; each
//! opens read-only in the conversation's place: its transcript, no reply box, no actions.

use leptos::prelude::*;
use switchboard_protocol::linkify::{segments, Segment};
use switchboard_protocol::{ConversationSummary, SenderKind, Status};

use super::clock;
use crate::i18n::{fill, t};
use crate::lookup;
use crate::state::{Conn, Console, Line};

/// "Open", "Resolved", …, as a badge says it.
pub fn status_label(s: &ConversationSummary) -> &'static str {
    match s.status {
        Status::Open => t().status_open,
        Status::Pending => t().status_pending,
        Status::Snoozed { .. } => t().status_snoozed_short,
        Status::Resolved => t().status_resolved,
    }
}

/// The sidebar's list for the open conversation.
pub fn list(c: Console) -> impl IntoView {
    let l = c.lookup;
    // Asked again on reconnect: the answer may have changed while the socket was down.
    Effect::new(move || {
        if let (Some(id), Conn::Online) = (c.selected.get(), c.conn.get()) {
            lookup::ask_history(&id);
        }
    });
    let items = move || {
        let id = c.selected.get()?;
        l.history.with(|h| h.get(&id).cloned())
    };
    view! {
        <section class="c-box c-history" aria-labelledby="history-title" data-testid="history">
            <h3 id="history-title">{t().earlier_conversations}</h3>
            {move || match items() {
                None => view! { <p class="c-empty">{t().loading}</p> }.into_any(),
                Some(items) if items.is_empty() => {
                    view! { <p class="c-empty" data-testid="history-empty">{t().history_none}</p> }
                        .into_any()
                }
                Some(items) => view! {
                    <ul class="c-history-list">
                        {items.into_iter().map(|s| item(c, s)).collect_view()}
                    </ul>
                }
                .into_any(),
            }}
        </section>
    }
}

fn item(c: Console, s: ConversationSummary) -> impl IntoView {
    let preview = s
        .last_message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default();
    let id = s.id.clone();
    let status = status_label(&s);
    view! {
        <li>
            <button
                type="button"
                class="c-history-item"
                data-testid="history-item"
                data-conversation=s.id.clone()
                on:click=move |_| lookup::view_read_only(c, &id)
            >
                <span class="c-history-when"><time>{clock(s.created_at)}</time> " · " {status}</span>
                <span class="c-preview">{preview}</span>
            </button>
        </li>
    }
}

/// An earlier conversation, read-only.
pub fn read_only(c: Console) -> impl IntoView {
    let l = c.lookup;
    let lines = move || {
        let id = l.read_only.get()?;
        c.transcripts.with(|all| all.get(&id).cloned())
    };
    let summary = move || {
        let id = l.read_only.get()?;
        c.summaries.with(|all| all.get(&id).cloned())
    };
    let title = move || {
        summary().map_or_else(
            || t().earlier_conversation.to_owned(),
            |s| {
                fill(
                    t().earlier_conversation_at,
                    &[("time", &clock(s.created_at)), ("status", status_label(&s))],
                )
            },
        )
    };
    view! {
        <div class="c-read-only" data-testid="read-only">
            <div class="c-search-head">
                <h2 data-testid="read-only-title">{title}</h2>
                <button type="button" data-testid="read-only-close" on:click=move |_| l.read_only.set(None)>
                    {t().back_to_the_conversation}
                </button>
            </div>
            <p class="c-read-only-note">{t().read_only_note}</p>
            <div class="c-log" role="log" aria-label=t().earlier_transcript>
                <ol class="c-transcript" data-testid="read-only-transcript">
                    <For
                        each=move || lines().unwrap_or_default()
                        key=|l| l.render_key()
                        children=row
                    />
                </ol>
            </div>
        </div>
    }
}

fn row(l: Line) -> impl IntoView {
    let (sender, name) = match l.kind {
        SenderKind::Visitor => ("visitor", t().visitor),
        SenderKind::Agent => ("agent", t().agent),
        SenderKind::Bot => ("bot", t().bot),
        SenderKind::System => ("system", t().system),
    };
    let name = l.name.clone().unwrap_or_else(|| name.into());
    if l.kind == SenderKind::System {
        return view! {
            <li class="c-system" data-testid="message" data-sender="system">
                <span class="c-text">{l.text}</span> " " <time class="c-system-at">{clock(l.at)}</time>
            </li>
        }
        .into_any();
    }
    let body = segments(&l.text)
        .into_iter()
        .map(|s| match s {
            Segment::Text(t) => t.into_any(),
            Segment::Link(url) => {
                let shown = url.clone();
                view! { <a href=url target="_blank" rel="noopener noreferrer nofollow">{shown}</a> }
                    .into_any()
            }
        })
        .collect_view();
    view! {
        <li
            class="c-message"
            class:c-mine=l.kind == SenderKind::Agent
            class:c-note=l.kind == SenderKind::Bot
            data-testid="message"
            data-sender=sender
        >
            <div class="c-meta">
                <span class="c-sender">{name}</span>
                <time>{clock(l.at)}</time>
            </div>
            <div class="c-text" data-testid="message-text">{body}</div>
        </li>
    }
    .into_any()
}
