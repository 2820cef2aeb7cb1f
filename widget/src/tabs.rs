//! One connection per browser: the tabs of a site elect a leader with the Web Locks API; only
//! the leader opens the WebSocket. It relays every frame it receives to the other tabs over a
//! `BroadcastChannel`, and sends what they ask it to. When the leader tab closes, its lock is
//! released and the next tab in the lock's queue takes over and resumes from its last seq.
//! Browsers without Web Locks fall back to one connection per tab.

use leptos::prelude::*;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::state::{core, Conn, Widget};

/// Joins the site's tab group; calls `lead` once this tab becomes the leader.
pub fn join(widget: Widget, lead: impl FnOnce() + 'static) {
    let site = core(|c| c.site.clone());
    let name = format!("switchboard:{site}");
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
        become_leader(lead);
        return;
    };
    let granted = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
        become_leader(lead);
        // Held until the tab goes away: a promise that never settles.
        js_sys::Promise::new(&mut |_, _| {}).into()
    });
    if request
        .call2(&locks, &JsValue::from_str(&name), &granted)
        .is_err()
    {
        web_sys::console::warn_1(&"Switchboard: no tab lock; this tab connects on its own".into());
    }
    // A follower asks the leader for the conversation so far.
    post(&serde_json::json!({ "t": "hello" }));
}

fn become_leader(lead: impl FnOnce()) {
    core(|c| c.leader = true);
    lead();
}

fn post(v: &Value) {
    let text = v.to_string();
    core(|c| {
        if let Some(ch) = &c.channel {
            let _ = ch.post_message(&JsValue::from_str(&text));
        }
    });
}

/// Leader: hands a frame from the relay to the other tabs.
pub fn relay_frame(text: &str) {
    post(&serde_json::json!({ "t": "frame", "d": text }));
}

/// Leader: tells the other tabs the connection state.
pub fn announce(conn: Conn) {
    post(&serde_json::json!({ "t": "conn", "d": conn.as_str() }));
}

/// Tells the other tabs the visitor was reset (`Switchboard('reset')`).
pub fn reset() {
    post(&serde_json::json!({ "t": "reset" }));
}

/// Follower: asks the leader to send a frame on its socket.
pub fn forward(json: String) {
    post(&serde_json::json!({ "t": "send", "d": json }));
}

fn receive(widget: Widget, text: &str) {
    let Ok(msg) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let data = msg.get("d").and_then(Value::as_str).unwrap_or_default();
    let leader = core(|c| c.leader);
    match (msg.get("t").and_then(Value::as_str), leader) {
        (Some("frame"), false) => crate::connection::handle_text(widget, data, None),
        (Some("conn"), false) => widget.conn.set(match data {
            "online" => Conn::Online,
            "error" => Conn::Error,
            "connecting" => Conn::Connecting,
            "offline" => Conn::Offline,
            _ => Conn::Reconnecting,
        }),
        (Some("send"), true) => {
            crate::state::send_raw(data.to_owned());
        }
        (Some("hello"), true) => crate::connection::welcome_follower(),
        (Some("reset"), _) => crate::api::forget(widget),
        _ => {}
    }
}
