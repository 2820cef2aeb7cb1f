//! The search view: a search landmark with the words and the filters (status, team,
//! assignee, dates), then the hits, newest first, each with its snippet (the words marked) and
//! a button that opens its conversation. It takes the conversation column's place; the header's
//! Search button (or Close) toggles it. A read-only earlier conversation (`history`) shows in
//! the same place.

use leptos::html::Input;
use leptos::prelude::*;
use switchboard_protocol::limits::MAX_SEARCH_BYTES;
use switchboard_protocol::search::{highlight, SearchHit, SearchQuery, SearchStatus};
use switchboard_protocol::SenderKind;

use super::{clock, history};
use crate::i18n::{fill, number, t};
use crate::lookup::{self, Results};
use crate::state::Console;

const DAY_MS: u64 = 86_400_000;

/// The header's button that opens and closes the search view.
pub fn toggle(c: Console) -> impl IntoView {
    let l = c.lookup;
    // Picking a conversation in the inbox shows it, whatever was in its place.
    Effect::new(move |prev: Option<Option<String>>| {
        let now = c.selected.get();
        if prev.is_some_and(|p| p != now) {
            l.read_only.set(None);
            l.searching.set(false);
        }
        now
    });
    view! {
        <button
            type="button"
            class="c-search-toggle"
            data-testid="search-toggle"
            aria-pressed=move || l.searching.get().to_string()
            on:click=move |_| {
                let on = !l.searching.get_untracked();
                l.read_only.set(None);
                l.searching.set(on);
            }
        >
            {t().search}
        </button>
    }
}

/// What takes the conversation column's place: the search view or a read-only conversation.
pub fn panel(c: Console) -> impl IntoView {
    let l = c.lookup;
    move || {
        if l.read_only.get().is_some() {
            history::read_only(c).into_any()
        } else {
            view(c).into_any()
        }
    }
}

/// Local midnight of an `<input type=date>` value (`YYYY-MM-DD`), in ms.
fn day_start(value: &str) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    let t = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(&format!(
        "{value}T00:00:00"
    )))
    .get_time();
    (t.is_finite() && t >= 0.0).then_some(t as u64)
}

fn status_name(s: SearchStatus) -> &'static str {
    match s {
        SearchStatus::Open => t().status_open,
        SearchStatus::Pending => t().status_pending,
        SearchStatus::Snoozed => t().status_snoozed_short,
        SearchStatus::Resolved => t().status_resolved,
    }
}

fn view(c: Console) -> impl IntoView {
    let l = c.lookup;
    let text = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let team = RwSignal::new(String::new());
    let assignee = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let words = NodeRef::<Input>::new();
    Effect::new(move || {
        if let Some(input) = words.get() {
            let _ = input.focus();
        }
    });
    let query = move |offset: usize| SearchQuery {
        text: text.get_untracked().trim().to_owned(),
        status: SearchStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == status.get_untracked()),
        team: Some(team.get_untracked()).filter(|t| !t.is_empty()),
        assignee: Some(assignee.get_untracked()).filter(|a| !a.is_empty()),
        from: day_start(&from.get_untracked()),
        // The "to" day is included: up to the next midnight.
        to: day_start(&to.get_untracked()).map(|t| t + DAY_MS),
        offset,
        limit: None,
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        lookup::search(c, query(0));
    };
    let teams = c.directory.with_untracked(|d| {
        d.teams
            .iter()
            .map(|t| view! { <option value=t.id.clone()>{format!("{} ({})", t.name, t.site)}</option> })
            .collect_view()
    });
    let agents = c.directory.with_untracked(|d| {
        d.agents
            .iter()
            .map(|a| view! { <option value=a.id.clone()>{a.name.clone()}</option> })
            .collect_view()
    });
    let statuses = SearchStatus::ALL
        .into_iter()
        .map(|s| view! { <option value=s.as_str()>{status_name(s)}</option> })
        .collect_view();
    let more = move |_| {
        if let Some(r) = l.results.get_untracked() {
            lookup::search(c, query(r.query.offset + r.query.page_size()));
        }
    };
    view! {
        <div class="c-search" data-testid="search-view">
            <div class="c-search-head">
                <h2 id="search-title">{t().search_title}</h2>
                <button type="button" data-testid="search-close" on:click=move |_| l.searching.set(false)>
                    {t().close_search}
                </button>
            </div>
            <form role="search" aria-labelledby="search-title" class="c-search-form" on:submit=submit>
                <div class="c-field c-field-words">
                    <label for="search-text">{t().search_words}</label>
                    <input
                        id="search-text"
                        type="search"
                        data-testid="search-text"
                        node_ref=words
                        maxlength=MAX_SEARCH_BYTES.to_string()
                        prop:value=move || text.get()
                        on:input=move |ev| text.set(event_target_value(&ev))
                    />
                </div>
                <div class="c-field">
                    <label for="search-status">{t().status}</label>
                    <select id="search-status" data-testid="search-status" on:change=move |ev| status.set(event_target_value(&ev))>
                        <option value="">{t().any}</option>
                        {statuses}
                    </select>
                </div>
                <div class="c-field">
                    <label for="search-team">{t().team}</label>
                    <select id="search-team" data-testid="search-team" on:change=move |ev| team.set(event_target_value(&ev))>
                        <option value="">{t().any}</option>
                        {teams}
                    </select>
                </div>
                <div class="c-field">
                    <label for="search-assignee">{t().assignee}</label>
                    <select id="search-assignee" data-testid="search-assignee" on:change=move |ev| assignee.set(event_target_value(&ev))>
                        <option value="">{t().anyone}</option>
                        {agents}
                    </select>
                </div>
                <div class="c-field">
                    <label for="search-from">{t().date_from}</label>
                    <input id="search-from" type="date" data-testid="search-from" on:change=move |ev| from.set(event_target_value(&ev)) />
                </div>
                <div class="c-field">
                    <label for="search-to">{t().date_to}</label>
                    <input id="search-to" type="date" data-testid="search-to" on:change=move |ev| to.set(event_target_value(&ev)) />
                </div>
                <button type="submit" class="c-primary" data-testid="search-submit">{t().search}</button>
            </form>
            <p class="c-error" role="alert" data-testid="search-error">{move || l.error.get()}</p>
            <p class="c-search-status" role="status">
                {move || l.waiting.get().is_some().then_some(t().searching)}
            </p>
            {move || l.results.get().map(|r| results(c, r, more))}
        </div>
    }
}

fn results(
    c: Console,
    r: Results,
    more: impl Fn(leptos::ev::MouseEvent) + 'static,
) -> impl IntoView {
    let count = match (r.hits.len(), r.more) {
        (0, _) => t().found_none.to_owned(),
        (1, false) => t().found_one.to_owned(),
        (n, false) => fill(t().found_many, &[("n", &number(n as u64))]),
        (n, true) => fill(t().found_more, &[("n", &number(n as u64))]),
    };
    let terms = r.terms.clone();
    let hits = r.hits.into_iter().map(|h| hit(c, h, &terms)).collect_view();
    view! {
        <section class="c-results" aria-labelledby="search-results-title">
            <h3 id="search-results-title" data-testid="search-count">{count}</h3>
            <ol class="c-hits" data-testid="search-results">{hits}</ol>
            {r.more.then(|| view! {
                <button type="button" class="c-more" data-testid="search-more" on:click=more>{t().more_results}</button>
            })}
        </section>
    }
}

fn hit(c: Console, h: SearchHit, terms: &[String]) -> impl IntoView {
    let s = h.conversation;
    let who = s.visitor_name.clone().unwrap_or_else(|| t().visitor.into());
    let sender = match h.sender {
        SenderKind::Visitor => t().visitor,
        SenderKind::Agent => t().agent,
        SenderKind::Bot => t().bot,
        SenderKind::System => t().system,
    };
    let status = history::status_label(&s);
    let snippet = highlight(&h.snippet, terms)
        .into_iter()
        .map(|(text, marked)| {
            if marked {
                view! { <mark>{text}</mark> }.into_any()
            } else {
                text.into_any()
            }
        })
        .collect_view();
    let id = s.id.clone();
    let label = fill(t().open_conversation_with, &[("name", &who)]);
    view! {
        <li class="c-hit" data-testid="search-hit" data-conversation=s.id.clone() data-seq=h.seq.to_string()>
            <div class="c-hit-meta">
                <span class="c-who">{who}</span>
                <span class="c-badge">{status}</span>
                <span>{s.site.clone()}</span>
                <time>{clock(h.at)}</time>
            </div>
            <p class="c-snippet" data-testid="search-snippet">
                <span class="c-sender">{sender} ": "</span>
                {snippet}
            </p>
            <button
                type="button"
                class="c-open"
                data-testid="search-open"
                aria-label=label
                on:click=move |_| lookup::open(c, &id)
            >
                {t().open}
            </button>
        </li>
    }
}
