//! The rating prompt under a resolved conversation, when the site asks for one (`welcome`'s
//! `csat`): native radio buttons in a fieldset (arrow keys move between them, screen readers
//! say the group's question and each one's place), an optional comment, a send button; then
//! the thanks. Sent as `rate`; the prompt turns into the thanks when the relay's `rated` event
//! arrives, so every tab and a reload agree.

use leptos::html;
use leptos::prelude::*;
use switchboard_protocol::csat::{Rate, Scale};
use switchboard_protocol::ClientMsg;

use crate::i18n::Strings;
use crate::state::{core, Conn, Rating, Widget};

/// How long a rating may wait for its `rated` event before the prompt says it was not sent.
const WAIT_MS: u32 = 10_000;

/// A score as the visitor reads it: "4/5", or the thumb's word.
pub fn score_text(s: &Strings, score: u8, scale: Scale) -> String {
    match (scale, score) {
        (Scale::Five, n) => format!("{}/{}", s.number(n.into()), s.number(5)),
        (Scale::Thumbs, 0) => s.rate_down.to_owned(),
        (Scale::Thumbs, _) => s.rate_up.to_owned(),
    }
}

pub fn prompt(w: Widget) -> impl IntoView {
    // A memo: the form is drawn again only when what it asks changes, not with every new
    // line of the transcript (a half-chosen score and comment survive).
    let stage = Memo::new(move |_| w.csat.get().zip(w.rating()).map(|(c, r)| (c, r.is_some())));
    move || {
        Some(match stage.get()? {
            (_, true) => thanks(w).into_any(),
            (csat, false) => form(w, csat.scale, csat.comment_max).into_any(),
        })
    }
}

fn thanks(w: Widget) -> impl IntoView {
    let el = NodeRef::<html::P>::new();
    // The send button that had focus is gone: focus follows to the thanks, so the keyboard
    // stays in the panel (only after a rating from this page).
    Effect::new(move |_| {
        if let Some(p) = el.get() {
            if w.rate.get_untracked() == Rating::Sending {
                let _ = p.focus();
            }
            w.rate.set(Rating::Idle);
        }
    });
    view! {
        <p node_ref=el class="sb-notice sb-resolved" data-testid="csat-thanks" role="status" tabindex="-1">
            {w.tr(|s| s.rate_thanks)}
        </p>
    }
}

fn form(w: Widget, scale: Scale, comment_max: u32) -> impl IntoView {
    let score = RwSignal::new(None::<u8>);
    let comment = NodeRef::<html::Textarea>::new();
    let submit = move || {
        let (Some(score), Some(conversation_id)) =
            (score.get_untracked(), core(|c| c.conversation_id.clone()))
        else {
            return;
        };
        if w.conn.get_untracked() != Conn::Online {
            w.rate.set(Rating::Failed);
            return;
        }
        let comment = comment
            .get_untracked()
            .map(|c| c.value().trim().to_owned())
            .filter(|c| !switchboard_protocol::client::is_blank(c));
        w.rate.set(Rating::Sending);
        crate::connection::send(&ClientMsg::Rate(Rate {
            conversation_id,
            score,
            comment,
        }));
        leptos::task::spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(WAIT_MS).await;
            if w.rate.get_untracked() == Rating::Sending {
                w.rate.set(Rating::Failed);
            }
        });
    };
    // Thumbs up first, as people expect; five from 1 to 5 in the reading direction.
    let mut scores: Vec<u8> = scale.scores().collect();
    if scale == Scale::Thumbs {
        scores.reverse();
    }
    let choices = scores
        .into_iter()
        .map(|n| {
            let label = move || match scale {
                Scale::Five => w.t().number(n.into()),
                Scale::Thumbs => score_text(w.t(), n, scale),
            };
            view! {
                <label class="sb-score">
                    <input
                        type="radio"
                        name="sb-score"
                        class="sb-sr"
                        data-testid="csat-score"
                        value=n
                        on:change=move |_| score.set(Some(n))
                    />
                    <span>{label}</span>
                </label>
            }
        })
        .collect_view();
    view! {
        <fieldset class="sb-csat" data-testid="csat" data-scale=scale.as_str()>
            <legend>{w.tr(|s| s.rate_question)}</legend>
            <div class="sb-scores">{choices}</div>
            {(scale == Scale::Five).then(|| view! { <p class="sb-hint">{w.tr(|s| s.rate_scale)}</p> })}
            {(comment_max > 0).then(|| view! {
                <label class="sb-hint" for="sb-csat-comment">{w.tr(|s| s.rate_comment)}</label>
                <textarea
                    node_ref=comment
                    id="sb-csat-comment"
                    class="sb-input"
                    data-testid="csat-comment"
                    rows="2"
                    dir="auto"
                    maxlength=comment_max
                ></textarea>
            })}
            <button
                type="button"
                class="sb-send"
                data-testid="csat-submit"
                disabled=move || score.get().is_none() || w.rate.get() == Rating::Sending
                on:click=move |_| submit()
            >
                {w.tr(|s| s.rate_send)}
            </button>
            {move || (w.rate.get() == Rating::Failed).then(|| view! {
                <p class="sb-limit" data-testid="csat-error" role="alert">{w.tr(|s| s.rate_failed)}</p>
            })}
        </fieldset>
    }
}
