//! The site's listeners (`Switchboard('on', event, fn)`) and the events the widget emits to
//! them: `message`, `open`, `close`, `ready`, `consent_required`.

use wasm_bindgen::JsValue;

use crate::state::core;

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
pub fn call(f: &js_sys::Function, payload: &JsValue) {
    if let Err(e) = f.call1(&JsValue::NULL, payload) {
        web_sys::console::warn_2(&JsValue::from_str("Switchboard: a listener threw"), &e);
    }
}
