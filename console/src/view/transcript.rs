//! The open conversation's messages, oldest first, and the visitor's typing indicator.

use leptos::html::Ol;
use leptos::prelude::*;
use switchboard_protocol::linkify::{segments, Segment};
use switchboard_protocol::{Button, Rich, SenderKind};

use super::clock;
use crate::i18n::t;
use crate::state::{Console, Delivery, Line};
use crate::{connection, money};

pub fn transcript(c: Console) -> impl IntoView {
    let lines = move || {
        let conv = c.selected.get()?;
        c.transcripts.with(|all| all.get(&conv).cloned())
    };
    let list = NodeRef::<Ol>::new();
    // Follow new messages, as chat apps do.
    Effect::new(move || {
        let count = c.transcripts.with(|all| {
            c.selected
                .with(|sel| sel.as_ref().and_then(|s| all.get(s)).map_or(0, Vec::len))
        });
        if let (Some(ol), true) = (list.get(), count > 0) {
            ol.set_scroll_top(ol.scroll_height());
        }
    });
    view! {
        // The log role on a wrapper: a list element may not take it, and the list keeps its
        // list semantics.
        <div class="c-log" role="log" aria-live="polite" aria-label=t().transcript>
            // Focusable, so a keyboard can scroll a long conversation.
            <ol class="c-transcript" data-testid="transcript" node_ref=list tabindex="0">
                <For
                    each=move || lines().unwrap_or_default()
                    key=|l| l.render_key()
                    children=move |l| row(c, l)
                />
            </ol>
        </div>
        // The live region stays in the DOM so screen readers announce what appears in it.
        <p class="c-typing" aria-live="polite">
            <Show when=move || {
                let typing = c.visitor_typing.get();
                typing.is_some() && typing == c.selected.get()
            }>
                <span data-testid="visitor-typing">{t().visitor_typing}</span>
            </Show>
        </p>
    }
}

/// What the bot (or agent) offered the visitor, as the agent needs it: labels and card
/// titles, not clickable here (a click is the visitor's to make).
fn rich(r: Rich) -> impl IntoView {
    let offered: Vec<String> = r
        .quick_replies
        .iter()
        .map(|q| q.label.clone())
        .chain(
            r.buttons
                .iter()
                .chain(r.cards.iter().flat_map(|c| &c.buttons))
                .map(|b| match b {
                    Button::Postback { label, .. } | Button::Link { label, .. } => label.clone(),
                }),
        )
        .collect();
    let cards = r
        .cards
        .into_iter()
        .map(|card| {
            let price = card
                .price
                .map(|p| money::format(p.amount, Some(&p.currency)));
            view! { <li data-testid="card">{card.title} {price.map(|p| format!(" · {p}"))}</li> }
        })
        .collect_view();
    view! {
        <ul class="c-cards">{cards}</ul>
        {(!offered.is_empty()).then(|| view! {
            <p class="c-offered" data-testid="offered">{t().offered} {offered.join(" | ")}</p>
        })}
    }
}

/// A lifecycle event: a quiet centred line of the conversation's story, no bubble, no sender.
fn system_row(l: Line) -> impl IntoView {
    view! {
        <li
            class="c-system"
            data-testid="message"
            data-sender="system"
            data-state="sent"
            data-code=l.code
            data-seq=l.seq.map(|s| s.to_string())
        >
            <span class="c-text" data-testid="message-text">{l.text}</span>
            " " <time class="c-system-at">{clock(l.at)}</time>
        </li>
    }
}

fn row(c: Console, l: Line) -> impl IntoView {
    if l.note.is_some() {
        return super::note::card(c, l).into_any();
    }
    if l.kind == SenderKind::System {
        return system_row(l).into_any();
    }
    let sender = match l.kind {
        SenderKind::Visitor => "visitor",
        SenderKind::Agent => "agent",
        SenderKind::Bot => "bot",
        SenderKind::System => "system",
    };
    let name = l.name.clone().unwrap_or_else(|| {
        let s = t();
        match l.kind {
            SenderKind::Visitor => s.visitor,
            SenderKind::Agent => s.agent,
            SenderKind::Bot => s.bot,
            SenderKind::System => s.system,
        }
        .into()
    });
    let body = linked(&l.text);
    let failed = format!(
        "{} {}",
        t().not_sent,
        l.error.as_deref().unwrap_or_default()
    );
    let status = delivery_status(c, &l, t().sending, failed);
    let seen = (l.kind != SenderKind::Visitor).then(|| seen_by_visitor(c, l.seq));
    view! {
        <li
            class="c-message"
            class:c-mine=l.kind == SenderKind::Agent
            class:c-note=matches!(l.kind, SenderKind::System | SenderKind::Bot)
            data-testid="message"
            data-sender=sender
            data-state=l.delivery.as_str()
            data-seq=l.seq.map(|s| s.to_string())
        >
            <div class="c-meta">
                <span class="c-sender" data-testid="message-sender">{name}</span>
                <time>{clock(l.at)}</time>
                {status}
            </div>
            <div class="c-text" data-testid="message-text">{body}</div>
            {l.postback.is_some().then(|| view! { <span class="c-postback">{t().clicked_button}</span> })}
            {l.rich.map(rich)}
            {seen}
        </li>
    }
    .into_any()
}

/// "Seen by the visitor", under the last agent or bot message the visitor has read.
fn seen_by_visitor(c: Console, seq: Option<u64>) -> impl IntoView {
    let shown = move || {
        let conv = c.selected.get()?;
        let mark = c
            .receipts
            .visitor_read
            .with(|all| all.get(&conv).copied())?;
        let last = c.transcripts.with(|all| {
            all.get(&conv)?
                .iter()
                .rev()
                .filter(|l| matches!(l.kind, SenderKind::Agent | SenderKind::Bot))
                .filter(|l| l.note.is_none())
                .find_map(|l| l.seq.filter(|s| *s <= mark))
        })?;
        (seq == Some(last)).then_some(())
    };
    move || {
        shown().map(|()| {
            view! { <p class="c-seen" data-testid="visitor-seen">{t().seen_by_visitor}</p> }
        })
    }
}

/// A message's text as text nodes, with links only for http(s) words (the protocol's one
/// linkify rule); notes and messages alike.
pub(super) fn linked(text: &str) -> impl IntoView {
    segments(text)
        .into_iter()
        .map(|s| match s {
            Segment::Text(t) => t.into_any(),
            Segment::Link(url) => {
                let shown = url.clone();
                view! { <a href=url target="_blank" rel="noopener noreferrer nofollow">{shown}</a> }
                    .into_any()
            }
        })
        .collect_view()
}

/// A line's delivery mark, for replies and notes alike: nothing once stored, `pending` while
/// on its way, and when refused `failed` (with the reason) and a Retry button.
pub(super) fn delivery_status(
    c: Console,
    l: &Line,
    pending: &'static str,
    failed: String,
) -> Option<AnyView> {
    match l.delivery {
        Delivery::Sent => None,
        Delivery::Pending => Some(view! { <span class="c-status">{pending}</span> }.into_any()),
        Delivery::Failed => {
            let conv = c.selected.get_untracked().unwrap_or_default();
            let client_id = l.client_id.clone();
            Some(
                view! {
                    <span class="c-status c-failed" role="alert">{failed}</span>
                    <button
                        type="button"
                        class="c-retry"
                        on:click=move |_| connection::retry(c, conv.clone(), client_id.clone())
                    >
                        {t().retry}
                    </button>
                }
                .into_any(),
            )
        }
    }
}
