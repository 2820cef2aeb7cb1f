//! The console's screens: sign-in, then inbox | conversation | context.

mod context;
mod conversation;
mod inbox;
mod signin;

use leptos::prelude::*;

use crate::state::Console;

pub fn app(c: Console) -> impl IntoView {
    view! {
        <Show when=move || c.token.get().is_some() fallback=move || signin::signin(c)>
            <div class="c-app">
                <header class="c-top">
                    <strong>"Switchboard"</strong>
                    <span class="c-agent" data-testid="agent-name">{move || c.agent_name.get()}</span>
                    <span class="c-conn" data-testid="connection" data-state=move || c.conn.get()>
                        {move || c.conn.get()}
                    </span>
                    <button class="c-signout" data-testid="sign-out" on:click=move |_| signin::sign_out(c)>
                        "Sign out"
                    </button>
                </header>
                <main class="c-main">
                    {inbox::inbox(c)}
                    {conversation::conversation(c)}
                    {context::sidebar(c)}
                </main>
            </div>
        </Show>
    }
}

/// Local `HH:MM` of a protocol timestamp.
pub fn clock(at: u64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
    format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
}
