//! Sign-in with an agent token (kept in sessionStorage, so a reload stays signed in).

use leptos::prelude::*;

use crate::connection;
use crate::state::{store_token, Console};

pub fn signin(c: Console) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    view! {
        <form
            class="c-signin"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let token = draft.get_untracked().trim().to_owned();
                if token.is_empty() {
                    c.signin_error.set(Some("Enter your agent token".into()));
                    return;
                }
                c.signin_error.set(None);
                store_token(Some(&token));
                c.token.set(Some(token));
                connection::start(c);
            }
        >
            <h1>"Switchboard console"</h1>
            <label for="c-token">"Agent token"</label>
            <input
                id="c-token"
                type="password"
                autocomplete="current-password"
                autofocus
                data-testid="token-input"
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
            />
            <button type="submit" data-testid="sign-in">"Sign in"</button>
            <p class="c-error" data-testid="sign-in-error" role="alert">{move || c.signin_error.get()}</p>
        </form>
    }
}

pub fn sign_out(c: Console) {
    connection::stop();
    store_token(None);
    c.reset();
    c.signin_error.set(None);
    c.token.set(None);
}
