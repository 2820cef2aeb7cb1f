//! The view tabs above the inbox (Unassigned, Mine, My teams, All, Resolved) with live counts:
//! an ARIA tablist, arrow keys move between tabs (mirrored right to left), Home and End jump.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use switchboard_protocol::{View, ViewCounts};

use crate::desk::{self, view_key, VIEWS};
use crate::i18n::t;
use crate::state::Console;

/// The id of the list the tabs control.
pub const PANEL_ID: &str = "inbox-panel";

pub fn tab_id(v: View) -> String {
    format!("view-tab-{}", view_key(v))
}

fn label(v: View) -> &'static str {
    let s = t();
    match v {
        View::Unassigned => s.view_unassigned,
        View::Mine => s.view_mine,
        View::MyTeams => s.view_my_teams,
        View::All => s.view_all,
        View::Resolved => s.view_resolved,
    }
}

fn count(counts: &ViewCounts, v: View) -> u32 {
    match v {
        View::Unassigned => counts.unassigned,
        View::Mine => counts.mine,
        View::MyTeams => counts.my_teams,
        View::All => counts.all,
        View::Resolved => counts.resolved,
    }
}

fn rtl() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .is_some_and(|e| e.get_attribute("dir").as_deref() == Some("rtl"))
}

/// Selects the tab `key` leads to and moves focus there (automatic activation: a tab's list
/// is one small frame away).
fn on_key(c: Console, ev: KeyboardEvent) {
    let at = VIEWS
        .iter()
        .position(|v| *v == c.view.get_untracked())
        .unwrap_or(0);
    let last = VIEWS.len() - 1;
    let (forward, back) = if rtl() {
        ("ArrowLeft", "ArrowRight")
    } else {
        ("ArrowRight", "ArrowLeft")
    };
    let key = ev.key();
    let to = match key.as_str() {
        k if k == forward => (at + 1) % VIEWS.len(),
        k if k == back => (at + last) % VIEWS.len(),
        "Home" => 0,
        "End" => last,
        _ => return,
    };
    ev.prevent_default();
    desk::show_view(c, VIEWS[to]);
    if let Some(tab) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(&tab_id(VIEWS[to])))
        .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
    {
        let _ = tab.focus();
    }
}

pub fn tabs(c: Console) -> impl IntoView {
    let tabs = VIEWS
        .into_iter()
        .map(|v| {
            let selected = move || c.view.get() == v;
            let n = move || c.counts.with(|k| k.as_ref().map(|k| count(k, v)));
            view! {
                <button
                    type="button"
                    role="tab"
                    class="c-tab"
                    id=tab_id(v)
                    data-testid="view-tab"
                    data-view=view_key(v)
                    aria-controls=PANEL_ID
                    aria-selected=move || if selected() { "true" } else { "false" }
                    tabindex=move || if selected() { "0" } else { "-1" }
                    on:click=move |_| desk::show_view(c, v)
                    on:keydown=move |ev| on_key(c, ev)
                >
                    {label(v)}
                    <span class="c-count" data-testid="view-count">
                        {move || n().map(|n| crate::i18n::number(n.into())).unwrap_or_default()}
                    </span>
                    {move || {
                        let unread = c.unread_in(v);
                        (unread > 0).then(|| {
                            let n = crate::i18n::number(unread as u64);
                            let said = crate::i18n::fill(t().unread_count, &[("n", &n)]);
                            view! {
                                <span class="c-unread-badge" data-testid="view-unread" data-unread=unread>
                                    <span aria-hidden="true">{n}</span>
                                    <span class="c-sr">{format!(", {said}")}</span>
                                </span>
                            }
                        })
                    }}
                </button>
            }
        })
        .collect_view();
    view! {
        <div class="c-tabs" role="tablist" aria-label=t().views data-testid="view-tabs">
            {tabs}
        </div>
    }
}
