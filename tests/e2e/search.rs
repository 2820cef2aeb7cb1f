//! Looking back in the console: a verified customer comes back on a fresh visitor (after
//! `reset`, as after signing out and in again, or on another device); the new conversation's
//! sidebar lists the previous, resolved one, which opens read-only (no reply box, no actions).
//! Search finds that resolved conversation by a word of its transcript, with the status
//! filter, and opens it. axe-core on both screens; screenshots under `artifacts/`.

use std::time::{SystemTime, UNIX_EPOCH};

use fantoccini::{Client, Locator};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess, AGENT_TOKEN};
use super::page::*;
use crate::util::{eventually, free_port};

const SECRET: &str = "demo-identity-secret-0123456789abcdef";

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(artifact(name), png).unwrap();
}

async fn click(c: &Client, css: &str) {
    let el = eventually(css, UI_WAIT, || async {
        c.find(Locator::Css(css)).await.ok()
    })
    .await;
    el.click().await.unwrap();
}

async fn absent(c: &Client, testid: &str) -> bool {
    c.execute(
        &format!("return document.querySelector('[data-testid={testid}]') === null;"),
        vec![],
    )
    .await
    .unwrap()
        == json!(true)
}

#[tokio::test]
async fn a_returning_customers_history_opens_read_only_and_search_finds_it() {
    let demo_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "[[sites]]\nkey = \"demo\"\nallowed_origins = [\"http://127.0.0.1:{demo_port}\"]\n\
             identity_secret = \"{SECRET}\"\n"
        ),
    )
    .unwrap();
    let relay = RelayProcess::start_on(
        free_port(),
        demo_port,
        &["--config", config.to_str().unwrap()],
    )
    .await;
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "cust-3141", "aud": "demo", "exp": exp, "name": "Rosa Returning"}),
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    let identify = format!("Switchboard('identify', {{ token: '{token}' }}); return 1;");
    let driver = Chromedriver::start().await;
    let (visitor, _p1) = driver.browser().await;
    let (agent, _p2) = driver.browser().await;
    let (v, a) = (visitor.clone(), agent.clone());
    with_browsers(vec![visitor, agent], async {
        a.set_window_size(1280, 900).await.unwrap();
        // The first visit: a verified customer asks, an agent resolves it.
        v.goto(&relay.shop("order.html")).await.unwrap();
        open_widget(&v).await;
        in_widget(&v, &identify).await;
        visitor_send(&v, "My parcel zebra-7731 never arrived").await;
        wait_widget_message(&v, "visitor", "zebra-7731", Some("sent")).await;
        sign_in(&a, &relay.console(), AGENT_TOKEN).await;
        open_first_conversation(&a).await;
        wait_transcript(&a, "visitor", "zebra-7731").await;
        wait_console_text(&a, "verified-id", "✓ verified").await;
        click(&a, "[data-testid=action-resolve]").await;
        wait_console_text(&a, "state-status", "Resolved").await;

        // The customer comes back as a new visitor (reset, then identified again).
        in_widget(&v, "Switchboard('reset'); return 1;").await;
        eventually("the widget's transcript cleared", UI_WAIT, || async {
            widget_messages(&v).await.is_empty().then_some(())
        })
        .await;
        in_widget(&v, &identify).await;
        visitor_send(&v, "Hello again, about my parcel").await;
        wait_widget_message(&v, "visitor", "Hello again", Some("sent")).await;

        // The new conversation's sidebar lists the resolved one.
        let item = eventually("the new conversation in the inbox", UI_WAIT, || async {
            let items = a
                .find_all(Locator::Css("[data-testid=conversation]"))
                .await
                .ok()?;
            for item in items {
                if item.text().await.ok()?.contains("Hello again") {
                    return Some(item);
                }
            }
            None
        })
        .await;
        match item.find(Locator::Css("button")).await {
            Ok(b) => b.click().await.unwrap(),
            Err(_) => item.click().await.unwrap(),
        }
        wait_transcript(&a, "visitor", "Hello again").await;
        wait_console_text(&a, "history-item", "Resolved").await;
        assert_eq!(console_texts(&a, "history-item").await.len(), 1);
        screenshot(&a, "search-history-sidebar.png").await;
        super::axe::assert_clean(&a, "the console with a visitor's history").await;

        // Opened read-only: its transcript, no reply box, no actions.
        click(&a, "[data-testid=history-item]").await;
        wait_console_text(&a, "read-only-transcript", "zebra-7731").await;
        assert!(absent(&a, "reply-input").await, "a reply box on a read-only conversation");
        assert!(absent(&a, "action-bar").await, "actions on a read-only conversation");
        screenshot(&a, "search-read-only.png").await;
        super::axe::assert_clean(&a, "a read-only earlier conversation").await;
        click(&a, "[data-testid=read-only-close]").await;
        wait_transcript(&a, "visitor", "Hello again").await;

        // Search finds the resolved conversation by a word of its transcript.
        click(&a, "[data-testid=search-toggle]").await;
        let input = eventually("the search box", UI_WAIT, || async {
            a.find(Locator::Css("[data-testid=search-text]")).await.ok()
        })
        .await;
        input.send_keys("zebra").await.unwrap();
        a.find(Locator::Css("[data-testid=search-status] option[value=resolved]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        click(&a, "[data-testid=search-submit]").await;
        wait_console_text(&a, "search-snippet", "zebra-7731 never arrived").await;
        assert_eq!(console_texts(&a, "search-hit").await.len(), 1);
        let marked = a
            .execute(
                "return Array.from(document.querySelectorAll('[data-testid=search-snippet] mark')).map(m => m.textContent);",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(marked, json!(["zebra"]));
        screenshot(&a, "search-results.png").await;
        super::axe::assert_clean(&a, "the search view").await;

        // A word of the other site's, or of nothing: no hits, said so.
        let input = a.find(Locator::Css("[data-testid=search-text]")).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys("NEAR(\"*").await.unwrap();
        click(&a, "[data-testid=search-submit]").await;
        wait_console_text(&a, "search-count", "No messages found").await;

        // Opened from the results, as from the inbox.
        input.clear().await.unwrap();
        input.send_keys("zebra").await.unwrap();
        click(&a, "[data-testid=search-submit]").await;
        click(&a, "[data-testid=search-open]").await;
        wait_transcript(&a, "visitor", "zebra-7731").await;
        assert!(!absent(&a, "action-bar").await);

        // By keyboard, at phone width and right to left: the search box takes the focus,
        // Enter searches; axe finds nothing.
        a.set_window_size(390, 844).await.unwrap();
        click(&a, "[data-testid=search-toggle]").await;
        let focused = eventually("the search box focused", UI_WAIT, || async {
            let id = a
                .execute("return document.activeElement && document.activeElement.id;", vec![])
                .await
                .ok()?;
            (id == json!("search-text")).then_some(())
        })
        .await;
        let _: () = focused;
        let input = a.find(Locator::Css("[data-testid=search-text]")).await.unwrap();
        input.send_keys("never\u{E007}").await.unwrap();
        wait_console_text(&a, "search-count", "1 message found").await;
        screenshot(&a, "search-phone.png").await;
        super::axe::assert_clean(&a, "the search view at 390 px").await;
        a.execute("document.documentElement.dir = 'rtl'; return 1;", vec![])
            .await
            .unwrap();
        a.set_window_size(1280, 900).await.unwrap();
        screenshot(&a, "search-rtl.png").await;
        super::axe::assert_clean(&a, "the search view right to left").await;
    })
    .await;
}
