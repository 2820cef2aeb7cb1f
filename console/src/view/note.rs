//! Private notes on screen: the note card in the transcript (yellow, labelled "Private note"
//! so it reads as one without colour), the reply box's switch between replying and writing a
//! note, the agents a note can mention, and the notices of notes that mention this agent.

use leptos::prelude::*;

use super::clock;
use crate::i18n::{fill, t};
use crate::state::{Console, Line};
use crate::{connection, desk, notes};

/// One note in the transcript.
pub fn card(c: Console, l: Line) -> impl IntoView {
    let name = l.name.clone().unwrap_or_else(|| t().agent.into());
    let mentions = l
        .note
        .as_ref()
        .map(|n| {
            n.mentions
                .iter()
                .map(|id| desk::agent_name(id))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let body = super::transcript::linked(&l.text);
    let reason = l.error.clone().unwrap_or_default();
    let failed = fill(t().not_saved, &[("message", &reason)]);
    let status = super::transcript::delivery_status(c, &l, t().saving, failed);
    view! {
        <li
            class="c-note-card"
            data-testid="note"
            data-sender="agent"
            data-state=l.delivery.as_str()
            data-seq=l.seq.map(|s| s.to_string())
        >
            <div class="c-meta">
                <span class="c-note-label">{t().private_note}</span>
                <span class="c-sender" data-testid="message-sender">{name}</span>
                <time>{clock(l.at)}</time>
                {status}
            </div>
            <div class="c-text" data-testid="note-text">{body}</div>
            {(!mentions.is_empty()).then(|| view! {
                <p class="c-note-mentions" data-testid="note-mentions">
                    {fill(t().note_mentions, &[("names", &mentions.join(", "))])}
                </p>
            })}
        </li>
    }
}

/// The reply box's two modes: a reply the visitor reads, or a private note only agents read.
/// A pair of toggle buttons, so the choice is one Tab stop each and says its state.
pub fn mode_switch(as_note: RwSignal<bool>) -> impl IntoView {
    view! {
        <div class="c-mode" role="group" aria-label=t().write>
            <button
                type="button"
                class="c-mode-btn"
                data-testid="mode-reply"
                aria-pressed=move || (!as_note.get()).to_string()
                on:click=move |_| as_note.set(false)
            >
                {t().reply}
            </button>
            <button
                type="button"
                class="c-mode-btn"
                data-testid="mode-note"
                aria-pressed=move || as_note.get().to_string()
                on:click=move |_| as_note.set(true)
            >
                {t().private_note}
            </button>
        </div>
    }
}

/// The agents a note can mention, as buttons that put `@id` into the draft (typing `@id` or
/// `@Name` works as well).
pub fn mention_picker(
    c: Console,
    insert: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let others = move || {
        let me = c.me.get();
        let site = c
            .selected
            .get()
            .and_then(|id| c.summaries.with(|s| s.get(&id).map(|s| s.site.clone())));
        c.directory.with(|d| {
            d.agents
                .iter()
                .filter(|a| a.id != me && site.as_ref().is_none_or(|s| a.sites.contains(s)))
                .map(|a| (a.id.clone(), a.name.clone()))
                .collect::<Vec<_>>()
        })
    };
    view! {
        <Show when=move || !others().is_empty()>
            <div class="c-mention-picker" role="group" aria-label=t().mention_an_agent>
                <span class="c-hint">{t().notes_hint}</span>
                <For
                    each=others
                    key=|(id, _)| id.clone()
                    children=move |(id, name)| {
                        let handle = format!("@{id} ");
                        view! {
                            <button
                                type="button"
                                class="c-chip-btn"
                                data-testid="mention-agent"
                                data-agent=id.clone()
                                aria-label=fill(t().mention_name, &[("name", &name)])
                                on:click=move |_| insert(handle.clone())
                            >
                                {format!("@{name}")}
                            </button>
                        }
                    }
                />
            </div>
        </Show>
    }
}

/// Notes that mention this agent, as a polite live region: screen readers announce a new one,
/// and each offers to open its conversation or to be dismissed.
pub fn notices(c: Console) -> impl IntoView {
    view! {
        <div class="c-mentions" role="status" aria-live="polite" aria-label=t().mentions data-testid="mentions">
            <For
                each=move || c.mentions.get()
                key=|m| (m.conversation_id.clone(), m.seq)
                children=move |m| {
                    let who = m.by_name.clone().unwrap_or_else(|| m.by.clone());
                    let excerpt: String = m.text.chars().take(120).collect();
                    let (conv, seq) = (m.conversation_id.clone(), m.seq);
                    let (conv2, shown) = (conv.clone(), conv.clone());
                    view! {
                        <div class="c-mention" data-testid="mention" data-conversation=shown>
                            <p>
                                <strong>{fill(t().mentioned_you, &[("name", &who)])}</strong>
                                ": " {excerpt}
                            </p>
                            <button
                                type="button"
                                data-testid="mention-open"
                                on:click=move |_| {
                                    notes::dismiss(c, &conv, seq);
                                    connection::open(c, &conv);
                                }
                            >
                                {t().open_conversation}
                            </button>
                            <button
                                type="button"
                                data-testid="mention-dismiss"
                                aria-label=fill(t().dismiss_mention, &[("name", &who)])
                                on:click=move |_| notes::dismiss(c, &conv2, seq)
                            >
                                {t().dismiss}
                            </button>
                        </div>
                    }
                }
            />
        </div>
    }
}
