//! The widget's UI: a launcher button and, when open, a dialog with the transcript and a
//! composer. Keyboard first: Enter sends, Shift+Enter breaks the line, Escape closes and gives
//! focus back to the launcher; the transcript is an `aria-live` list. The panel's header is a
//! `div`: a `<header>` outside sectioning content would be a second banner on the host page.
//! A reply that arrives while the panel is closed is said by a polite live region outside the
//! panel (a closed panel is `hidden`, so its own live regions are silent) and counted in the
//! launcher's name. Names and messages carry `dir="auto"`: each reads in its own script's
//! direction whatever the widget's language.

mod composer;
mod csat;
mod messages;
mod rich;
mod story;
mod viewport;

use leptos::html;
use leptos::prelude::*;

use crate::state::{Conn, Widget};

/// The launcher's chat bubble (the loader's placeholder draws the same).
const LAUNCHER_ICON: &str =
    "M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";

pub fn app(w: Widget) -> impl IntoView {
    let launcher = NodeRef::<html::Button>::new();
    let panel = NodeRef::<html::Section>::new();
    viewport::follow(w, panel);
    let label = move || {
        w.theme
            .with(|t| t.label.clone())
            .unwrap_or_else(|| w.t().open.to_owned())
    };
    let close = move || {
        crate::chat::set_open(w, false);
        // After the next frame: on phones the launcher is hidden while the panel is open, and
        // a hidden element cannot take focus.
        request_animation_frame(move || {
            if let Some(b) = launcher.get_untracked() {
                let _ = b.focus();
            }
        });
    };
    // The panel stays in the DOM while closed (only `hidden`), so a half-typed draft, the
    // scroll position and the `aria-controls` target survive closing.
    view! {
        <div
            class="sb-widget"
            lang=w.tr(|s| s.lang)
            dir=w.tr(|s| s.dir())
            data-scheme=move || w.theme.with(|t| t.scheme.as_str())
        >
                <section
                    node_ref=panel
                    id="sb-panel"
                    class="sb-panel"
                    hidden=move || !w.open.get()
                    role="dialog"
                    aria-label=move || title(w)
                    data-testid="panel"
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                        if ev.key() == "Escape" {
                            close();
                        }
                    }
                >
                    <div class="sb-header">
                        <div class="sb-heading">
                            <h2 class="sb-title" dir="auto">{move || title(w)}</h2>
                            {move || w.theme.with(|t| t.subtitle.clone()).map(|s| view! {
                                <p class="sb-subtitle" data-testid="subtitle" dir="auto">{s}</p>
                            })}
                            <p
                                class="sb-connection"
                                data-testid="connection"
                                data-state=move || w.conn.get().as_str()
                                data-online=move || w.online.get().map(|o| if o { "true" } else { "false" })
                                role="status"
                            >
                                {move || match (w.conn.get(), story::availability(w)) {
                                    (Conn::Online, Some(text)) => text,
                                    _ => connection_text(w).to_owned(),
                                }}
                            </p>
                        </div>
                        <button
                            class="sb-close"
                            data-testid="close"
                            aria-label=w.tr(|s| s.close)
                            on:click=move |_| close()
                        >
                            "×"
                        </button>
                    </div>
                    {messages::list(w)}
                    {story::notices(w)}
                    {csat::prompt(w)}
                    <p class="sb-typing" data-testid="typing" aria-live="polite">
                        {move || w.typing.get().map(|name| w.t().typing.replace("{name}", &name))}
                    </p>
                    {composer::composer(w)}
                </section>
            <button
                node_ref=launcher
                class="sb-launcher"
                data-testid="launcher"
                aria-controls="sb-panel"
                aria-expanded=move || if w.open.get() { "true" } else { "false" }
                class:sb-labelled=move || w.theme.with(|t| t.label.is_some())
                aria-label=move || {
                    // The badge is drawn, not read: the count goes into the button's name.
                    // A site's label stays the name while open (its visible text must be in
                    // the name; `aria-expanded` says the state).
                    let labelled = w.theme.with(|t| t.label.is_some());
                    match (w.open.get(), w.unread.get()) {
                        (true, _) if !labelled => w.t().close.to_owned(),
                        (_, 0) | (true, _) => label(),
                        (false, n) => w.t().unread(&label(), n),
                    }
                }
                on:click=move |_| crate::chat::set_open(w, !w.open.get_untracked())
            >
                <svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true">
                    // `d` from a constant: an all-literal subtree would become an "inert"
                    // element, which Leptos builds by parsing HTML (`innerHTML`), refused
                    // where the page requires Trusted Types.
                    <path fill="currentColor" d=LAUNCHER_ICON></path>
                </svg>
                {move || w.theme.with(|t| t.label.clone()).map(|l| view! {
                    <span class="sb-label" aria-hidden="true" dir="auto">{l}</span>
                })}
                <Show when=move || { w.unread.get() > 0 && !w.open.get() }>
                    <span class="sb-unread" data-testid="unread" aria-hidden="true">
                        // The same digits as the launcher's name says.
                        {move || w.t().number(w.unread.get().into())}
                    </span>
                </Show>
            </button>
            // Outside the panel, so it speaks while the panel is closed (and `hidden`).
            <p class="sb-sr" data-testid="announcer" aria-live="polite">
                {move || w.announcement.get()}
            </p>
        </div>
    }
}

/// The panel's heading: the site's greeting, else the language's.
fn title(w: Widget) -> String {
    w.theme
        .with(|t| t.title.clone())
        .unwrap_or_else(|| w.t().title.to_owned())
}

fn connection_text(w: Widget) -> &'static str {
    let s = w.t();
    match w.conn.get() {
        Conn::Connecting => s.connecting,
        Conn::Online => s.online,
        Conn::Reconnecting => s.reconnecting,
        Conn::Offline => s.offline,
        Conn::Error => s.error,
    }
}
