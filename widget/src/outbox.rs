//! Messages typed but not yet acknowledged, kept in the host page's storage so a reload, a
//! closed laptop or a relay restart loses nothing. Each keeps its client id, so a resend after
//! an unseen ack is recognised by the relay and stored once.

use serde::{Deserialize, Serialize};
use switchboard_protocol::Millis;

use crate::state::core;
use crate::storage;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub client_id: String,
    pub text: String,
    pub at: Millis,
}

fn key() -> String {
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
