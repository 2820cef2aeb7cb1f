//! Read receipts and the page trail, the widget's side.
//!
//! The visitor's read mark goes up when the visitor can actually see the messages: the panel
//! is open and the page is visible (`document.visibilityState`). A single-page app's
//! navigations (`pushState`, `replaceState`, back and forward, hash changes) update the
//! page context: through the Navigation API's `navigate` event where the browser has it,
//! else by wrapping the two history methods (the host's own call and its result or error
//! pass through unchanged) and listening to `popstate` and `hashchange`. Reports are
//! throttled to one a second, and only a URL that changed is sent.

use gloo_timers::future::TimeoutFuture;
use js_sys::{Function, Reflect};
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_protocol::ClientMsg;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::connection::send;
use crate::state::{core, Widget};

/// The quietest a page may report its navigations.
const THROTTLE_MS: u32 = 1_000;

/// How long a mark waits for more messages (a catch-up arrives one frame at a time).
const COALESCE_MS: u32 = 300;

/// The visitor may be looking: a moment later, if the panel is still open and the page
/// visible, the mark goes up to every message the page has without a gap, if that is further
/// than the last one this tab sent.
pub fn mark(w: Widget) {
    if core(|c| std::mem::replace(&mut c.read_pending, true)) {
        return;
    }
    spawn_local(async move {
        TimeoutFuture::new(COALESCE_MS).await;
        core(|c| c.read_pending = false);
        if !w.open.get_untracked() || !visible() {
            return;
        }
        let seq = w.last_seq();
        let conversation_id = core(|c| {
            let further = seq > c.read_sent && c.welcomed;
            if further {
                c.read_sent = seq;
            }
            c.conversation_id.clone().filter(|_| further)
        });
        if let Some(conversation_id) = conversation_id {
            send(&ClientMsg::Read {
                conversation_id,
                seq,
            });
        }
    });
}

fn visible() -> bool {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return false;
    };
    Reflect::get(&doc, &"visibilityState".into())
        .ok()
        .and_then(|v| v.as_string())
        .is_none_or(|s| s == "visible")
}

/// Listens for the page becoming visible (to mark what arrived while it was hidden) and for
/// the page's navigations.
pub fn watch(w: Widget) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let on_visible = Closure::<dyn Fn()>::new(move || mark(w));
    if let Some(doc) = window.document() {
        let _ = doc.add_event_listener_with_callback(
            "visibilitychange",
            on_visible.as_ref().unchecked_ref(),
        );
    }
    on_visible.forget();
    let on_nav = Closure::<dyn Fn()>::new(move || navigated(w));
    let nav_fn: &Function = on_nav.as_ref().unchecked_ref();
    let navigation = Reflect::get(&window, &"navigation".into()).unwrap_or(JsValue::UNDEFINED);
    if navigation.is_object() {
        let target: &web_sys::EventTarget = navigation.unchecked_ref();
        let _ = target.add_event_listener_with_callback("navigate", nav_fn);
    } else {
        let history = Reflect::get(&window, &"history".into()).unwrap_or(JsValue::UNDEFINED);
        for name in ["pushState", "replaceState"] {
            wrap(&history, name, nav_fn.clone());
        }
        for event in ["popstate", "hashchange"] {
            let _ = window.add_event_listener_with_callback(event, nav_fn);
        }
    }
    on_nav.forget();
}

/// Replaces `history[name]` by a function that calls the original with the same `this` and
/// arguments, returns what it returned (or throws what it threw), and then tells us. A
/// history without that method, or one the page froze, is left alone.
fn wrap(history: &JsValue, name: &str, tell: Function) {
    let Ok(original) = Reflect::get(history, &name.into()).and_then(|f| f.dyn_into::<Function>())
    else {
        return;
    };
    let this = history.clone();
    let wrapper = Closure::<dyn Fn(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
        move |state: JsValue, unused: JsValue, url: JsValue| {
            let result = if url.is_undefined() {
                original.call2(&this, &state, &unused)
            } else {
                original.call3(&this, &state, &unused, &url)
            };
            let _ = tell.call0(&JsValue::UNDEFINED);
            result
        },
    );
    let _ = Reflect::set(history, &name.into(), wrapper.as_ref());
    wrapper.forget();
}

/// A navigation: the page context is read once the throttle's wait is over (the URL has
/// changed by then, whichever way the navigation went).
fn navigated(w: Widget) {
    if core(|c| std::mem::replace(&mut c.nav_pending, true)) {
        return;
    }
    spawn_local(async move {
        TimeoutFuture::new(THROTTLE_MS).await;
        let page = crate::context::page();
        let context = core(|c| {
            c.nav_pending = false;
            let before = c.context.page.as_ref().map(|p| p.url.as_str());
            let moved = before != Some(page.url.as_str());
            c.context.page = Some(page);
            moved.then(|| c.context.clone())
        });
        if let Some(context) = context {
            if !core(|c| c.blocked) && w.conn.get_untracked() != crate::state::Conn::Error {
                send(&ClientMsg::SetContext { context });
            }
        }
    });
}
