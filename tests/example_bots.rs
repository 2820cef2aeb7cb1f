//! The example bots as real processes against a real relay: the Rust order-status bot over
//! WebSocket, and the Python FAQ bot as a webhook service answering over the HTTP API.

use std::process::{Command, Stdio};
use std::time::Duration;

use switchboard_protocol::client::Hello;
use switchboard_protocol::context::Order;
use switchboard_protocol::{
    ClientMsg, Context, HandoffReason, Owner, SenderKind, ServerMsg, PROTOCOL_VERSION,
};

use crate::process::{orderbot, RelayProcess, AGENT_TOKEN, BOT_TOKEN};
use crate::util::*;

async fn demo_visitor(relay: &RelayProcess, context: Context) -> Client {
    let mut c = Client::connect(
        &relay.ws("/v1/visitor?site=demo"),
        Some(&relay.shop_origin()),
    )
    .await
    .unwrap();
    c.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: None,
        context: Some(context),
        identity_token: None,
    }))
    .await;
    c.welcome().await
}

async fn demo_agent(relay: &RelayProcess) -> Client {
    let mut c = Client::connect(&relay.ws("/v1/agent"), None).await.unwrap();
    c.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: Some(AGENT_TOKEN.into()),
        context: None,
        identity_token: None,
    }))
    .await;
    c.welcome().await
}

async fn bot_says(visitor: &mut Client) -> switchboard_protocol::ChatMessage {
    visitor
        .until(|m| match m {
            ServerMsg::Message(m) if m.sender.kind == SenderKind::Bot => Some(m.clone()),
            _ => None,
        })
        .await
}

fn order_context() -> Context {
    Context {
        order: Some(Order {
            number: "1042".into(),
            status: Some("delayed".into()),
            placed_at: Some("2026-11-20".into()),
            estimated_delivery: Some("2026-11-27".into()),
            tracking_url: Some("https://tracking.example/1042".into()),
            ..Order::default()
        }),
        ..Context::default()
    }
}

#[tokio::test]
async fn order_bot_answers_from_the_context_and_hands_off() {
    let relay = RelayProcess::start_with(&["--demo-bot-token", BOT_TOKEN]).await;
    let _bot = orderbot(relay.port);
    let mut agent = demo_agent(&relay).await;
    let mut visitor = demo_visitor(&relay, order_context()).await;
    let conv = visitor.conversation_id();

    visitor.say("v1", "Where is my order?").await;
    let answer = bot_says(&mut visitor).await;
    assert_eq!(
        answer.text,
        "Order #1042 is delayed: placed 2026-11-20, arriving by 2026-11-27."
    );
    assert_eq!(answer.sender.name.as_deref(), Some("Orderbot"));
    assert!(answer.rich.is_some(), "a tracking button and chips");

    visitor.say("v2", "Can I talk to a human?").await;
    let goodbye = bot_says(&mut visitor).await;
    assert!(goodbye.text.contains("person"), "{}", goodbye.text);
    let line = agent
        .until(|m| match m {
            ServerMsg::Conversation(s) if s.id == conv && s.handoff.is_some() => Some(s.clone()),
            _ => None,
        })
        .await;
    assert_eq!(line.owner, Owner::Humans);
    let h = line.handoff.unwrap();
    assert_eq!(h.handoff.reason, HandoffReason::Requested);
    assert_eq!(h.handoff.fields["order"], "1042");
    assert!(h.handoff.summary.contains("#1042"), "{}", h.handoff.summary);

    // After the handoff the bot says nothing more, whatever the visitor writes.
    visitor.say("v3", "where is my order now?").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for m in visitor.roundtrip().await {
        assert!(
            !matches!(&m, ServerMsg::Message(m) if m.sender.kind == SenderKind::Bot),
            "the bot spoke after handing off: {m:?}"
        );
    }
}

mod faq_python {
    //! The Python FAQ bot (`bots/faq-python`): a real process, real HTTP both ways, a real
    //! conversation through the relay.

    use hmac::{Hmac, Mac};
    use reqwest::StatusCode;
    use sha2::Sha256;
    use switchboard_protocol::rich::Button;

    use super::*;
    use crate::process::Helper;

    const SECRET: &str = "faq-webhook-secret-0123456789";
    const TOKEN: &str = "faq-bot-token-0123456789";

    fn sign(ts: u64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{ts}.{body}").as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("v1={hex}")
    }

    async fn start() -> (TestRelay, Helper, u16) {
        let port = free_port();
        let relay = TestRelay::start_with(|c| {
            crate::bots::bot_first(c);
            c.bots[0].token = TOKEN.into();
            c.bots[0].name = "FAQ bot".into();
            c.bots[0].webhook_url = Some(format!("http://127.0.0.1:{port}/webhook"));
            c.bots[0].webhook_secret = Some(SECRET.into());
        })
        .await;
        let bot = Helper::spawn(
            Command::new("python3")
                .arg(workspace().join("bots/faq-python/faq_bot.py"))
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(["--relay", &format!("http://{}", relay.addr)])
                .args(["--token", TOKEN, "--secret", SECRET])
                .stdout(Stdio::null()),
        );
        eventually("the FAQ bot to listen", WAIT, || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(drop)
        })
        .await;
        (relay, bot, port)
    }

    #[tokio::test]
    async fn faq_bot_answers_offers_buttons_and_hands_off() {
        let (relay, _bot, _) = start().await;
        let mut agent = relay.agent(crate::util::AGENT_TOKEN).await;
        let mut visitor = relay.visitor().await;
        let conv = visitor.conversation_id();

        visitor.say("v1", "How long does shipping take?").await;
        let answer = bot_says(&mut visitor).await;
        assert_eq!(answer.sender.name.as_deref(), Some("FAQ bot"));
        let payload = answer
            .rich
            .iter()
            .flat_map(|r| r.buttons.iter())
            .find_map(|b| match b {
                Button::Postback { label, payload } => Some((label.clone(), payload.clone())),
                _ => None,
            })
            .expect("buttons for the top questions");

        // A click on a button is a postback; the bot answers that question.
        visitor
            .send(&ClientMsg::Postback {
                conversation_id: conv.clone(),
                client_id: "v2".into(),
                label: payload.0.clone(),
                payload: payload.1.clone(),
            })
            .await;
        let second = bot_says(&mut visitor).await;
        assert_ne!(second.text, answer.text, "the postback got its own answer");

        visitor.say("v3", "I want to talk to a human").await;
        bot_says(&mut visitor).await;
        let line = agent
            .until(|m| match m {
                ServerMsg::Conversation(s) if s.id == conv && s.handoff.is_some() => {
                    Some(s.clone())
                }
                _ => None,
            })
            .await;
        let h = line.handoff.unwrap();
        assert_eq!(h.handoff.reason, HandoffReason::Requested);
        assert!(
            h.handoff.fields.contains_key("question"),
            "{:?}",
            h.handoff.fields
        );
        assert_eq!(line.owner, Owner::Humans);
    }

    #[tokio::test]
    async fn faq_bot_refuses_forged_and_stale_webhooks() {
        let (_relay, _bot, port) = start().await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let body = r#"{"id":"evt_test1","bot_id":"shopbot","at":0,"event":{"type":"released","conversation_id":"c_x","owner":{"kind":"humans"}}}"#;
        let post = |ts: u64, sig: String| {
            reqwest::Client::new()
                .post(format!("http://127.0.0.1:{port}/webhook"))
                .header("content-type", "application/json")
                .header("switchboard-event-id", "evt_test1")
                .header("switchboard-timestamp", ts.to_string())
                .header("switchboard-signature", sig)
                .body(body)
                .send()
        };
        let wrong = post(now, sign(now, &body.replace("c_x", "c_y")))
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "wrong signature");
        let stale = post(now - 1000, sign(now - 1000, body)).await.unwrap();
        assert_eq!(stale.status(), StatusCode::UNAUTHORIZED, "stale timestamp");
        let unsigned = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/webhook"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED, "no signature");
        let good = post(now, sign(now, body)).await.unwrap();
        assert!(
            good.status().is_success(),
            "a valid event: {}",
            good.status()
        );
    }
}
