//! Canned replies in the console, in Chromium: the agent types `/ord` in the reply box, the
//! picker lists the demo's seeded canned replies (axe-core clean while open), Enter puts the
//! FILLED text in the box (`{{order.number}}` → 1042, from the demo order in the context),
//! the agent sends it and the widget shows the order's real number. An admin adds one whose
//! value the conversation lacks: the placeholder stays visible, a warning names it, the send
//! is blocked until the agent replaces it. The picker also at 390 px, right to left.

use std::time::Duration;

use fantoccini::{Client, Locator};

use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess, AGENT_TOKEN};
use super::page::*;
use crate::util::eventually;

const ENTER: &str = "\u{E007}";
const ARROW_DOWN: &str = "\u{E015}";
const ARROW_UP: &str = "\u{E013}";
const ESCAPE: &str = "\u{E00C}";
/// Control+A, then release the modifier: selects the whole draft.
const SELECT_ALL: &str = "\u{E009}a\u{E000}";

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifact(name), &png).unwrap();
}

async fn el(c: &Client, css: &str) -> fantoccini::elements::Element {
    eventually(css, Duration::from_secs(10), || async {
        c.find(Locator::Css(css)).await.ok()
    })
    .await
}

async fn js(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.unwrap()
}

async fn draft(c: &Client) -> String {
    js(
        c,
        "return document.querySelector('[data-testid=reply-input]').value;",
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// `(shortcut, aria-selected)` of the picker's options.
async fn options(c: &Client) -> Vec<(String, String)> {
    serde_json::from_value(
        js(
            c,
            "return Array.from(document.querySelectorAll('[data-testid=canned-option]'))\
               .map(o => [o.dataset.shortcut, o.getAttribute('aria-selected')]);",
        )
        .await,
    )
    .unwrap_or_default()
}

async fn wait_options(c: &Client, what: &str, f: impl Fn(&[(String, String)]) -> bool) {
    eventually(what, UI_WAIT, || async {
        f(&options(c).await).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_agent_sends_a_filled_canned_reply_and_a_missing_value_blocks_the_send() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (visitor, _p1) = driver.browser().await;
    let (agent, _p2) = driver.browser().await;
    let (v, a) = (visitor.clone(), agent.clone());
    with_browsers(vec![visitor, agent], async {
        v.goto(&relay.shop("order.html")).await.unwrap();
        open_widget(&v).await;
        visitor_send(&v, "Where is my order?").await;
        wait_widget_message(&v, "visitor", "Where is my order?", Some("sent")).await;

        sign_in(&a, &relay.console(), AGENT_TOKEN).await;
        open_first_conversation(&a).await;
        wait_transcript(&a, "visitor", "Where is my order?").await;
        // The order is in the context the picker fills from.
        wait_console_text(&a, "context", "1042").await;

        // `/` at the start opens the picker; fuzzy search narrows it.
        let input = el(&a, "[data-testid=reply-input]").await;
        input.send_keys("/").await.unwrap();
        wait_options(&a, "every canned reply listed", |o| o.len() >= 4).await;
        input.send_keys("ordr").await.unwrap();
        wait_options(&a, "/ordr finds /order first", |o| {
            o.first()
                .is_some_and(|(s, sel)| s == "order" && sel == "true")
        })
        .await;
        let attrs = js(
            &a,
            "const t = document.querySelector('[data-testid=reply-input]');\
             return [t.getAttribute('aria-controls'), t.getAttribute('aria-activedescendant'),\
               document.getElementById(t.getAttribute('aria-activedescendant')).dataset.shortcut];",
        )
        .await;
        assert_eq!(
            attrs,
            serde_json::json!(["c-canned-list", "c-canned-opt-0", "order"])
        );
        super::axe::assert_clean(&a, "the console with the canned picker open").await;
        shot(&a, "canned-picker.png").await;

        // Arrows move and wrap; Escape closes without touching the draft.
        let n = options(&a).await.len();
        if n > 1 {
            input.send_keys(ARROW_DOWN).await.unwrap();
            wait_options(&a, "the second option active", |o| o[1].1 == "true").await;
            input.send_keys(ARROW_UP).await.unwrap();
            wait_options(&a, "back to the first", |o| o[0].1 == "true").await;
        }
        input.send_keys(ESCAPE).await.unwrap();
        wait_options(&a, "the picker closed", |o| o.is_empty()).await;
        assert_eq!(draft(&a).await, "/ordr");
        input.send_keys("\u{E003}").await.unwrap(); // Backspace: the query changes, it opens again
        wait_options(&a, "open again for /ord", |o| !o.is_empty()).await;

        // Enter puts the FILLED text in the box, for the agent to read before sending.
        input.send_keys(ENTER).await.unwrap();
        let filled = "I checked order 1042: it is delayed. Anything else I can help with?";
        eventually("the filled text in the reply box", UI_WAIT, || async {
            (draft(&a).await == filled).then_some(())
        })
        .await;
        assert!(options(&a).await.is_empty(), "the picker closed");
        assert!(console_texts(&a, "canned-missing").await.is_empty());
        shot(&a, "canned-filled.png").await;
        input.send_keys(ENTER).await.unwrap();
        wait_transcript(&a, "agent", filled).await;
        wait_widget_message(&v, "agent", "I checked order 1042: it is delayed.", None).await;

        // An admin adds a canned reply from the console's admin screen, by keyboard.
        el(&a, "[data-testid=canned-admin-open]")
            .await
            .send_keys(ENTER)
            .await
            .unwrap();
        let shortcut = el(&a, "[data-testid=canned-shortcut]").await;
        super::axe::assert_clean(&a, "the canned replies admin screen").await;
        shortcut.send_keys("coupon").await.unwrap();
        el(&a, "[data-testid=canned-body]")
            .await
            .send_keys("Your code for order {{order.number}} is {{coupon_code}}.")
            .await
            .unwrap();
        el(&a, "[data-testid=canned-save]")
            .await
            .click()
            .await
            .unwrap();
        el(&a, "[data-testid=canned-row][data-shortcut=coupon]").await;
        // A shortcut taken is refused by the relay and said in the form.
        shortcut.send_keys("order").await.unwrap();
        el(&a, "[data-testid=canned-body]")
            .await
            .send_keys("duplicate")
            .await
            .unwrap();
        el(&a, "[data-testid=canned-save]")
            .await
            .click()
            .await
            .unwrap();
        wait_console_text(&a, "canned-admin-error", "already has this shortcut").await;
        super::axe::assert_clean(&a, "the admin screen with a refusal").await;
        shot(&a, "canned-admin.png").await;
        el(&a, "[data-testid=canned-admin-close]")
            .await
            .click()
            .await
            .unwrap();

        // A value the conversation lacks: shown as its placeholder, named, the send blocked.
        input.send_keys("/coupon").await.unwrap();
        wait_options(&a, "/coupon listed", |o| {
            o.first().is_some_and(|(s, _)| s == "coupon")
        })
        .await;
        input.send_keys(ENTER).await.unwrap();
        let raw = "Your code for order 1042 is {{coupon_code}}.";
        eventually("the partly filled text", UI_WAIT, || async {
            (draft(&a).await == raw).then_some(())
        })
        .await;
        wait_console_text(&a, "canned-missing", "coupon_code is missing").await;
        let send = el(&a, "[data-testid=reply-send]").await;
        assert_eq!(
            send.prop("disabled").await.unwrap().as_deref(),
            Some("true")
        );
        assert_eq!(
            input.attr("aria-invalid").await.unwrap().as_deref(),
            Some("true")
        );
        input.send_keys(ENTER).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(draft(&a).await, raw, "Enter sent nothing");
        assert!(
            !transcript(&a)
                .await
                .iter()
                .any(|(_, _, t)| t.contains("{{")),
            "raw braces never sent"
        );
        super::axe::assert_clean(&a, "the reply box with a missing value").await;
        shot(&a, "canned-missing.png").await;

        // The agent replaces it; the reply goes out.
        input.send_keys(SELECT_ALL).await.unwrap();
        input
            .send_keys("Your code for order 1042 is TRAIL10.")
            .await
            .unwrap();
        eventually("the warning gone", UI_WAIT, || async {
            console_texts(&a, "canned-missing")
                .await
                .is_empty()
                .then_some(())
        })
        .await;
        input.send_keys(ENTER).await.unwrap();
        wait_widget_message(&v, "agent", "Your code for order 1042 is TRAIL10.", None).await;
        let texts: Vec<String> = widget_messages(&v).await.into_iter().map(|m| m.2).collect();
        assert!(
            texts.iter().all(|t| !t.contains("{{")),
            "the visitor never sees raw braces: {texts:?}"
        );

        // At phone width and right to left, the open picker stays usable and clean.
        a.set_window_size(390, 844).await.unwrap();
        a.execute("document.documentElement.dir = 'rtl'; return 1;", vec![])
            .await
            .unwrap();
        input.send_keys("/re").await.unwrap();
        wait_options(&a, "/re lists /returns", |o| {
            o.iter().any(|(s, _)| s == "returns")
        })
        .await;
        super::axe::assert_clean(&a, "the canned picker at 390 px, right to left").await;
        shot(&a, "canned-picker-phone-rtl.png").await;
        input.send_keys(ESCAPE).await.unwrap();
        wait_options(&a, "the picker closed", |o| o.is_empty()).await;
        el(&a, "[data-testid=canned-admin-open]")
            .await
            .click()
            .await
            .unwrap();
        el(&a, "[data-testid=canned-shortcut]").await;
        super::axe::assert_clean(&a, "the admin screen at 390 px, right to left").await;
        shot(&a, "canned-admin-phone-rtl.png").await;
    })
    .await;
}
