//! Looking back: the search view's state (the query sent, its answer, its refusal) and the
//! open conversation's visitor history, with the read-only view of an earlier conversation.
//! The frames they send and the answers they take live here; `view::search` and
//! `view::history` draw them.

use std::collections::HashMap;

use leptos::prelude::*;
use switchboard_protocol::search::{terms, SearchHit, SearchQuery};
use switchboard_protocol::{ClientMsg, ConversationSummary, ErrorCode};

use crate::i18n::t;
use crate::state::{send, session, Console};

/// A page of hits as shown, with the words to mark in the snippets.
#[derive(Clone, Debug, PartialEq)]
pub struct Results {
    pub query: SearchQuery,
    pub hits: Vec<SearchHit>,
    pub more: bool,
    pub terms: Vec<String>,
}

#[derive(Clone, Copy)]
pub struct Lookup {
    /// The search view is on screen (in place of the conversation).
    pub searching: RwSignal<bool>,
    /// The query sent and not answered yet.
    pub waiting: RwSignal<Option<SearchQuery>>,
    pub results: RwSignal<Option<Results>>,
    /// Why the last search was refused, in words.
    pub error: RwSignal<Option<String>>,
    /// Each conversation's earlier ones (`visitor_history`), by conversation id.
    pub history: RwSignal<HashMap<String, Vec<ConversationSummary>>>,
    /// An earlier conversation shown read-only (in place of the conversation).
    pub read_only: RwSignal<Option<String>>,
}

impl Lookup {
    pub fn create() -> Lookup {
        Lookup {
            searching: RwSignal::new(false),
            waiting: RwSignal::new(None),
            results: RwSignal::new(None),
            error: RwSignal::new(None),
            history: RwSignal::new(HashMap::new()),
            read_only: RwSignal::new(None),
        }
    }

    pub fn reset(self) {
        self.searching.set(false);
        self.waiting.set(None);
        self.results.set(None);
        self.error.set(None);
        self.history.set(HashMap::new());
        self.read_only.set(None);
    }

    /// Whether the search view or a read-only conversation takes the conversation's place.
    pub fn covers_conversation(self) -> bool {
        self.searching.get() || self.read_only.get().is_some()
    }
}

/// Sends a search; its words are checked here first, with the relay's own rule.
pub fn search(c: Console, query: SearchQuery) {
    let l = c.lookup;
    if let Err((_, why)) = query.validate() {
        l.error.set(Some(why));
        return;
    }
    l.error.set(None);
    if send(&ClientMsg::Search(query.clone())) {
        l.waiting.set(Some(query));
    } else {
        l.error.set(Some(t().search_not_connected.into()));
    }
}

/// `search_results`: shown if it answers the query waited for (an older answer is dropped).
pub fn results(c: Console, text: String, offset: usize, hits: Vec<SearchHit>, more: bool) {
    let l = c.lookup;
    let Some(query) = l
        .waiting
        .get_untracked()
        .filter(|q| q.text == text && q.offset == offset)
    else {
        return;
    };
    l.waiting.set(None);
    // Opened from here, a conversation's action bar needs its summary.
    let lines: Vec<ConversationSummary> = hits.iter().map(|h| h.conversation.clone()).collect();
    c.remember(&lines);
    let terms = terms(&text).unwrap_or_default();
    l.results.update(|r| match r {
        // The next page of the same search: appended.
        Some(shown) if offset > 0 && shown.query.text == text => {
            shown.hits.extend(hits);
            shown.more = more;
            shown.query = query;
        }
        _ => {
            *r = Some(Results {
                query,
                hits,
                more,
                terms,
            })
        }
    });
}

/// An `error` while a search waits is its answer (the relay answers frames in order, and the
/// console sends nothing else that is refused without a client id meanwhile). True when
/// taken.
pub fn refused(c: Console, code: ErrorCode, message: &str) -> bool {
    let l = c.lookup;
    if l.waiting.get_untracked().is_none() {
        return false;
    }
    let shown = match code {
        ErrorCode::SearchUnavailable => t().search_unavailable.to_owned(),
        ErrorCode::RateLimited => t().search_rate_limited.to_owned(),
        ErrorCode::Invalid | ErrorCode::TooLarge => message.to_owned(),
        _ => return false,
    };
    l.waiting.set(None);
    l.error.set(Some(shown));
    true
}

/// Asks for the open conversation's history.
pub fn ask_history(conversation_id: &str) {
    send(&ClientMsg::VisitorHistory {
        conversation_id: conversation_id.to_owned(),
    });
}

pub fn history(c: Console, conversation_id: String, items: Vec<ConversationSummary>) {
    c.remember(&items);
    c.lookup.history.update(|h| {
        h.insert(conversation_id, items);
    });
}

/// Shows a conversation read-only: its transcript, no reply box, no actions.
pub fn view_read_only(c: Console, id: &str) {
    c.lookup.searching.set(false);
    c.lookup.read_only.set(Some(id.to_owned()));
    session(|s| s.loaded.insert(id.to_owned()));
    c.transcripts.update(|t| {
        t.entry(id.to_owned()).or_default();
    });
    crate::connection::sync(c, id);
}

/// Opens a conversation as the inbox does, leaving the search view.
pub fn open(c: Console, id: &str) {
    c.lookup.searching.set(false);
    c.lookup.read_only.set(None);
    crate::connection::open(c, id);
}
