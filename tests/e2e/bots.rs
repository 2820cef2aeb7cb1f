//! The bot path in the browser: on the demo shop (bot first), the order-status bot answers from
//! the order the page passed, a chip click hands the visitor to a person, the console shows the
//! handoff card above the transcript, the agent answers, and the bot can no longer speak.

use std::time::Duration;

use fantoccini::Locator;
use switchboard_protocol::client::Send;
use switchboard_protocol::{ClientMsg, ErrorCode, ServerMsg};

use super::harness::{with_browsers, Chromedriver, RelayProcess, AGENT_TOKEN};
use super::page::*;
use crate::process::{orderbot, BOT_TOKEN};
use crate::util::{bot_at, eventually};

const QUESTION: &str = "Where is my order?";
const ANSWER: &str = "I'm sorry about the delay; express shipping on your next order is on us.";

async fn bot_messages(v: &fantoccini::Client) -> usize {
    widget_messages(v)
        .await
        .iter()
        .filter(|(s, _, _)| s == "bot")
        .count()
}

#[tokio::test]
async fn bot_answers_from_the_order_and_hands_off_to_the_console() {
    let relay = RelayProcess::start_with(&["--demo-bot-token", BOT_TOKEN]).await;
    let _bot = orderbot(relay.port);
    let driver = Chromedriver::start().await;
    let (visitor, _p1) = driver.browser().await;
    let (agent, _p2) = driver.browser().await;
    let (v, a) = (visitor.clone(), agent.clone());
    with_browsers(vec![visitor, agent], async {
        v.goto(&relay.shop("order.html")).await.unwrap();
        open_widget(&v).await;
        visitor_send(&v, QUESTION).await;

        // The bot answers from the order data the page passed, marked as a bot, with a link
        // to the tracking page and a chip to reach a person.
        wait_widget_message(&v, "bot", "Order #1042 is delayed", None).await;
        let shown = in_widget(
            &v,
            "const badge = root.querySelector('[data-testid=bot-badge]');\
             const link = root.querySelector('[data-testid=rich-link]');\
             const chips = root.querySelectorAll('[data-testid=quick-reply]');\
             return [badge && badge.textContent, link && link.getAttribute('href'),\
                     Array.from(chips).map(c => c.textContent.trim())];",
        )
        .await;
        assert_eq!(
            shown,
            serde_json::json!(["Bot", "https://tracking.example/1042", ["Talk to a person"]])
        );

        // Clicking the chip is the visitor asking for a person: a postback the bot answers
        // with a handoff; the chip is gone once it is no longer the latest message.
        widget_el(&v, "quick-reply").await.click().await.unwrap();
        wait_widget_message(&v, "visitor", "Talk to a person", Some("sent")).await;
        wait_widget_message(&v, "bot", "getting a person", None).await;
        let chips = in_widget(&v, "return root.querySelectorAll('[data-testid=quick-reply]').length;").await;
        assert_eq!(chips, 0, "no chips under an older message");

        // The console: the conversation waits in the queue marked as a handoff; opening it
        // shows why, the bot's summary and the order number it collected, above the transcript.
        sign_in(&a, &relay.console(), AGENT_TOKEN).await;
        wait_console_text(&a, "owner-badge", "Handoff").await;
        open_first_conversation(&a).await;
        wait_console_text(&a, "handoff-reason", "Visitor asked for a person").await;
        wait_console_text(&a, "handoff-summary", "#1042").await;
        wait_console_text(&a, "handoff-field", "1042").await;
        wait_transcript(&a, "visitor", QUESTION).await;
        wait_transcript(&a, "bot", "Order #1042 is delayed").await;
        let card_above = a
            .execute(
                "const h = document.querySelector('[data-testid=handoff]');\
                 const t = document.querySelector('[data-testid=transcript]');\
                 return !!(h && t && (h.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(card_above, true, "the handoff card sits above the transcript");

        console_reply(&a, ANSWER).await;
        wait_widget_message(&v, "agent", ANSWER, None).await;

        // The bot tries to speak again: refused with `not_owner`, and the widget shows nothing new.
        let conv = a
            .find(Locator::Css("[data-testid=conversation]"))
            .await
            .unwrap()
            .attr("data-id")
            .await
            .unwrap()
            .expect("the inbox line carries the conversation id");
        let bots_before = bot_messages(&v).await;
        let mut bot = bot_at(&relay.ws("/v1/bot"), BOT_TOKEN).await;
        bot.send(&ClientMsg::Send(Send {
            conversation_id: conv,
            client_id: "late-1".into(),
            text: "Anything else about your order?".into(),
            rich: None,
            canned_id: None,
        }))
        .await;
        let code = bot
            .until(|m| match m {
                ServerMsg::Error { code, .. } => Some(*code),
                ServerMsg::Ack { .. } => panic!("the bot's message was stored: {m:?}"),
                _ => None,
            })
            .await;
        assert_eq!(code, ErrorCode::NotOwner);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(bot_messages(&v).await, bots_before, "the widget shows no new bot message");
        eventually("the agent's reply to stay the last word", UI_WAIT, || async {
            widget_messages(&v)
                .await
                .last()
                .filter(|(s, _, t)| s == "agent" && t.contains(ANSWER))
                .map(drop)
        })
        .await;
    })
    .await;
}
