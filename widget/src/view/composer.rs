//! The message box: drafts, the size limit, typing frames; what is sent goes through
//! [`crate::chat::submit`].

use leptos::html;
use leptos::prelude::*;
use switchboard_protocol::limits::MAX_TEXT_BYTES;
use switchboard_protocol::ClientMsg;

use crate::connection::send;
use crate::state::{core, Widget};

/// Minimum milliseconds between two "typing" frames.
const TYPING_EVERY_MS: f64 = 3_000.0;

pub fn composer(w: Widget) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let input = NodeRef::<html::Textarea>::new();
    // Opening the panel puts the cursor here (never on mount: the host page keeps its focus).
    // The frame's delay lets the panel lose `hidden` first; a hidden element cannot take focus.
    Effect::new(move |_| {
        if w.open.get() {
            request_animation_frame(move || {
                if let Some(el) = input.get_untracked() {
                    let _ = el.focus();
                }
            });
        }
    });
    let submit = move || {
        let text = draft.get_untracked().trim().to_owned();
        // Invisible-only text (a lone zero-width space) would only be refused by the relay.
        if switchboard_protocol::client::is_blank(&text) || text.len() > MAX_TEXT_BYTES {
            return;
        }
        draft.set(String::new());
        stop_typing();
        crate::chat::submit(w, text, None);
    };
    // Said at once rather than on Enter: an oversized message would only be refused later.
    let too_long = move || draft.with(|d| d.len() > MAX_TEXT_BYTES);
    view! {
        <Show when=too_long>
            <p class="sb-limit" data-testid="composer-error" role="alert">
                {w.tr(|s| s.too_long)}
            </p>
        </Show>
        <form
            class="sb-composer"
            data-testid="composer"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                submit();
            }
        >
            <textarea
                node_ref=input
                class="sb-input"
                data-testid="composer-input"
                rows="2"
                // A reply in Arabic in a German widget (or the reverse) runs its own way.
                dir="auto"
                aria-label=w.tr(|s| s.placeholder)
                aria-invalid=move || if too_long() { "true" } else { "false" }
                placeholder=w.tr(|s| s.placeholder)
                prop:value=move || draft.get()
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    typing();
                }
                on:blur=move |_| stop_typing()
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit();
                    }
                }
            ></textarea>
            // Sent on the click itself, its default (the form's submission) prevented: a
            // frame sandboxed without `allow-forms` never fires `submit` at all.
            <button
                type="submit"
                class="sb-send"
                data-testid="send"
                on:click=move |ev| {
                    ev.prevent_default();
                    submit();
                }
            >
                {w.tr(|s| s.send)}
            </button>
        </form>
    }
}

/// Tells the agent the visitor is typing, at most every few seconds.
fn typing() {
    let now = js_sys::Date::now();
    let due = core(|c| {
        let due = now - c.last_typing_sent > TYPING_EVERY_MS;
        if due {
            c.last_typing_sent = now;
        }
        due.then(|| c.conversation_id.clone()).flatten()
    });
    if let Some(conversation_id) = due {
        send(&ClientMsg::Typing {
            conversation_id,
            active: true,
        });
    }
}

/// Clears the agent's "is typing" at once instead of letting it time out, but only if this
/// visitor had said they were typing (a blur alone sends nothing).
fn stop_typing() {
    let conversation_id = core(|c| {
        let was = c.last_typing_sent > 0.0;
        c.last_typing_sent = 0.0;
        was.then(|| c.conversation_id.clone()).flatten()
    });
    if let Some(conversation_id) = conversation_id {
        send(&ClientMsg::Typing {
            conversation_id,
            active: false,
        });
    }
}
