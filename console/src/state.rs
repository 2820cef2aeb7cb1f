//! The console's state: signals for everything on screen ([`Console`]), and the non-reactive
//! session beside them (socket sender, timers, which transcripts are loaded).
//!
//! Frames change state only through the methods here, so the rules (dedupe by seq, a pending
//! reply becomes its stored message, what counts as unread) live in one place.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use futures::channel::mpsc::UnboundedSender;

pub use crate::auth::Auth;
use leptos::prelude::*;
use switchboard_protocol::client::Send;
use switchboard_protocol::rich::Rich;
use switchboard_protocol::server::Mention;
use switchboard_protocol::server::Preview;
use switchboard_protocol::{
    ChatMessage, ClientMsg, Context, ConversationSummary, Directory, Millis, Note, Presence,
    SenderKind, View, ViewCounts, WriteNote,
};

/// localStorage prefix for the per-agent "seen up to seq" map, so unread marks survive a
/// reload. Keyed by agent id because agents may share a browser.
const SEEN_KEY: &str = "switchboard:agent-seen:";
/// Keeps the stored seen map small; the inbox never shows more than this many anyway.
const SEEN_MAX: usize = switchboard_protocol::limits::MAX_INBOX * 2;
/// Longest inbox preview, in characters.
const PREVIEW_CHARS: usize = 140;

/// Where one transcript line is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Typed here, not acknowledged yet.
    Pending,
    /// Stored by the relay (it has a seq).
    Sent,
    /// Refused by the relay; the line keeps the reason.
    Failed,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Pending => "pending",
            Delivery::Sent => "sent",
            Delivery::Failed => "failed",
        }
    }
}

/// One transcript line: a stored message, or the agent's own reply before its ack.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub seq: Option<u64>,
    pub client_id: String,
    pub kind: SenderKind,
    pub name: Option<String>,
    pub text: String,
    pub at: Millis,
    pub delivery: Delivery,
    /// Why the relay refused it (failed lines only).
    pub error: Option<String>,
    pub rich: Option<Rich>,
    /// Set when the visitor clicked a bot's chip or button rather than typing.
    pub postback: Option<String>,
    /// A system event's code (`assigned`, `transferred`, …), for styling and tests.
    pub code: Option<&'static str>,
    /// A private note (for agents only), with the agents it mentions.
    pub note: Option<Note>,
}

impl Line {
    pub fn from_message(m: ChatMessage) -> Line {
        Line {
            seq: Some(m.seq),
            client_id: m.client_id,
            kind: m.sender.kind,
            name: m.sender.name,
            text: match &m.event {
                Some(event) => crate::desk::event_text(event),
                None => m.text,
            },
            at: m.at,
            delivery: Delivery::Sent,
            error: None,
            rich: m.rich,
            postback: m.postback,
            code: m
                .event
                .as_deref()
                .map(switchboard_protocol::SystemEvent::code),
            note: m.note.map(|n| *n),
        }
    }

    /// The frame that (re)sends this line of the agent's, under its client id: a private note
    /// as a `note` (never as a `send`, which the visitor would read), a reply as a `send`.
    pub fn frame(&self, conversation_id: String) -> ClientMsg {
        match &self.note {
            Some(n) => ClientMsg::Note(WriteNote {
                conversation_id,
                client_id: self.client_id.clone(),
                text: self.text.clone(),
                mentions: n.mentions.clone(),
            }),
            None => ClientMsg::Send(Send {
                conversation_id,
                client_id: self.client_id.clone(),
                text: self.text.clone(),
                rich: self.rich.clone(),
                // A retry's text is already filled: it goes as a plain reply.
                canned_id: None,
            }),
        }
    }

    /// `<For>` key: a line is re-rendered when it gets its seq or changes delivery state.
    pub fn render_key(&self) -> String {
        format!("{}|{:?}|{:?}", self.client_id, self.seq, self.delivery)
    }
}

/// The connection as the header shows it (`data-state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conn {
    Connecting,
    Online,
    Reconnecting,
}

impl Conn {
    pub fn as_str(self) -> &'static str {
        match self {
            Conn::Connecting => "connecting",
            Conn::Online => "online",
            Conn::Reconnecting => "reconnecting",
        }
    }
}

/// Every signal the views read. `Copy`, so closures take it by value.
#[derive(Clone, Copy)]
pub struct Console {
    /// How the agent is signed in; `None` shows the sign-in screen.
    pub auth: RwSignal<Option<Auth>>,
    pub signin_error: RwSignal<Option<String>>,
    pub conn: RwSignal<Conn>,
    pub agent_name: RwSignal<String>,
    /// Newest activity first.
    pub inbox: RwSignal<Vec<ConversationSummary>>,
    pub selected: RwSignal<Option<String>>,
    /// Only for conversations opened since sign-in (see [`Session::loaded`]).
    pub transcripts: RwSignal<HashMap<String, Vec<Line>>>,
    pub contexts: RwSignal<HashMap<String, Context>>,
    /// Highest seq the agent has had on screen per conversation (drives unread marks).
    pub seen: RwSignal<HashMap<String, u64>>,
    /// The conversation whose visitor is typing.
    pub visitor_typing: RwSignal<Option<String>>,
    /// Wall clock in ms, ticking every few seconds, so relative times re-render.
    pub now: RwSignal<f64>,
    /// The signed-in agent's id (from `welcome`).
    pub me: RwSignal<String>,
    /// Role, teams and agents of the agent's sites (the relay's `directory`).
    pub directory: RwSignal<Directory>,
    /// Every agent's status as `presence` frames told it; absent: offline.
    pub presence: RwSignal<HashMap<String, Presence>>,
    /// What the agent chose in the header's switch.
    pub my_presence: RwSignal<Presence>,
    /// The open tab; the inbox list is its latest `view` answer.
    pub view: RwSignal<View>,
    pub counts: RwSignal<Option<ViewCounts>>,
    /// The latest summary of every conversation heard of, by id (see `desk::remember`).
    pub summaries: RwSignal<HashMap<String, ConversationSummary>>,
    /// The outcome of the last action when it was refused ("changed by someone else").
    pub notice: RwSignal<Option<String>>,
    /// Which of list, conversation and context a narrow screen shows (`view::layout`).
    pub pane: RwSignal<crate::view::layout::Pane>,
    /// A `view` answer arrived; from then on the connect-time `conversations` page no longer
    /// replaces the list (the open tab does). Never read reactively.
    pub view_answered: RwSignal<bool>,
    /// Private notes that mentioned this agent, newest last, until dismissed.
    pub mentions: RwSignal<Vec<Mention>>,
    /// Search and visitor history (`lookup.rs`).
    pub lookup: crate::lookup::Lookup,
    /// Read marks and page trails (`receipts.rs`).
    pub receipts: crate::receipts::Receipts,
}

/// What the views never read: kept out of signals so changing it re-renders nothing.
#[derive(Default)]
pub struct Session {
    pub tx: Option<UnboundedSender<String>>,
    /// Bumped on sign-out so the old connection loop stops.
    pub generation: u64,
    /// The agent id from `welcome`; names the localStorage seen map.
    pub agent_id: Option<String>,
    pub last_typing_sent: f64,
    pub typing_generation: u64,
    /// Conversations whose transcript the console holds (opened since sign-in). Live messages
    /// for others only update the inbox line: storing them would leave a transcript with a
    /// hole below it.
    pub loaded: HashSet<String>,
    /// Conversations with a gap-filling `sync` under way.
    pub syncing: HashSet<String>,
    /// The directory again, for the names in transcript lines built outside the views.
    pub directory: Directory,
    /// Bumped per scheduled `list_view`, so a burst of changes asks once.
    pub relist_generation: u64,
    /// When the last lifecycle frame was sent (`desk::refused`).
    pub last_action_at: f64,
}

thread_local! {
    static SESSION: RefCell<Session> = RefCell::new(Session::default());
}

pub fn session<T>(f: impl FnOnce(&mut Session) -> T) -> T {
    SESSION.with(|s| f(&mut s.borrow_mut()))
}

/// Queues a frame for the socket. False when there is no connection; callers that must not
/// lose the frame (replies) keep it as pending and resend after the next `welcome`.
pub fn send(msg: &ClientMsg) -> bool {
    let json = msg.to_json();
    session(|s| {
        s.tx.as_ref()
            .is_some_and(|tx| tx.unbounded_send(json).is_ok())
    })
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

impl Console {
    pub fn create() -> Console {
        Console {
            auth: RwSignal::new(crate::auth::stored()),
            signin_error: RwSignal::new(None),
            conn: RwSignal::new(Conn::Connecting),
            agent_name: RwSignal::new(String::new()),
            inbox: RwSignal::new(Vec::new()),
            selected: RwSignal::new(None),
            transcripts: RwSignal::new(HashMap::new()),
            contexts: RwSignal::new(HashMap::new()),
            seen: RwSignal::new(HashMap::new()),
            visitor_typing: RwSignal::new(None),
            now: RwSignal::new(js_sys::Date::now()),
            me: RwSignal::new(String::new()),
            directory: RwSignal::new(Directory::default()),
            presence: RwSignal::new(HashMap::new()),
            my_presence: RwSignal::new(Presence::Online),
            // The flat inbox the console had before views: every conversation not resolved.
            view: RwSignal::new(View::All),
            counts: RwSignal::new(None),
            summaries: RwSignal::new(HashMap::new()),
            notice: RwSignal::new(None),
            pane: RwSignal::new(crate::view::layout::Pane::List),
            view_answered: RwSignal::new(false),
            mentions: RwSignal::new(Vec::new()),
            lookup: crate::lookup::Lookup::create(),
            receipts: crate::receipts::Receipts::create(),
        }
    }

    /// Forgets everything about the signed-in agent (sign-out, refused token).
    pub fn reset(self) {
        self.conn.set(Conn::Connecting);
        self.agent_name.set(String::new());
        self.inbox.set(Vec::new());
        self.selected.set(None);
        self.transcripts.set(HashMap::new());
        self.contexts.set(HashMap::new());
        self.seen.set(HashMap::new());
        self.visitor_typing.set(None);
        self.me.set(String::new());
        self.directory.set(Directory::default());
        self.presence.set(HashMap::new());
        self.my_presence.set(Presence::Online);
        self.counts.set(None);
        self.summaries.set(HashMap::new());
        self.notice.set(None);
        self.pane.set(crate::view::layout::Pane::List);
        self.view_answered.set(false);
        self.mentions.set(Vec::new());
        self.lookup.reset();
        session(|s| {
            s.agent_id = None;
            s.loaded.clear();
            s.syncing.clear();
            s.directory = Directory::default();
        });
    }

    /// The inbox as the relay has it at connect time.
    pub fn replace_inbox(self, mut items: Vec<ConversationSummary>) {
        self.remember(&items);
        items.sort_by_key(|c| std::cmp::Reverse(c.last_activity));
        self.inbox.set(items);
    }

    /// Upserts an inbox line, newest activity first (whether it still belongs to the open
    /// tab is the next `view` answer's to say). A blocked conversation leaves the inbox
    /// (and the screen, if it was open).
    pub fn upsert_summary(self, s: ConversationSummary) {
        self.remember(std::slice::from_ref(&s));
        if s.blocked && self.selected.get_untracked().as_deref() == Some(s.id.as_str()) {
            self.selected.set(None);
        }
        self.inbox.update(|inbox| {
            inbox.retain(|c| c.id != s.id);
            if s.blocked {
                return;
            }
            inbox.push(s);
            inbox.sort_by_key(|c| std::cmp::Reverse(c.last_activity));
        });
    }

    /// A stored message: into its transcript (if loaded) and into its inbox line, since the
    /// relay sends no `conversation` frame for later messages.
    pub fn add_message(self, m: ChatMessage) {
        let conv = m.conversation_id.clone();
        let (seq, at, kind, note) = (m.seq, m.at, m.sender.kind, m.is_note());
        let preview = m.text.chars().take(PREVIEW_CHARS).collect::<String>();
        if session(|s| s.loaded.contains(&conv)) {
            self.transcripts.update(|all| {
                let lines = all.entry(conv.clone()).or_default();
                if lines.iter().any(|l| l.seq == Some(seq)) {
                    return;
                }
                let line = Line::from_message(m);
                match lines.iter_mut().find(|l| {
                    l.seq.is_none() && l.client_id == line.client_id && l.kind == line.kind
                }) {
                    Some(pending) => *pending = line,
                    None => lines.push(line),
                }
                sort_lines(lines);
            });
        }
        let freshen = |c: &mut ConversationSummary| {
            if seq > c.last_seq {
                c.last_seq = seq;
                c.last_activity = c.last_activity.max(at);
                c.last_message = Some(Preview {
                    sender: kind,
                    text: preview.clone(),
                });
            }
        };
        self.inbox.update(|inbox| {
            if let Some(c) = inbox.iter_mut().find(|c| c.id == conv) {
                // A note is not the conversation's activity (the relay keeps its line as it
                // was): only its seq counts.
                if note {
                    c.last_seq = c.last_seq.max(seq);
                } else {
                    freshen(c);
                }
            }
            inbox.sort_by_key(|c| std::cmp::Reverse(c.last_activity));
        });
        // Every summary heard of too: unread badges and the title count read them.
        if self
            .summaries
            .with_untracked(|all| all.get(&conv).is_some_and(|c| seq > c.last_seq))
        {
            self.summaries.update(|all| {
                if let Some(c) = all.get_mut(&conv) {
                    freshen(c);
                }
            });
        }
        if self.selected.get_untracked().as_deref() == Some(conv.as_str()) && page_visible() {
            self.mark_seen(&conv);
        }
    }

    /// The relay stored the agent's reply `client_id` as `seq`.
    pub fn ack(self, conv: &str, client_id: &str, seq: u64, at: Millis) {
        self.transcripts.update(|all| {
            let Some(lines) = all.get_mut(conv) else {
                return;
            };
            if lines.iter().any(|l| l.seq == Some(seq)) {
                // The stored message arrived before its ack: drop the pending copy.
                lines.retain(|l| !(l.seq.is_none() && l.client_id == client_id));
            } else if let Some(l) = lines
                .iter_mut()
                .find(|l| l.seq.is_none() && l.client_id == client_id)
            {
                l.seq = Some(seq);
                l.at = at;
                l.delivery = Delivery::Sent;
                l.error = None;
            }
            sort_lines(lines);
        });
        if self.selected.get_untracked().as_deref() == Some(conv) && page_visible() {
            self.mark_seen(conv);
        }
    }

    /// The relay refused the reply `client_id`.
    pub fn fail(self, client_id: &str, reason: String) {
        self.transcripts.update(|all| {
            for l in all.values_mut().flatten() {
                if l.seq.is_none() && l.client_id == client_id {
                    l.delivery = Delivery::Failed;
                    l.error = Some(reason.clone());
                }
            }
        });
    }

    /// Replies and notes not acknowledged yet, as the frames to resend after a reconnect.
    pub fn pending(self) -> Vec<ClientMsg> {
        self.transcripts.with_untracked(|all| {
            all.iter()
                .flat_map(|(conv, lines)| {
                    lines
                        .iter()
                        .filter(|l| l.delivery == Delivery::Pending)
                        .map(move |l| l.frame(conv.clone()))
                })
                .collect()
        })
    }

    /// Everything up to the conversation's latest seq has been on screen.
    pub fn mark_seen(self, conv: &str) {
        let last = self
            .inbox
            .with_untracked(|i| i.iter().find(|c| c.id == conv).map(|c| c.last_seq))
            .unwrap_or(0)
            .max(self.last_seq(conv));
        let before = self
            .seen
            .with_untracked(|s| s.get(conv).copied().unwrap_or(0));
        if last > before {
            self.seen.update(|s| {
                s.insert(conv.to_owned(), last);
            });
            self.save_seen();
        }
        crate::receipts::mark(self, conv);
    }

    /// The highest seq held for a conversation with no gap below it: what `sync` asks after.
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

    /// Unread: something newer than what the agent has seen, and not the agent's own words.
    pub fn unread(self, c: &ConversationSummary) -> bool {
        let seen = self.seen.with(|s| s.get(&c.id).copied().unwrap_or(0));
        let from_agent = c
            .last_message
            .as_ref()
            .is_some_and(|m| m.sender == SenderKind::Agent);
        c.last_seq > seen && !from_agent
    }

    /// Merges the stored seen map of this agent (after `welcome`).
    pub fn load_seen(self, agent_id: &str) {
        session(|s| s.agent_id = Some(agent_id.to_owned()));
        let stored = local_storage()
            .and_then(|s| s.get_item(&format!("{SEEN_KEY}{agent_id}")).ok().flatten())
            .and_then(|json| serde_json::from_str::<HashMap<String, u64>>(&json).ok())
            .unwrap_or_default();
        self.seen.update(|seen| {
            for (conv, seq) in stored {
                let e = seen.entry(conv).or_default();
                *e = (*e).max(seq);
            }
        });
    }

    fn save_seen(self) {
        let Some(agent_id) = session(|s| s.agent_id.clone()) else {
            return;
        };
        let json = self.seen.with_untracked(|seen| {
            if seen.len() <= SEEN_MAX {
                return serde_json::to_string(seen);
            }
            // Over the cap: keep what the inbox still shows.
            let shown: HashMap<&String, &u64> = self.inbox.with_untracked(|inbox| {
                seen.iter()
                    .filter(|(id, _)| inbox.iter().any(|c| &c.id == *id))
                    .collect()
            });
            serde_json::to_string(&shown)
        });
        if let (Some(storage), Ok(json)) = (local_storage(), json) {
            let _ = storage.set_item(&format!("{SEEN_KEY}{agent_id}"), &json);
        }
    }
}

/// "Seen" means displayed: a message arriving while the console's tab is hidden stays unread
/// (and counts in the tab title) until the agent comes back.
pub fn page_visible() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_none_or(|d| !d.hidden())
}

/// Stored lines in seq order, pending ones after them in the order they were typed.
fn sort_lines(lines: &mut [Line]) {
    lines.sort_by_key(|l| (l.seq.is_none(), l.seq.unwrap_or(0), l.at));
}
