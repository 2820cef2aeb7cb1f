//! Messages typed but not yet acknowledged, kept in the host page's storage so a reload, a
//! closed laptop or a relay restart loses nothing. Each keeps its client id, so a resend after
//! an unseen ack is recognised by the relay and stored once.

use switchboard_protocol::client::Send;
use switchboard_protocol::{ClientMsg, Millis};

use crate::state::core;
use crate::storage;
use crate::wire::{self, opt, req, string, uint, Obj};

/// Stored as a JSON array of `{client_id, text, at, postback?}`.
#[derive(Clone, Debug)]
pub struct Entry {
    pub client_id: String,
    pub text: String,
    pub at: Millis,
    /// Set when this is a click on a bot's chip or button: `text` is its label.
    pub postback: Option<String>,
}

impl Entry {
    /// The frame that stores this entry; the same on the first try and on every resend.
    pub fn frame(&self, conversation_id: String) -> ClientMsg {
        let client_id = self.client_id.clone();
        match &self.postback {
            Some(payload) => ClientMsg::Postback {
                conversation_id,
                client_id,
                label: self.text.clone(),
                payload: payload.clone(),
            },
            None => ClientMsg::Send(Send {
                conversation_id,
                client_id,
                text: self.text.clone(),
                rich: None,
                canned_id: None,
            }),
        }
    }
}

pub fn key() -> String {
    core(|c| format!("switchboard:{}:outbox", c.site))
}

pub fn load() -> Vec<Entry> {
    storage::get(&key())
        .and_then(|s| wire::parse(&s))
        .filter(js_sys::Array::is_array)
        .and_then(|list| js_sys::Array::from(&list).iter().map(read).collect())
        .unwrap_or_default()
}

fn read(o: wasm_bindgen::JsValue) -> Option<Entry> {
    let o = &o;
    Some(Entry {
        client_id: req(o, "client_id", string)?,
        text: req(o, "text", string)?,
        at: req(o, "at", uint)?,
        postback: opt(o, "postback", string)?,
    })
}

fn save(entries: &[Entry]) {
    let list: js_sys::Array = entries
        .iter()
        .map(|e| {
            let o = Obj::new()
                .s("client_id", &e.client_id)
                .s("text", &e.text)
                .n("at", e.at as f64);
            match &e.postback {
                Some(p) => o.s("postback", p),
                None => o,
            }
            .done()
        })
        .collect();
    storage::set(
        &key(),
        &wire::stringify(&list).unwrap_or_else(|| "[]".into()),
    );
}

pub fn push(entry: Entry) {
    let mut all = load();
    all.push(entry);
    save(&all);
}

pub fn remove(client_id: &str) {
    let mut all = load();
    let before = all.len();
    all.retain(|e| e.client_id != client_id);
    if all.len() != before {
        save(&all);
    }
}
