//! The whole product path: a visitor on the demo shop's order page chats, an agent in the
//! console sees page, order and cart and answers; the transcript survives a reload and a relay
//! restart on both sides.

use fantoccini::Locator;

use super::harness::{with_browsers, Chromedriver, RelayProcess, AGENT_TOKEN};
use super::page::*;

const QUESTION: &str = "Where is my order?";
const ANSWER: &str = "Order #1042 is delayed by the storm; express shipping is on us.";

#[tokio::test]
async fn visitor_and_agent_chat_with_context_through_reload_and_restart() {
    let mut relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (visitor, _p1) = driver.browser().await;
    let (agent, _p2) = driver.browser().await;
    let (v, a) = (visitor.clone(), agent.clone());
    with_browsers(vec![visitor, agent], async {
        // The visitor puts a jacket in the cart, then looks at their order.
        v.goto(&relay.shop("product.html?id=rain-jacket")).await.unwrap();
        v.find(Locator::Css("[data-testid=add-to-cart]")).await.unwrap().click().await.unwrap();
        v.goto(&relay.shop("order.html")).await.unwrap();
        open_widget(&v).await;
        in_widget(&v, "window.__replies = []; Switchboard('on', 'message', m => window.__replies.push(m.text)); return 1;")
            .await;
        visitor_send(&v, QUESTION).await;
        wait_widget_message(&v, "visitor", QUESTION, Some("sent")).await;

        // The agent signs in and sees who, where, and what they ordered.
        sign_in(&a, &relay.console(), AGENT_TOKEN).await;
        open_first_conversation(&a).await;
        wait_transcript(&a, "visitor", QUESTION).await;
        wait_console_text(&a, "context-page-url", "/order.html").await;
        wait_console_text(&a, "order-number", "1042").await;
        wait_console_text(&a, "order-status", "delayed").await;
        wait_console_text(&a, "cart-item", "Rain jacket").await;
        wait_console_text(&a, "order-item", "Trail boots").await;

        console_reply(&a, ANSWER).await;
        wait_transcript(&a, "agent", ANSWER).await;
        wait_widget_message(&v, "agent", ANSWER, None).await;
        let replies = in_widget(&v, "return window.__replies;").await;
        assert_eq!(replies, serde_json::json!([ANSWER]), "the site's `on message` listener fired once");

        // A reload continues the same conversation.
        v.refresh().await.unwrap();
        open_widget(&v).await;
        wait_widget_message(&v, "visitor", QUESTION, Some("sent")).await;
        wait_widget_message(&v, "agent", ANSWER, None).await;

        // So does a relay restart, on both sides.
        relay.restart().await;
        v.refresh().await.unwrap();
        open_widget(&v).await;
        wait_widget_message(&v, "visitor", QUESTION, Some("sent")).await;
        wait_widget_message(&v, "agent", ANSWER, None).await;
        assert_eq!(widget_messages(&v).await.len(), 2, "nothing duplicated: {:?}", widget_messages(&v).await);

        a.refresh().await.unwrap();
        open_first_conversation(&a).await;
        wait_transcript(&a, "visitor", QUESTION).await;
        wait_transcript(&a, "agent", ANSWER).await;
        // The question, the answer, and "Alex joined" (the reply took the conversation).
        let lines = transcript(&a).await;
        let said: Vec<_> = lines.iter().filter(|(sender, _, _)| sender != "system").collect();
        assert_eq!(said.len(), 2, "nothing duplicated: {lines:?}");
        assert_eq!(lines.iter().filter(|(_, _, t)| t == "Alex joined").count(), 1, "{lines:?}");
    })
    .await;
}
