//! Verified identity and `reset` in the browser: the demo shop's page claims an identity
//! (shown as the site's claim), then hands the widget a token its server would sign (shown as
//! verified); `reset` leaves the next visitor on that browser with nothing of the previous one.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::harness::{with_browsers, Chromedriver, RelayProcess, AGENT_TOKEN};
use super::page::*;
use crate::util::{eventually, free_port};

const SECRET: &str = "demo-identity-secret-0123456789abcdef";

#[tokio::test]
async fn verified_marks_in_the_console_and_reset_forgets_the_visitor() {
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
        &json!({"sub": "cust-77", "aud": "demo", "exp": exp, "name": "Dana Verified",
                "email": "dana@verified.example"}),
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    let driver = Chromedriver::start().await;
    let (visitor, _p1) = driver.browser().await;
    let (agent, _p2) = driver.browser().await;
    let (v, a) = (visitor.clone(), agent.clone());
    with_browsers(vec![visitor, agent], async {
        v.goto(&relay.shop("order.html")).await.unwrap();
        open_widget(&v).await;
        visitor_send(&v, "Hi, it's Dana").await;
        wait_widget_message(&v, "visitor", "Hi, it's Dana", Some("sent")).await;

        // The page's own `identify` is a claim, and the console says so.
        sign_in(&a, &relay.console(), AGENT_TOKEN).await;
        open_first_conversation(&a).await;
        wait_console_text(&a, "context-identity", "Dana Demo").await;
        wait_console_text(&a, "verified-name", "site's claim, unverified").await;
        super::axe::assert_clean(&a, "the console's unverified marks").await;

        // The token from the site's server: the same fields, now verified, live.
        in_widget(
            &v,
            &format!("Switchboard('identify', {{ token: '{token}' }}); return 1;"),
        )
        .await;
        wait_console_text(&a, "context-identity", "Dana Verified").await;
        wait_console_text(&a, "verified-name", "✓ verified").await;
        wait_console_text(&a, "verified-email", "✓ verified").await;
        wait_console_text(&a, "verified-id", "✓ verified").await;
        super::axe::assert_clean(&a, "the console's verified marks").await;

        // Logout: nothing of Dana stays in this browser.
        let key = "switchboard:demo:token";
        let before = v
            .execute(&format!("return localStorage.getItem('{key}');"), vec![])
            .await
            .unwrap();
        assert!(before.is_string(), "a token before reset: {before:?}");
        in_widget(&v, "Switchboard('reset'); return 1;").await;
        eventually("the transcript cleared", UI_WAIT, || async {
            widget_messages(&v).await.is_empty().then_some(())
        })
        .await;
        visitor_send(&v, "Someone else here").await;
        wait_widget_message(&v, "visitor", "Someone else here", Some("sent")).await;
        let after = v
            .execute(&format!("return localStorage.getItem('{key}');"), vec![])
            .await
            .unwrap();
        assert!(
            after.is_string() && after != before,
            "a new token: {before:?} → {after:?}"
        );
        v.refresh().await.unwrap();
        open_widget(&v).await;
        wait_widget_message(&v, "visitor", "Someone else here", Some("sent")).await;
        let texts: Vec<String> = widget_messages(&v).await.into_iter().map(|m| m.2).collect();
        assert_eq!(
            texts,
            vec!["Someone else here".to_owned()],
            "the previous visitor's transcript"
        );
        assert!(
            v.execute(
                "return localStorage.getItem('switchboard:demo:outbox') || '[]';",
                vec![]
            )
            .await
            .unwrap()
            .as_str()
            .is_some_and(|o| !o.contains("Dana")),
            "the previous visitor's outbox"
        );
    })
    .await;
}
