//! The transcript: one row per message with sender, time and delivery state, and a bot's rich
//! content under its text. Text is rendered as text nodes; only http(s) URLs become links. It
//! is a list announced politely (`aria-live`): `role=log` is not allowed on a list and would
//! hide the list from its items.

use leptos::either::Either;
use leptos::html;
use leptos::prelude::*;
use switchboard_protocol::context::is_http_url;
use switchboard_protocol::SenderKind;

use crate::state::{Delivery, Line, Widget};
use switchboard_protocol::linkify::{segments, Segment};

pub fn list(w: Widget) -> impl IntoView {
    let ol = NodeRef::<html::Ol>::new();
    // Keeps the newest message in view when one arrives or the panel opens. After the next
    // frame, so the new row (and the panel's layout) exist before measuring.
    Effect::new(move |_| {
        let open = w.open.get();
        w.lines.track();
        if open {
            crate::receipts::mark(w);
            request_animation_frame(move || {
                if let Some(ol) = ol.get_untracked() {
                    ol.set_scroll_top(ol.scroll_height());
                }
            });
        }
    });
    view! {
        // Focusable: a transcript longer than the panel (a rating prompt below it makes that
        // quick) scrolls, and keyboard users scroll it with the arrow keys.
        <ol node_ref=ol class="sb-messages" data-testid="messages" aria-live="polite" tabindex="0">
            <Show when=move || w.lines.with(|l| l.is_empty())>
                <li class="sb-empty">{w.tr(|s| s.empty)}</li>
            </Show>
            // Every system entry stays in `lines`, which tracks gap-free seqs; only those with
            // words for the visitor are shown, as quiet lines of the story.
            <For
                each=move || w.lines.with(|l| l.iter().filter(|l| shown(w, l)).cloned().collect::<Vec<_>>())
                key=|line| line.render_key()
                children=move |line| match line.event.clone() {
                    Some(event) => Either::Left(super::story::row(w, &event)),
                    None => Either::Right(row(w, line)),
                }
            />
        </ol>
    }
}

fn shown(w: Widget, line: &Line) -> bool {
    match (line.kind, &line.event) {
        (SenderKind::System, Some(event)) => super::story::text(w.t(), event).is_some(),
        (SenderKind::System, None) => false,
        _ => true,
    }
}

fn row(w: Widget, line: Line) -> impl IntoView {
    let sender = match line.kind {
        SenderKind::Visitor => "visitor",
        SenderKind::Agent => "agent",
        SenderKind::Bot => "bot",
        SenderKind::System => "system",
    };
    // A streamed answer being written is shown, not read out piece by piece: the live
    // region announces the stored message that replaces it.
    let draft = line.is_draft();
    let state = match line.delivery {
        _ if draft => "streaming",
        Delivery::Pending => "pending",
        Delivery::Sent => "sent",
        Delivery::Failed => "failed",
    };
    let (own, name) = (line.own, line.name.clone());
    let who = move || match (own, &name) {
        (true, _) => w.t().you.to_owned(),
        (false, Some(name)) => name.clone(),
        (false, None) => w.t().agent.to_owned(),
    };
    let at = line.at as f64;
    // The browser's `Intl` words the time in the widget's language (12 or 24 hours, digits).
    let time = move || w.t().time(at);
    let iso: String = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at))
        .to_iso_string()
        .into();
    let delivery = line.delivery;
    // Under the visitor's last message an agent has read: "Seen", where "Sending…" was (the
    // same element, so no more view code in the wasm).
    let seq = line.seq;
    let seen = move || {
        let mark = w.seen.get();
        own && seq.is_some_and(|s| s <= mark)
            && w.lines.with(|l| {
                l.iter()
                    .rev()
                    .find(|l| l.own && l.seq.is_some_and(|s| s <= mark))
                    .and_then(|l| l.seq)
                    == seq
            })
    };
    let note = move || match delivery {
        Delivery::Pending => Some(w.t().pending),
        Delivery::Failed => Some(w.t().failed),
        Delivery::Sent => seen().then(|| w.t().seen),
    };
    let body = segments(&line.text)
        .into_iter()
        .map(|s| match s {
            Segment::Text(t) => view! { <span>{t}</span> }.into_any(),
            Segment::Link(url) => {
                let shown = url.clone();
                view! { <a href=url target="_blank" rel="noopener noreferrer nofollow">{shown}</a> }
                    .into_any()
            }
        })
        .collect_view();
    let client_id = line.client_id.clone();
    let latest = Signal::derive(move || {
        w.lines
            .with(|l| l.last().is_some_and(|last| last.client_id == client_id))
    });
    let avatar = line
        .avatar
        .filter(|a| is_http_url(a))
        .map(|src| view! { <img class="sb-avatar" src=src alt="" width="20" height="20" /> });
    let badge = (line.kind == SenderKind::Bot).then(|| {
        view! { <span class="sb-badge" data-testid="bot-badge">{w.tr(|s| s.bot)}</span> }
    });
    let rich = line.rich.map(|r| super::rich::rich(w, r, latest));
    view! {
        <li
            class="sb-message"
            class:sb-own=line.own
            data-testid="message"
            data-sender=sender
            data-state=state
            data-seq=line.seq.map(|s| s.to_string()).unwrap_or_default()
            aria-hidden=draft.then_some("true")
        >
            <div class="sb-meta">
                {avatar}
                // `auto`: a name in another script than the widget's reads in its own direction.
                <span class="sb-sender" data-testid="message-sender" dir="auto">{who}</span>
                {badge}
                <time data-testid="message-time" datetime=iso>{time}</time>
                {move || note().map(|n| view! { <span class="sb-state" data-testid="message-state">{n}</span> })}
            </div>
            // `auto`: a message in another script than the page reads in its own direction.
            <div class="sb-text" data-testid="message-text" dir="auto">{body}</div>
            {rich}
        </li>
    }
}
