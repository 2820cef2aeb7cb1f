//! The protocol's edges over real sockets: every documented field length of the context,
//! text that shows nothing, decode errors that name the refused message's `client_id`, and
//! `mailto:` links in rich messages only for one plain address. Each refusal is read back:
//! nothing stored, nothing changed.

use switchboard_protocol::client::Send;
use switchboard_protocol::context::{Cart, Order, Page, Utm};
use switchboard_protocol::limits::{MAX_CUSTOM_VALUE_BYTES, MAX_SHORT_BYTES};
use switchboard_protocol::{Button, ClientMsg, Context, ErrorCode, Rich, ServerMsg};

use crate::util::*;

/// The next `error` frame's code and client id.
async fn refusal(c: &mut Client) -> (ErrorCode, Option<String>) {
    c.until(|m| match m {
        ServerMsg::Error {
            code, client_id, ..
        } => Some((*code, client_id.clone())),
        _ => None,
    })
    .await
}

/// A visitor whose first message is stored, so its conversation exists.
async fn chatting(relay: &TestRelay) -> (Client, String) {
    let mut v = relay.visitor().await;
    v.say("m1", "hello").await;
    v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    let conv = v.conversation_id();
    (v, conv)
}

#[tokio::test]
async fn invisible_only_text_is_refused_with_its_client_id() {
    let relay = TestRelay::start().await;
    let (mut v, conv) = chatting(&relay).await;
    for (i, blank) in [
        "\u{200B}",
        "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}",
        " \u{202E}\u{2066}\u{2069} \n",
        "\u{3164}\u{115F}",
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("blank-{i}");
        v.say(&id, blank).await;
        assert_eq!(refusal(&mut v).await, (ErrorCode::Invalid, Some(id)));
    }
    // A postback label too.
    v.send(&ClientMsg::Postback {
        conversation_id: conv.clone(),
        client_id: "pb-1".into(),
        label: "\u{200B}".into(),
        payload: "x".into(),
    })
    .await;
    assert_eq!(
        refusal(&mut v).await,
        (ErrorCode::Invalid, Some("pb-1".into()))
    );
    // Visible text around a zero-width joiner is text.
    v.say("ok-1", "\u{1F469}\u{200D}\u{1F4BB}").await;
    v.until(|m| matches!(m, ServerMsg::Ack { client_id, .. } if client_id == "ok-1").then_some(()))
        .await;
    assert_eq!(relay.stored(&conv).await.len(), 2);
    relay.stop().await;
}

#[tokio::test]
async fn decode_errors_carry_the_client_id_they_can_read() {
    let relay = TestRelay::start().await;
    let (mut v, conv) = chatting(&relay).await;
    // A mistyped field in an otherwise readable send: the error names its client id, so the
    // widget marks that message failed instead of resending it.
    v.raw(&format!(
        r#"{{"type":"send","conversation_id":"{conv}","client_id":"m-typed","text":42}}"#
    ))
    .await;
    assert_eq!(
        refusal(&mut v).await,
        (ErrorCode::Invalid, Some("m-typed".into()))
    );
    v.raw(r#"{"type":"postback","client_id":"pb-missing"}"#)
        .await;
    assert_eq!(
        refusal(&mut v).await,
        (ErrorCode::Invalid, Some("pb-missing".into()))
    );
    // An id that is itself invalid is not echoed; broken JSON has none to read.
    v.raw(r#"{"type":"send","client_id":"<img src=x>","text":1}"#)
        .await;
    assert_eq!(refusal(&mut v).await, (ErrorCode::Invalid, None));
    v.raw(r#"{"type":"send","client_id":"m-x","text":"#).await;
    assert_eq!(refusal(&mut v).await, (ErrorCode::BadJson, None));
    // A valid send with an invalid client id: refused without echoing it.
    v.send(&ClientMsg::Send(Send {
        conversation_id: conv.clone(),
        client_id: "bad id!".into(),
        text: "hi".into(),
        rich: None,
        canned_id: None,
    }))
    .await;
    assert_eq!(refusal(&mut v).await, (ErrorCode::Invalid, None));
    assert_eq!(relay.stored(&conv).await.len(), 1);
    relay.stop().await;
}

#[tokio::test]
async fn every_documented_context_field_is_bounded() {
    let relay = TestRelay::start().await;
    let (mut v, conv) = chatting(&relay).await;
    let mut agent = relay.agent(AGENT_TOKEN).await;
    let long = "x".repeat(MAX_SHORT_BYTES + 1);
    let order = |f: &dyn Fn(&mut Order)| {
        let mut o = Order {
            number: "1042".into(),
            ..Order::default()
        };
        f(&mut o);
        Context {
            order: Some(o),
            ..Context::default()
        }
    };
    let mut custom_value = Context::default();
    custom_value
        .custom
        .insert("note".into(), "y".repeat(MAX_CUSTOM_VALUE_BYTES).into());
    let mut custom_key = Context::default();
    custom_key.custom.insert(long.clone(), true.into());
    let cases = [
        (
            "utm.source",
            Context {
                page: Some(Page {
                    utm: Some(Utm {
                        source: Some(long.clone()),
                        ..Utm::default()
                    }),
                    ..Page::default()
                }),
                ..Context::default()
            },
        ),
        (
            "utm.campaign",
            Context {
                page: Some(Page {
                    utm: Some(Utm {
                        campaign: Some(long.clone()),
                        ..Utm::default()
                    }),
                    ..Page::default()
                }),
                ..Context::default()
            },
        ),
        ("order.status", order(&|o| o.status = Some(long.clone()))),
        (
            "order.currency",
            order(&|o| o.currency = Some(long.clone())),
        ),
        (
            "order.estimated_delivery",
            order(&|o| o.estimated_delivery = Some(long.clone())),
        ),
        (
            "cart.currency",
            Context {
                cart: Some(Cart {
                    currency: Some(long.clone()),
                    ..Cart::default()
                }),
                ..Context::default()
            },
        ),
        ("custom value", custom_value),
        ("custom key", custom_key),
    ];
    for (field, context) in cases {
        v.send(&ClientMsg::SetContext { context }).await;
        assert_eq!(refusal(&mut v).await.0, ErrorCode::TooLarge, "{field}");
    }
    // In a hello too: refused and closed, nothing stored.
    let mut c = Client::connect(
        &relay.url(&format!("/v1/visitor?site={SITE}")),
        Some(SITE_ORIGIN),
    )
    .await
    .unwrap();
    c.send(&ClientMsg::Hello(switchboard_protocol::client::Hello {
        protocol: switchboard_protocol::PROTOCOL_VERSION,
        token: None,
        context: Some(order(&|o| o.placed_at = Some(long.clone()))),
        identity_token: None,
    }))
    .await;
    assert_eq!(refusal(&mut c).await.0, ErrorCode::TooLarge);
    assert_eq!(c.closed().await, Some(4000));
    // Read back: the stored context is still the empty one, and agents heard of none of it.
    let stored = relay
        .relay
        .state
        .broker
        .conversation_context(&conv)
        .await
        .unwrap();
    assert_eq!(stored, Context::default());
    // (The empty context of the chat's first message may reach the agent late: it is
    // published after that message's ack. Nothing else may.)
    let before_pong = agent.roundtrip().await;
    assert!(
        !before_pong.iter().any(
            |m| matches!(m, ServerMsg::Context { context, .. } if *context != Context::default())
        ),
        "{before_pong:?}"
    );
    relay.stop().await;
}

#[tokio::test]
async fn mailto_links_only_for_one_plain_address() {
    let relay = TestRelay::start().await;
    let (_v, conv) = chatting(&relay).await;
    let mut agent = relay.agent(AGENT_TOKEN).await;
    let send = |id: &str, url: &str| {
        ClientMsg::Send(Send {
            conversation_id: conv.clone(),
            client_id: id.into(),
            text: "Write to us".into(),
            rich: Some(Rich {
                buttons: vec![Button::Link {
                    label: "E-mail".into(),
                    url: url.into(),
                }],
                ..Rich::default()
            }),
            canned_id: None,
        })
    };
    for (i, bad) in [
        "mailto:help@shop.example?bcc=list@evil.example",
        "mailto:help@shop.example?cc=x@evil.example",
        "mailto:help@shop.example?body=Your%20password",
        "mailto:help@shop.example,all@evil.example",
        "mailto:%68elp@shop.example",
        "mailto:",
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("bad-{i}");
        agent.send(&send(&id, bad)).await;
        assert_eq!(
            refusal(&mut agent).await,
            (ErrorCode::Invalid, Some(id)),
            "{bad}"
        );
    }
    assert_eq!(relay.stored(&conv).await.len(), 1);
    agent
        .send(&send("good-1", "mailto:help@shop.example"))
        .await;
    agent
        .until(|m| {
            matches!(m, ServerMsg::Ack { client_id, .. } if client_id == "good-1").then_some(())
        })
        .await;
    assert_eq!(relay.stored(&conv).await.len(), 2);
    relay.stop().await;
}
