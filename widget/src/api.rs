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
use switchboard_protocol::limits::MAX_IDENTITY_TOKEN_BYTES;
use switchboard_protocol::{ClientMsg, Context};
use wasm_bindgen::{JsCast, JsValue};

use crate::chat;
use crate::connection::send;
use crate::listeners::call;
use crate::state::core;
use crate::wire;

fn warn(msg: &str) {
    web_sys::console::warn_1(&JsValue::from_str(&format!("Switchboard: {msg}")));
}

pub fn command(name: &str, a: JsValue, b: JsValue) -> JsValue {
    let Some(widget) = core(|c| c.widget) else {
        warn("not mounted yet");
        return JsValue::UNDEFINED;
    };
    match name {
        "open" => chat::set_open(widget, true),
        "close" => chat::set_open(widget, false),
        "toggle" => chat::set_open(widget, !widget.open.get_untracked()),
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
            chat::forget(widget);
            crate::tabs::reset();
        }
        "consent" => match a.as_bool() {
            Some(true) => {
                core(|c| c.blocked = false);
                crate::tabs::rejoin(widget);
            }
            Some(false) => {
                chat::withdraw(widget);
                crate::tabs::withdraw();
            }
            None => warn("consent expects true or false"),
        },
        "identify" => match wire::plain(&a).and_then(|v| wire::identity(&v)) {
            Some(identity) => update_context(|c| c.identity = Some(identity)),
            None => warn("identify expects {id, name, email} with string values"),
        },
        "setContext" => match wire::plain(&a) {
            Some(v) if v.is_object() && !js_sys::Array::is_array(&v) => set_context(&v),
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

/// `cart` and `order` are typed; every other key goes to `custom`. A key given again replaces
/// the old value; `null` removes it.
fn set_context(map: &JsValue) {
    let entries = wire::entries(map);
    let mut cart = None;
    let mut order = None;
    for (key, value) in &entries {
        match key.as_str() {
            "cart" if !value.is_null() => match wire::cart(value) {
                Some(c) => cart = Some(Some(c)),
                None => return warn("setContext: cart: not a cart (items, total, currency)"),
            },
            "order" if !value.is_null() => match wire::order(value) {
                Some(o) => order = Some(Some(o)),
                None => return warn("setContext: order: not an order (number, status, items, …)"),
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
        for (key, value) in entries {
            if key == "cart" || key == "order" {
                continue;
            }
            if value.is_null() {
                c.custom.remove(&key);
            } else {
                c.custom.insert(key, wire::value(&value));
            }
        }
    });
}

/// Applies a change if the result passes the relay's checks, then tells the relay (or keeps it
/// for the next `hello` while disconnected).
fn update_context(f: impl FnOnce(&mut Context)) {
    let mut next = core(|c| c.context.clone());
    f(&mut next);
    let size = |v: &JsValue| wire::stringify(v).map_or(usize::MAX, |s| s.len());
    let measured = size(&wire::context(&next));
    if let Err((_, reason)) = next.validate_measured(measured, &|v| size(&wire::value_js(v))) {
        return warn(&format!("context not accepted: {reason}"));
    }
    core(|c| c.context = next.clone());
    send(&ClientMsg::SetContext { context: next });
}
