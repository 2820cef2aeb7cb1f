//! The reply box: Enter sends, Shift+Enter starts a new line. Drafts are kept per
//! conversation, so switching conversations never sends a reply to the wrong visitor. It also
//! writes private notes (`note::mode_switch`), and a reply can carry quick replies and a link
//! button (`rich_reply`). `/` at the start of a reply opens the canned-reply picker
//! ([`super::canned`]).

use std::collections::HashMap;

use leptos::prelude::*;
use switchboard_protocol::limits::{MAX_PRIVATE_NOTE_BYTES, MAX_TEXT_BYTES};

use super::canned::Picker;
use super::{note, rich_reply};
use crate::i18n::{fill, number, t};
use crate::state::Console;
use crate::{canned, connection, notes};

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
    let as_note = RwSignal::new(false);
    let rich = RwSignal::new(rich_reply::Draft::default());
    let limit = move || {
        if as_note.get() {
            MAX_PRIVATE_NOTE_BYTES
        } else {
            MAX_TEXT_BYTES
        }
    };
    let too_long = move || draft().len() > limit();
    // A canned reply with a value still missing is not sent: raw braces never reach a visitor.
    let cannot_send = move || {
        too_long()
            || !picker.missing().is_empty()
            || (!as_note.get() && rich.with(|r| r.rich().is_err()))
    };
    let submit = move || {
        let Some(conv) = c.selected.get_untracked() else {
            return;
        };
        let note = as_note.get_untracked();
        let max = limit();
        let text = drafts.with_untracked(|d| d.get(&conv).map(|t| t.trim().to_owned()));
        let Some(text) =
            text.filter(|t| !switchboard_protocol::client::is_blank(t) && t.len() <= max)
        else {
            return;
        };
        let canned_id = canned::chosen(&conv);
        if canned_id.is_some() && !switchboard_protocol::canned::unfilled(&text).is_empty() {
            return;
        }
        let extras = if note {
            None
        } else {
            match rich.with_untracked(rich_reply::Draft::rich) {
                Ok(extras) => extras,
                Err(_) => return,
            }
        };
        drafts.update(|d| {
            d.remove(&conv);
        });
        canned::choose(&conv, None);
        if note {
            notes::write(c, conv, text);
        } else {
            rich.set(rich_reply::Draft::default());
            connection::reply_rich(c, conv, text, extras, canned_id);
        }
    };
    let insert = move |handle: String| {
        if let Some(conv) = c.selected.get_untracked() {
            drafts.update(|d| {
                let text = d.entry(conv).or_default();
                if !text.is_empty() && !text.ends_with(char::is_whitespace) {
                    text.push(' ');
                }
                text.push_str(&handle);
            });
        }
    };
    view! {
        <form
            class="c-reply"
            class:c-reply-note=move || as_note.get()
            data-testid="reply"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                submit();
            }
        >
            {note::mode_switch(as_note)}
            {picker.view()}
            <textarea
                data-testid="reply-input"
                aria-label=move || if as_note.get() { t().private_note } else { t().reply }
                placeholder=move || if as_note.get() { t().note_placeholder } else { t().reply_placeholder }
                aria-autocomplete="list"
                aria-controls=move || picker.controls()
                aria-activedescendant=move || picker.active_id()
                aria-invalid=move || (!picker.missing().is_empty()).then_some("true")
                aria-describedby=move || (!picker.missing().is_empty()).then_some("c-canned-missing")
                rows="3"
                prop:value=draft
                on:input=move |ev| {
                    set_draft.run(event_target_value(&ev));
                    picker.input();
                    // A note is not something the visitor should see being typed.
                    if !as_note.get_untracked() {
                        connection::typing(c);
                    }
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
            <button type="submit" data-testid="reply-send" disabled=cannot_send>
                {move || if as_note.get() { t().add_note } else { t().send }}
            </button>
            <Show when=too_long>
                <p class="c-error c-limit" role="alert">
                    {move || {
                        fill(
                            t().too_long,
                            &[("n", &number(draft().len() as u64)), ("max", &number(limit() as u64))],
                        )
                    }}
                </p>
            </Show>
            <Show when=move || as_note.get() fallback=move || rich_reply::editor(rich)>
                {note::mention_picker(c, insert)}
            </Show>
        </form>
    }
}
