//! The console's state: signals for everything on screen, and the socket sender beside them.

use std::cell::RefCell;
use std::collections::HashMap;

use futures::channel::mpsc::UnboundedSender;
use leptos::prelude::*;
use switchboard_protocol::{
    ChatMessage, ClientMsg, Context, ConversationSummary, Millis, SenderKind,
};

pub const TOKEN_KEY: &str = "switchboard:agent-token";

#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub seq: Option<u64>,
    pub client_id: String,
    pub kind: SenderKind,
    pub name: Option<String>,
    pub text: String,
    pub at: Millis,
    /// `pending`, `sent` or `failed`.
    pub state: &'static str,
}

impl Line {
    pub fn from_message(m: ChatMessage) -> Line {
        Line {
            seq: Some(m.seq),
            client_id: m.client_id,
            kind: m.sender.kind,
            name: m.sender.name,
            text: m.text,
            at: m.at,
            state: "sent",
        }
    }

    pub fn render_key(&self) -> String {
        format!("{}|{:?}|{}", self.client_id, self.seq, self.state)
    }
}

#[derive(Clone, Copy)]
pub struct Console {
    pub token: RwSignal<Option<String>>,
    pub signin_error: RwSignal<Option<String>>,
    /// `connecting`, `online` or `reconnecting`.
    pub conn: RwSignal<&'static str>,
    pub agent_name: RwSignal<String>,
    pub inbox: RwSignal<Vec<ConversationSummary>>,
    pub selected: RwSignal<Option<String>>,
    pub transcripts: RwSignal<HashMap<String, Vec<Line>>>,
    pub contexts: RwSignal<HashMap<String, Context>>,
    /// Highest seq the agent has had on screen per conversation (drives unread marks).
    pub seen: RwSignal<HashMap<String, u64>>,
    /// The conversation whose visitor is typing.
    pub visitor_typing: RwSignal<Option<String>>,
}

#[derive(Default)]
pub struct Session {
    pub tx: Option<UnboundedSender<String>>,
    /// Bumped on sign-out so the old connection loop stops.
    pub generation: u64,
    pub ping_interval_ms: u64,
    pub last_typing_sent: f64,
    pub typing_generation: u64,
    /// Conversations with a gap-filling `sync` under way.
    pub syncing: std::collections::HashSet<String>,
}

thread_local! {
    static SESSION: RefCell<Session> = RefCell::new(Session::default());
}

pub fn session<T>(f: impl FnOnce(&mut Session) -> T) -> T {
    SESSION.with(|s| f(&mut s.borrow_mut()))
}

pub fn send(msg: &ClientMsg) -> bool {
    let json = msg.to_json();
    session(|s| {
        s.tx.as_ref()
            .is_some_and(|tx| tx.unbounded_send(json).is_ok())
    })
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

pub fn stored_token() -> Option<String> {
    storage()?.get_item(TOKEN_KEY).ok().flatten()
}

pub fn store_token(token: Option<&str>) {
    if let Some(s) = storage() {
        let _ = match token {
            Some(t) => s.set_item(TOKEN_KEY, t),
            None => s.remove_item(TOKEN_KEY),
        };
    }
}

impl Console {
    pub fn create() -> Console {
        Console {
            token: RwSignal::new(stored_token()),
            signin_error: RwSignal::new(None),
            conn: RwSignal::new("connecting"),
            agent_name: RwSignal::new(String::new()),
            inbox: RwSignal::new(Vec::new()),
            selected: RwSignal::new(None),
            transcripts: RwSignal::new(HashMap::new()),
            contexts: RwSignal::new(HashMap::new()),
            seen: RwSignal::new(HashMap::new()),
            visitor_typing: RwSignal::new(None),
        }
    }

    /// Upserts an inbox line, newest activity first.
    pub fn upsert_summary(self, s: ConversationSummary) {
        self.inbox.update(|inbox| {
            inbox.retain(|c| c.id != s.id);
            inbox.push(s);
            inbox.sort_by_key(|c| std::cmp::Reverse(c.last_activity));
        });
    }

    /// A stored message: into its transcript, and into its inbox line (preview, activity).
    pub fn add_message(self, m: ChatMessage) {
        let conv = m.conversation_id.clone();
        let (seq, at, kind) = (m.seq, m.at, m.sender.kind);
        let preview = m.text.chars().take(140).collect::<String>();
        self.transcripts.update(|all| {
            let lines = all.entry(conv.clone()).or_default();
            if lines.iter().any(|l| l.seq == Some(seq)) {
                return;
            }
            let line = Line::from_message(m);
            match lines
                .iter_mut()
                .find(|l| l.seq.is_none() && l.client_id == line.client_id && l.kind == line.kind)
            {
                Some(pending) => *pending = line,
                None => lines.push(line),
            }
            lines.sort_by_key(|l| (l.seq.is_none(), l.seq.unwrap_or(0), l.at));
        });
        self.inbox.update(|inbox| {
            if let Some(c) = inbox.iter_mut().find(|c| c.id == conv) {
                if seq > c.last_seq {
                    c.last_seq = seq;
                    c.last_activity = at;
                    c.last_message = Some(switchboard_protocol::server::Preview {
                        sender: kind,
                        text: preview,
                    });
                }
            }
            inbox.sort_by_key(|c| std::cmp::Reverse(c.last_activity));
        });
        if self.selected.get_untracked().as_deref() == Some(conv.as_str()) {
            self.mark_seen(&conv);
        }
    }

    pub fn mark_seen(self, conv: &str) {
        let last = self
            .inbox
            .with_untracked(|i| i.iter().find(|c| c.id == conv).map(|c| c.last_seq))
            .unwrap_or(0);
        let held = self.last_seq(conv);
        self.seen.update(|s| {
            s.insert(conv.to_owned(), last.max(held));
        });
    }

    /// The highest seq held for a conversation without a gap below it.
    pub fn last_seq(self, conv: &str) -> u64 {
        self.transcripts.with_untracked(|all| {
            let mut last = 0;
            for l in all.get(conv).into_iter().flatten() {
                match l.seq {
                    Some(s) if s == last + 1 => last = s,
                    Some(s) if s <= last => {}
                    _ => break,
                }
            }
            last
        })
    }

    pub fn unread(self, c: &ConversationSummary) -> bool {
        let seen = self.seen.with(|s| s.get(&c.id).copied().unwrap_or(0));
        let from_visitor = c
            .last_message
            .as_ref()
            .is_some_and(|m| m.sender == SenderKind::Visitor);
        c.last_seq > seen && from_visitor
    }
}
