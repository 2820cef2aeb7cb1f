//! Canned replies in the console: the relay's list per site, the frames that ask for and
//! change them, the fuzzy search the `/` picker uses, and which canned reply each draft was
//! made from (its `send` names it, so the relay can check it is the conversation's site's).
//!
//! Filling placeholders is `switchboard_protocol::canned::fill`, the one pure rule, tested
//! there.

use std::cell::RefCell;
use std::collections::HashMap;

use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;
use leptos::prelude::*;
use switchboard_protocol::{CannedReply, ClientMsg, ErrorCode};

use crate::i18n::{fill, t};
use crate::state::send;

/// The signals the picker and the admin screen read; one set per page.
#[derive(Clone)]
pub struct Store {
    /// Each site's canned replies, by shortcut, as the relay last told them.
    pub by_site: ArcRwSignal<HashMap<String, Vec<CannedReply>>>,
    /// The admin screen's save waiting for the relay's answer.
    pub saving: ArcRwSignal<bool>,
    /// Why the relay refused the admin screen's last change.
    pub admin_error: ArcRwSignal<Option<String>>,
    /// Said politely after a change was stored ("Saved").
    pub admin_status: ArcRwSignal<String>,
}

thread_local! {
    // Arc signals: not owned by whichever view first reads them, so they live with the page.
    static STORE: Store = Store {
        by_site: ArcRwSignal::new(HashMap::new()),
        saving: ArcRwSignal::new(false),
        admin_error: ArcRwSignal::new(None),
        admin_status: ArcRwSignal::new(String::new()),
    };
    /// Conversation → the canned reply its draft was made from.
    static CHOSEN: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
}

pub fn store() -> Store {
    STORE.with(Clone::clone)
}

/// After `welcome`: every served site's list.
pub fn list_all() {
    send(&ClientMsg::ListCanned { site: None });
}

/// A `canned` frame: the site's whole list (an answer, or an admin's change anywhere).
pub fn on_list(site: String, items: Vec<CannedReply>) {
    let s = store();
    s.by_site.update(|all| {
        all.insert(site, items);
    });
    if s.saving.get_untracked() {
        s.saving.set(false);
        s.admin_error.set(None);
        s.admin_status.set(t().saved.into());
    }
}

/// An `error` without a client id: the admin screen's, when it is waiting for one.
pub fn on_error(code: ErrorCode, message: &str) -> bool {
    let s = store();
    if !s.saving.get_untracked() {
        return false;
    }
    let text = match code {
        ErrorCode::ShortcutTaken => t().shortcut_taken.into(),
        ErrorCode::CannedLimit => t().canned_limit.into(),
        ErrorCode::CannedNotFound => t().canned_not_found.into(),
        ErrorCode::Forbidden => t().canned_forbidden.into(),
        _ => fill(t().not_saved, &[("message", message)]),
    };
    s.saving.set(false);
    s.admin_status.set(String::new());
    s.admin_error.set(Some(text));
    true
}

fn saving(msg: ClientMsg) {
    let s = store();
    s.admin_error.set(None);
    s.admin_status.set(String::new());
    s.saving.set(true);
    send(&msg);
}

pub fn create(site: &str, shortcut: &str, body: &str) {
    saving(ClientMsg::CreateCanned {
        site: site.into(),
        shortcut: shortcut.into(),
        body: body.into(),
    });
}

pub fn update(site: &str, id: &str, shortcut: &str, body: &str) {
    saving(ClientMsg::UpdateCanned {
        site: site.into(),
        id: id.into(),
        shortcut: shortcut.into(),
        body: body.into(),
    });
}

pub fn delete(site: &str, id: &str) {
    saving(ClientMsg::DeleteCanned {
        site: site.into(),
        id: id.into(),
    });
}

/// The canned reply the conversation's draft was made from.
pub fn chosen(conversation_id: &str) -> Option<String> {
    CHOSEN.with(|c| c.borrow().get(conversation_id).cloned())
}

pub fn choose(conversation_id: &str, canned_id: Option<String>) {
    CHOSEN.with(|c| match canned_id {
        Some(id) => {
            c.borrow_mut().insert(conversation_id.to_owned(), id);
        }
        None => {
            c.borrow_mut().remove(conversation_id);
        }
    });
}

/// Most entries the picker shows at once.
pub const SHOWN: usize = 8;

/// The site's canned replies matching `query` (typed after `/`), best first: fuzzy over the
/// shortcut and the body, a shortcut match weighing double. An empty query lists them by
/// shortcut.
pub fn search(items: &[CannedReply], query: &str) -> Vec<CannedReply> {
    let query = query.trim();
    if query.is_empty() {
        return items.iter().take(SHOWN).cloned().collect();
    }
    let matcher = SkimMatcherV2::default().ignore_case();
    let mut scored: Vec<(i64, &CannedReply)> = items
        .iter()
        .filter_map(|c| {
            let short = matcher.fuzzy_match(&c.shortcut, query).map(|s| s * 2);
            let body = matcher.fuzzy_match(&c.body, query);
            short.max(body).map(|s| (s, c))
        })
        .collect();
    // Stable: equal scores keep the shortcut order.
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    scored
        .into_iter()
        .take(SHOWN)
        .map(|(_, c)| c.clone())
        .collect()
}

/// The `/query` a draft opens the picker with: `/` at its start and no whitespace yet (a
/// space ends the shortcut: the agent is writing text that starts with a slash).
pub fn query(draft: &str) -> Option<&str> {
    draft
        .strip_prefix('/')
        .filter(|q| !q.chars().any(char::is_whitespace))
}
