//! The rating prompt under a resolved conversation, when the site asks for one (`welcome`'s
//! `csat`): native radio buttons in a fieldset (arrow keys move between them, screen readers
//! say the group's question and each one's place), an optional comment, a send button; then
//! the thanks. Sent as `rate`; the prompt turns into the thanks when the relay's `rated` event
//! arrives, so every tab and a reload agree.
//!
//! Size: the widget's download is budgeted, and every new signal type or memo brings its own
//! copy of the reactive machinery, so the prompt reuses the signal types the widget has
//! (`Option<u32>`, `Option<bool>`, `Show`'s memo) and keeps the site's prompt in the session.

use leptos::prelude::*;
use switchboard_protocol::csat::{Rate, Scale};
use switchboard_protocol::ClientMsg;
use wasm_bindgen::JsCast;

use crate::i18n::Strings;
use crate::state::{core, Conn, Widget};

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

/// Where the prompt stands: `None` nothing to show (no prompt on this site, or not resolved),
/// `Some(false)` asking, `Some(true)` rated.
fn stage(w: Widget) -> Option<bool> {
    let rated = w.rating()?;
    core(|c| c.csat.is_some()).then_some(rated)
}

pub fn prompt(w: Widget) -> impl IntoView {
    // `Show` memoizes its condition: the form is drawn again only when what it asks changes,
    // not with every new line of the transcript (a half-chosen score and comment survive).
    view! {
        <Show when=move || stage(w) == Some(false)>{form(w)}</Show>
        <Show when=move || stage(w) == Some(true)>
            <p class="sb-notice sb-resolved" data-testid="csat-thanks" role="status" tabindex="-1">
                {w.tr(|s| s.rate_thanks)}
            </p>
        </Show>
    }
}

fn form(w: Widget) -> impl IntoView {
    let csat = core(|c| c.csat).unwrap_or_default();
    let scale = csat.scale;
    let score = RwSignal::new(None::<u32>);
    let submit = move |ev: leptos::ev::MouseEvent| {
        let (Some(score), Some(conversation_id)) =
            (score.get_untracked(), core(|c| c.conversation_id.clone()))
        else {
            return;
        };
        if w.conn.get_untracked() != Conn::Online {
            w.rate.set(Some(false));
            return;
        }
        // The panel: once the form makes way for the thanks, focus goes there (see `thanks`).
        let Some(panel) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|b| b.closest("section").ok().flatten())
        else {
            return;
        };
        let comment = panel
            .query_selector("textarea.sb-csat-comment")
            .ok()
            .flatten()
            .and_then(|t| t.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
            .map(|t| t.value().trim().to_owned())
            .filter(|c| !switchboard_protocol::client::is_blank(c));
        w.rate.set(Some(true));
        crate::connection::send(&ClientMsg::Rate(Rate {
            conversation_id,
            score: score as u8,
            comment,
        }));
        leptos::task::spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(WAIT_MS).await;
            if w.rate.get_untracked() == Some(true) {
                w.rate.set(Some(false));
            }
        });
        thanks_focus(w, panel);
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
                        on:change=move |_| score.set(Some(n.into()))
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
            {(csat.comment_max > 0).then(|| view! {
                <label class="sb-hint" for="sb-csat-comment">{w.tr(|s| s.rate_comment)}</label>
                <textarea
                    id="sb-csat-comment"
                    class="sb-input sb-csat-comment"
                    data-testid="csat-comment"
                    rows="2"
                    dir="auto"
                    maxlength=csat.comment_max
                ></textarea>
            })}
            <button
                type="button"
                class="sb-send"
                data-testid="csat-submit"
                disabled=move || score.get().is_none() || w.rate.get() == Some(true)
                on:click=submit
            >
                {w.tr(|s| s.send)}
            </button>
            {move || (w.rate.get() == Some(false)).then(|| view! {
                <p class="sb-limit" data-testid="csat-error" role="alert">{w.tr(|s| s.failed)}</p>
            })}
        </fieldset>
    }
}

/// The send button that had focus goes with the form: once the thanks is drawn, focus moves
/// to it, so the keyboard stays in the panel. Looked up in the panel rather than held in a
/// node ref (one more signal type in the wasm).
fn thanks_focus(w: Widget, panel: web_sys::Element) {
    leptos::task::spawn_local(async move {
        for _ in 0..(WAIT_MS / 100) {
            gloo_timers::future::TimeoutFuture::new(100).await;
            if let Some(p) = panel
                .query_selector("[data-testid=csat-thanks]")
                .ok()
                .flatten()
                .and_then(|p| p.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = p.focus();
                w.rate.set(None);
                return;
            }
        }
    });
}
