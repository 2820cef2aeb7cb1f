//! The admin screen for canned replies: per site, the list with Edit and Delete, and one form
//! (shortcut, body) that adds a new one or saves the one being edited. Admins only (the
//! relay refuses anyone else, and the button is not shown to them). The relay's refusal (a
//! shortcut taken, the site full, a bad placeholder) is shown in the form; "Saved." is
//! announced politely. Escape or Close returns focus to the header button.

use leptos::ev::KeyboardEvent;
use leptos::html::Input;
use leptos::prelude::*;
use switchboard_protocol::limits::{MAX_CANNED_BODY_BYTES, MAX_CANNED_SHORTCUT_BYTES};
use switchboard_protocol::{AgentRole, CannedReply};

use crate::canned;
use crate::i18n::{fill, t};
use crate::state::Console;

const OPEN_BUTTON_ID: &str = "c-canned-admin-open";

fn focus(id: &str) {
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
    {
        let _ = el.focus();
    }
}

/// The sites whose canned replies this agent may edit.
fn sites(c: Console) -> Vec<String> {
    let me = c.me.get();
    c.directory.with(|d| {
        if d.role != AgentRole::Admin {
            return Vec::new();
        }
        d.agents
            .iter()
            .find(|a| a.id == me)
            .map(|a| a.sites.clone())
            .unwrap_or_default()
    })
}

/// The header's "Canned replies" button (admins only).
pub fn button(c: Console, open: RwSignal<bool>) -> impl IntoView {
    view! {
        <Show when=move || !sites(c).is_empty()>
            <button
                type="button"
                id=OPEN_BUTTON_ID
                class="c-canned-admin-open"
                data-testid="canned-admin-open"
                aria-expanded=move || if open.get() { "true" } else { "false" }
                on:click=move |_| {
                    forget_outcome();
                    open.update(|o| *o = !*o);
                }
            >
                {t().key_canned}
            </button>
        </Show>
    }
}

/// The screen the button opens; it floats over the conversation, outside the header.
pub fn panel(c: Console, open: RwSignal<bool>) -> impl IntoView {
    view! {
        <Show when=move || open.get()>
            {move || screen(c, open)}
        </Show>
    }
}

fn close(open: RwSignal<bool>) {
    open.set(false);
    forget_outcome();
    focus(OPEN_BUTTON_ID);
}

/// A refusal or "Saved." belongs to the form it answered, not to the next opening.
fn forget_outcome() {
    let store = canned::store();
    store.admin_error.set(None);
    store.admin_status.set(String::new());
}

fn screen(c: Console, open: RwSignal<bool>) -> impl IntoView {
    let store = canned::store();
    let all_sites = sites(c);
    let site = RwSignal::new(all_sites.first().cloned().unwrap_or_default());
    // The canned reply being edited; none: the form adds a new one.
    let editing = RwSignal::new(None::<String>);
    let shortcut = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let first = NodeRef::<Input>::new();
    Effect::new(move || {
        if let Some(input) = first.get() {
            let _ = input.focus();
        }
    });
    let items = {
        let by_site = store.by_site.clone();
        move || {
            let site = site.get();
            by_site.with(|all| all.get(&site).cloned().unwrap_or_default())
        }
    };
    let reset = move || {
        editing.set(None);
        shortcut.set(String::new());
        body.set(String::new());
    };
    // A stored change empties the form.
    {
        let saving = store.saving.clone();
        let error = store.admin_error.clone();
        Effect::new(move |was: Option<bool>| {
            let now = saving.get();
            if was == Some(true) && !now && error.get_untracked().is_none() {
                reset();
            }
            now
        });
    }
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (s, b) = (shortcut.get_untracked(), body.get_untracked());
        let (s, b) = (s.trim().trim_start_matches('/'), b.trim());
        match editing.get_untracked() {
            Some(id) => canned::update(&site.get_untracked(), &id, s, b),
            None => canned::create(&site.get_untracked(), s, b),
        }
    };
    let keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            close(open);
        }
    };
    let site_options = all_sites
        .into_iter()
        .map(|s| {
            let label = s.clone();
            view! { <option value=s>{label}</option> }
        })
        .collect_view();
    let row = move |reply: CannedReply| {
        let (id, edit_reply) = (reply.id.clone(), reply.clone());
        let shortcut_text = format!("/{}", reply.shortcut);
        let label_edit = fill(t().edit_named, &[("shortcut", &reply.shortcut)]);
        let label_delete = fill(t().delete_named, &[("shortcut", &reply.shortcut)]);
        view! {
            <li class="c-canned-row" data-testid="canned-row" data-shortcut=reply.shortcut.clone()>
                <div class="c-canned-text">
                    <span class="c-canned-shortcut" dir="ltr">{shortcut_text}</span>
                    <span class="c-canned-body" dir="auto">{reply.body.clone()}</span>
                </div>
                <div class="c-buttons">
                    <button
                        type="button"
                        aria-label=label_edit
                        on:click=move |_| {
                            editing.set(Some(edit_reply.id.clone()));
                            shortcut.set(edit_reply.shortcut.clone());
                            body.set(edit_reply.body.clone());
                            focus("canned-shortcut");
                        }
                    >
                        {t().edit}
                    </button>
                    <button
                        type="button"
                        aria-label=label_delete
                        on:click=move |_| canned::delete(&site.get_untracked(), &id)
                    >
                        {t().delete}
                    </button>
                </div>
            </li>
        }
    };
    let error = store.admin_error.clone();
    let error_shown = store.admin_error.clone();
    let status = store.admin_status.clone();
    let saving = store.saving.clone();
    view! {
        <section
            class="c-dialog c-canned-admin"
            role="dialog"
            aria-labelledby="canned-admin-title"
            data-testid="canned-admin"
            on:keydown=keydown
        >
            <h2 id="canned-admin-title">{t().key_canned}</h2>
            <label for="canned-site">{t().site}</label>
            <select
                id="canned-site"
                prop:value=move || site.get()
                on:change=move |ev| {
                    site.set(event_target_value(&ev));
                    reset();
                }
            >
                {site_options}
            </select>
            <ul class="c-canned-rows" aria-label=t().canned_stored>
                {move || items().into_iter().map(row).collect_view()}
            </ul>
            <form on:submit=submit>
                <h3>{move || if editing.get().is_some() { t().canned_edit_title } else { t().canned_new_title }}</h3>
                <label for="canned-shortcut">{t().canned_shortcut}</label>
                <input
                    id="canned-shortcut"
                    data-testid="canned-shortcut"
                    node_ref=first
                    required
                    maxlength=MAX_CANNED_SHORTCUT_BYTES.to_string()
                    autocomplete="off"
                    prop:value=move || shortcut.get()
                    on:input=move |ev| shortcut.set(event_target_value(&ev))
                />
                <label for="canned-body">
                    {t().canned_body}
                </label>
                <textarea
                    id="canned-body"
                    data-testid="canned-body"
                    required
                    maxlength=MAX_CANNED_BODY_BYTES.to_string()
                    aria-describedby="canned-admin-error"
                    prop:value=move || body.get()
                    on:input=move |ev| body.set(event_target_value(&ev))
                ></textarea>
                <p class="c-error" id="canned-admin-error" role="alert" data-testid="canned-admin-error">
                    {move || error.get().unwrap_or_default()}
                </p>
                <p class="c-canned-status" role="status">{move || status.get()}</p>
                <div class="c-buttons">
                    <button type="submit" class="c-primary" data-testid="canned-save" disabled=move || saving.get()>
                        {move || if editing.get().is_some() { t().save } else { t().add }}
                    </button>
                    <Show when=move || editing.get().is_some() || error_shown.get().is_some()>
                        <button type="button" on:click=move |_| {
                            reset();
                            canned::store().admin_error.set(None);
                        }>{t().cancel_edit}</button>
                    </Show>
                    <button type="button" data-testid="canned-admin-close" on:click=move |_| close(open)>{t().close}</button>
                </div>
            </form>
        </section>
    }
}
