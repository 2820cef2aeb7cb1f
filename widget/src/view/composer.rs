//! The message box. A message gets its client id here, goes into the outbox (so it survives a
//! reload), shows as pending, and is sent if the socket is up; the connection resends the
//! outbox after every reconnect.

use leptos::html;
use leptos::prelude::*;
use switchboard_protocol::client::Send;
use switchboard_protocol::limits::MAX_TEXT_BYTES;
use switchboard_protocol::ClientMsg;

use crate::outbox::{self, Entry};
use crate::state::{core, send, Widget};

/// Minimum milliseconds between two "typing" frames.
const TYPING_EVERY_MS: f64 = 3_000.0;

pub fn composer(w: Widget) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let input = NodeRef::<html::Textarea>::new();
    // Opening the panel puts the cursor here.
    Effect::new(move |_| {
        if let Some(el) = input.get() {
            let _ = el.focus();
        }
    });
    let submit = move || {
        let text = draft.get_untracked().trim().to_owned();
        if text.is_empty() || text.len() > MAX_TEXT_BYTES {
            return;
        }
        draft.set(String::new());
        let client_id = client_id();
        let at = js_sys::Date::now() as u64;
        outbox::push(Entry {
            client_id: client_id.clone(),
            text: text.clone(),
            at,
        });
        w.add_pending(client_id.clone(), text.clone(), at);
        if let Some(conversation_id) = core(|c| c.conversation_id.clone()) {
            send(&ClientMsg::Typing {
                conversation_id: conversation_id.clone(),
                active: false,
            });
            send(&ClientMsg::Send(Send {
                conversation_id,
                client_id,
                text,
            }));
        }
    };
    view! {
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
                aria-label=w.strings.placeholder
                placeholder=w.strings.placeholder
                prop:value=move || draft.get()
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    typing();
                }
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit();
                    }
                }
            ></textarea>
            <button type="submit" class="sb-send" data-testid="send">
                {w.strings.send}
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

/// 16 hex characters; unique per visitor is all the relay needs.
fn client_id() -> String {
    let a = (js_sys::Math::random() * 4_294_967_296.0) as u32;
    let b = (js_sys::Date::now() as u64 as u32) ^ (js_sys::Math::random() * 4_294_967_296.0) as u32;
    format!("{a:08x}{b:08x}")
}
