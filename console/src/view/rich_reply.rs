//! What an agent can put under a reply besides text: quick-reply chips (the visitor's click
//! comes back as their message) and one link button. Folded away behind a disclosure button;
//! every control is a labelled input or button, Enter in the chip field adds the chip rather
//! than sending the reply. The protocol's own check (`Rich::validate`) runs before sending, so
//! the agent sees what the relay would refuse.

use leptos::prelude::*;
use switchboard_protocol::limits::{MAX_LABEL_BYTES, MAX_QUICK_REPLIES};
use switchboard_protocol::{Button, QuickReply, Rich};

use crate::i18n::{fill, number, t};

/// The chips and link being put together for the next reply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Draft {
    pub chips: Vec<String>,
    pub link_label: String,
    pub link_url: String,
}

impl Draft {
    /// The rich content to send, `Ok(None)` when there is none, or why it cannot be sent.
    pub fn rich(&self) -> Result<Option<Rich>, String> {
        let label = self.link_label.trim();
        let url = self.link_url.trim();
        let buttons = match (label.is_empty(), url.is_empty()) {
            (true, true) => Vec::new(),
            (false, false) => vec![Button::Link {
                label: label.to_owned(),
                url: url.to_owned(),
            }],
            (true, false) => return Err(t().link_needs_label.into()),
            (false, true) => return Err(t().link_needs_url.into()),
        };
        let rich = Rich {
            quick_replies: self
                .chips
                .iter()
                .map(|c| QuickReply {
                    label: c.clone(),
                    payload: c.clone(),
                })
                .collect(),
            buttons,
            cards: Vec::new(),
        };
        if rich.is_empty() {
            return Ok(None);
        }
        rich.validate()
            .map(|()| Some(rich))
            .map_err(|(_, why)| fill(t().cannot_send_buttons, &[("why", &why)]))
    }
}

/// The disclosure button and, when open, the chip and link fields.
pub fn editor(draft: RwSignal<Draft>) -> impl IntoView {
    let open = RwSignal::new(false);
    let chip = RwSignal::new(String::new());
    let chip_error = RwSignal::new(None::<String>);
    let add_chip = move || {
        let label = chip.get_untracked().trim().to_owned();
        if label.is_empty() {
            return;
        }
        let error = if label.len() > MAX_LABEL_BYTES {
            Some(fill(
                t().chip_too_long,
                &[("max", &number(MAX_LABEL_BYTES as u64))],
            ))
        } else if draft.with_untracked(|d| d.chips.len()) >= MAX_QUICK_REPLIES {
            Some(fill(
                t().too_many_chips,
                &[("max", &number(MAX_QUICK_REPLIES as u64))],
            ))
        } else if draft.with_untracked(|d| d.chips.contains(&label)) {
            Some(t().chip_exists.into())
        } else {
            None
        };
        if error.is_none() {
            draft.update(|d| d.chips.push(label));
            chip.set(String::new());
        }
        chip_error.set(error);
    };
    let count = move || draft.with(|d| d.chips.len() + usize::from(!d.link_url.trim().is_empty()));
    let problem = move || draft.with(|d| d.rich().err());
    view! {
        <div class="c-rich">
            <button
                type="button"
                class="c-rich-toggle"
                data-testid="rich-toggle"
                aria-expanded=move || open.get().to_string()
                aria-controls="c-rich-fields"
                on:click=move |_| open.update(|o| *o = !*o)
            >
                {move || match count() {
                    0 => t().add_rich.to_owned(),
                    n => fill(t().rich_count, &[("n", &number(n as u64))]),
                }}
            </button>
            <div id="c-rich-fields" class="c-rich-fields" hidden=move || !open.get()>
                <fieldset>
                    <legend>{t().quick_replies}</legend>
                    <label for="c-chip-input">{t().quick_reply}</label>
                    <input
                        id="c-chip-input"
                        data-testid="chip-input"
                        type="text"
                        prop:value=move || chip.get()
                        on:input=move |ev| chip.set(event_target_value(&ev))
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                            if ev.key() == "Enter" && !ev.is_composing() {
                                ev.prevent_default();
                                add_chip();
                            }
                        }
                    />
                    <button type="button" class="c-chip-btn" data-testid="chip-add" on:click=move |_| add_chip()>
                        {t().add}
                    </button>
                    <Show when=move || chip_error.get().is_some()>
                        <p class="c-error" role="alert">{move || chip_error.get()}</p>
                    </Show>
                    <ul class="c-chips" aria-label=t().quick_replies_to_send>
                        <For
                            each=move || draft.get().chips
                            key=|c| c.clone()
                            children=move |label| {
                                let gone = label.clone();
                                view! {
                                    <li data-testid="chip-draft">
                                        {label.clone()}
                                        <button
                                            type="button"
                                            class="c-chip-remove"
                                            aria-label=fill(t().remove_quick_reply, &[("label", &label)])
                                            on:click=move |_| draft.update(|d| d.chips.retain(|c| *c != gone))
                                        >
                                            "×"
                                        </button>
                                    </li>
                                }
                            }
                        />
                    </ul>
                </fieldset>
                <fieldset>
                    <legend>{t().link_button}</legend>
                    <label for="c-link-label">{t().button_label}</label>
                    <input
                        id="c-link-label"
                        data-testid="link-label"
                        type="text"
                        prop:value=move || draft.get().link_label
                        on:input=move |ev| draft.update(|d| d.link_label = event_target_value(&ev))
                    />
                    <label for="c-link-url">{t().link_url}</label>
                    <input
                        id="c-link-url"
                        data-testid="link-url"
                        type="url"
                        prop:value=move || draft.get().link_url
                        on:input=move |ev| draft.update(|d| d.link_url = event_target_value(&ev))
                    />
                </fieldset>
                <Show when=move || problem().is_some()>
                    <p class="c-error" role="alert" data-testid="rich-error">{problem}</p>
                </Show>
            </div>
        </div>
    }
}
