//! The widget's UI: a launcher button and, when open, a dialog with the transcript and a
//! composer. Keyboard first: Enter sends, Shift+Enter breaks the line, Escape closes and gives
//! focus back to the launcher; the transcript is an `aria-live` list. The panel's header is a
//! `div`: a `<header>` outside sectioning content would be a second banner on the host page.

mod composer;
mod messages;
mod rich;
mod story;

use leptos::html;
use leptos::prelude::*;

use crate::state::{Conn, Widget};

pub fn app(w: Widget) -> impl IntoView {
    let launcher = NodeRef::<html::Button>::new();
    let close = move || {
        w.set_open(false);
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
        <div class="sb-widget" lang=w.strings.lang dir=w.strings.dir()>
                <section
                    id="sb-panel"
                    class="sb-panel"
                    hidden=move || !w.open.get()
                    role="dialog"
                    aria-label=w.strings.title
                    data-testid="panel"
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                        if ev.key() == "Escape" {
                            close();
                        }
                    }
                >
                    <div class="sb-header">
                        <div class="sb-heading">
                            <h2 class="sb-title">{w.strings.title}</h2>
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
                            aria-label=w.strings.close
                            on:click=move |_| close()
                        >
                            "×"
                        </button>
                    </div>
                    {messages::list(w)}
                    {story::notices(w)}
                    <p class="sb-typing" data-testid="typing" aria-live="polite">
                        {move || w.typing.get().map(|name| format!("{name} {}", w.strings.typing))}
                    </p>
                    {composer::composer(w)}
                </section>
            <button
                node_ref=launcher
                class="sb-launcher"
                data-testid="launcher"
                aria-controls="sb-panel"
                aria-expanded=move || if w.open.get() { "true" } else { "false" }
                aria-label=move || {
                    // The badge is drawn, not read: the count goes into the button's name.
                    match (w.open.get(), w.unread.get()) {
                        (true, _) => w.strings.close.to_owned(),
                        (false, 0) => w.strings.open.to_owned(),
                        (false, n) => format!("{} ({n} {})", w.strings.open, w.strings.unread),
                    }
                }
                on:click=move |_| w.set_open(!w.open.get_untracked())
            >
                <svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true">
                    <path
                        fill="currentColor"
                        d="M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"
                    ></path>
                </svg>
                <Show when=move || { w.unread.get() > 0 && !w.open.get() }>
                    <span class="sb-unread" data-testid="unread" aria-hidden="true">
                        {move || w.unread.get()}
                    </span>
                </Show>
            </button>
        </div>
    }
}

fn connection_text(w: Widget) -> &'static str {
    match w.conn.get() {
        Conn::Connecting => w.strings.connecting,
        Conn::Online => w.strings.online,
        Conn::Reconnecting => w.strings.reconnecting,
        Conn::Offline => w.strings.offline,
        Conn::Error => w.strings.error,
    }
}
