//! The action bar above the open conversation: where it stands (assignee, team, status,
//! priority, the last transfer's note) and what the agent may do to it: take, assign (admins),
//! unassign, transfer, resolve, reopen, pending, snooze, priority. Actions the agent may not do
//! are not offered (the relay refuses them anyway). Every action carries the summary's
//! `version`; a refusal is said in the notice below the bar.

use leptos::prelude::*;
use switchboard_protocol::{ConversationSummary, Priority, Status};

use super::{presence, transfer};
use crate::desk::{
    self, agent_name, allowed, priority_key, priority_label, status_key, status_label, team_name,
    team_of,
};
use crate::i18n::{fill, t};
use crate::state::Console;

const HOUR_MS: f64 = 3_600_000.0;
/// The Transfer button's id: focus returns there when the dialog closes.
pub const TRANSFER_BUTTON_ID: &str = "action-transfer";

pub fn bar(c: Console) -> impl IntoView {
    // Outside the reactive block, so a new summary (a new version) keeps the dialog open.
    let dialog_open = RwSignal::new(false);
    let snooze_choice = RwSignal::new("1h".to_owned());
    let snooze_at = RwSignal::new(String::new());
    Effect::new(move || {
        // Another conversation: its own dialog and notice.
        c.selected.track();
        dialog_open.set(false);
        c.notice.set(None);
    });
    view! {
        <section class="c-actions" aria-label=t().status_and_actions data-testid="action-bar">
            {move || c.open_summary().map(|s| row(c, s, dialog_open, snooze_choice, snooze_at))}
            <p class="c-notice" role="status" data-testid="action-notice">
                {move || c.notice.get()}
            </p>
            {move || {
                (dialog_open.get())
                    .then(|| c.open_summary())
                    .flatten()
                    .map(|s| transfer::dialog(c, s, dialog_open))
            }}
        </section>
    }
}

fn row(
    c: Console,
    s: ConversationSummary,
    dialog_open: RwSignal<bool>,
    snooze_choice: RwSignal<String>,
    snooze_at: RwSignal<String>,
) -> impl IntoView {
    let me = c.me.get_untracked();
    let may = c.directory.with(|d| allowed(d, &me, &s));
    let status = s.status.at(js_sys::Date::now() as u64);
    let team = c
        .directory
        .with_untracked(|d| team_of(d, &s))
        .map(|t| team_name(&t));
    let who = s
        .assignee
        .as_deref()
        .map_or(t().unassigned.to_owned(), agent_name);
    let summary = StoredValue::new(s.clone());
    let with = move |f: fn(Console, &ConversationSummary)| {
        move |_: leptos::ev::MouseEvent| summary.with_value(|s| f(c, s))
    };

    let take = (may.take).then(|| {
        view! {
            <button type="button" data-testid="action-take" on:click=with(|c, s| {
                desk::assign(c, s, Some(c.me.get_untracked()))
            })>{t().take}</button>
        }
    });
    let assign = may.assign_others.then(|| assign_picker(c, &s));
    let unassign = may.unassign.then(|| {
        view! {
            <button type="button" data-testid="action-unassign" on:click=with(|c, s| desk::assign(c, s, None))>
                {t().unassign}
            </button>
        }
    });
    let transfer = may.transfer.then(|| {
        view! {
            <button
                type="button"
                id=TRANSFER_BUTTON_ID
                data-testid="action-transfer"
                aria-expanded=move || dialog_open.get().to_string()
                on:click=move |_| dialog_open.update(|o| *o = !*o)
            >
                {t().transfer_open}
            </button>
        }
    });
    let resolve = (may.status && status != Status::Resolved).then(|| {
        view! {
            <button type="button" class="c-primary" data-testid="action-resolve"
                on:click=with(|c, s| desk::set_status(c, s, Status::Resolved))>{t().resolve}</button>
        }
    });
    let reopen = (may.status && status != Status::Open).then(|| {
        view! {
            <button type="button" data-testid="action-reopen"
                on:click=with(|c, s| desk::set_status(c, s, Status::Open))>{t().reopen}</button>
        }
    });
    let pending = (may.status && status == Status::Open).then(|| {
        view! {
            <button type="button" data-testid="action-pending"
                on:click=with(|c, s| desk::set_status(c, s, Status::Pending))>{t().set_pending}</button>
        }
    });
    let snooze = (may.status && status != Status::Resolved)
        .then(|| snooze(c, summary, snooze_choice, snooze_at));
    let priority = may.status.then(|| priority_picker(c, summary));
    let note = s.note.clone().map(|n| {
        view! { <p class="c-note-line" data-testid="transfer-note-shown">{t().transfer_note} {n}</p> }
    });
    view! {
        <p class="c-state" data-testid="conversation-state" data-status=status_key(status)>
            <span data-testid="state-assignee">{who}</span>
            {team.map(|t| view! { " · " <span data-testid="state-team">{t}</span> })}
            " · " <span data-testid="state-status">{status_label(status)}</span>
            {(s.priority != Priority::Normal).then(|| {
                format!(" · {}", fill(t().priority_suffix, &[("priority", priority_label(s.priority))]))
            })}
        </p>
        {rating(c, s.id.clone())}
        {note}
        <div class="c-buttons" role="group" aria-label=t().actions>
            {take}
            {assign}
            {unassign}
            {transfer}
            {resolve}
            {reopen}
            {pending}
            {snooze}
            {priority}
        </div>
    }
}

/// The visitor's latest rating of the conversation (its `rated` line), under the state.
fn rating(c: Console, id: String) -> impl IntoView {
    move || {
        c.transcripts
            .with(|all| {
                all.get(&id)?
                    .iter()
                    .rev()
                    .find(|l| l.code == Some("rated"))
                    .map(|l| l.text.clone())
            })
            .map(|text| view! { <p class="c-note-line" data-testid="state-rating">{text}</p> })
    }
}

/// Admins: any agent of the conversation's site, with their presence.
fn assign_picker(c: Console, s: &ConversationSummary) -> impl IntoView {
    let site = s.site.clone();
    let current = s.assignee.clone();
    let agents: Vec<(String, String)> = c.directory.with_untracked(|d| {
        d.agents
            .iter()
            .filter(|a| a.sites.contains(&site) && Some(&a.id) != current.as_ref())
            .map(|a| (a.id.clone(), a.name.clone()))
            .collect()
    });
    let chosen = RwSignal::new(agents.first().map(|a| a.0.clone()).unwrap_or_default());
    let summary = StoredValue::new(s.clone());
    let options = agents
        .into_iter()
        .map(|(id, name)| {
            let value = id.clone();
            let text = move || presence::named(c, &id, &name);
            view! { <option value=value>{text}</option> }
        })
        .collect_view();
    view! {
        <span class="c-pick">
            <select
                aria-label=t().assign_to
                data-testid="assign-agent"
                prop:value=move || chosen.get()
                on:change=move |ev| chosen.set(event_target_value(&ev))
            >
                {options}
            </select>
            <button
                type="button"
                data-testid="action-assign"
                on:click=move |_| {
                    let to = chosen.get_untracked();
                    if !to.is_empty() {
                        summary.with_value(|s| desk::assign(c, s, Some(to)));
                    }
                }
            >
                {t().assign}
            </button>
        </span>
    }
}

/// When a snooze ends: in an hour, tomorrow at 9:00, or a time the agent picks.
fn snooze_until(choice: &str, at: &str) -> Option<u64> {
    let now = js_sys::Date::new_0();
    let until = match choice {
        "1h" => now.get_time() + HOUR_MS,
        "tomorrow" => {
            now.set_date(now.get_date() + 1);
            now.set_hours(9);
            now.set_minutes(0);
            now.set_seconds(0);
            now.set_milliseconds(0);
            now.get_time()
        }
        // A `datetime-local` value has no offset: the browser reads it as local time.
        _ => js_sys::Date::parse(at),
    };
    (until.is_finite() && until > js_sys::Date::now()).then_some(until as u64)
}

fn snooze(
    c: Console,
    summary: StoredValue<ConversationSummary>,
    choice: RwSignal<String>,
    at: RwSignal<String>,
) -> impl IntoView {
    let go = move |_: leptos::ev::MouseEvent| match snooze_until(
        &choice.get_untracked(),
        &at.get_untracked(),
    ) {
        Some(until) => {
            summary.with_value(|s| desk::set_status(c, s, Status::Snoozed { until }));
        }
        None => c.notice.set(Some(t().snooze_future.into())),
    };
    view! {
        <span class="c-pick">
            <select
                aria-label=t().snooze_until
                data-testid="snooze-choice"
                prop:value=move || choice.get()
                on:change=move |ev| choice.set(event_target_value(&ev))
            >
                <option value="1h">{t().in_one_hour}</option>
                <option value="tomorrow">{t().tomorrow_nine}</option>
                <option value="custom">{t().pick_time}</option>
            </select>
            <Show when=move || choice.get() == "custom">
                <input
                    type="datetime-local"
                    aria-label=t().snooze_at
                    data-testid="snooze-at"
                    prop:value=move || at.get()
                    on:input=move |ev| at.set(event_target_value(&ev))
                />
            </Show>
            <button type="button" data-testid="action-snooze" on:click=go>{t().snooze}</button>
        </span>
    }
}

fn priority_picker(c: Console, summary: StoredValue<ConversationSummary>) -> impl IntoView {
    let current = summary.with_value(|s| s.priority);
    let options = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ]
    .into_iter()
    .map(|p| {
        view! { <option value=priority_key(p) selected=p == current>{priority_label(p)}</option> }
    })
    .collect_view();
    let change = move |ev| {
        let chosen = match event_target_value(&ev).as_str() {
            "low" => Priority::Low,
            "high" => Priority::High,
            "urgent" => Priority::Urgent,
            _ => Priority::Normal,
        };
        if chosen != current {
            summary.with_value(|s| desk::set_priority(c, s, chosen));
        }
    };
    view! {
        <label class="c-pick">
            {t().priority} " "
            <select data-testid="action-priority" on:change=change>{options}</select>
        </label>
    }
}
