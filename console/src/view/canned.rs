//! The `/` picker in the reply box: typing `/` at the start of an empty draft lists the
//! site's canned replies under fuzzy search; arrows move, Enter (or Tab) puts the chosen one
//! into the reply box FILLED from the conversation's context, Escape closes. The agent reads
//! and may edit the text before sending. A value the context lacks stays as its `{{name}}`,
//! named in a warning line, and the send is blocked until it is replaced.
//!
//! The combobox pattern on the reply box itself: focus stays in the textarea, which owns the
//! listbox (`aria-controls`) and points at the active option (`aria-activedescendant`). HTML
//! allows no `role` on a textarea, so it stays a textbox with `aria-autocomplete="list"`.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use switchboard_protocol::canned::{fill, unfilled};
use switchboard_protocol::CannedReply;

use crate::canned;
use crate::i18n::{self, t};
use crate::state::Console;

pub const LIST_ID: &str = "c-canned-list";

fn option_id(i: usize) -> String {
    format!("c-canned-opt-{i}")
}

/// The picker's state beside one reply box. `Copy`, like [`Console`].
#[derive(Clone, Copy)]
pub struct Picker {
    c: Console,
    draft: Signal<String>,
    set_draft: Callback<String>,
    active: RwSignal<usize>,
    /// Escape closed the list for this `/query`; typing past it (or a new `/`) opens it again.
    dismissed: RwSignal<Option<String>>,
}

impl Picker {
    pub fn new(c: Console, draft: Signal<String>, set_draft: Callback<String>) -> Picker {
        Picker {
            c,
            draft,
            set_draft,
            active: RwSignal::new(0),
            dismissed: RwSignal::new(None),
        }
    }

    fn site(self) -> Option<String> {
        let conv = self.c.selected.get()?;
        self.c
            .summaries
            .with(|all| all.get(&conv).map(|s| s.site.clone()))
    }

    /// What the list shows now (empty: closed).
    pub fn matches(self) -> Vec<CannedReply> {
        let draft = self.draft.get();
        let Some(query) = canned::query(&draft) else {
            return Vec::new();
        };
        if self.dismissed.get().as_deref() == Some(draft.as_str()) {
            return Vec::new();
        }
        let Some(site) = self.site() else {
            return Vec::new();
        };
        canned::store()
            .by_site
            .with(|all| canned::search(all.get(&site).map_or(&[][..], Vec::as_slice), query))
    }

    /// Whether the `/query` finds nothing (said, so the agent knows why no list opened).
    fn none_found(self) -> bool {
        let draft = self.draft.get();
        canned::query(&draft).is_some()
            && self.dismissed.get().as_deref() != Some(draft.as_str())
            && self.matches().is_empty()
    }

    pub fn open(self) -> bool {
        !self.matches().is_empty()
    }

    pub fn active_id(self) -> Option<String> {
        let n = self.matches().len();
        (n > 0).then(|| option_id(self.active.get().min(n - 1)))
    }

    pub fn controls(self) -> Option<&'static str> {
        self.open().then_some(LIST_ID)
    }

    /// The draft changed: a new query starts at the first entry.
    pub fn input(self) {
        self.active.set(0);
        if self.draft.get_untracked().is_empty() {
            if let Some(conv) = self.c.selected.get_untracked() {
                canned::choose(&conv, None);
            }
        }
    }

    /// Arrows, Enter, Tab and Escape while the list is open; true when the key was the
    /// picker's (the reply box must not also act on it).
    pub fn keydown(self, ev: &KeyboardEvent) -> bool {
        let matches = self.matches();
        if matches.is_empty() || ev.is_composing() {
            return false;
        }
        let n = matches.len();
        let at = self.active.get_untracked().min(n - 1);
        match ev.key().as_str() {
            "ArrowDown" => self.active.set((at + 1) % n),
            "ArrowUp" => self.active.set((at + n - 1) % n),
            "Home" => self.active.set(0),
            "End" => self.active.set(n - 1),
            "Enter" | "Tab" if !ev.shift_key() => self.pick(&matches[at]),
            "Escape" => self.dismissed.set(Some(self.draft.get_untracked())),
            _ => return false,
        }
        ev.prevent_default();
        // The console's own shortcuts (Escape among them) must not act on the picker's keys.
        ev.stop_propagation();
        true
    }

    /// Puts the canned reply, filled, into the reply box.
    fn pick(self, reply: &CannedReply) {
        let Some(conv) = self.c.selected.get_untracked() else {
            return;
        };
        let context = self
            .c
            .contexts
            .with_untracked(|all| all.get(&conv).cloned());
        let agent = self.c.agent_name.get_untracked();
        let filled = fill(&reply.body, context.as_ref(), &agent);
        canned::choose(&conv, Some(reply.id.clone()));
        self.active.set(0);
        self.set_draft.run(filled.text);
    }

    /// The placeholders still raw in a draft made from a canned reply.
    pub fn missing(self) -> Vec<String> {
        let Some(conv) = self.c.selected.get() else {
            return Vec::new();
        };
        let draft = self.draft.get();
        if canned::chosen(&conv).is_none() {
            return Vec::new();
        }
        let mut names: Vec<String> = Vec::new();
        for name in unfilled(&draft) {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        names
    }

    /// The list (above the reply box) and the warning line for missing values.
    pub fn view(self) -> impl IntoView {
        let entries = move || {
            let list = self.matches();
            let active = self.active.get().min(list.len().saturating_sub(1));
            list.into_iter()
                .enumerate()
                .map(|(i, reply)| {
                    let selected = i == active;
                    let preview = preview(&reply.body);
                    let shortcut = format!("/{}", reply.shortcut);
                    let key = reply.shortcut.clone();
                    view! {
                        <li
                            id=option_id(i)
                            role="option"
                            class="c-canned-option"
                            data-testid="canned-option"
                            data-shortcut=key
                            aria-selected=if selected { "true" } else { "false" }
                            // Keeps focus in the reply box.
                            on:mousedown=move |ev| {
                                ev.prevent_default();
                                self.pick(&reply);
                            }
                        >
                            // A shortcut reads as typed, `/` first, in either direction;
                            // a body lays out in its own language's direction.
                            <span class="c-canned-shortcut" dir="ltr">{shortcut}</span>
                            <span class="c-canned-body" dir="auto">{preview}</span>
                        </li>
                    }
                })
                .collect_view()
        };
        view! {
            <Show when=move || self.open()>
                <div class="c-canned-picker" data-testid="canned-picker">
                    <ul id=LIST_ID role="listbox" aria-label=t().key_canned>
                        {entries}
                    </ul>
                    <p class="c-canned-hint" aria-hidden="true" dir="auto">
                        {t().canned_hint}
                    </p>
                </div>
            </Show>
            <Show when=move || self.none_found()>
                <p class="c-canned-none" role="status" data-testid="canned-none">
                    {t().canned_none}
                </p>
            </Show>
            <Show when=move || !self.missing().is_empty()>
                <p class="c-error c-canned-missing" id="c-canned-missing" role="alert" data-testid="canned-missing">
                    {move || {
                        self.missing()
                            .iter()
                            .map(|n| {
                                i18n::fill(
                                    t().canned_missing,
                                    &[("name", n), ("placeholder", &format!("{{{{{n}}}}}"))],
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(" ")
                    }}
                </p>
            </Show>
        }
    }
}

/// The body's start, on one line.
fn preview(body: &str) -> String {
    const CHARS: usize = 90;
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > CHARS {
        let cut: String = flat.chars().take(CHARS).collect();
        format!("{cut}…")
    } else {
        flat
    }
}
