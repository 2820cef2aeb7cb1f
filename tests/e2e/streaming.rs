//! A streamed bot answer in the real widget: the pieces show as one growing row marked
//! `streaming` (hidden from screen readers, so the live region reads the stored answer once),
//! the stored message replaces the row instead of adding one, and a page reload in the middle
//! of a stream shows only the stored answer, never a half answer twice.

use fantoccini::Client;
use switchboard_protocol::ServerMsg;

use super::axe;
use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess};
use super::page::*;
use crate::process::BOT_TOKEN;
use crate::streaming::{delta, send};
use crate::util::{bot_at, eventually, Client as Ws};

async fn store(bot: &mut Ws, conv: &str, client_id: &str, text: &str) {
    bot.send(&send(conv, client_id, text)).await;
    bot.until(|m| match m {
        ServerMsg::Ack { client_id: id, .. } if id == client_id => Some(()),
        ServerMsg::Error { code, message, .. } => panic!("refused: {code:?} {message}"),
        _ => None,
    })
    .await;
}

/// `(state, text, aria-hidden)` of the widget's bot rows.
async fn bot_rows(v: &Client) -> Vec<(String, String, bool)> {
    let rows = in_widget(
        v,
        "if (!root) return []; return Array.from(root.querySelectorAll('[data-testid=message][data-sender=bot]')).map(li => [\
           li.getAttribute('data-state') || '',\
           (li.querySelector('[data-testid=message-text]') || li).textContent.trim(),\
           li.getAttribute('aria-hidden') === 'true']);",
    )
    .await;
    serde_json::from_value(rows).expect("rows")
}

async fn wait_rows(v: &Client, what: &str, want: &[(&str, &str, bool)]) {
    let want: Vec<(String, String, bool)> = want
        .iter()
        .map(|(s, t, h)| (s.to_string(), t.to_string(), *h))
        .collect();
    eventually(what, UI_WAIT, || async {
        let rows = bot_rows(v).await;
        (rows == want).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_streamed_answer_grows_in_one_row_and_is_replaced_by_the_stored_message() {
    let relay = RelayProcess::start_with(&["--demo-bot-token", BOT_TOKEN]).await;
    let mut bot = bot_at(&relay.ws("/v1/bot"), BOT_TOKEN).await;
    let driver = Chromedriver::start().await;
    let (visitor, _profile) = driver.browser().await;
    let v = visitor.clone();
    with_browsers(vec![visitor], async {
        v.goto(&relay.shop("order.html")).await.unwrap();
        open_widget(&v).await;
        visitor_send(&v, "Where is my order?").await;
        let conv = bot
            .until(|m| match m {
                ServerMsg::Routed(r) => Some(r.conversation.id.clone()),
                _ => None,
            })
            .await;

        bot.send(&delta(&conv, "answer-1", 0, "Your order ")).await;
        wait_rows(&v, "the first piece", &[("streaming", "Your order", true)]).await;
        bot.send(&delta(&conv, "answer-1", 1, "#1042 ships today."))
            .await;
        wait_rows(
            &v,
            "the second piece in the same row",
            &[("streaming", "Your order #1042 ships today.", true)],
        )
        .await;
        axe::assert_clean(&v, "widget-streaming").await;
        let png = v.screenshot().await.unwrap();
        std::fs::write(artifact("widget-streaming.png"), png).unwrap();

        // The stored answer takes the draft's place: one row, read out, no longer streaming.
        store(&mut bot, &conv, "answer-1", "Your order #1042 ships today.").await;
        wait_rows(
            &v,
            "the stored answer in the draft's place",
            &[("sent", "Your order #1042 ships today.", false)],
        )
        .await;

        // A reload in the middle of the next answer: the reloaded widget did not see piece 0,
        // so it shows none of the rest, then the stored answer once.
        bot.send(&delta(&conv, "answer-2", 0, "Checking ")).await;
        wait_rows(
            &v,
            "the next answer streaming",
            &[
                ("sent", "Your order #1042 ships today.", false),
                ("streaming", "Checking", true),
            ],
        )
        .await;
        v.refresh().await.unwrap();
        open_widget(&v).await;
        wait_rows(
            &v,
            "the stored log after the reload",
            &[("sent", "Your order #1042 ships today.", false)],
        )
        .await;
        bot.send(&delta(&conv, "answer-2", 1, "the courier… "))
            .await;
        store(
            &mut bot,
            &conv,
            "answer-2",
            "Checking the courier: it is on its way.",
        )
        .await;
        wait_rows(
            &v,
            "only the stored second answer",
            &[
                ("sent", "Your order #1042 ships today.", false),
                ("sent", "Checking the courier: it is on its way.", false),
            ],
        )
        .await;
    })
    .await;
}
