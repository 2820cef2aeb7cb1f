//! "Block visitor" in the console, in Chromium: the confirm step (with "also block the
//! network address") by keyboard, axe-core finding nothing on it (also right to left and at
//! phone width), and the conversation leaving the inbox once the relay has blocked it.

use std::time::Duration;

use fantoccini::{Client, Locator};

use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess, AGENT_TOKEN};
use super::page::*;
use crate::util::{eventually, workspace};

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    let dir = workspace().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), &png).unwrap();
    std::fs::write(artifact(name), &png).unwrap();
}

async fn el(c: &Client, testid: &str) -> fantoccini::elements::Element {
    let css = format!("[data-testid={testid}]");
    eventually(testid, Duration::from_secs(10), || async {
        c.find(Locator::Css(&css)).await.ok()
    })
    .await
}

#[tokio::test]
async fn an_agent_blocks_a_visitor_from_the_console() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (visitor, _p1) = driver.browser().await;
    let (agent, _p2) = driver.browser().await;
    let (v, a) = (visitor.clone(), agent.clone());
    with_browsers(vec![visitor, agent], async {
        v.goto(&relay.shop("order.html")).await.unwrap();
        open_widget(&v).await;
        visitor_send(&v, "BUY CHEAP WATCHES").await;
        wait_widget_message(&v, "visitor", "BUY CHEAP WATCHES", Some("sent")).await;

        sign_in(&a, &relay.console(), AGENT_TOKEN).await;
        open_first_conversation(&a).await;
        wait_transcript(&a, "visitor", "BUY CHEAP WATCHES").await;
        let open = el(&a, "block-open").await;
        assert!(super::axe::violations_in(&a, "[data-testid=block]").await.is_empty());

        // By keyboard: Enter on the button, Space on the checkbox, Enter on "Block".
        open.send_keys("\u{E007}").await.unwrap();
        let ip = el(&a, "block-ip").await;
        ip.send_keys(" ").await.unwrap();
        assert_eq!(
            ip.prop("checked").await.unwrap().as_deref(),
            Some("true")
        );
        let violations = super::axe::violations_in(&a, "[data-testid=block]").await;
        assert!(violations.is_empty(), "{violations:#?}");
        shot(&a, "console-block-confirm.png").await;
        // Right to left and at phone width, the confirm step stays clean.
        a.execute("document.documentElement.dir = 'rtl'; return 1;", vec![])
            .await
            .unwrap();
        a.set_window_size(390, 844).await.unwrap();
        a.execute(
            "document.querySelector('[data-testid=block]').scrollIntoView({inline: 'center'}); return 1;",
            vec![],
        )
        .await
        .unwrap();
        let violations = super::axe::violations_in(&a, "[data-testid=block]").await;
        assert!(violations.is_empty(), "{violations:#?}");
        shot(&a, "console-block-confirm-rtl-390.png").await;
        a.execute("document.documentElement.dir = 'ltr'; return 1;", vec![])
            .await
            .unwrap();
        a.set_window_size(1280, 900).await.unwrap();

        // Cancel closes the question and changes nothing.
        el(&a, "block-cancel").await.click().await.unwrap();
        el(&a, "block-open").await.click().await.unwrap();
        el(&a, "block-yes").await.send_keys("\u{E007}").await.unwrap();
        // The relay's answer takes the conversation off the screen.
        eventually("the blocked conversation to leave the inbox", Duration::from_secs(10), || async {
            a.find_all(Locator::Css("[data-testid=conversation]"))
                .await
                .ok()
                .filter(|l| l.is_empty())
        })
        .await;
        shot(&a, "console-after-block.png").await;
        // A fresh console (another agent's view) does not list it either.
        a.refresh().await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(a
            .find_all(Locator::Css("[data-testid=conversation]"))
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}
