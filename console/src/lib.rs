//! The agent console, served by the relay at `/console/`.
//!
//! Layout:
//! - [`state`]: the console's reactive state (`Console`, a `Copy` bundle of signals) and the
//!   socket sender beside it;
//! - [`connection`]: the agent WebSocket: hello with the token, inbox, catch-up, reconnects;
//! - [`view`]: sign-in, inbox, transcript, reply box, context sidebar;
//! - [`money`]: prices in the visitor's currency.

mod connection;
mod money;
mod state;
mod view;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    let console = state::Console::create();
    leptos::mount::mount_to_body(move || view::app(console));
    if console.token.get_untracked().is_some() {
        connection::start(console);
    }
}

use leptos::prelude::GetUntracked;
