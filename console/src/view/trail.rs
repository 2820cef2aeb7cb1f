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
                    // A title alone hides what changed when a single-page app moves to another
                    // `#section` or `?step` under the same title, so titled pages show their
                    // path too.
                    let path = (!p.title.is_empty())
                        .then(|| path_of(&p.url))
                        .filter(|path| !path.is_empty())
                        .map(|path| view! { " " <span class="c-trail-path" dir="ltr">{path}</span> });
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
                            <time>{clock(p.at)}</time> " " {page} {path}
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

/// What follows the origin (`/checkout?step=2#address`), or the whole text when it has none.
fn path_of(url: &str) -> String {
    match url.split_once("://") {
        Some((_, rest)) => rest
            .find(['/', '?', '#'])
            .map_or_else(String::new, |at| rest[at..].to_owned()),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn the_path_is_what_follows_the_origin() {
        assert_eq!(
            path_of("https://shop.example/checkout#address"),
            "/checkout#address"
        );
        assert_eq!(path_of("https://shop.example?step=2"), "?step=2");
        assert_eq!(path_of("https://shop.example"), "");
        assert_eq!(path_of("about:blank"), "about:blank");
    }
}
