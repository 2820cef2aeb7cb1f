//! The sign-in screen: agent id or email and password (the relay sets a session cookie), with
//! "sign in with a token" folded away beneath for agents who have only a token.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::auth::{self, Auth};
use crate::connection;
use crate::i18n::t;
use crate::state::Console;

pub fn signin(c: Console) -> impl IntoView {
    let agent = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let with_password = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let (name, pw) = (
            agent.get_untracked().trim().to_owned(),
            password.get_untracked(),
        );
        if name.is_empty() || pw.is_empty() {
            c.signin_error
                .set(Some(t().enter_agent_and_password.into()));
            return;
        }
        c.signin_error.set(None);
        busy.set(true);
        spawn_local(async move {
            let result = auth::login(&name, &pw).await;
            busy.set(false);
            match result {
                Ok(signed_in) => {
                    password.set(String::new());
                    c.agent_name.set(signed_in.name);
                    signed_in_with(c, Auth::Session);
                }
                Err(why) => c.signin_error.set(Some(why)),
            }
        });
    };
    let with_token = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let tok = token.get_untracked().trim().to_owned();
        if tok.is_empty() {
            c.signin_error.set(Some(t().enter_token.into()));
            return;
        }
        c.signin_error.set(None);
        signed_in_with(c, Auth::Token(tok));
    };
    view! {
        <main class="c-signin" aria-labelledby="c-signin-title">
            <h1 id="c-signin-title">{t().app_title_signin}</h1>
            <form class="c-signin-form" data-testid="login-form" on:submit=with_password>
                <label for="c-agent">{t().agent_or_email}</label>
                <input
                    id="c-agent"
                    name="username"
                    type="text"
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    autofocus
                    data-testid="login-agent"
                    prop:value=move || agent.get()
                    on:input=move |ev| agent.set(event_target_value(&ev))
                />
                <label for="c-password">{t().password}</label>
                <input
                    id="c-password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    data-testid="login-password"
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))
                />
                <button type="submit" data-testid="login-submit" aria-disabled=move || busy.get().to_string()>
                    {move || if busy.get() { t().signing_in } else { t().sign_in }}
                </button>
            </form>
            <p class="c-error" data-testid="sign-in-error" role="alert">{move || c.signin_error.get()}</p>
            <details class="c-token-signin" data-testid="token-signin">
                <summary data-testid="use-token">{t().use_token}</summary>
                <form class="c-signin-form" on:submit=with_token>
                    <label for="c-token">{t().agent_token}</label>
                    <input
                        id="c-token"
                        type="password"
                        autocomplete="off"
                        data-testid="token-input"
                        prop:value=move || token.get()
                        on:input=move |ev| token.set(event_target_value(&ev))
                    />
                    <button type="submit" data-testid="sign-in">{t().sign_in_with_token}</button>
                </form>
            </details>
        </main>
    }
}

fn signed_in_with(c: Console, how: Auth) {
    auth::store(Some(&how));
    c.auth.set(Some(how));
    connection::start(c);
}

/// Signs out here at once, and on the relay (which revokes the session on every node).
pub fn sign_out(c: Console) {
    let had_session = c.auth.get_untracked() == Some(Auth::Session);
    connection::stop();
    auth::store(None);
    c.reset();
    c.signin_error.set(None);
    c.auth.set(None);
    if had_session {
        spawn_local(auth::logout());
    }
}
