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
mod note;
mod presence;
mod reply;
mod rich_reply;
mod search;
mod signin;
mod transcript;
mod transfer;
mod views;

use leptos::prelude::*;

use crate::state::{Conn, Console};

/// The whole console: sign-in until the agent is signed in, then the three columns.
pub fn app(c: Console) -> impl IntoView {
    // The unread count in the tab title, so an agent working in another tab notices.
    Effect::new(move || {
        let unread = c
            .inbox
            .with(|inbox| inbox.iter().filter(|s| c.unread(s)).count());
        if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
            doc.set_title(&match unread {
                0 => "Switchboard console".to_owned(),
                n => format!("({n}) Switchboard console"),
            });
        }
    });
    let canned_open = RwSignal::new(false);
    view! {
        <Show when=move || c.auth.get().is_some() fallback=move || signin::signin(c)>
            <div class="c-app">
                <header class="c-top">
                    <h1 class="c-brand">"Switchboard"</h1>
                    <span
                        class="c-conn"
                        data-testid="connection"
                        data-state=move || c.conn.get().as_str()
                        role="status"
                    >
                        {move || match c.conn.get() {
                            Conn::Connecting => "Connecting…",
                            Conn::Online => "Online",
                            Conn::Reconnecting => "Reconnecting…",
                        }}
                    </span>
                    <span class="c-agent" data-testid="agent-name">{move || c.agent_name.get()}</span>
                    {search::toggle(c)}
                    {presence::switch(c)}
                    {canned_admin::button(c, canned_open)}
                    <button class="c-signout" data-testid="sign-out" on:click=move |_| signin::sign_out(c)>
                        "Sign out"
                    </button>
                </header>
                {note::notices(c)}
                <main class="c-main">
                    {inbox::inbox(c)}
                    <section class="c-conversation" aria-label="Conversation">
                        // Search, or an earlier conversation read-only, in the conversation's place.
                        <Show when=move || !c.lookup.covers_conversation() fallback=move || search::panel(c)>
                            <Show
                                when=move || c.selected.get().is_some()
                                fallback=|| view! { <p class="c-empty">"Pick a conversation from the inbox."</p> }
                            >
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
            </div>
        </Show>
    }
}

/// Local `HH:MM` of a protocol timestamp, with the date in front when it is not today.
pub fn clock(at: u64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
    let today = js_sys::Date::new_0();
    let time = format!("{:02}:{:02}", d.get_hours(), d.get_minutes());
    if d.to_date_string() == today.to_date_string() {
        time
    } else {
        format!(
            "{}-{:02}-{:02} {time}",
            d.get_full_year(),
            d.get_month() + 1,
            d.get_date()
        )
    }
}

/// "now", "5 min", "3 h", "2 d": short enough for the inbox column.
pub fn relative(at: u64, now: f64) -> String {
    let secs = ((now - at as f64) / 1000.0).max(0.0) as u64;
    match secs {
        0..60 => "now".into(),
        60..3_600 => format!("{} min", secs / 60),
        3_600..86_400 => format!("{} h", secs / 3_600),
        _ => format!("{} d", secs / 86_400),
    }
}
