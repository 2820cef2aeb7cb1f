//! The widget's delivery promises in a real browser (issue 3): messages typed while the relay is
//! down survive a reload and arrive once each, in order; two tabs share one WebSocket and hand
//! over when the leader tab closes.

use std::time::Duration;

use fantoccini::wd::WindowHandle;

use super::harness::{with_browsers, Chromedriver};
use super::page::*;
use crate::delivery::{transcript, PATIENCE};
use crate::peer::{Peer, Role};
use crate::process::{RelayProcess, AGENT_TOKEN};
use crate::util::{eventually, free_port};

#[tokio::test]
async fn messages_typed_offline_survive_a_reload_and_arrive_once_in_order() {
    // The shop keeps running on its own process while the relay it embeds is stopped, so the
    // page can be reloaded during the outage.
    let (shop_port, shop_demo_port) = (free_port(), free_port());
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!("[[sites]]\nkey = \"demo\"\nallowed_origins = [\"http://127.0.0.1:{shop_demo_port}\"]\n"),
    )
    .unwrap();
    let mut relay = RelayProcess::start_with(&["--config", config.path().to_str().unwrap()]).await;
    let relay_url = format!("http://127.0.0.1:{}", relay.port);
    let shop =
        RelayProcess::start_on(shop_port, shop_demo_port, &["--demo-relay-url", &relay_url]).await;

    let driver = Chromedriver::start().await;
    let (v, _profile) = driver.browser().await;
    let c = v.clone();
    with_browsers(vec![v], async {
        c.goto(&shop.shop("order.html")).await.unwrap();
        open_widget(&c).await;
        visitor_send(&c, "before the outage").await;
        wait_widget_message(&c, "visitor", "before the outage", Some("sent")).await;

        relay.stop().await;
        eventually("the widget to say it is reconnecting", UI_WAIT, || async {
            let state = in_widget(
                &c,
                "return root.querySelector('[data-testid=connection]').getAttribute('data-state');",
            )
            .await;
            (state != "online").then_some(())
        })
        .await;
        for i in 1..=3 {
            visitor_send(&c, &format!("offline {i}")).await;
        }
        for i in 1..=3 {
            wait_widget_message(&c, "visitor", &format!("offline {i}"), Some("pending")).await;
        }

        // Reload while the relay is still down: the outbox is still there, still pending.
        c.refresh().await.unwrap();
        open_widget(&c).await;
        for i in 1..=3 {
            wait_widget_message(&c, "visitor", &format!("offline {i}"), Some("pending")).await;
        }

        relay.start_again().await;
        for i in 1..=3 {
            wait_widget_message(&c, "visitor", &format!("offline {i}"), Some("sent")).await;
        }
        let conv = relay_inbox(&relay).await;
        let store = transcript(&relay.ws(""), &conv).await;
        let texts: Vec<&str> = store.values().map(|m| m.text.as_str()).collect();
        assert_eq!(
            texts,
            ["before the outage", "offline 1", "offline 2", "offline 3"]
        );
    })
    .await;
}

/// The newest conversation in the relay's inbox, read the way the console does.
pub(super) async fn relay_inbox(relay: &RelayProcess) -> String {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.ws("/v1/agent"))
        .await
        .unwrap();
    ws.send(Message::text(format!(
        r#"{{"type":"hello","protocol":1,"token":"{AGENT_TOKEN}"}}"#
    )))
    .await
    .unwrap();
    loop {
        let Some(Ok(Message::Text(t))) = ws.next().await else {
            panic!("agent connection ended")
        };
        if let Ok(switchboard_protocol::ServerMsg::Conversations { items, .. }) =
            serde_json::from_str(t.as_str())
        {
            return items.first().expect("a conversation").id.clone();
        }
    }
}

#[tokio::test]
async fn two_tabs_share_one_websocket_and_hand_over_when_the_leader_closes() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (v, _profile) = driver.browser().await;
    let c = v.clone();
    with_browsers(vec![v], async {
        c.goto(&relay.shop("order.html")).await.unwrap();
        open_widget(&c).await;
        visitor_send(&c, "hello from tab one").await;
        wait_widget_message(&c, "visitor", "hello from tab one", Some("sent")).await;
        let first: WindowHandle = c.window().await.unwrap();

        let second = c.new_window(true).await.unwrap().handle;
        c.switch_to_window(second.clone()).await.unwrap();
        c.goto(&relay.shop("order.html")).await.unwrap();
        open_widget(&c).await;
        wait_widget_message(&c, "visitor", "hello from tab one", None).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            relay.health().await["connections"],
            1,
            "one WebSocket for two tabs"
        );

        // The agent answers; both tabs show it.
        let conv = relay_inbox(&relay).await;
        let mut agent = Peer::new(
            "a",
            &relay.ws(""),
            Role::Agent {
                token: AGENT_TOKEN.into(),
            },
        );
        agent.set_conversation(&conv);
        agent.connect(PATIENCE).await;
        agent.send("reply one").await;
        wait_widget_message(&c, "agent", "reply one", None).await;
        c.switch_to_window(first.clone()).await.unwrap();
        wait_widget_message(&c, "agent", "reply one", None).await;

        // A message from the follower tab goes out through the leader, once.
        c.switch_to_window(second.clone()).await.unwrap();
        visitor_send(&c, "hello from tab two").await;
        wait_widget_message(&c, "visitor", "hello from tab two", Some("sent")).await;

        // The leader tab closes; the other one takes over the connection.
        c.switch_to_window(first).await.unwrap();
        c.close_window().await.unwrap();
        c.switch_to_window(second).await.unwrap();
        agent.send("reply two").await;
        wait_widget_message(&c, "agent", "reply two", None).await;
        eventually("one connection again", UI_WAIT, || async {
            (relay.health().await["connections"] == 2).then_some(())
        })
        .await;
        visitor_send(&c, "after the handover").await;
        wait_widget_message(&c, "visitor", "after the handover", Some("sent")).await;

        agent.settle(5, PATIENCE).await;
        let texts: Vec<&str> = agent.seen.values().map(|m| m.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "hello from tab one",
                "reply one",
                "hello from tab two",
                "reply two",
                "after the handover"
            ]
        );
    })
    .await;
}
