//! A bot's (or agent's) rich content under its message: quick-reply chips, buttons and cards.
//! A postback chip or button is said by the visitor like a typed message (through the outbox,
//! so a click is never lost or doubled); links open in a new tab. Every URL was checked by the
//! relay, and is checked again here, so only http(s) ever reaches an `href` or `src`.

use leptos::prelude::*;
use switchboard_protocol::context::{is_http_url, is_mailto_url};
use switchboard_protocol::rich::{Button, Card, QuickReply, Rich};

use crate::state::Widget;

/// Buttons and cards; chips only while `latest` says this is the newest message (an older
/// question's chips would answer a question no longer asked).
pub fn rich(w: Widget, rich: Rich, latest: Signal<bool>) -> impl IntoView {
    let Rich {
        quick_replies,
        buttons,
        cards,
    } = rich;
    let chips = (!quick_replies.is_empty()).then(|| {
        view! {
            <Show when=move || latest.get()>
                <div class="sb-chips" role="group" aria-label=w.tr(|s| s.suggestions) data-testid="quick-replies">
                    {quick_replies
                        .iter()
                        .cloned()
                        .map(|QuickReply { label, payload }| postback(w, "sb-chip", "quick-reply", label, payload))
                        .collect_view()}
                </div>
            </Show>
        }
    });
    view! {
        {(!cards.is_empty()).then(|| view! {
            <ul class="sb-cards" data-testid="cards">
                {cards.into_iter().map(|c| card(w, c)).collect_view()}
            </ul>
        })}
        {(!buttons.is_empty()).then(|| button_row(w, buttons))}
        {chips}
    }
}

/// A chip or a postback button: clicking it says `label` and sends `payload` to the owner.
fn postback(
    w: Widget,
    class: &'static str,
    testid: &'static str,
    label: String,
    payload: String,
) -> AnyView {
    let shown = label.clone();
    view! {
        <button
            type="button"
            class=class
            data-testid=testid
            on:click=move |_| crate::chat::submit(w, label.clone(), Some(payload.clone()))
        >
            {shown}
        </button>
    }
    .into_any()
}

fn button_row(w: Widget, buttons: Vec<Button>) -> impl IntoView {
    view! {
        <div class="sb-buttons">
            {buttons.into_iter().map(|b| button(w, b)).collect_view()}
        </div>
    }
}

fn button(w: Widget, b: Button) -> AnyView {
    match b {
        Button::Postback { label, payload } => {
            postback(w, "sb-button", "rich-button", label, payload)
        }
        Button::Link { label, url } if is_http_url(&url) => view! {
            <a class="sb-button" data-testid="rich-link" href=url target="_blank" rel="noopener noreferrer nofollow">
                {label}
                " "
                <span class="sb-sr">{w.tr(|s| s.new_tab)}</span>
            </a>
        }
        .into_any(),
        // One plain address (the relay refused any other `mailto:`): opens the mail app.
        Button::Link { label, url } if is_mailto_url(&url) => view! {
            <a class="sb-button" data-testid="rich-link" href=url>{label}</a>
        }
        .into_any(),
        Button::Link { label, .. } => view! { <span class="sb-button">{label}</span> }.into_any(),
    }
}

fn card(w: Widget, c: Card) -> impl IntoView {
    let Card {
        title,
        text,
        image_url,
        price,
        url,
        buttons,
    } = c;
    let title = match url.filter(|u| is_http_url(u)) {
        Some(url) => view! {
            <a href=url target="_blank" rel="noopener noreferrer nofollow">
                {title}
                " "
                <span class="sb-sr">{w.tr(|s| s.new_tab)}</span>
            </a>
        }
        .into_any(),
        None => view! { <span>{title}</span> }.into_any(),
    };
    view! {
        <li class="sb-card" data-testid="card">
            // Decorative: the title says what the picture shows.
            {image_url.filter(|u| is_http_url(u)).map(|src| view! {
                <img class="sb-card-image" src=src alt="" loading="lazy" referrerpolicy="no-referrer" />
            })}
            <p class="sb-card-title" data-testid="card-title">{title}</p>
            {text.map(|t| view! { <p class="sb-card-text">{t}</p> })}
            // Two decimals and the code: the widget stays small; the console formats by locale.
            {price.map(|p| view! {
                <p class="sb-card-price" data-testid="card-price">{format!("{} {}", crate::wire::fixed(p.amount, 2), p.currency)}</p>
            })}
            {(!buttons.is_empty()).then(|| button_row(w, buttons))}
        </li>
    }
}
