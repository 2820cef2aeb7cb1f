//! Read receipts and the visitor's page trail, the console's side: the agents' read mark goes
//! up while the agent has the conversation open and the page visible (`Console::mark_seen`
//! decides that), a little after the last message arrived, so a catch-up of many messages
//! sends one mark; the visitor's mark and trail arrive from the relay and are kept here for
//! the transcript and the context panel.

use std::cell::RefCell;
use std::collections::HashMap;

use leptos::prelude::*;
use switchboard_protocol::{ClientMsg, PageVisit, ReadSide};

use crate::state::{send, Console};

/// How long a mark waits for more messages before it goes.
const COALESCE_MS: u32 = 300;

#[derive(Clone, Copy)]
pub struct Receipts {
    /// How far each conversation's visitor has read.
    pub visitor_read: RwSignal<HashMap<String, u64>>,
    /// Each conversation's visitor's last pages, oldest first.
    pub trails: RwSignal<HashMap<String, Vec<PageVisit>>>,
}

impl Receipts {
    pub fn create() -> Receipts {
        Receipts {
            visitor_read: RwSignal::new(HashMap::new()),
            trails: RwSignal::new(HashMap::new()),
        }
    }
}

#[derive(Default)]
struct Sent {
    /// The highest mark sent per conversation.
    sent: HashMap<String, u64>,
    /// Conversations with a mark waiting to go.
    waiting: Vec<String>,
}

thread_local! {
    static SENT: RefCell<Sent> = RefCell::new(Sent::default());
}

/// The agent sees `conv` now: its mark goes once the messages stop arriving for a moment.
pub fn mark(c: Console, conv: &str) {
    let first = SENT.with(|s| {
        let mut s = s.borrow_mut();
        if !s.waiting.iter().any(|w| w == conv) {
            s.waiting.push(conv.to_owned());
        }
        s.waiting.len() == 1
    });
    if !first {
        return;
    }
    leptos::task::spawn_local(async move {
        gloo_timers::future::TimeoutFuture::new(COALESCE_MS).await;
        let waiting = SENT.with(|s| std::mem::take(&mut s.borrow_mut().waiting));
        for conv in waiting {
            let seq = c.last_seq(&conv);
            let further = SENT.with(|s| {
                let mut s = s.borrow_mut();
                let sent = s.sent.entry(conv.clone()).or_default();
                let further = seq > *sent;
                *sent = (*sent).max(seq);
                further
            });
            if further
                && !send(&ClientMsg::Read {
                    conversation_id: conv.clone(),
                    seq,
                })
            {
                // No connection: the next time the agent sees it, it goes again.
                SENT.with(|s| s.borrow_mut().sent.remove(&conv));
            }
        }
    });
}

/// A `read` frame from the relay.
pub fn on_read(c: Console, conversation_id: String, side: ReadSide, seq: u64) {
    if side == ReadSide::Visitor {
        c.receipts.visitor_read.update(|all| {
            let mark = all.entry(conversation_id).or_default();
            *mark = (*mark).max(seq);
        });
    }
}

/// A `page_trail` frame from the relay.
pub fn on_trail(c: Console, conversation_id: String, pages: Vec<PageVisit>) {
    c.receipts.trails.update(|all| {
        all.insert(conversation_id, pages);
    });
}
