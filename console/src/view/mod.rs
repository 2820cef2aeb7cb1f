//! The console's screens: sign-in, then view tabs + inbox | action bar + transcript + reply |
//! context, the presence switch in the header, and the small time formatting they share.

mod actions;
mod block;
mod canned;
mod canned_admin;
mod context;
mod handoff;
mod history;
mod inbox;
pub(crate) mod layout;
mod note;
mod presence;
mod reply;
mod rich_reply;
mod search;
mod shortcuts;
mod signin;
mod trail;
mod transcript;
mod transfer;
mod views;

use leptos::prelude::*;

use crate::i18n::t;
use crate::state::{Conn, Console};

pub use inbox::visitor_label;

/// The whole console: sign-in until the agent is signed in, then the inbox, the open
/// conversation and the visitor's context (side by side, or stacked on a narrow screen:
/// `layout`).
pub fn app(c: Console) -> impl IntoView {
    crate::i18n::apply_to_document();
    crate::notify::install(c);
    // The count of what needs the agent in the tab title, so it shows while they work in
    // another tab.
    Effect::new(move || {
        let unread = if c.auth.get().is_some() {
            c.unread_total()
        } else {
            0
        };
        if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
            doc.set_title(&crate::unread::title(unread));
        }
    });
    let canned_open = RwSignal::new(false);
    let overlay = RwSignal::new(false);
    shortcuts::install(c, overlay);
    let open_name = Signal::derive(move || {
        c.open_summary()
            .map(|s| visitor_label(&s))
            .unwrap_or_default()
    });
    view! {
        <Show when=move || c.auth.get().is_some() fallback=move || signin::signin(c)>
            <div class="c-app" data-testid="app" data-pane=move || layout::current(c).as_str()>
                <header class="c-top">
                    <h1 class="c-brand">"Switchboard"</h1>
                    <span
                        class="c-conn"
                        data-testid="connection"
                        data-state=move || c.conn.get().as_str()
                        role="status"
                    >
                        {move || match c.conn.get() {
                            Conn::Connecting => t().connecting,
                            Conn::Online => t().online,
                            Conn::Reconnecting => t().reconnecting,
                        }}
                    </span>
                    <span class="c-agent" data-testid="agent-name">{move || c.agent_name.get()}</span>
                    {search::toggle(c)}
                    {presence::switch(c)}
                    {canned_admin::button(c, canned_open)}
                    {crate::notify::offer()}
                    {shortcuts::button(overlay)}
                    <button class="c-signout" data-testid="sign-out" on:click=move |_| signin::sign_out(c)>
                        {t().sign_out}
                    </button>
                </header>
                {note::notices(c)}
                <main class="c-main">
                    {inbox::inbox(c)}
                    <section class="c-conversation" aria-labelledby=move || c.selected.get().map(|_| layout::CONVERSATION_HEADING_ID)
                        aria-label=move || c.selected.get().is_none().then_some(t().conversation)>
                        // Search, or an earlier conversation read-only, in the conversation's place.
                        <Show when=move || !c.lookup.covers_conversation() fallback=move || search::panel(c)>
                            <Show
                                when=move || c.selected.get().is_some()
                                fallback=|| view! { <p class="c-empty">{t().pick_conversation}</p> }
                            >
                                {layout::conversation_head(c, open_name)}
                                {actions::bar(c)}
                                {block::block(c)}
                                {handoff::banner(c)}
                                {transcript::transcript(c)}
                                {reply::reply(c)}
                            </Show>
                        </Show>
                    </section>
                    {context::sidebar(c)}
                </main>
                {canned_admin::panel(c, canned_open)}
                {shortcuts::overlay(overlay)}
            </div>
        </Show>
    }
}

/// The time of a protocol timestamp in the agent's locale (`i18n::clock`).
pub fn clock(at: u64) -> String {
    crate::i18n::clock(at)
}

/// "now", "5 min", "3 h", "2 d" in the agent's locale (`i18n::relative`).
pub fn relative(at: u64, now: f64) -> String {
    crate::i18n::relative(at, now)
}
