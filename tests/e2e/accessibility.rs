//! Every screen a person sees, under axe-core: the widget (closed, open and empty, with a
//! conversation) and the console (sign-in, inbox with transcript and context), on a desktop
//! window, at phone width, in a right-to-left page, and the widget in every locale it ships.
//! Screenshots go to `artifacts/` for people to look at.

use fantoccini::Client;
use serde_json::json;

use super::axe::assert_clean_in;
use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess, AGENT_TOKEN};
use super::page::*;

/// The locales the widget ships (`widget/src/i18n.rs`).
const LOCALES: &[&str] = &[
    "en", "es", "fr", "de", "pt", "it", "nl", "tr", "hi", "ar", "zh", "ja",
];
const QUESTION: &str = "Is the rain jacket waterproof?";
const ANSWER: &str = "Yes, fully taped seams.";

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(artifact(name), png).unwrap();
}

/// The page as a right-to-left document (what an Arabic or Hebrew host page is).
async fn make_rtl(c: &Client) {
    c.execute("document.documentElement.dir = 'rtl'; return 1;", vec![])
        .await
        .unwrap();
}

#[tokio::test]
async fn widget_and_console_have_no_axe_violations_on_desktop_phone_and_rtl() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (visitor, _p1) = driver.browser().await;
    let (agent, _p2) = driver.browser().await;
    let (v, a) = (visitor.clone(), agent.clone());
    with_browsers(vec![visitor, agent], async {
        v.goto(&relay.shop("order.html")).await.unwrap();
        assert_clean_in(&v, "#switchboard-host", "the loader's launcher").await;
        open_widget(&v).await;
        assert_clean_in(&v, "#switchboard-host", "the open, empty widget").await;

        a.goto(&relay.console()).await.unwrap();
        assert_clean_in(&a, "document", "the console's sign-in").await;
        screenshot(&a, "a11y-console-signin.png").await;

        visitor_send(&v, QUESTION).await;
        sign_in(&a, &relay.console(), AGENT_TOKEN).await;
        open_first_conversation(&a).await;
        wait_transcript(&a, "visitor", QUESTION).await;
        wait_console_text(&a, "order-number", "1042").await;
        console_reply(&a, ANSWER).await;
        wait_widget_message(&v, "agent", ANSWER, None).await;
        // Replying took the conversation (the demo's team assigns by hand): the visitor is no
        // longer told it waits in a queue.
        wait_console_text(&a, "state-assignee", "Alex").await;
        crate::util::eventually("the queue position to go", UI_WAIT, || async {
            let shown = in_widget(
                &v,
                "const q = root.querySelector('[data-testid=queue-position]'); \
                 return !!q && q.getBoundingClientRect().height > 0;",
            )
            .await;
            (shown == json!(false)).then_some(())
        })
        .await;

        assert_clean_in(&v, "#switchboard-host", "the widget with a conversation").await;
        screenshot(&v, "a11y-widget-desktop.png").await;
        assert_clean_in(&a, "document", "the console with a conversation open").await;
        screenshot(&a, "a11y-console-desktop.png").await;

        for c in [&v, &a] {
            c.set_window_size(390, 844).await.unwrap();
        }
        assert_clean_in(&v, "#switchboard-host", "the widget at phone width").await;
        screenshot(&v, "a11y-widget-phone.png").await;
        assert_clean_in(&a, "document", "the console at phone width").await;
        screenshot(&a, "a11y-console-phone.png").await;

        for c in [&v, &a] {
            c.set_window_size(1280, 900).await.unwrap();
            make_rtl(c).await;
        }
        assert_clean_in(
            &v,
            "#switchboard-host",
            "the widget in a right-to-left page",
        )
        .await;
        // The widget writes English left to right on a right-to-left page.
        let direction = in_widget(
            &v,
            "return getComputedStyle(root.querySelector('[data-testid=composer-input]')).direction;",
        )
        .await;
        assert_eq!(direction, json!("ltr"), "the widget's own direction on an RTL page");
        screenshot(&v, "a11y-widget-rtl.png").await;
        assert_clean_in(&a, "document", "the console right to left").await;
        screenshot(&a, "a11y-console-rtl.png").await;
    })
    .await;
}

#[tokio::test]
async fn widget_has_no_axe_violations_in_any_shipped_locale() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    for &locale in LOCALES {
        let (c, _profile) = driver.browser_in(locale).await;
        let v = c.clone();
        with_browsers(vec![c], async {
            v.goto(&relay.shop("order.html")).await.unwrap();
            let lang = v
                .execute("return navigator.language;", vec![])
                .await
                .unwrap();
            assert!(
                lang.as_str().is_some_and(|l| l.starts_with(locale)),
                "the browser speaks {locale}: {lang}"
            );
            // The page's own language comes before the browser's: this page says none.
            v.execute(
                "document.documentElement.removeAttribute('lang'); return 1;",
                vec![],
            )
            .await
            .unwrap();
            open_widget(&v).await;
            // The widget says which language it speaks, so screen readers pronounce it right.
            let widget_lang = in_widget(
                &v,
                "const p = root.querySelector('[data-testid=panel]'); \
                 return p && p.closest('[lang]') && p.closest('[lang]').getAttribute('lang');",
            )
            .await;
            assert_eq!(widget_lang, json!(locale), "the widget's lang attribute");
            visitor_send(&v, QUESTION).await;
            wait_widget_message(&v, "visitor", QUESTION, Some("sent")).await;
            assert_clean_in(&v, "#switchboard-host", &format!("the widget in {locale}")).await;
            screenshot(&v, &format!("a11y-widget-{locale}.png")).await;
        })
        .await;
    }
}
