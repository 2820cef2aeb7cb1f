//! The console's frame from 390 px to wide screens. Wide: the inbox, the conversation and the
//! visitor's context side by side. Narrow (`NARROW`, the stylesheet's breakpoint): one of them
//! at a time, as stacked views: list → conversation → context, each with a visible "Back".
//!
//! Which one shows is `Console::pane` (the stylesheet hides the others, so they leave the
//! accessibility tree too). Moving between them moves focus where the agent continues: the
//! conversation's heading, the context's Back, or the inbox line the agent came from.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::i18n::t;
use crate::state::Console;

/// Must match the stylesheet's `@media (max-width: …)` for the stacked views.
const NARROW: &str = "(max-width: 760px)";
/// The open conversation's heading: focus lands here when a narrow screen shows it.
pub const CONVERSATION_HEADING_ID: &str = "c-conversation-title";
const DETAILS_BUTTON_ID: &str = "c-show-context";
const CONTEXT_BACK_ID: &str = "c-context-back";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    List,
    Conversation,
    Context,
}

impl Pane {
    pub fn as_str(self) -> &'static str {
        match self {
            Pane::List => "list",
            Pane::Conversation => "conversation",
            Pane::Context => "context",
        }
    }
}

/// Whether the screen is narrow enough for stacked views.
pub fn narrow() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media(NARROW).ok().flatten())
        .is_some_and(|m| m.matches())
}

/// The pane on screen: the list whenever no conversation is open.
pub fn current(c: Console) -> Pane {
    if c.selected.get().is_none() {
        Pane::List
    } else {
        c.pane.get()
    }
}

fn focus_el(el: Option<web_sys::Element>) {
    if let Some(el) = el.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = el.focus();
    }
}

fn by_id(id: &str) -> Option<web_sys::Element> {
    web_sys::window()?.document()?.get_element_by_id(id)
}

/// The inbox line's button of a conversation.
pub fn inbox_button(conversation_id: &str) -> Option<web_sys::Element> {
    let doc = web_sys::window()?.document()?;
    let items = doc
        .query_selector_all("[data-testid=conversation] > button")
        .ok()?;
    (0..items.length())
        .filter_map(|i| items.item(i)?.dyn_into::<web_sys::Element>().ok())
        .find(|b| {
            b.parent_element()
                .and_then(|li| li.get_attribute("data-id"))
                .as_deref()
                == Some(conversation_id)
        })
}

/// Focuses the inbox line of the open conversation (after the next render).
pub fn focus_inbox_line(c: Console) {
    if let Some(id) = c.selected.get_untracked() {
        request_animation_frame(move || focus_el(inbox_button(&id)));
    }
}

/// Shows `pane` and, on a narrow screen (where the others vanish), moves focus into it.
pub fn show(c: Console, pane: Pane) {
    c.pane.set(pane);
    if !narrow() {
        return;
    }
    match pane {
        Pane::List => focus_inbox_line(c),
        Pane::Conversation => {
            request_animation_frame(|| focus_el(by_id(CONVERSATION_HEADING_ID)));
        }
        Pane::Context => request_animation_frame(|| focus_el(by_id(CONTEXT_BACK_ID))),
    }
}

/// Above the open conversation: Back (narrow screens), whose conversation this is, and the
/// way to the visitor's details (narrow screens).
pub fn conversation_head(c: Console, name: Signal<String>) -> impl IntoView {
    let s = t();
    view! {
        <div class="c-conv-head">
            <button
                type="button"
                class="c-back c-narrow-only"
                data-testid="back-to-list"
                on:click=move |_| show(c, Pane::List)
            >
                <span aria-hidden="true">"‹ "</span>
                {s.back_to_list}
            </button>
            <h2 id=CONVERSATION_HEADING_ID class="c-conv-title" tabindex="-1" data-testid="conversation-title">
                {move || name.get()}
            </h2>
            <button
                type="button"
                id=DETAILS_BUTTON_ID
                class="c-to-context c-narrow-only"
                data-testid="show-context"
                on:click=move |_| show(c, Pane::Context)
            >
                {s.visitor_details}
                <span aria-hidden="true">" ›"</span>
            </button>
        </div>
    }
}

/// Atop the context: its heading, and on narrow screens the way back to the conversation
/// (focus then returns to the button that led here).
pub fn context_head(c: Console) -> impl IntoView {
    view! {
        <Show when=move || c.selected.get().is_some()>
            <button
                type="button"
                id=CONTEXT_BACK_ID
                class="c-back c-narrow-only"
                data-testid="back-to-conversation"
                on:click=move |_| {
                    c.pane.set(Pane::Conversation);
                    request_animation_frame(|| focus_el(by_id(DETAILS_BUTTON_ID)));
                }
            >
                <span aria-hidden="true">"‹ "</span>
                {t().back_to_conversation}
            </button>
            <h2 class="c-context-title">{t().visitor_details}</h2>
        </Show>
    }
}
