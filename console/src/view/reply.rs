//! The reply box: Enter sends, Shift+Enter starts a new line. Drafts are kept per
//! conversation, so switching conversations never sends a reply to the wrong visitor.

use std::collections::HashMap;

use leptos::prelude::*;
use switchboard_protocol::limits::MAX_TEXT_BYTES;

use crate::connection;
use crate::i18n::{fill, number, t};
use crate::state::Console;

pub fn reply(c: Console) -> impl IntoView {
    let drafts = RwSignal::new(HashMap::<String, String>::new());
    let draft = move || {
        let conv = c.selected.get().unwrap_or_default();
        drafts.with(|d| d.get(&conv).cloned().unwrap_or_default())
    };
    let too_long = move || draft().len() > MAX_TEXT_BYTES;
    let submit = move || {
        let Some(conv) = c.selected.get_untracked() else {
            return;
        };
        let text = drafts.with_untracked(|d| d.get(&conv).map(|t| t.trim().to_owned()));
        let Some(text) = text
            .filter(|t| !switchboard_protocol::client::is_blank(t) && t.len() <= MAX_TEXT_BYTES)
        else {
            return;
        };
        drafts.update(|d| {
            d.remove(&conv);
        });
        connection::reply(c, conv, text);
    };
    view! {
        <form
            class="c-reply"
            data-testid="reply"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                submit();
            }
        >
            <textarea
                data-testid="reply-input"
                aria-label=t().reply
                placeholder=t().reply_placeholder
                rows="3"
                prop:value=draft
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    if let Some(conv) = c.selected.get_untracked() {
                        drafts.update(|d| {
                            d.insert(conv, text);
                        });
                    }
                    connection::typing(c);
                }
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    // Not while an IME is composing: Enter then confirms the composition.
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit();
                    }
                }
            ></textarea>
            <button type="submit" data-testid="reply-send" disabled=too_long>{t().send}</button>
            <Show when=too_long>
                <p class="c-error c-limit" role="alert">
                    {move || {
                        fill(
                            t().too_long,
                            &[("n", &number(draft().len() as u64)), ("max", &number(MAX_TEXT_BYTES as u64))],
                        )
                    }}
                </p>
            </Show>
        </form>
    }
}
