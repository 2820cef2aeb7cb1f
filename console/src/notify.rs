//! Telling the agent a chat needs them while the console's tab is in the background: the
//! browser's Notification API and, if the agent turned it on, a short tone (Web Audio, no
//! audio file).
//!
//! [`raise`] is the one way anything notifies; it does nothing while the tab is visible (the
//! agent sees the console then). Permission is asked only when the agent clicks the offer in
//! the header ([`offer`]), never on load, and asked once: the browser remembers a yes or no,
//! this module remembers "not now". What raises, besides mentions: a conversation arriving in
//! my queue (assigned to me, or unassigned in my teams) and a visitor's new message in a
//! conversation assigned to me ([`on_conversation`], [`on_message`]).

use std::cell::{Cell, RefCell};

use leptos::prelude::*;
use switchboard_protocol::{ChatMessage, ConversationSummary, SenderKind};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::NotificationPermission;

use crate::i18n::{fill, t};
use crate::state::{page_visible, Console};
use crate::unread::in_my_queue;

/// localStorage: the agent answered the offer ("asked"), and the sound toggle ("on").
const ASKED_KEY: &str = "switchboard:notify-asked";
const SOUND_KEY: &str = "switchboard:notify-sound";
/// Longest message text in a notification's body.
const BODY_CHARS: usize = 140;
/// A message older than this when it arrives is catch-up, not news.
const FRESH_MS: f64 = 120_000.0;

/// What a notification is about; each names its conversation, whose notifications replace
/// one another (one per conversation on screen) and which a click opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A conversation arrived in my queue.
    Conversation(String),
    /// A visitor wrote in a conversation of mine.
    Message(String),
    /// Another agent mentioned me.
    Mention(String),
}

impl Kind {
    fn conversation(&self) -> &str {
        match self {
            Kind::Conversation(c) | Kind::Message(c) | Kind::Mention(c) => c,
        }
    }
}

/// A notification on screen and its click handler.
type Shown = (web_sys::Notification, Closure<dyn FnMut()>);

thread_local! {
    static CONSOLE: Cell<Option<Console>> = const { Cell::new(None) };
    static AUDIO: RefCell<Option<web_sys::AudioContext>> = const { RefCell::new(None) };
    /// The notifications on screen, kept so their click handlers live as long as they do.
    static SHOWN: RefCell<Vec<Shown>> = const { RefCell::new(Vec::new()) };
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn stored(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

fn store(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}

/// Whether this browser has the Notification API at all (insecure origins and some
/// browsers do not).
fn supported() -> bool {
    web_sys::window()
        .is_some_and(|w| js_sys::Reflect::has(&w, &"Notification".into()).unwrap_or(false))
}

fn permission() -> NotificationPermission {
    if supported() {
        web_sys::Notification::permission()
    } else {
        NotificationPermission::Denied
    }
}

fn sound_on() -> bool {
    stored(SOUND_KEY).as_deref() == Some("on")
}

/// Lets a notification's click open its conversation.
pub fn install(c: Console) {
    CONSOLE.with(|k| k.set(Some(c)));
}

/// Notifies the agent, if the tab is hidden: a system notification when allowed, the tone
/// when turned on.
pub fn raise(kind: Kind, title: &str, body: &str) {
    if page_visible() {
        return;
    }
    if sound_on() {
        tone();
    }
    if permission() != NotificationPermission::Granted {
        return;
    }
    let options = web_sys::NotificationOptions::new();
    options.set_body(body);
    options.set_tag(kind.conversation());
    let Ok(note) = web_sys::Notification::new_with_options(title, &options) else {
        return;
    };
    let conversation = kind.conversation().to_owned();
    let clicked = Closure::<dyn FnMut()>::new(move || {
        if let Some(w) = web_sys::window() {
            let _ = w.focus();
        }
        if let Some(c) = CONSOLE.with(Cell::get) {
            crate::connection::open(c, &conversation);
            c.pane.set(crate::view::layout::Pane::Conversation);
        }
    });
    note.set_onclick(Some(clicked.as_ref().unchecked_ref()));
    SHOWN.with(|s| {
        let mut s = s.borrow_mut();
        // A handful is plenty: older ones were replaced on screen or dismissed.
        if s.len() >= 20 {
            s.remove(0);
        }
        s.push((note, clicked));
    });
}

/// A short soft beep: 880 Hz, a quarter of a second.
fn tone() {
    AUDIO.with(|a| {
        let mut a = a.borrow_mut();
        if a.is_none() {
            *a = web_sys::AudioContext::new().ok();
        }
        let Some(ctx) = a.as_ref() else { return };
        // A context made before any click starts suspended; resuming is allowed once the
        // agent has interacted with the page (they have, to sign in).
        let _ = ctx.resume();
        let (Ok(osc), Ok(gain)) = (ctx.create_oscillator(), ctx.create_gain()) else {
            return;
        };
        let now = ctx.current_time();
        osc.set_type(web_sys::OscillatorType::Sine);
        osc.frequency().set_value(880.0);
        let g = gain.gain();
        let _ = g.set_value_at_time(0.0001, now);
        let _ = g.exponential_ramp_to_value_at_time(0.2, now + 0.02);
        let _ = g.exponential_ramp_to_value_at_time(0.0001, now + 0.25);
        let _ = osc.connect_with_audio_node(&gain);
        let _ = gain.connect_with_audio_node(&ctx.destination());
        let _ = osc.start();
        let _ = osc.stop_with_when(now + 0.3);
    });
}

fn visitor(s: &ConversationSummary) -> String {
    crate::view::visitor_label(s)
}

/// A `conversation` frame, before the console takes it in: notifies when it brings the
/// conversation into my queue (new, or newly assigned to me).
pub fn on_conversation(c: Console, s: &ConversationSummary) {
    let me = c.me.get_untracked();
    let now = js_sys::Date::now() as u64;
    let before = c.summaries.with_untracked(|all| all.get(&s.id).cloned());
    if before.as_ref().is_some_and(|b| b.version > s.version) {
        return;
    }
    let (was, is) = c.directory.with_untracked(|d| {
        (
            before.as_ref().is_some_and(|b| in_my_queue(d, &me, b, now)),
            in_my_queue(d, &me, s, now),
        )
    });
    let newly_mine = s.assignee.as_deref() == Some(me.as_str())
        && before
            .as_ref()
            .is_none_or(|b| b.assignee.as_deref() != Some(me.as_str()));
    if !(is && (!was || newly_mine)) {
        return;
    }
    let title = if s.assignee.is_some() {
        t().assigned_to_you
    } else {
        t().new_conversation
    };
    let preview = s
        .last_message
        .as_ref()
        .map(|m| m.text.chars().take(BODY_CHARS).collect::<String>())
        .unwrap_or_default();
    let body = if preview.is_empty() {
        visitor(s)
    } else {
        format!("{}: {preview}", visitor(s))
    };
    raise(Kind::Conversation(s.id.clone()), title, &body);
}

/// A stored message, before the console takes it in: notifies for a visitor's new words in a
/// conversation assigned to me (not for a replay the console already counted).
pub fn on_message(c: Console, m: &ChatMessage) {
    if m.sender.kind != SenderKind::Visitor {
        return;
    }
    let me = c.me.get_untracked();
    let Some(s) = c
        .summaries
        .with_untracked(|all| all.get(&m.conversation_id).cloned())
    else {
        return;
    };
    // A replay after a reconnect is not news: the summary counted it, or it is old.
    let fresh = m.seq > s.last_seq && (js_sys::Date::now() - m.at as f64) < FRESH_MS;
    if me.is_empty() || s.assignee.as_deref() != Some(me.as_str()) || !fresh {
        return;
    }
    let name = m.sender.name.clone().unwrap_or_else(|| visitor(&s));
    let title = fill(t().new_message, &[("name", &name)]);
    let body: String = m.text.chars().take(BODY_CHARS).collect();
    raise(Kind::Message(s.id.clone()), &title, &body);
}

/// The header's offer to turn notifications on (while the browser has not been asked and the
/// agent has not said "not now"), and the sound toggle.
pub fn offer() -> impl IntoView {
    let asking = RwSignal::new(
        supported()
            && permission() == NotificationPermission::Default
            && stored(ASKED_KEY).is_none(),
    );
    let sound = RwSignal::new(sound_on());
    let turn_on = move |_| {
        store(ASKED_KEY, "asked");
        asking.set(false);
        if let Ok(promise) = web_sys::Notification::request_permission() {
            // The browser remembers the answer; nothing to do with it here.
            leptos::task::spawn_local(async move {
                let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
            });
        }
    };
    let later = move |_| {
        store(ASKED_KEY, "later");
        asking.set(false);
    };
    let toggle_sound = move |_| {
        let on = !sound.get_untracked();
        sound.set(on);
        store(SOUND_KEY, if on { "on" } else { "off" });
        if on {
            // A click is the gesture the browser wants before it plays audio; the sample tone
            // tells the agent what to listen for.
            tone();
        }
    };
    let s = t();
    view! {
        <button
            type="button"
            class="c-sound"
            data-testid="sound-toggle"
            aria-pressed=move || sound.get().to_string()
            on:click=toggle_sound
        >
            {s.sound}
        </button>
        <Show when=move || asking.get()>
            <div class="c-offer" data-testid="notify-offer">
                <p>{s.notify_offer}</p>
                <button type="button" class="c-offer-yes" data-testid="notify-on" on:click=turn_on>
                    {s.notify_on}
                </button>
                <button type="button" data-testid="notify-later" on:click=later>
                    {s.notify_later}
                </button>
            </div>
        </Show>
    }
}
