//! The visitor's page trail in the context panel: the last pages, newest first, each with
//! the time the relay saw it. Page titles and URLs come from the visitor's browser, so they
//! are text, and only http(s) URLs become links.

use leptos::prelude::*;
use switchboard_protocol::context::is_http_url;

use super::clock;
use crate::i18n::t;
use crate::state::Console;

pub fn trail(c: Console) -> impl IntoView {
    let pages = Memo::new(move |_| {
        let conv = c.selected.get()?;
        c.receipts
            .trails
            .with(|all| all.get(&conv).cloned())
            .filter(|p| !p.is_empty())
    });
    move || {
        pages.get().map(|pages| {
            let rows = pages
                .into_iter()
                .rev()
                .map(|p| {
                    let shown = if p.title.is_empty() {
                        p.url.clone()
                    } else {
                        p.title.clone()
                    };
                    let page = if is_http_url(&p.url) {
                        view! {
                            <a href=p.url target="_blank" rel="noopener noreferrer nofollow" dir="auto">
                                {shown}
                            </a>
                        }
                        .into_any()
                    } else {
                        view! { <span dir="auto">{shown}</span> }.into_any()
                    };
                    view! {
                        <li data-testid="trail-page">
                            <time>{clock(p.at)}</time> " " {page}
                        </li>
                    }
                })
                .collect_view();
            view! {
                <section class="c-box">
                    <h3>{t().page_trail}</h3>
                    <ol class="c-trail" data-testid="page-trail">{rows}</ol>
                </section>
            }
        })
    }
}
