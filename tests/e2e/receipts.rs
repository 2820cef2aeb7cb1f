//! Read receipts and the page trail in the browser (issue 16): a visitor on the demo shop
//! chats in the real widget; "Seen" appears under their message once the agent opens the
//! conversation in the console; the agent sees how far the visitor has read, which stops while
//! the widget is closed; an SPA navigation (`history.pushState`, then a hash change) shows up
//! in the console's page trail. axe-core on both new states, right to left and at phone width.

use std::time::Duration;

use fantoccini::Client;

use super::axe;
use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess, AGENT_TOKEN};
use super::page::*;
use crate::util::eventually;

const QUESTION: &str = "Is the rain jacket waterproof?";
const ANSWER: &str = "Yes, fully taped seams.";
const LATER: &str = "It also packs into its own pocket.";

async fn js(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.expect("script runs")
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifact(name), png).unwrap();
}

/// `(seq of the message it is under, its text)` of the widget's "Seen" marks.
async fn widget_seen(c: &Client) -> Vec<(String, String)> {
    let v = in_widget(
        c,
        "if (!root) return []; return Array.from(root.querySelectorAll('[data-testid=message-state]')).map(s => [\
           s.closest('[data-testid=message]').getAttribute('data-seq') || '', s.textContent.trim()]);",
    )
    .await;
    serde_json::from_value(v).unwrap_or_default()
}

/// The text of the console message each "Seen by the visitor" mark is under.
async fn console_seen(c: &Client) -> Vec<String> {
    let v = js(
        c,
        "return Array.from(document.querySelectorAll('[data-testid=visitor-seen]')).map(s =>\
           s.closest('[data-testid=message]').querySelector('[data-testid=message-text]').textContent.trim());",
    )
    .await;
    serde_json::from_value(v).unwrap_or_default()
}

#[tokio::test]
async fn seen_marks_and_the_spa_page_trail() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (visitor, _p1) = driver.browser().await;
    let (agent, _p2) = driver.browser().await;
    let (v, a) = (visitor.clone(), agent.clone());
    with_browsers(vec![visitor, agent], async {
        v.goto(&relay.shop("product.html?id=rain-jacket")).await.unwrap();
        open_widget(&v).await;
        visitor_send(&v, QUESTION).await;
        wait_widget_message(&v, "visitor", QUESTION, Some("sent")).await;
        assert!(widget_seen(&v).await.is_empty(), "nobody has read it yet");

        // The agent opens the conversation: "Seen" under the visitor's message.
        sign_in(&a, &relay.console(), AGENT_TOKEN).await;
        open_first_conversation(&a).await;
        wait_transcript(&a, "visitor", QUESTION).await;
        let seen = eventually("Seen in the widget", UI_WAIT, || async {
            let s = widget_seen(&v).await;
            (!s.is_empty()).then_some(s)
        })
        .await;
        assert_eq!(seen, vec![("1".to_owned(), "Seen".to_owned())]);
        axe::assert_clean(&v, "the widget with a message seen").await;
        shot(&v, "receipts-widget-seen.png").await;

        // The agent answers; the visitor, chat open, reads it.
        console_reply(&a, ANSWER).await;
        wait_widget_message(&v, "agent", ANSWER, None).await;
        eventually("the visitor's mark in the console", UI_WAIT, || async {
            (console_seen(&a).await == [ANSWER]).then_some(())
        })
        .await;
        // With the chat closed the visitor sees nothing new, and the mark stays.
        widget_el(&v, "close").await.click().await.unwrap();
        console_reply(&a, LATER).await;
        wait_widget_message(&v, "agent", LATER, None).await;
        // Longer than the widget waits before it marks (300 ms): a mark would have come.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(console_seen(&a).await, [ANSWER]);
        open_widget(&v).await;
        eventually("the mark moves once the chat is open", UI_WAIT, || async {
            (console_seen(&a).await == [LATER]).then_some(())
        })
        .await;

        // A single-page app's navigation: the trail in the console follows it.
        js(
            &v,
            "history.pushState({step: 2}, '', '/checkout/step-2?from=spa'); document.title = 'Checkout step 2'; return 1;",
        )
        .await;
        wait_console_text(&a, "trail-page", "Checkout step 2").await;
        // The host page's history works as before.
        assert_eq!(js(&v, "return history.state && history.state.step;").await, 2);
        js(&v, "location.hash = 'shipping'; return 1;").await;
        eventually("the hash change in the trail", UI_WAIT, || async {
            let pages = console_texts(&a, "trail-page").await;
            (pages.len() == 3).then_some(pages)
        })
        .await;
        let links = js(
            &a,
            "return Array.from(document.querySelectorAll('[data-testid=trail-page] a')).map(l => l.getAttribute('href'));",
        )
        .await;
        let links: Vec<String> = serde_json::from_value(links).unwrap();
        assert!(links[0].ends_with("/checkout/step-2?from=spa#shipping"), "{links:?}");
        assert!(links[1].ends_with("/checkout/step-2?from=spa"), "{links:?}");
        assert!(links[2].contains("product.html?id=rain-jacket"), "{links:?}");
        // Same title, another `#section`: the lines differ by the path they show.
        let pages = console_texts(&a, "trail-page").await;
        assert!(pages[0].ends_with("/checkout/step-2?from=spa#shipping"), "{pages:?}");
        assert!(pages[1].ends_with("/checkout/step-2?from=spa"), "{pages:?}");
        axe::assert_clean(&a, "the console with the visitor's page trail").await;
        shot(&a, "receipts-console-trail.png").await;

        // Right to left and at phone width, on both sides.
        a.set_window_size(390, 844).await.unwrap();
        js(&a, "document.documentElement.dir = 'rtl'; return 1;").await;
        js(&a, "const t = document.querySelector('[data-testid=page-trail]'); t && t.scrollIntoView(); return 1;").await;
        axe::assert_clean(&a, "the console's page trail, 390 px, right to left").await;
        shot(&a, "receipts-console-trail-390-rtl.png").await;
        v.set_window_size(390, 844).await.unwrap();
        in_widget(&v, "Switchboard('locale', 'ar'); return 1;").await;
        eventually("Seen in Arabic", UI_WAIT, || async {
            widget_seen(&v)
                .await
                .iter()
                .any(|(_, t)| t == "تمت المشاهدة")
                .then_some(())
        })
        .await;
        assert_eq!(
            in_widget(&v, "return root.querySelector('.sb-widget').getAttribute('dir');").await,
            "rtl"
        );
        axe::assert_clean(&v, "the widget with a message seen, Arabic, 390 px").await;
        shot(&v, "receipts-widget-seen-390-ar.png").await;
    })
    .await;
}
