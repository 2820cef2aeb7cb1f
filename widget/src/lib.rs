//! The Switchboard chat widget, compiled to wasm32 and mounted by the loader (`loader.js`) into a
//! `<div>` inside the host page's Shadow DOM.
//!
//! Layout:
//! - [`state`]: the widget's reactive state (`Widget`, a `Copy` bundle of signals) and the
//!   non-reactive session kept beside it (token, conversation, socket sender, listeners);
//! - [`connection`]: the WebSocket session: hello, catch-up, pings, reconnect with backoff
//!   (waiting for the network while the browser is offline);
//! - [`tabs`]: one connection per browser: the leader tab holds the socket for all tabs (and
//!   opens it only once the chat is wanted);
//! - [`outbox`]: messages not yet acknowledged, kept in the page's storage across reloads;
//! - [`receipts`]: the visitor's read mark, and the page context following a single-page
//!   app's navigations;
//! - [`context`]: the page context collected automatically;
//! - [`api`]: the JavaScript API (`Switchboard('identify' | 'setContext' | 'open' | 'consent'
//!   | …)`);
//! - [`view`]: the launcher, panel, message list and composer;
//! - [`i18n`]: the words in twelve languages, the choice among them, `Intl` for numbers,
//!   plurals and times;
//! - [`theme`]: the site's theme (texts and colour scheme; colours and place are CSS);
//! - [`storage`]: first-party storage;
//! - [`wire`]: the frames as JSON, through the browser's `JSON` (no serde in the wasm).
//!
//! Message text is shown as text nodes; only http(s) URLs become links
//! (`switchboard_protocol::linkify`, shared with the console).
//!
//! Nothing here may throw into the host page: every JS call that can fail is handled.

mod api;
mod chat;
mod connection;
mod context;
mod i18n;
mod listeners;
mod outbox;
mod receipts;
mod state;
mod storage;
mod tabs;
mod theme;
mod view;
// Public for its drift tests (`tests/wire.rs`); not part of the widget's API.
#[doc(hidden)]
pub mod wire;

use wasm_bindgen::prelude::*;

/// Mounts the widget into `container` for `site`, talking to the relay at `relay` (a base URL
/// ending in `/`). Called once by the loader, when the visitor reaches for the chat, the site
/// opens it, or this browser has a conversation to come back to (and consent, where the site
/// requires it, was given). Mounting connects only in that last case.
#[wasm_bindgen]
pub fn mount(container: web_sys::HtmlElement, site: String, relay: String) {
    let root = container.clone();
    let handle = leptos::mount::mount_to(container, move || {
        let widget = state::Widget::create(site, relay);
        theme::read(widget, &root);
        for entry in outbox::load() {
            widget.add_pending(entry.client_id, entry.text, entry.at);
        }
        tabs::join(widget, chat::from_tab);
        receipts::watch(widget);
        // A browser with a conversation to come back to connects at once, so an agent's reply
        // reaches the visitor with the panel closed; otherwise the socket waits for the
        // visitor to open the chat.
        if connection::returning() {
            connection::want(widget);
        }
        view::app(widget)
    });
    handle.forget();
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark("switchboard:ready");
    }
    state::core(|c| c.ready = true);
    listeners::emit("ready", &JsValue::UNDEFINED);
}

/// The JavaScript API: `Switchboard(name, a, b)` once the widget is loaded.
#[wasm_bindgen]
pub fn command(name: String, a: JsValue, b: JsValue) -> JsValue {
    api::command(&name, a, b)
}
