//! The JavaScript API site owners call: `Switchboard('identify', {...})` (a claim, or
//! `{ token }` signed by the site's server), `Switchboard('setContext', {...})`,
//! `Switchboard('reset')`, `Switchboard('open' | 'close' | 'toggle')`,
//! `Switchboard('consent', true | false)`, `Switchboard('locale', 'ar')` (one of the shipped
//! languages; it wins over the page's and the browser's),
//! `Switchboard('on', 'message' | 'open' | 'close' | 'ready' | 'consent_required', fn)`. Bad
//! calls are logged with `console.warn` and ignored; nothing throws into the host page.
//!
//! `identify` and `setContext` never connect by themselves: they are kept and go with the
//! `hello` when the visitor opens the chat. The loader answers `consent` (and the consent
//! events) before the widget is loaded; once it is, `consent` comes here.

use leptos::prelude::*;
use serde_json::Value;
use switchboard_protocol::context::{Cart, Identity, Order};
use switchboard_protocol::limits::MAX_IDENTITY_TOKEN_BYTES;
use switchboard_protocol::{ClientMsg, Context};
use wasm_bindgen::{JsCast, JsValue};

use crate::state::{core, send, Widget};

fn warn(msg: &str) {
    web_sys::console::warn_1(&JsValue::from_str(&format!("Switchboard: {msg}")));
}

/// A plain JS object as JSON (through `JSON.stringify`, so no extra serializer in the bundle).
/// Pages with Prototype.js (or its imitators) define `toJSON` on `Array.prototype` and
/// `String.prototype`, which makes `JSON.stringify` write arrays and strings as strings of
/// their own: those are set aside for the one synchronous call and put back exactly as they
/// were, so the page never sees them missing.
fn to_json(v: &JsValue) -> Option<Value> {
    let protos = [
        js_sys::Object::get_prototype_of(&js_sys::Array::new()),
        js_sys::Object::get_prototype_of(&JsValue::from_str("")),
    ];
    let key = JsValue::from_str("toJSON");
    let saved: Vec<(js_sys::Object, JsValue)> = protos
        .into_iter()
        .filter_map(|p| {
            let d = js_sys::Object::get_own_property_descriptor(&p, &key);
            (!d.is_undefined() && js_sys::Reflect::delete_property(&p, &key).unwrap_or(false))
                .then_some((p, d))
        })
        .collect();
    let s = js_sys::JSON::stringify(v);
    for (p, d) in saved {
        let _ = js_sys::Reflect::define_property(&p, &key, d.unchecked_ref());
    }
    serde_json::from_str(&s.ok()?.as_string()?).ok()
}

pub fn command(name: &str, a: JsValue, b: JsValue) -> JsValue {
    let Some(widget) = core(|c| c.widget) else {
        warn("not mounted yet");
        return JsValue::UNDEFINED;
    };
    match name {
        "open" => widget.set_open(true),
        "close" => widget.set_open(false),
        "toggle" => widget.set_open(!widget.open.get_untracked()),
        "locale" => match crate::i18n::from_js(&a) {
            Some(strings) => widget.strings.set(strings),
            None => warn(&format!(
                "locale expects one of {}",
                crate::i18n::ALL.map(|s| s.lang).join(", ")
            )),
        },
        "identify"
            if js_sys::Reflect::get(&a, &"token".into()).is_ok_and(|t| !t.is_undefined()) =>
        {
            match js_sys::Reflect::get(&a, &"token".into())
                .ok()
                .and_then(|t| t.as_string())
            {
                Some(token) if !token.is_empty() && token.len() <= MAX_IDENTITY_TOKEN_BYTES => {
                    core(|c| c.identity_token = Some(token.clone()));
                    send(&ClientMsg::Identify { token });
                }
                _ => warn("identify expects {token} with the signed token as a string"),
            }
        }
        "reset" => {
            forget(widget);
            crate::tabs::reset();
        }
        "consent" => match a.as_bool() {
            Some(true) => {
                core(|c| c.blocked = false);
                crate::tabs::rejoin(widget);
            }
            Some(false) => {
                withdraw(widget);
                crate::tabs::withdraw();
            }
            None => warn("consent expects true or false"),
        },
        "identify" => match to_json(&a).and_then(identity) {
            Some(identity) => update_context(|c| c.identity = Some(identity)),
            None => warn("identify expects {id, name, email} with string values"),
        },
        "setContext" => match to_json(&a) {
            Some(Value::Object(map)) => set_context(map),
            _ => warn("setContext expects an object"),
        },
        "on" => match (a.as_string(), b.dyn_into::<js_sys::Function>()) {
            (Some(event), Ok(f)) if EVENTS.contains(&event.as_str()) => {
                // Calls queued before the widget loaded are replayed after `ready` fired, so a
                // late `ready` listener is called at once instead of never.
                let call_now = event == "ready" && core(|c| c.ready);
                core(|c| c.listeners.push((event, f.clone())));
                if call_now {
                    call(&f, &JsValue::UNDEFINED);
                }
            }
            (Some(event), Ok(_)) => warn(&format!(
                "unknown event {event:?}; events are {}",
                EVENTS.join(", ")
            )),
            _ => warn("on expects an event name and a function"),
        },
        other => warn(&format!("unknown command {other:?}")),
    }
    JsValue::UNDEFINED
}

/// The events `Switchboard('on', …)` accepts.
const EVENTS: &[&str] = &["message", "open", "close", "ready", "consent_required"];

/// Sites often keep user ids as numbers; the wire wants strings.
fn identity(mut v: Value) -> Option<Identity> {
    if let Some(id) = v.get_mut("id") {
        if let Value::Number(n) = id {
            *id = Value::String(n.to_string());
        }
    }
    serde_json::from_value(v).ok()
}

/// `cart` and `order` are typed; every other key goes to `custom`. A key given again replaces
/// the old value; `null` removes it.
fn set_context(map: serde_json::Map<String, Value>) {
    let mut cart = None;
    let mut order = None;
    for (key, value) in &map {
        match key.as_str() {
            "cart" if !value.is_null() => match serde_json::from_value::<Cart>(value.clone()) {
                Ok(c) => cart = Some(Some(c)),
                Err(e) => return warn(&format!("setContext: cart: {e}")),
            },
            "order" if !value.is_null() => match serde_json::from_value::<Order>(value.clone()) {
                Ok(o) => order = Some(Some(o)),
                Err(e) => return warn(&format!("setContext: order: {e}")),
            },
            "cart" => cart = Some(None),
            "order" => order = Some(None),
            _ => {}
        }
    }
    update_context(|c| {
        if let Some(cart) = cart {
            c.cart = cart;
        }
        if let Some(order) = order {
            c.order = order;
        }
        for (key, value) in map {
            if key == "cart" || key == "order" {
                continue;
            }
            if value.is_null() {
                c.custom.remove(&key);
            } else {
                c.custom.insert(key, value);
            }
        }
    });
}

/// Applies a change if the result passes the relay's checks, then tells the relay (or keeps it
/// for the next `hello` while disconnected).
fn update_context(f: impl FnOnce(&mut Context)) {
    let mut next = core(|c| c.context.clone());
    f(&mut next);
    if let Err((_, reason)) = next.validate() {
        return warn(&format!("context not accepted: {reason}"));
    }
    core(|c| c.context = next.clone());
    send(&ClientMsg::SetContext { context: next });
}

/// Ends the visitor on this browser (logout, shared computers): its token, unsent messages,
/// identity and transcript are dropped, and the socket closes; the connection comes back as
/// a new visitor with nothing of the previous one.
pub fn forget(widget: Widget) {
    crate::storage::remove(&crate::connection::token_key());
    crate::storage::remove(&crate::outbox::key());
    let tx = core(|c| {
        c.identity_token = None;
        c.token = None;
        c.context.identity = None;
        c.context.cart = None;
        c.context.order = None;
        c.context.custom.clear();
        c.conversation_id = None;
        c.visitor_id = None;
        c.last_welcome = None;
        c.caught_up = false;
        c.tx.take()
    });
    widget.lines.set(Vec::new());
    widget.unread.set(0);
    widget.typing.set(None);
    // The leader's session ends with its socket and reconnects without a token.
    if let Some(tx) = tx {
        tx.close_channel();
    }
}

/// Consent withdrawn (`Switchboard('consent', false)`, here or in another tab): the visitor is
/// forgotten as by `reset`, the socket closes and stays closed, this tab gives up leading the
/// others, and nothing is stored or sent until consent is given again.
pub fn withdraw(widget: Widget) {
    widget.set_open(false);
    core(|c| {
        c.blocked = true;
        c.wanted = false;
    });
    forget(widget);
    widget.conn.set(crate::state::Conn::Connecting);
    crate::tabs::resign();
}

/// Calls the site's listeners for `event`.
pub fn emit(event: &str, payload: &JsValue) {
    let listeners: Vec<js_sys::Function> = core(|c| {
        c.listeners
            .iter()
            .filter(|(e, _)| e == event)
            .map(|(_, f)| f.clone())
            .collect()
    });
    for f in listeners {
        call(&f, payload);
    }
}

/// A site's listener that throws is its own bug; it must not break the widget.
fn call(f: &js_sys::Function, payload: &JsValue) {
    if let Err(e) = f.call1(&JsValue::NULL, payload) {
        web_sys::console::warn_2(&JsValue::from_str("Switchboard: a listener threw"), &e);
    }
}
