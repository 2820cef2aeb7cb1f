//! Keyboard shortcuts: next/previous conversation, reply, canned replies, resolve, take, and
//! `?` for a modal list of them. None fires while the agent types in a field (a letter is a
//! letter there); Escape leaves the field, so the shortcuts work again.

use leptos::ev::KeyboardEvent;
use leptos::html::Dialog;
use leptos::prelude::*;
use switchboard_protocol::{ConversationSummary, Status};
use wasm_bindgen::JsCast;

use super::layout::{self, Pane};
use crate::desk::{self, allowed};
use crate::i18n::t;
use crate::state::Console;

/// One line of the overlay: the keys (alternatives), and what they do.
struct Shortcut {
    keys: &'static [&'static [&'static str]],
    what: fn() -> &'static str,
}

const SHORTCUTS: &[Shortcut] = &[
    Shortcut {
        keys: &[&["j"], &["Alt", "↓"]],
        what: || t().key_next,
    },
    Shortcut {
        keys: &[&["k"], &["Alt", "↑"]],
        what: || t().key_previous,
    },
    Shortcut {
        keys: &[&["r"]],
        what: || t().key_reply,
    },
    Shortcut {
        keys: &[&["/"]],
        what: || t().key_canned,
    },
    Shortcut {
        keys: &[&["e"]],
        what: || t().key_resolve,
    },
    Shortcut {
        keys: &[&["t"]],
        what: || t().key_take,
    },
    Shortcut {
        keys: &[&["?"]],
        what: || t().key_help,
    },
    Shortcut {
        keys: &[&["Esc"]],
        what: || t().key_escape,
    },
];

/// Where typing happens: keys there belong to the field.
fn in_field(ev: &KeyboardEvent) -> Option<web_sys::HtmlElement> {
    let el = ev.target()?.dyn_into::<web_sys::HtmlElement>().ok()?;
    let tag = el.tag_name().to_ascii_lowercase();
    (matches!(tag.as_str(), "input" | "textarea" | "select") || el.is_content_editable())
        .then_some(el)
}

/// Listens on the window for the console's lifetime.
pub fn install(c: Console, overlay: RwSignal<bool>) {
    let handle = window_event_listener(leptos::ev::keydown, move |ev| on_key(c, overlay, ev));
    // The console lives as long as the page; so does the listener.
    std::mem::forget(handle);
}

fn on_key(c: Console, overlay: RwSignal<bool>, ev: KeyboardEvent) {
    if ev.default_prevented() || ev.is_composing() || c.auth.get_untracked().is_none() {
        return;
    }
    // The open overlay handles its own keys (Escape closes it natively).
    if overlay.get_untracked() {
        return;
    }
    if let Some(field) = in_field(&ev) {
        // Escape from the reply box (only there: a select or a dialog's field has its own
        // Escape) gives the keys back to the shortcuts.
        if ev.key() == "Escape"
            && field.get_attribute("data-testid").as_deref() == Some("reply-input")
        {
            let _ = field.blur();
            focus_heading();
        }
        return;
    }
    if ev.ctrl_key() || ev.meta_key() {
        return;
    }
    let key = ev.key();
    match (key.as_str(), ev.alt_key()) {
        ("j", false) | ("ArrowDown", true) => step(c, 1),
        ("k", false) | ("ArrowUp", true) => step(c, -1),
        ("r", false) => focus_reply(c, false),
        ("/", false) => focus_reply(c, true),
        ("e", false) => resolve(c),
        ("t", false) => take(c),
        ("?", _) => overlay.set(true),
        _ => return,
    }
    ev.prevent_default();
}

fn focus_heading() {
    if let Some(h) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(layout::CONVERSATION_HEADING_ID))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = h.focus();
    }
}

/// Opens the next (`1`) or previous (`-1`) conversation of the open view's list.
fn step(c: Console, by: isize) {
    let ids: Vec<String> = c
        .inbox
        .with_untracked(|i| i.iter().map(|s| s.id.clone()).collect());
    if ids.is_empty() {
        return;
    }
    let at = c
        .selected
        .get_untracked()
        .and_then(|sel| ids.iter().position(|id| *id == sel));
    let to = match at {
        Some(i) => (i as isize + by).clamp(0, ids.len() as isize - 1) as usize,
        None if by > 0 => 0,
        None => ids.len() - 1,
    };
    if at == Some(to) {
        return;
    }
    crate::connection::open(c, &ids[to]);
    if layout::narrow() {
        layout::show(c, Pane::Conversation);
    } else {
        // Focus follows, so a screen reader reads the line now open.
        c.pane.set(Pane::Conversation);
        layout::focus_inbox_line(c);
    }
}

/// Focuses the reply box; with `slash`, a `/` typed into it (the canned replies' picker
/// opens on it), as if the agent had typed it there.
fn focus_reply(c: Console, slash: bool) {
    if c.selected.get_untracked().is_none() {
        return;
    }
    if c.pane.get_untracked() != Pane::Conversation {
        c.pane.set(Pane::Conversation);
    }
    request_animation_frame(move || {
        let Some(input) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector("[data-testid=reply-input]").ok().flatten())
            .and_then(|e| e.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
        else {
            return;
        };
        let _ = input.focus();
        if slash {
            let text = input.value();
            let joined = if text.is_empty() || text.ends_with(char::is_whitespace) {
                format!("{text}/")
            } else {
                format!("{text} /")
            };
            input.set_value(&joined);
            let end = joined.encode_utf16().count() as u32;
            let _ = input.set_selection_range(end, end);
            // The reply box (and its picker) learn of it as of any typing.
            let init = web_sys::EventInit::new();
            init.set_bubbles(true);
            if let Ok(ev) = web_sys::Event::new_with_event_init_dict("input", &init) {
                let _ = input.dispatch_event(&ev);
            }
        }
    });
}

fn open_summary(c: Console) -> Option<ConversationSummary> {
    let id = c.selected.get_untracked()?;
    c.summaries.with_untracked(|all| all.get(&id).cloned())
}

fn resolve(c: Console) {
    let Some(s) = open_summary(c) else { return };
    let me = c.me.get_untracked();
    let may = c.directory.with_untracked(|d| allowed(d, &me, &s));
    let open = s.status.at(js_sys::Date::now() as u64) != Status::Resolved;
    if may.status && open {
        desk::set_status(c, &s, Status::Resolved);
    } else {
        c.notice.set(Some(t().cannot_resolve.into()));
    }
}

fn take(c: Console) {
    let Some(s) = open_summary(c) else { return };
    let me = c.me.get_untracked();
    if c.directory.with_untracked(|d| allowed(d, &me, &s)).take {
        desk::assign(c, &s, Some(me));
    } else {
        c.notice.set(Some(t().cannot_take.into()));
    }
}

/// The `?` overlay: a modal `<dialog>` (the rest of the page inert while it is open), focus
/// kept inside, Escape or Close closes it and focus goes back where it was.
pub fn overlay(open: RwSignal<bool>) -> impl IntoView {
    let dialog = NodeRef::<Dialog>::new();
    let close_button = NodeRef::<leptos::html::Button>::new();
    let before = StoredValue::new_local(None::<web_sys::HtmlElement>);
    Effect::new(move || {
        let Some(d) = dialog.get() else { return };
        if open.get() && !d.open() {
            before.set_value(
                web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|doc| doc.active_element())
                    .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()),
            );
            let _ = d.show_modal();
            if let Some(b) = close_button.get() {
                let _ = b.focus();
            }
        } else if !open.get() && d.open() {
            d.close();
        }
    });
    let closed = move |_| {
        open.set(false);
        if let Some(el) = before.get_value() {
            let _ = el.focus();
        }
    };
    // One focusable element inside: Tab stays on it rather than leaving for the browser.
    let trap = move |ev: KeyboardEvent| {
        if ev.key() == "Tab" {
            ev.prevent_default();
            if let Some(b) = close_button.get() {
                let _ = b.focus();
            }
        }
    };
    let s = t();
    let rows = SHORTCUTS
        .iter()
        .map(|sc| {
            let keys = sc
                .keys
                .iter()
                .enumerate()
                .map(|(i, combo)| {
                    let combo = combo
                        .iter()
                        .enumerate()
                        .map(|(j, k)| view! { {(j > 0).then_some("+")}<kbd>{*k}</kbd> })
                        .collect_view();
                    view! { {(i > 0).then(|| format!(" {} ", s.or))}{combo} }
                })
                .collect_view();
            view! {
                <div class="c-key">
                    <dt>{keys}</dt>
                    <dd>{(sc.what)()}</dd>
                </div>
            }
        })
        .collect_view();
    view! {
        <dialog
            class="c-shortcuts"
            node_ref=dialog
            aria-labelledby="c-shortcuts-title"
            data-testid="shortcuts"
            on:close=closed
            on:keydown=trap
        >
            <h2 id="c-shortcuts-title">{s.shortcuts}</h2>
            <dl class="c-keys">{rows}</dl>
            <button
                type="button"
                class="c-close"
                node_ref=close_button
                data-testid="shortcuts-close"
                on:click=move |_| open.set(false)
            >
                {s.close}
            </button>
        </dialog>
    }
}

/// The header's button that opens the overlay, for those who do not know `?` yet.
pub fn button(open: RwSignal<bool>) -> impl IntoView {
    view! {
        <button
            type="button"
            class="c-help"
            data-testid="shortcuts-open"
            aria-haspopup="dialog"
            on:click=move |_| open.set(true)
        >
            <span aria-hidden="true">"?"</span>
            <span class="c-sr">{t().shortcuts}</span>
        </button>
    }
}
