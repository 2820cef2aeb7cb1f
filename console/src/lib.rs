//! The agent console, served by the relay at `/console/`: an agent signs in with a password
//! (or a token),
//! sees the site's conversations, answers them, and sees who the visitor is and what is in
//! their cart or order.
//!
//! Layout:
//! - [`state`]: everything on screen as signals ([`Console`], `Copy`), the rules that change
//!   it (dedupe by seq, pending → sent, unread), and the non-reactive session beside it;
//! - [`auth`]: how the agent is signed in (session cookie or token), sign-in and sign-out
//!   requests;
//! - [`connection`]: the agent WebSocket (hello with the token, pings, reconnect with backoff,
//!   4001 back to sign-in) and the frames the views send (sync, reply, typing);
//! - [`canned`]: the sites' canned replies, their fuzzy search and the frames that change
//!   them (the `/` picker and the admin screen are `view::canned`, `view::canned_admin`);
//! - [`desk`]: the helpdesk side: the relay's directory, presence, views and their counts,
//!   what the agent may do to a conversation, and the lifecycle frames the action bar sends;
//! - [`lookup`]: search and the visitor's earlier conversations (the frames, the answers);
//! - `view`: sign-in, view tabs, inbox, action bar, transcript, reply box, context sidebar,
//!   presence switch; one module each;
//! - `money`: prices in the visitor's currency;
//! - [`notes`]: private notes (writing one with its `@mentions`) and `on_mention`, where a
//!   mention of this agent arrives;
//! - [`i18n`]: the console's words in the agent's language, dates and numbers by `Intl`;
//! - [`notify`]: system notifications and a tone while the tab is hidden;
//! - [`receipts`]: the agents' read mark, the visitor's read mark and page trail;
//! - [`unread`]: unread conversations per view, the title's count, "my queue".
//!
//! Message text becomes links through `switchboard_protocol::linkify`, the rule the widget
//! uses too. Wire types come from `switchboard_protocol` only.

pub mod auth;
pub mod canned;
pub mod connection;
pub mod desk;
pub mod i18n;
pub mod lookup;
mod money;
pub mod notes;
pub mod notify;
pub mod receipts;
pub mod state;
pub mod unread;
mod view;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;

pub use state::Console;
pub use view::app;

/// How often the relative times in the inbox are refreshed.
const CLOCK_TICK_MS: u32 = 20_000;

/// Page entry point: mounts the console on `<body>` and reconnects a signed-in agent.
#[wasm_bindgen(start)]
pub fn start() {
    let console = Console::create();
    leptos::mount::mount_to_body(move || app(console));
    if console.auth.get_untracked().is_some() {
        connection::start(console);
    }
    // Coming back to the tab shows the open conversation, so it counts as seen now.
    let visibility = window_event_listener_untyped("visibilitychange", move |_| {
        if let (true, Some(conv)) = (state::page_visible(), console.selected.get_untracked()) {
            console.mark_seen(&conv);
        }
    });
    // The console lives as long as the page; so does the listener.
    std::mem::forget(visibility);
    leptos::task::spawn_local(async move {
        loop {
            gloo_timers::future::TimeoutFuture::new(CLOCK_TICK_MS).await;
            console.now.set(js_sys::Date::now());
        }
    });
}
