//! The widget's state. Reactive parts live in [`Widget`], a `Copy` bundle of signals every view
//! closure can capture; the session (socket sender, token, listeners) lives in a thread-local
//! [`Core`] beside it, since it is neither reactive nor `Send`.

use std::cell::RefCell;

use futures::channel::mpsc::UnboundedSender;
use leptos::prelude::*;
use switchboard_protocol::csat::Csat;
use switchboard_protocol::rich::Rich;
use switchboard_protocol::{ChatMessage, Context, Millis, Sender, SenderKind, SystemEvent};

use crate::i18n::{self, Strings};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conn {
    Connecting,
    Online,
    Reconnecting,
    /// The browser says it has no network; the widget reconnects as soon as it has.
    Offline,
    /// The relay refused us for good (bad site key, protocol); no more retries.
    Error,
}

impl Conn {
    pub fn as_str(self) -> &'static str {
        match self {
            Conn::Connecting => "connecting",
            Conn::Online => "online",
            Conn::Reconnecting => "reconnecting",
            Conn::Offline => "offline",
            Conn::Error => "error",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Pending,
    Sent,
    Failed,
}

/// One line of the transcript.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub seq: Option<u64>,
    pub client_id: String,
    pub kind: SenderKind,
    pub name: Option<String>,
    pub text: String,
    pub at: Millis,
    pub delivery: Delivery,
    pub own: bool,
    /// A bot's (or agent's) chips, buttons and cards.
    pub rich: Option<Rich>,
    pub avatar: Option<String>,
    /// System lines: the lifecycle change (none: one the relay keeps from visitors).
    pub event: Option<Box<SystemEvent>>,
    /// A bot's answer still being written (`delta` frames): how many pieces it has. Such a
    /// line has no seq; the stored message of its `client_id` replaces it.
    pub pieces: u32,
}

impl Line {
    /// Changes whenever what the row shows changes, so the keyed list re-renders it.
    pub fn render_key(&self) -> String {
        format!(
            "{}|{:?}|{:?}|{}",
            self.client_id, self.seq, self.delivery, self.pieces
        )
    }

    /// A streamed answer not stored yet.
    pub fn is_draft(&self) -> bool {
        self.pieces > 0 && self.seq.is_none()
    }
}

#[derive(Clone, Copy)]
pub struct Widget {
    pub lines: RwSignal<Vec<Line>>,
    pub open: RwSignal<bool>,
    pub conn: RwSignal<Conn>,
    /// Name of whoever is typing on the other side.
    pub typing: RwSignal<Option<String>>,
    pub unread: RwSignal<u32>,
    /// Whether an agent is online (`availability`); none until the relay said.
    pub online: RwSignal<Option<bool>>,
    /// The site's typical first-response time in ms, when the relay has one.
    pub typical_reply_ms: RwSignal<Option<u64>>,
    /// The conversation's place in its team's queue while it waits for an agent.
    pub queue: RwSignal<Option<u32>>,
    /// The widget's language (see `i18n`); a site's `Switchboard('locale', …)` changes it.
    pub strings: RwSignal<&'static Strings>,
    /// The site's theme texts and colour scheme (see `theme`).
    pub theme: RwSignal<crate::theme::Theme>,
    /// What the polite live region outside the panel says: a reply that arrived while the
    /// panel was closed.
    pub announcement: RwSignal<String>,
    /// A rating on its way: `Some(true)` sent and waiting for its `rated` event,
    /// `Some(false)` refused or lost. (`Option<bool>`: a signal type the widget has already,
    /// see `view/csat.rs`.)
    pub rate: RwSignal<Option<bool>>,
    /// The agents' read mark: the visitor's messages up to it were seen.
    pub seen: RwSignal<u64>,
}

/// The non-reactive session.
#[derive(Default)]
pub struct Core {
    pub widget: Option<Widget>,
    pub site: String,
    pub relay: String,
    pub context: Context,
    pub conversation_id: Option<String>,
    pub visitor_id: Option<String>,
    /// Frames to the current socket; `None` while disconnected.
    pub tx: Option<UnboundedSender<String>>,
    /// Whether the current socket got `welcome` (sending before it would be refused).
    pub welcomed: bool,
    /// A frame was dropped because the socket had not said welcome yet: `hello` carried the
    /// context and identity token of its moment, so what changed since goes again after
    /// `welcome` (a site calling `identify` while the widget connects).
    pub dropped_before_welcome: bool,
    /// Set once the first catch-up after page load finished: later agent messages are new.
    pub caught_up: bool,
    /// The conversation's last seq when the current socket said welcome: a message past it
    /// was written since, so it is new even while the catch-up is still under way.
    pub welcome_seq: u64,
    /// A gap-filling `sync` is under way.
    pub syncing: bool,
    pub ping_interval_ms: u64,
    pub listeners: Vec<(String, js_sys::Function)>,
    /// `ready` has fired (see `api`).
    pub ready: bool,
    pub last_typing_sent: f64,
    pub typing_generation: u64,
    /// Whether this tab holds the site's connection (see `tabs`).
    pub leader: bool,
    pub channel: Option<web_sys::BroadcastChannel>,
    /// The leader's last `welcome`, replayed to tabs that open later.
    pub last_welcome: Option<String>,
    /// The identity token the site gave `identify`, sent in every `hello`. Kept in memory
    /// only: it is a credential, and the site hands a fresh one to each page.
    pub identity_token: Option<String>,
    /// The token of the last `welcome`. Stored only once this browser has something to come
    /// back to (see `connection::keep_token`), so opening the chat alone leaves nothing.
    pub token: Option<String>,
    /// A connection was asked for (the chat opened, or a conversation to come back to): the
    /// leader tab connects (see `connection::want`).
    pub wanted: bool,
    /// This tab's connection task is running.
    pub running: bool,
    /// Consent withdrawn (`Switchboard('consent', false)`): nothing is stored, sent, received
    /// or connected until it is given again.
    pub blocked: bool,
    /// This tab's place in the site's tab lock (see `tabs`).
    pub lock: Lock,
    /// The rating the site asks for after a resolve (`welcome`); none: no prompt. Not a
    /// signal: `welcome` comes before the transcript that could show the prompt.
    pub csat: Option<Csat>,
    /// The highest read mark this tab sent, and whether one waits to go (see `receipts`).
    pub read_sent: u64,
    pub read_pending: bool,
    /// A navigation waits for the throttle before the page context is read (see `receipts`).
    pub nav_pending: bool,
}

/// This tab's place in the site's tab lock.
#[derive(Default)]
pub enum Lock {
    #[default]
    None,
    /// Asked for; another tab leads.
    Queued,
    /// This tab leads; calling the function (if any: no Web Locks) releases the lock.
    Held(Option<js_sys::Function>),
}

thread_local! {
    static CORE: RefCell<Core> = RefCell::new(Core::default());
}

/// Runs `f` on the session. Never call back into JS or re-enter `core` inside `f`.
pub fn core<T>(f: impl FnOnce(&mut Core) -> T) -> T {
    CORE.with(|c| f(&mut c.borrow_mut()))
}

impl Widget {
    pub fn create(site: String, relay: String) -> Widget {
        let widget = Widget {
            lines: RwSignal::new(Vec::new()),
            open: RwSignal::new(false),
            conn: RwSignal::new(Conn::Connecting),
            typing: RwSignal::new(None),
            unread: RwSignal::new(0),
            online: RwSignal::new(None),
            typical_reply_ms: RwSignal::new(None),
            queue: RwSignal::new(None),
            strings: RwSignal::new(i18n::chosen()),
            theme: RwSignal::new(crate::theme::Theme::default()),
            announcement: RwSignal::new(String::new()),
            rate: RwSignal::new(None),
            seen: RwSignal::new(0),
        };
        core(|c| {
            // A fresh session: the loader mounts once per page, but tests mount again.
            *c = Core::default();
            c.widget = Some(widget);
            c.site = site;
            c.relay = relay;
            c.context.page = Some(crate::context::page());
            c.ping_interval_ms = 10_000;
        });
        widget
    }

    /// The widget's words now (tracked: a view that reads them follows a language change).
    pub fn t(self) -> &'static Strings {
        self.strings.get()
    }

    /// One of the widget's words, following the language. Every call returns the same closure
    /// type (the word is picked by a plain function), so the views' reactive text and
    /// attributes are compiled once for all of them rather than once per word: less wasm.
    pub fn tr(
        self,
        word: fn(&'static Strings) -> &'static str,
    ) -> impl Fn() -> &'static str + Clone + Send + Sync + 'static {
        move || word(self.strings.get())
    }

    pub fn add_pending(self, client_id: String, text: String, at: Millis) {
        self.lines.update(|lines| {
            lines.push(Line {
                seq: None,
                client_id,
                kind: SenderKind::Visitor,
                name: None,
                text,
                at,
                delivery: Delivery::Pending,
                own: true,
                rich: None,
                avatar: None,
                event: None,
                pieces: 0,
            });
        });
    }

    /// Adds or updates a stored message; returns true if it was new to this page.
    pub fn upsert(self, m: ChatMessage, own: bool) -> bool {
        let mut new = false;
        self.lines.update(|lines| {
            if lines.iter().any(|l| l.seq == Some(m.seq)) {
                return;
            }
            let line = Line {
                seq: Some(m.seq),
                client_id: m.client_id.clone(),
                kind: m.sender.kind,
                name: m.sender.name.clone(),
                text: m.text,
                at: m.at,
                delivery: Delivery::Sent,
                own,
                rich: m.rich,
                avatar: m.sender.avatar,
                event: m.event,
                pieces: 0,
            };
            // The visitor's own pending twin, or the draft a bot streamed under this id.
            match lines.iter_mut().find(|l| {
                l.seq.is_none()
                    && l.client_id == m.client_id
                    && if own { l.own } else { l.is_draft() }
            }) {
                Some(twin) => {
                    // A finished stream is new to the visitor as a message (announced, unread).
                    new = twin.is_draft();
                    *twin = line;
                }
                None => {
                    new = true;
                    lines.push(line);
                }
            }
            sort(lines);
        });
        new
    }

    /// A piece of a bot's streamed answer: delta 0 starts its line, each next one appends; a
    /// piece that does not follow on (this page joined mid-stream, or missed one) leaves the
    /// line to the stored message. Returns how many pieces the line has, if it took this one.
    pub fn delta(self, client_id: String, sender: Sender, index: u32, text: &str) -> Option<u32> {
        let mut took = None;
        self.lines.update(|lines| {
            if lines
                .iter()
                .any(|l| l.seq.is_some() && l.client_id == client_id && !l.own)
            {
                return; // stored already: a late piece
            }
            match lines
                .iter_mut()
                .find(|l| l.is_draft() && l.client_id == client_id)
            {
                Some(l) if l.pieces == index => {
                    l.text.push_str(text);
                    l.pieces += 1;
                    took = Some(l.pieces);
                }
                Some(_) => {}
                None if index == 0 => {
                    lines.push(Line {
                        seq: None,
                        client_id,
                        kind: sender.kind,
                        name: sender.name,
                        text: text.to_owned(),
                        at: js_sys::Date::now() as Millis,
                        delivery: Delivery::Sent,
                        own: false,
                        rich: None,
                        avatar: sender.avatar,
                        event: None,
                        pieces: 1,
                    });
                    took = Some(1);
                }
                None => {}
            }
        });
        took
    }

    /// Drops the streamed answers not stored yet: after a reconnect their rest never comes
    /// (the stored message does), and a stream its bot abandoned.
    pub fn drop_drafts(self, client_id: Option<&str>) {
        self.lines.update(|lines| {
            lines.retain(|l| !(l.is_draft() && client_id.is_none_or(|c| c == l.client_id)))
        });
    }

    pub fn acked(self, client_id: &str, seq: u64, at: Millis) {
        self.lines.update(|lines| {
            let taken = lines.iter().any(|l| l.seq == Some(seq));
            if taken {
                // The message frame arrived first; drop the pending twin.
                lines.retain(|l| !(l.seq.is_none() && l.client_id == client_id));
            } else if let Some(l) = lines.iter_mut().find(|l| l.own && l.client_id == client_id) {
                l.seq = Some(seq);
                l.at = at;
                l.delivery = Delivery::Sent;
            }
            sort(lines);
        });
    }

    pub fn failed(self, client_id: &str) {
        self.lines.update(|lines| {
            if let Some(l) = lines
                .iter_mut()
                .find(|l| l.seq.is_none() && l.client_id == client_id)
            {
                l.delivery = Delivery::Failed;
            }
        });
    }

    /// Whether the conversation stands resolved: its latest change of status is `resolved`
    /// (a visitor's message reopens it, and the relay logs that first).
    pub fn resolved(self) -> bool {
        self.lines.with(|lines| {
            lines
                .iter()
                .rev()
                .find_map(|l| match l.event.as_deref() {
                    Some(SystemEvent::Resolved { .. }) => Some(true),
                    Some(SystemEvent::Reopened { .. }) => Some(false),
                    _ => None,
                })
                .unwrap_or(false)
        })
    }

    /// Where the visitor stands with rating the conversation: `None` while it is not resolved;
    /// else whether this resolution is rated.
    pub fn rating(self) -> Option<bool> {
        self.lines.with(|lines| {
            lines
                .iter()
                .rev()
                .find_map(|l| match l.event.as_deref() {
                    Some(SystemEvent::Rated { .. }) => Some(Some(true)),
                    Some(SystemEvent::Resolved { .. }) => Some(Some(false)),
                    Some(SystemEvent::Reopened { .. }) => Some(None),
                    _ => None,
                })
                .flatten()
        })
    }

    /// The highest seq below which this page has every message.
    pub fn last_seq(self) -> u64 {
        let mut seqs: Vec<u64> = self
            .lines
            .with_untracked(|l| l.iter().filter_map(|l| l.seq).collect());
        seqs.sort_unstable();
        let mut last = 0;
        for s in seqs {
            if s != last + 1 {
                break;
            }
            last = s;
        }
        last
    }
}

/// Stored messages by seq, then pending ones in the order they were typed.
fn sort(lines: &mut [Line]) {
    lines.sort_by_key(|l| (l.seq.is_none(), l.seq.unwrap_or(0), l.at));
}
