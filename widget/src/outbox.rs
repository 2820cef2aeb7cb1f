//! Messages typed but not yet acknowledged, kept in the host page's storage so a reload, a
//! closed laptop or a relay restart loses nothing. Each keeps its client id, so a resend after
//! an unseen ack is recognised by the relay and stored once.

use serde::{Deserialize, Serialize};
use switchboard_protocol::client::Send;
use switchboard_protocol::{ClientMsg, Millis};

use crate::state::{core, send, Widget};
use crate::storage;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub client_id: String,
    pub text: String,
    pub at: Millis,
    /// Set when this is a click on a bot's chip or button: `text` is its label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// Something the visitor said (typed, or clicked on a chip or button): it gets its client id,
/// goes into the outbox (so it survives a reload), shows as pending, and is sent if the socket
/// is up; the connection resends the outbox after every reconnect.
pub fn submit(w: Widget, text: String, postback: Option<String>) {
    let entry = Entry {
        client_id: switchboard_protocol::client_id::random(),
        text,
        at: js_sys::Date::now() as u64,
        postback,
    };
    push(entry.clone());
    // The visitor chats: this browser now has a conversation to come back to.
    crate::connection::keep_token();
    w.add_pending(entry.client_id.clone(), entry.text.clone(), entry.at);
    if let Some(conversation_id) = core(|c| c.conversation_id.clone()) {
        send(&entry.frame(conversation_id));
    }
}

pub fn key() -> String {
    core(|c| format!("switchboard:{}:outbox", c.site))
}

pub fn load() -> Vec<Entry> {
    storage::get(&key())
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

fn save(entries: &[Entry]) {
    storage::set(
        &key(),
        &serde_json::to_string(entries).unwrap_or_else(|_| "[]".into()),
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
