//! The reply box: Enter sends, Shift+Enter starts a new line. Drafts are kept per
//! conversation, so switching conversations never sends a reply to the wrong visitor. `/` at
//! the start opens the canned-reply picker ([`super::canned`]).

use std::collections::HashMap;

use leptos::prelude::*;
use switchboard_protocol::limits::MAX_TEXT_BYTES;

use super::canned::Picker;
use crate::state::Console;
use crate::{canned, connection};

pub fn reply(c: Console) -> impl IntoView {
    let drafts = RwSignal::new(HashMap::<String, String>::new());
    let draft = move || {
        let conv = c.selected.get().unwrap_or_default();
        drafts.with(|d| d.get(&conv).cloned().unwrap_or_default())
    };
    let set_draft = Callback::new(move |text: String| {
        if let Some(conv) = c.selected.get_untracked() {
            drafts.update(|d| {
                d.insert(conv, text);
            });
        }
    });
    let picker = Picker::new(c, Signal::derive(draft), set_draft);
    let too_long = move || draft().len() > MAX_TEXT_BYTES;
    // A canned reply with a value still missing is not sent: raw braces never reach a visitor.
    let blocked = move || too_long() || !picker.missing().is_empty();
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
        let canned_id = canned::chosen(&conv);
        if canned_id.is_some() && !switchboard_protocol::canned::unfilled(&text).is_empty() {
            return;
        }
        drafts.update(|d| {
            d.remove(&conv);
        });
        canned::choose(&conv, None);
        connection::reply_canned(c, conv, text, canned_id);
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
            {picker.view()}
            <textarea
                data-testid="reply-input"
                aria-label="Reply"
                placeholder="Reply… (Enter sends, Shift+Enter for a new line, / for canned replies)"
                rows="3"
                aria-autocomplete="list"
                aria-controls=move || picker.controls()
                aria-activedescendant=move || picker.active_id()
                aria-invalid=move || (!picker.missing().is_empty()).then_some("true")
                aria-describedby=move || (!picker.missing().is_empty()).then_some("c-canned-missing")
                prop:value=draft
                on:input=move |ev| {
                    set_draft.run(event_target_value(&ev));
                    picker.input();
                    connection::typing(c);
                }
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if picker.keydown(&ev) {
                        return;
                    }
                    // Not while an IME is composing: Enter then confirms the composition.
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit();
                    }
                }
            ></textarea>
            <button type="submit" data-testid="reply-send" disabled=blocked>"Send"</button>
            <Show when=too_long>
                <p class="c-error c-limit" role="alert">
                    {move || format!("Too long: {} of {MAX_TEXT_BYTES} bytes", draft().len())}
                </p>
            </Show>
        </form>
    }
}
