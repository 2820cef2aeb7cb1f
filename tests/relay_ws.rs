//! The relay with real WebSocket clients: the conversation round trip, persistence, and every
//! bad-input class (malformed, unknown type, oversize, out of order, wrong conversation,
//! disallowed origin, bad agent token, malicious content) — each gets its typed error or close
//! code, and the store is checked to be unchanged.

use switchboard_protocol::client::Send;
use switchboard_protocol::context::{Cart, LineItem, Order, Page};
use switchboard_protocol::limits::{
    MAX_FRAME_BYTES, MAX_FRAME_HARD_BYTES, MAX_INBOX, MAX_TEXT_BYTES,
};
use switchboard_protocol::{
    ClientMsg, CloseCode, Context, ErrorCode, Owner, Sender, SenderKind, ServerMsg,
};
use switchboard_relay::broker::NewMessage;

use crate::util::*;

fn error_code(m: &ServerMsg) -> Option<ErrorCode> {
    match m {
        ServerMsg::Error { code, .. } => Some(*code),
        _ => None,
    }
}

async fn stored(relay: &TestRelay, conversation_id: &str) -> usize {
    relay
        .relay
        .state
        .broker
        .history(conversation_id, 0, 1000)
        .await
        .unwrap()
        .len()
}

fn order_context() -> Context {
    Context {
        page: Some(Page {
            url: "https://shop.example/orders/1042".into(),
            title: "Order #1042".into(),
            ..Page::default()
        }),
        cart: Some(Cart {
            items: vec![LineItem {
                name: "Rain jacket".into(),
                quantity: 2,
                price: Some(89.0),
                ..LineItem::default()
            }],
            total: Some(178.0),
            currency: Some("EUR".into()),
        }),
        order: Some(Order {
            number: "1042".into(),
            status: Some("delayed".into()),
            ..Order::default()
        }),
        ..Context::default()
    }
}

#[tokio::test]
async fn visitor_and_agent_talk_both_ways_with_context() {
    let relay = TestRelay::start().await;
    let mut agent = relay.agent(AGENT_TOKEN).await;
    let mut visitor = relay.visitor_with(None, Some(order_context())).await;
    let conv = visitor.conversation_id();

    visitor.say("m-1", "where is my order?").await;
    let ack = visitor
        .until(|m| matches!(m, ServerMsg::Ack { .. }).then(|| m.clone()))
        .await;
    assert!(
        matches!(
            ack,
            ServerMsg::Ack {
                seq: 1,
                duplicate: false,
                ..
            }
        ),
        "{ack:?}"
    );

    let got = agent
        .until(|m| {
            if let ServerMsg::Message(m) = m {
                Some(m.clone())
            } else {
                None
            }
        })
        .await;
    assert_eq!(
        (got.seq, got.text.as_str(), got.sender.kind),
        (1, "where is my order?", SenderKind::Visitor)
    );
    let ctx = agent
        .until(|m| {
            if let ServerMsg::Context { context, .. } = m {
                Some(context.clone())
            } else {
                None
            }
        })
        .await;
    assert_eq!(ctx.order.unwrap().number, "1042");
    let summary = agent
        .until(|m| {
            if let ServerMsg::Conversation(s) = m {
                Some(s.clone())
            } else {
                None
            }
        })
        .await;
    assert_eq!((summary.id.as_str(), summary.last_seq), (conv.as_str(), 1));
    assert_eq!(summary.page_title.as_deref(), Some("Order #1042"));

    agent
        .send(&ClientMsg::Send(Send {
            conversation_id: conv.clone(),
            client_id: "a-1".into(),
            text: "It ships Friday.".into(),
            rich: None,
            canned_id: None,
        }))
        .await;
    let reply = visitor
        .until(|m| {
            if let ServerMsg::Message(m) = m {
                (m.seq == 2).then(|| m.clone())
            } else {
                None
            }
        })
        .await;
    assert_eq!(
        (reply.sender.kind, reply.sender.name.as_deref()),
        (SenderKind::Agent, Some("Alex"))
    );

    // The agent sees the visitor's context on sync, then the whole transcript.
    agent
        .send(&ClientMsg::Sync {
            conversation_id: conv.clone(),
            since: 0,
        })
        .await;
    let mut seqs = Vec::new();
    agent
        .until(|m| match m {
            ServerMsg::Message(m) => {
                seqs.push(m.seq);
                None
            }
            ServerMsg::Synced { last_seq, .. } => Some(*last_seq),
            _ => None,
        })
        .await;
    assert_eq!(&seqs[seqs.len() - 2..], &[1, 2]);
}

#[tokio::test]
async fn resend_with_same_client_id_is_acknowledged_once_and_stored_once() {
    let relay = TestRelay::start().await;
    let mut visitor = relay.visitor().await;
    let conv = visitor.conversation_id();
    for _ in 0..3 {
        visitor.say("same-id", "hello").await;
    }
    let mut acks = Vec::new();
    while acks.len() < 3 {
        if let ServerMsg::Ack { seq, duplicate, .. } = visitor.recv().await {
            acks.push((seq, duplicate));
        }
    }
    assert_eq!(acks, vec![(1, false), (1, true), (1, true)]);
    assert_eq!(stored(&relay, &conv).await, 1);
}

/// One relay serves many sites: each site's agents get that site's newest conversations, so a
/// busy site (here more conversations than an inbox lists, all newer) cannot crowd a quiet
/// one out.
#[tokio::test]
async fn a_busy_site_does_not_crowd_a_quiet_one_out_of_its_agents_inbox() {
    let relay = TestRelay::start().await;
    let mut visitor = relay.visitor().await;
    let quiet = visitor.conversation_id();
    visitor.say("q-1", "anyone there?").await;
    while !matches!(visitor.recv().await, ServerMsg::Ack { .. }) {}

    let broker = &relay.relay.state.broker;
    for i in 0..=MAX_INBOX {
        let token = format!("busy-{i}");
        let v = broker
            .create_visitor(OTHER_SITE, &token, Context::default())
            .await
            .unwrap();
        let conv = broker
            .open_conversation(OTHER_SITE, &v.id, 1, &Owner::Humans)
            .await
            .unwrap();
        let sender = Sender {
            kind: SenderKind::Visitor,
            id: v.id,
            name: None,
            avatar: None,
        };
        broker
            .append(
                OTHER_SITE,
                NewMessage::new(&conv.id, token, sender, "hi".into()),
            )
            .await
            .unwrap();
    }

    let (_alex, inbox) = relay.agent_with_inbox(AGENT_TOKEN).await;
    let ids: Vec<&str> = inbox.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [quiet.as_str()]);
    let (_olga, inbox) = relay.agent_with_inbox(OTHER_AGENT_TOKEN).await;
    assert_eq!(inbox.len(), MAX_INBOX);
    assert!(inbox.iter().all(|c| c.site == OTHER_SITE));
}

#[tokio::test]
async fn returning_visitor_keeps_conversation_and_history() {
    let relay = TestRelay::start().await;
    let mut first = relay.visitor().await;
    first.say("m-1", "first visit").await;
    first
        .until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    let token = first.welcome.as_ref().unwrap().token.clone();
    drop(first);

    let mut again = relay.visitor_with(token, None).await;
    assert_eq!(again.welcome.as_ref().unwrap().last_seq, Some(1));
    let conv = again.conversation_id();
    again
        .send(&ClientMsg::Sync {
            conversation_id: conv,
            since: 0,
        })
        .await;
    let m = again
        .until(|m| {
            if let ServerMsg::Message(m) = m {
                Some(m.clone())
            } else {
                None
            }
        })
        .await;
    assert_eq!(m.text, "first visit");

    // An unknown token is not an error: it starts a new visitor, in a new conversation.
    let stranger = relay
        .visitor_with(Some("not-a-real-token".into()), None)
        .await;
    assert_ne!(stranger.conversation_id(), again.conversation_id());
}

#[tokio::test]
async fn malformed_and_unknown_frames_get_typed_errors_and_store_nothing() {
    let relay = TestRelay::start().await;
    let mut v = relay.visitor().await;
    let conv = v.conversation_id();
    let cases: &[(&str, ErrorCode)] = &[
        ("{not json", ErrorCode::BadJson),
        ("", ErrorCode::BadJson),
        ("\u{0}\u{1}garbage", ErrorCode::BadJson),
        (
            r#"{"type":"send","conversation_id":"x""#,
            ErrorCode::BadJson,
        ),
        (r#"{"type":"launch_missiles"}"#, ErrorCode::UnknownType),
        (r#"{"text":"no type"}"#, ErrorCode::UnknownType),
        (r#"{"type":42}"#, ErrorCode::UnknownType),
        ("[1,2,3]", ErrorCode::UnknownType),
        (
            r#"{"type":"send","text":"missing ids"}"#,
            ErrorCode::Invalid,
        ),
        (
            r#"{"type":"send","conversation_id":1,"client_id":"a","text":"x"}"#,
            ErrorCode::Invalid,
        ),
    ];
    for (frame, code) in cases {
        v.raw(frame).await;
        let got = v.recv().await;
        assert_eq!(error_code(&got), Some(*code), "frame {frame:?} got {got:?}");
    }
    v.ws.send(tokio_tungstenite::tungstenite::Message::binary(vec![
        1u8, 2, 3,
    ]))
    .await
    .unwrap();
    assert_eq!(error_code(&v.recv().await), Some(ErrorCode::BadJson));
    assert!(
        v.roundtrip().await.is_empty(),
        "the connection stays usable"
    );
    assert_eq!(stored(&relay, &conv).await, 0);
}

use futures_util::SinkExt;

#[tokio::test]
async fn oversize_frames_and_texts_are_refused() {
    let relay = TestRelay::start().await;
    let mut v = relay.visitor().await;
    let conv = v.conversation_id();

    let frame = format!(
        r#"{{"type":"ping","pad":"{}"}}"#,
        "x".repeat(MAX_FRAME_BYTES)
    );
    v.raw(&frame).await;
    assert_eq!(error_code(&v.recv().await), Some(ErrorCode::TooLarge));

    v.say("big-1", &"y".repeat(MAX_TEXT_BYTES + 1)).await;
    match v.recv().await {
        ServerMsg::Error {
            code: ErrorCode::TooLarge,
            client_id,
            ..
        } => assert_eq!(client_id.as_deref(), Some("big-1")),
        other => panic!("expected too_large, got {other:?}"),
    }
    let mut ctx = Context::default();
    ctx.custom.insert(
        "blob".into(),
        serde_json::Value::String("z".repeat(40 * 1024)),
    );
    v.send(&ClientMsg::SetContext { context: ctx }).await;
    assert_eq!(error_code(&v.recv().await), Some(ErrorCode::TooLarge));
    assert!(v.roundtrip().await.is_empty());
    assert_eq!(stored(&relay, &conv).await, 0);

    // Past the hard limit the socket layer refuses to buffer it at all: close 1009.
    let huge = "h".repeat(MAX_FRAME_HARD_BYTES + 10);
    let _ =
        v.ws.send(tokio_tungstenite::tungstenite::Message::text(huge))
            .await;
    assert_eq!(v.closed().await, Some(CloseCode::TOO_BIG.code));
    assert_eq!(stored(&relay, &conv).await, 0);
}

#[tokio::test]
async fn frames_before_hello_and_a_second_hello_are_out_of_order() {
    let relay = TestRelay::start().await;
    let mut c = Client::connect(
        &relay.url(&format!("/v1/visitor?site={SITE}")),
        Some(SITE_ORIGIN),
    )
    .await
    .unwrap();
    c.send(&ClientMsg::Send(Send {
        conversation_id: "c_x".into(),
        client_id: "m".into(),
        text: "early".into(),
        rich: None,
        canned_id: None,
    }))
    .await;
    assert_eq!(error_code(&c.recv().await), Some(ErrorCode::OutOfOrder));
    assert_eq!(c.closed().await, Some(CloseCode::BAD_HELLO.code));

    let mut c = Client::connect(
        &relay.url(&format!("/v1/visitor?site={SITE}")),
        Some(SITE_ORIGIN),
    )
    .await
    .unwrap();
    c.raw(r#"{"type":"hello","protocol":99}"#).await;
    assert_eq!(c.closed().await, Some(CloseCode::PROTOCOL_VERSION.code));

    let mut v = relay.visitor().await;
    v.raw(r#"{"type":"hello","protocol":1}"#).await;
    assert_eq!(error_code(&v.recv().await), Some(ErrorCode::OutOfOrder));
}

#[tokio::test]
async fn nobody_acts_on_a_conversation_they_do_not_own() {
    let relay = TestRelay::start().await;
    let mut victim = relay.visitor().await;
    victim.say("v-1", "my private chat").await;
    // Its own message comes back (for its other tabs) and so does the ack, in either order.
    let mut got = (false, false);
    while got != (true, true) {
        match victim.recv().await {
            ServerMsg::Ack { .. } => got.0 = true,
            ServerMsg::Message(_) => got.1 = true,
            _ => {}
        }
    }
    let victim_conv = victim.conversation_id();

    let mut attacker = relay.visitor().await;
    let steal = |client_id: &str| {
        ClientMsg::Send(Send {
            conversation_id: victim_conv.clone(),
            client_id: client_id.into(),
            text: "injected".into(),
            rich: None,
            canned_id: None,
        })
    };
    attacker.send(&steal("x-1")).await;
    assert_eq!(
        error_code(&attacker.recv().await),
        Some(ErrorCode::Forbidden)
    );
    attacker
        .send(&ClientMsg::Sync {
            conversation_id: victim_conv.clone(),
            since: 0,
        })
        .await;
    assert_eq!(
        error_code(&attacker.recv().await),
        Some(ErrorCode::Forbidden)
    );
    attacker
        .send(&ClientMsg::Typing {
            conversation_id: victim_conv.clone(),
            active: true,
        })
        .await;
    assert_eq!(
        error_code(&attacker.recv().await),
        Some(ErrorCode::Forbidden)
    );
    attacker
        .send(&ClientMsg::Send(Send {
            conversation_id: "c_nope".into(),
            client_id: "x-2".into(),
            text: "?".into(),
            rich: None,
            canned_id: None,
        }))
        .await;
    assert_eq!(
        error_code(&attacker.recv().await),
        Some(ErrorCode::NotFound)
    );

    // An agent of another site may neither read nor write it.
    let mut olga = relay.agent(OTHER_AGENT_TOKEN).await;
    olga.send(&steal("o-1")).await;
    assert_eq!(error_code(&olga.recv().await), Some(ErrorCode::Forbidden));
    olga.send(&ClientMsg::Sync {
        conversation_id: victim_conv.clone(),
        since: 0,
    })
    .await;
    assert_eq!(error_code(&olga.recv().await), Some(ErrorCode::Forbidden));
    // Agents cannot forge a visitor's context.
    olga.send(&ClientMsg::SetContext {
        context: Context::default(),
    })
    .await;
    assert_eq!(error_code(&olga.recv().await), Some(ErrorCode::Forbidden));

    assert_eq!(stored(&relay, &victim_conv).await, 1);
    let no_leak = victim.roundtrip().await;
    assert!(no_leak.is_empty(), "victim saw {no_leak:?}");
}

#[tokio::test]
async fn malicious_content_is_refused_and_changes_nothing() {
    let relay = TestRelay::start().await;
    let mut v = relay.visitor_with(None, Some(order_context())).await;
    let conv = v.conversation_id();
    v.say("<script>alert(1)</script>", "hi").await;
    assert_eq!(error_code(&v.recv().await), Some(ErrorCode::Invalid));
    v.say("blank", "   \n ").await;
    assert_eq!(error_code(&v.recv().await), Some(ErrorCode::Invalid));

    let mut evil = order_context();
    evil.order.as_mut().unwrap().tracking_url = Some("javascript:fetch('//evil')".into());
    v.send(&ClientMsg::SetContext { context: evil }).await;
    assert_eq!(error_code(&v.recv().await), Some(ErrorCode::Invalid));
    let mut evil = order_context();
    evil.page.as_mut().unwrap().url = "data:text/html,<script>x</script>".into();
    v.send(&ClientMsg::SetContext { context: evil }).await;
    assert_eq!(error_code(&v.recv().await), Some(ErrorCode::Invalid));

    assert_eq!(stored(&relay, &conv).await, 0);
    // The visitor never said anything valid: nothing of it is stored at all.
    assert_eq!(counts(&relay).await, (0, 0));
}

#[tokio::test]
async fn upgrades_from_disallowed_origins_or_unknown_sites_are_refused() {
    let relay = TestRelay::start().await;
    let visitor = |site: &str| relay.url(&format!("/v1/visitor?site={site}"));
    assert_eq!(
        Client::connect(&visitor(SITE), Some("https://evil.example"))
            .await
            .err(),
        Some(403)
    );
    assert_eq!(Client::connect(&visitor(SITE), None).await.err(), Some(403));
    // The other site's origin is allowed for the other site only.
    assert_eq!(
        Client::connect(&visitor(SITE), Some("https://other.example"))
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        Client::connect(&visitor("nope"), Some(SITE_ORIGIN))
            .await
            .err(),
        Some(404)
    );
    assert_eq!(
        Client::connect(&relay.url("/v1/visitor"), Some(SITE_ORIGIN))
            .await
            .err(),
        Some(404)
    );
    assert_eq!(
        Client::connect(&relay.url("/v1/agent"), Some("https://evil.example"))
            .await
            .err(),
        Some(403)
    );
    assert_eq!(relay.relay.state.hub.connections(), 0);
}

#[tokio::test]
async fn agents_without_a_valid_token_are_closed_unauthorized() {
    let relay = TestRelay::start().await;
    for hello in [
        r#"{"type":"hello","protocol":1}"#.to_owned(),
        r#"{"type":"hello","protocol":1,"token":"wrong-token-123"}"#.to_owned(),
        format!(
            r#"{{"type":"hello","protocol":1,"token":"{}"}}"#,
            &AGENT_TOKEN[..AGENT_TOKEN.len() - 1]
        ),
    ] {
        let mut c = Client::connect(&relay.url("/v1/agent"), None)
            .await
            .unwrap();
        c.raw(&hello).await;
        assert_eq!(error_code(&c.recv().await), Some(ErrorCode::Forbidden));
        assert_eq!(
            c.closed().await,
            Some(CloseCode::UNAUTHORIZED.code),
            "{hello}"
        );
    }
}

#[tokio::test]
async fn transcript_survives_a_relay_restart_on_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let relay = switchboard_relay::start(test_config(dir.path().to_owned()))
        .await
        .unwrap();
    let url = format!("ws://{}/v1/visitor?site={SITE}", relay.addr);
    let mut v = Client::connect(&url, Some(SITE_ORIGIN)).await.unwrap();
    v.raw(r#"{"type":"hello","protocol":1}"#).await;
    let ServerMsg::Welcome(w) = v.recv().await else {
        panic!("no welcome")
    };
    let conv = w.conversation_id.unwrap();
    v.send(&ClientMsg::Send(Send {
        conversation_id: conv.clone(),
        client_id: "p-1".into(),
        text: "persist me".into(),
        rich: None,
        canned_id: None,
    }))
    .await;
    v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    relay.shutdown.cancel();
    assert_eq!(v.closed().await, Some(CloseCode::RECONNECT_NOW.code));
    relay.wait().await;

    let relay = switchboard_relay::start(test_config(dir.path().to_owned()))
        .await
        .unwrap();
    let history = relay.state.broker.history(&conv, 0, 10).await.unwrap();
    assert_eq!(
        history.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["persist me"]
    );
    relay.shutdown.cancel();
    relay.wait().await;
}

/// How many visitors and conversations of [`SITE`] the relay's store holds.
async fn counts(relay: &TestRelay) -> (u64, u64) {
    relay.relay.state.broker.stored_counts(SITE).await.unwrap()
}

/// 2,000 bare hellos (each with a context, as the widget sends) from one address: every one is
/// welcomed, none is stored. `stored_counts` scans Redis, so this covers both brokers.
async fn bare_hellos_store_nothing(relay: &TestRelay) {
    let ctx = order_context();
    for batch in 0..40 {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let url = relay.url(&format!("/v1/visitor?site={SITE}"));
            let ctx = ctx.clone();
            set.spawn(async move {
                let mut c = Client::connect(&url, Some("https://forged.example"))
                    .await
                    .ok();
                // A forged Origin is refused before anything else; the real one is welcomed.
                assert!(c.is_none(), "a forged origin was upgraded");
                c = Client::connect(&url, Some(SITE_ORIGIN)).await.ok();
                let mut c = c.unwrap();
                c.send(&ClientMsg::Hello(switchboard_protocol::client::Hello {
                    protocol: switchboard_protocol::PROTOCOL_VERSION,
                    token: None,
                    context: Some(ctx),
                    identity_token: None,
                }))
                .await;
                let c = c.welcome().await;
                c.conversation_id()
            });
        }
        let mut ids = Vec::new();
        while let Some(id) = set.join_next().await {
            ids.push(id.unwrap());
        }
        assert_eq!(ids.len(), 50, "batch {batch}");
    }
    assert_eq!(counts(relay).await, (0, 0), "a bare hello stored something");
    let agent = relay.agent_with_inbox(AGENT_TOKEN).await.1;
    assert!(agent.is_empty(), "the inbox shows page views: {agent:?}");
}

#[tokio::test]
async fn two_thousand_bare_hellos_store_nothing_sqlite() {
    let relay = TestRelay::start().await;
    bare_hellos_store_nothing(&relay).await;
}

#[tokio::test]
async fn two_thousand_bare_hellos_store_nothing_redis() {
    let redis = crate::redis_server::RedisServer::start().await;
    let url = redis.url();
    let relay = TestRelay::start_with(|c| c.redis_url = Some(url)).await;
    bare_hellos_store_nothing(&relay).await;
    // Nothing at all under the visitor or conversation keys, whatever the site.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let (_, keys): (u64, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("MATCH")
        .arg("sb:*")
        .arg("COUNT")
        .arg(100_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        keys.iter().all(|k| !k.starts_with("sb:{v:")
            && !k.starts_with("sb:{c:")
            && !k.starts_with("sb:token")),
        "{keys:?}"
    );
}

/// Context changes before the first message stay in the session; the first message stores
/// exactly one visitor and the conversation `welcome` announced, with the latest context.
#[tokio::test]
async fn the_first_message_stores_the_visitor_with_the_latest_context() {
    let relay = TestRelay::start().await;
    let mut v = relay.visitor_with(None, Some(Context::default())).await;
    let conv = v.conversation_id();
    let latest = order_context();
    v.send(&ClientMsg::SetContext {
        context: latest.clone(),
    })
    .await;
    // Typing and sync before the first message are answered without storing anything.
    v.send(&ClientMsg::Typing {
        conversation_id: conv.clone(),
        active: true,
    })
    .await;
    v.send(&ClientMsg::Sync {
        conversation_id: conv.clone(),
        since: 0,
    })
    .await;
    let synced = v
        .until(|m| match m {
            ServerMsg::Synced { last_seq, .. } => Some(*last_seq),
            ServerMsg::Message(m) => panic!("history of nothing: {m:?}"),
            _ => None,
        })
        .await;
    assert_eq!(synced, 0);
    v.roundtrip().await;
    assert_eq!(counts(&relay).await, (0, 0));

    v.say("first", "hello?").await;
    let seq = v
        .until(|m| match m {
            ServerMsg::Ack { seq, duplicate, .. } => Some((*seq, *duplicate)),
            _ => None,
        })
        .await;
    assert_eq!(seq, (1, false));
    assert_eq!(counts(&relay).await, (1, 1));
    let stored = relay
        .relay
        .state
        .broker
        .conversation_context(&conv)
        .await
        .unwrap();
    assert_eq!(stored, latest);
    let conversation = relay.relay.state.broker.conversation(&conv).await.unwrap();
    assert_eq!(
        conversation.unwrap().visitor_id,
        v.welcome.as_ref().unwrap().id,
        "the visitor id welcome announced"
    );
    // A second message is appended to the same conversation.
    v.say("second", "anyone?").await;
    v.until(|m| matches!(m, ServerMsg::Ack { seq: 2, .. }).then_some(()))
        .await;
    assert_eq!(counts(&relay).await, (1, 1));
}

/// The token of a visitor that never said anything was never stored: reconnecting with it
/// gives a new provisional identity, not the old ids.
#[tokio::test]
async fn a_provisional_token_is_not_remembered() {
    let relay = TestRelay::start().await;
    let v = relay.visitor().await;
    let w = v.welcome.clone().unwrap();
    drop(v);
    let again = relay.visitor_with(w.token.clone(), None).await;
    let w2 = again.welcome.clone().unwrap();
    assert_ne!(w2.token, w.token);
    assert_ne!(w2.id, w.id);
    assert_ne!(w2.conversation_id, w.conversation_id);
    assert_eq!(counts(&relay).await, (0, 0));
}

/// The first message is stored but its ack is lost with the connection: the client
/// reconnects with the token from `welcome` (now stored) and resends; that is a duplicate in
/// the same conversation, not a second visitor or conversation.
#[tokio::test]
async fn a_resend_of_the_first_message_is_a_duplicate() {
    let relay = TestRelay::start().await;
    let mut v = relay.visitor().await;
    let w = v.welcome.clone().unwrap();
    v.say("first", "is my order shipped?").await;
    // Dropped without reading: whether the ack was written or not, the client never saw it.
    eventually("the first message is stored", WAIT, || async {
        (stored(&relay, w.conversation_id.as_deref().unwrap()).await == 1).then_some(())
    })
    .await;
    drop(v);
    let mut again = relay.visitor_with(w.token.clone(), None).await;
    let w2 = again.welcome.clone().unwrap();
    assert_eq!(w2.conversation_id, w.conversation_id);
    assert_eq!(w2.id, w.id);
    again.say("first", "is my order shipped?").await;
    let ack = again
        .until(|m| match m {
            ServerMsg::Ack { seq, duplicate, .. } => Some((*seq, *duplicate)),
            _ => None,
        })
        .await;
    assert_eq!(ack, (1, true));
    assert_eq!(counts(&relay).await, (1, 1));
}

/// Over the site's new-conversation quota, the first message is refused with `rate_limited`
/// and a wait, nothing is stored, and the connection stays.
#[tokio::test]
async fn the_new_visitor_quota_applies_to_the_first_message() {
    let relay = TestRelay::start_with(|c| {
        c.limits.enabled = true;
        c.limits.new_conversations_per_site = switchboard_relay::limits::Rate::new(1, 60)
    })
    .await;
    let mut first = relay.visitor().await;
    first.say("a", "hi").await;
    first
        .until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    let mut second = relay.visitor().await;
    second.say("b", "hi").await;
    let refused = second.recv().await;
    match &refused {
        ServerMsg::Error {
            code: ErrorCode::RateLimited,
            client_id,
            retry_after_ms: Some(wait),
            ..
        } => {
            assert_eq!(client_id.as_deref(), Some("b"));
            assert!(*wait > 0);
        }
        other => panic!("expected rate_limited, got {other:?}"),
    }
    second.roundtrip().await;
    assert_eq!(counts(&relay).await, (1, 1));
}
