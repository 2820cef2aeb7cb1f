//! "Block visitor" on the open conversation, for spam: a confirm step (blocking resolves the
//! conversation and hides it from every view), with "also block the network address". The
//! relay answers with the conversation's line marked blocked, which takes it off the screen;
//! a refusal comes back as an `error`.

use leptos::prelude::*;
use switchboard_protocol::ClientMsg;

use crate::i18n::t;
use crate::state::{send, Console};

pub fn block(c: Console) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let with_ip = RwSignal::new(false);
    // A new conversation starts with the question closed.
    Effect::new(move || {
        c.selected.track();
        confirming.set(false);
        with_ip.set(false);
    });
    let confirm = move |_| {
        if let Some(conversation_id) = c.selected.get_untracked() {
            send(&ClientMsg::Block {
                conversation_id,
                ip: with_ip.get_untracked(),
            });
        }
        confirming.set(false);
    };
    view! {
        <div class="c-block" data-testid="block">
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button type="button" class="c-block-open" data-testid="block-open"
                        on:click=move |_| confirming.set(true)>
                        {t().block_visitor}
                    </button>
                }
            >
                <div role="group" aria-labelledby="c-block-q" class="c-block-confirm" data-testid="block-confirm">
                    <p id="c-block-q">{t().block_question}</p>
                    <label>
                        <input type="checkbox" data-testid="block-ip"
                            prop:checked=move || with_ip.get()
                            on:change=move |ev| with_ip.set(event_target_checked(&ev)) />
                        {t().block_network}
                    </label>
                    <button type="button" class="c-block-yes" data-testid="block-yes" on:click=confirm>
                        {t().block}
                    </button>
                    <button type="button" data-testid="block-cancel" on:click=move |_| confirming.set(false)>
                        {t().cancel}
                    </button>
                </div>
            </Show>
        </div>
    }
}
