//! What the visitor and the site do to the chat, above the connection and the tabs: open and
//! close it, say something, end the visitor (`reset`) or withdraw consent; and what the other
//! tabs of the site ask of this one (`tabs` hands their messages up here).

use leptos::prelude::*;
use wasm_bindgen::JsValue;

use crate::connection::{self, send};
use crate::listeners::emit;
use crate::state::{core, Conn, Widget};
use crate::tabs::{self, TabEvent};
use crate::{outbox, storage};

/// Opens or closes the panel; opening asks for the connection (refused while consent is
/// withdrawn).
pub fn set_open(widget: Widget, open: bool) {
    if open && !connection::want(widget) {
        // Consent was withdrawn: the loader asks the visitor (or tells the site) instead.
        emit("consent_required", &JsValue::UNDEFINED);
        return;
    }
    if widget.open.get_untracked() != open {
        widget.open.set(open);
        if open {
            widget.unread.set(0);
            widget.announcement.set(String::new());
        }
        emit(if open { "open" } else { "close" }, &JsValue::UNDEFINED);
    }
}

/// Something the visitor said (typed, or clicked on a chip or button): it gets its client id,
/// goes into the outbox (so it survives a reload), shows as pending, and is sent if the socket
/// is up; the connection resends the outbox after every reconnect.
pub fn submit(w: Widget, text: String, postback: Option<String>) {
    let entry = outbox::Entry {
        client_id: switchboard_protocol::client_id::random(),
        text,
        at: js_sys::Date::now() as u64,
        postback,
    };
    outbox::push(entry.clone());
    // The visitor chats: this browser now has a conversation to come back to.
    connection::keep_token();
    w.add_pending(entry.client_id.clone(), entry.text.clone(), entry.at);
    if let Some(conversation_id) = core(|c| c.conversation_id.clone()) {
        send(&entry.frame(conversation_id));
    }
}

/// Ends the visitor on this browser (logout, shared computers): its token, unsent messages,
/// identity and transcript are dropped, and the socket closes; the connection comes back as
/// a new visitor with nothing of the previous one.
pub fn forget(widget: Widget) {
    storage::remove(&connection::token_key());
    storage::remove(&outbox::key());
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
        c.welcome_seq = 0;
        c.read_sent = 0;
        c.tx.take()
    });
    widget.lines.set(Vec::new());
    widget.seen.set(0);
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
    set_open(widget, false);
    core(|c| {
        c.blocked = true;
        c.wanted = false;
    });
    forget(widget);
    widget.conn.set(Conn::Connecting);
    tabs::resign();
}

/// What another tab of the site asked (see `tabs`), or this tab becoming the leader.
pub fn from_tab(widget: Widget, event: TabEvent) {
    match event {
        TabEvent::Lead => connection::lead(widget),
        TabEvent::Frame(text) => connection::handle_text(widget, &text, None),
        TabEvent::Send(json) => connection::send_raw(json),
        TabEvent::Hello => connection::welcome_follower(),
        TabEvent::Connect => {
            connection::want(widget);
        }
        TabEvent::Reset => forget(widget),
        TabEvent::Withdraw => withdraw(widget),
    }
}
