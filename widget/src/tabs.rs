//! One connection per browser: the tabs of a site elect a leader with the Web Locks API; only
//! the leader opens the WebSocket. It relays every frame it receives to the other tabs over a
//! `BroadcastChannel`, and sends what they ask it to. When the leader tab closes, its lock is
//! released and the next tab in the lock's queue takes over and resumes from its last seq.
//! Browsers without Web Locks fall back to one connection per tab.
//!
//! The leader connects only once the chat is wanted (`connection::want`); a follower whose
//! visitor opens the chat asks it to. A tab whose consent was withdrawn releases its lock, so
//! another tab can lead, and ignores the channel until consent is given again.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use std::cell::Cell;

use crate::state::{core, Conn, Lock, Widget};

/// What this tab is asked to do, handed up to `chat::from_tab` (this module sits below the
/// connection and the chat, so it names them no more than this).
pub enum TabEvent {
    /// This tab became the leader.
    Lead,
    /// Follower: a frame from the relay, relayed by the leader.
    Frame(String),
    /// Leader: a frame a follower wants sent on the socket.
    Send(String),
    /// Leader: a tab opened and wants the conversation so far.
    Hello,
    /// Leader: a follower's visitor wants the chat.
    Connect,
    /// Another tab reset the visitor.
    Reset,
    /// Another tab's visitor withdrew consent.
    Withdraw,
}

type Handler = fn(Widget, TabEvent);

thread_local! {
    static HANDLER: Cell<Option<Handler>> = const { Cell::new(None) };
}

fn up(widget: Widget, event: TabEvent) {
    if let Some(handle) = HANDLER.with(Cell::get) {
        handle(widget, event);
    }
}

fn lock_name() -> String {
    core(|c| format!("switchboard:{}", c.site))
}

/// Joins the site's tab group; `handler` gets what the other tabs ask and [`TabEvent::Lead`]
/// once this tab becomes the leader.
pub fn join(widget: Widget, handler: Handler) {
    HANDLER.with(|h| h.set(Some(handler)));
    let name = lock_name();
    if let Ok(channel) = web_sys::BroadcastChannel::new(&name) {
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                if let Some(text) = ev.data().as_string() {
                    receive(widget, &text);
                }
            });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        core(|c| c.channel = Some(channel));
    }
    request_lock(widget);
    // A follower asks the leader for the conversation so far.
    post("hello", None);
}

fn request_lock(widget: Widget) {
    let name = lock_name();
    let lock_request = web_sys::window()
        .map(|w| w.navigator())
        .and_then(|n| js_sys::Reflect::get(&n, &"locks".into()).ok())
        .filter(|l| !l.is_undefined())
        .and_then(|locks| {
            let request = js_sys::Reflect::get(&locks, &"request".into())
                .ok()?
                .dyn_into::<js_sys::Function>()
                .ok()?;
            Some((locks, request))
        });
    let Some((locks, request)) = lock_request else {
        core(|c| c.lock = Lock::Held(None));
        become_leader(widget);
        return;
    };
    core(|c| c.lock = Lock::Queued);
    let granted = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
        if core(|c| c.blocked) {
            // Consent was withdrawn while waiting: let the next tab have it at once.
            core(|c| c.lock = Lock::None);
            return JsValue::UNDEFINED;
        }
        // Held until the tab goes away or resigns: a promise only `resign` settles.
        let held = js_sys::Promise::new(&mut |resolve, _| {
            core(|c| c.lock = Lock::Held(Some(resolve)));
        });
        become_leader(widget);
        held.into()
    });
    match request.call2(&locks, &JsValue::from_str(&name), &granted) {
        Err(_) => lead_alone(widget),
        // Browsers that block site data (cookies blocked, sandboxed or opaque-origin frames)
        // reject the request (`SecurityError`) rather than throw. Handled here, the rejection
        // never reaches the host page's error monitoring.
        Ok(pending) => {
            if let Ok(pending) = pending.dyn_into::<js_sys::Promise>() {
                wasm_bindgen_futures::spawn_local(async move {
                    let refused = wasm_bindgen_futures::JsFuture::from(pending).await.is_err();
                    if refused && core(|c| matches!(c.lock, Lock::Queued)) {
                        lead_alone(widget);
                    }
                });
            }
        }
    }
}

/// No tab lock to be had: this tab connects on its own.
fn lead_alone(widget: Widget) {
    web_sys::console::warn_1(&"Switchboard: no tab lock; this tab connects on its own".into());
    core(|c| c.lock = Lock::Held(None));
    become_leader(widget);
}

fn become_leader(widget: Widget) {
    core(|c| c.leader = true);
    up(widget, TabEvent::Lead);
}

/// Stops leading (consent withdrawn): the lock goes to the next tab in its queue.
pub fn resign() {
    let held = core(|c| {
        if !matches!(c.lock, Lock::Held(_)) {
            return None;
        }
        c.leader = false;
        match std::mem::take(&mut c.lock) {
            Lock::Held(release) => release,
            _ => None,
        }
    });
    if let Some(release) = held {
        let _ = release.call0(&JsValue::NULL);
    }
}

/// Consent given again: back in the tab group's queue (or leading) if this tab left it.
pub fn rejoin(widget: Widget) {
    if core(|c| matches!(c.lock, Lock::None)) {
        request_lock(widget);
    }
}

fn post(kind: &str, data: Option<&str>) {
    let text = crate::wire::tab_message(kind, data);
    core(|c| {
        if let Some(ch) = &c.channel {
            let _ = ch.post_message(&JsValue::from_str(&text));
        }
    });
}

/// Leader: hands a frame from the relay to the other tabs.
pub fn relay_frame(text: &str) {
    post("frame", Some(text));
}

/// Leader: tells the other tabs the connection state.
pub fn announce(conn: Conn) {
    post("conn", Some(conn.as_str()));
}

/// Tells the other tabs the visitor was reset (`Switchboard('reset')`).
pub fn reset() {
    post("reset", None);
}

/// Tells the other tabs consent was withdrawn (`Switchboard('consent', false)`).
pub fn withdraw() {
    post("withdraw", None);
}

/// Follower: the visitor wants the chat; the leader connects if it has not.
pub fn ask_leader() {
    post("connect", None);
}

/// Follower: asks the leader to send a frame on its socket.
pub fn forward(json: String) {
    post("send", Some(&json));
}

fn receive(widget: Widget, text: &str) {
    let Some((kind, data)) = crate::wire::read_tab_message(text) else {
        return;
    };
    let data = data.as_str();
    let (leader, blocked) = core(|c| (c.leader, c.blocked));
    if blocked {
        // Nothing of a visitor reaches a tab without consent.
        return;
    }
    match (Some(kind.as_str()), leader) {
        (Some("frame"), false) => up(widget, TabEvent::Frame(data.to_owned())),
        (Some("conn"), false) => widget.conn.set(match data {
            "online" => Conn::Online,
            "error" => Conn::Error,
            "connecting" => Conn::Connecting,
            "offline" => Conn::Offline,
            _ => Conn::Reconnecting,
        }),
        (Some("send"), true) => up(widget, TabEvent::Send(data.to_owned())),
        (Some("hello"), true) => up(widget, TabEvent::Hello),
        (Some("connect"), true) => up(widget, TabEvent::Connect),
        (Some("reset"), _) => up(widget, TabEvent::Reset),
        (Some("withdraw"), _) => up(widget, TabEvent::Withdraw),
        _ => {}
    }
}
