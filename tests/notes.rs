//! Private notes (issue 13): an agent's note reaches the site's agents on every node, and a
//! `mention` reaches the agent it names; visitors and bots never get a byte of it — live, in a
//! `sync`, in a bot's `routed` transcript or its webhook queue — on the embedded broker and on
//! Redis with two nodes. Bad note frames get typed errors and change nothing.

use futures_util::StreamExt;
use switchboard_protocol::limits::{MAX_MENTIONS, MAX_PRIVATE_NOTE_BYTES};
use switchboard_protocol::{
    ClientMsg, ErrorCode, SenderKind, ServerMsg, WriteNote, PROTOCOL_VERSION,
};
use switchboard_relay::config::{Agent, AgentRole, Config, Routing};
use tokio_tungstenite::tungstenite::Message;

use crate::redis_server::RedisServer;
use crate::util::{Client, TestRelay, AGENT_TOKEN, BOT, BOT_TOKEN, SITE, SITE_ORIGIN, WAIT};

/// The second agent of the site, whom notes mention.
const SAM_TOKEN: &str = "agent-token-sam-0123456789abcdef";
/// Text no visitor or bot may ever read.
const SECRET: &str = "NOTE-SECRET-7f3a";

/// The site's bot answers first, so a bot owns the conversation the note is written in; a
/// second agent, Sam, serves the site.
fn config(c: &mut Config) {
    c.sites[0].routing = Routing::BotFirst;
    c.agents.push(Agent {
        id: "sam".into(),
        name: "Sam Lee".into(),
        token: Some(SAM_TOKEN.into()),
        password_hash: None,
        email: None,
        sites: vec![SITE.into()],
        role: AgentRole::Agent,
    });
}

fn note(conversation_id: &str, client_id: &str, text: &str, mentions: &[&str]) -> ClientMsg {
    ClientMsg::Note(WriteNote {
        conversation_id: conversation_id.into(),
        client_id: client_id.into(),
        text: text.into(),
        mentions: mentions.iter().map(|m| m.to_string()).collect(),
    })
}

/// Reads raw frames until one satisfies `done`, failing if any frame read holds the secret.
async fn read_clean_until(c: &mut Client, who: &str, mut done: impl FnMut(&ServerMsg) -> bool) {
    loop {
        let next = tokio::time::timeout(WAIT, c.ws.next())
            .await
            .unwrap_or_else(|_| panic!("{who}: no frame within the wait"));
        let Some(Ok(Message::Text(t))) = next else {
            continue;
        };
        assert!(
            !t.as_str().contains(SECRET) && !t.as_str().contains("\"note\""),
            "{who} read a private note: {t}"
        );
        let m: ServerMsg = serde_json::from_str(t.as_str()).unwrap();
        if done(&m) {
            return;
        }
    }
}

/// Proves `c` has read everything sent to it so far, none of it holding the secret.
async fn clean_roundtrip(c: &mut Client, who: &str) {
    c.send(&ClientMsg::Ping { nonce: Some(99) }).await;
    read_clean_until(c, who, |m| matches!(m, ServerMsg::Pong { nonce: Some(99) })).await;
}

async fn visitor_on(relay: &TestRelay, token: Option<String>) -> Client {
    let mut c = Client::connect(
        &relay.url(&format!("/v1/visitor?site={SITE}")),
        Some(SITE_ORIGIN),
    )
    .await
    .unwrap();
    c.send(&ClientMsg::Hello(switchboard_protocol::client::Hello {
        protocol: PROTOCOL_VERSION,
        token,
        context: None,
        identity_token: None,
    }))
    .await;
    c.welcome().await
}

/// The whole story on `a` and `b` (two nodes on one Redis, or the same embedded relay): a
/// visitor and the bot on `a`, Alex on `a` writes a note mentioning Sam, Sam on `b`.
async fn a_note_reaches_agents_only(a: &TestRelay, b: &TestRelay) {
    let mut bot = a.bot(BOT_TOKEN).await;
    let mut alex = a.agent(AGENT_TOKEN).await;
    let mut sam = b.agent(SAM_TOKEN).await;
    let mut v = visitor_on(a, None).await;
    let conv = v.conversation_id();
    v.say("v1", "where is my order?").await;
    v.until(|m| matches!(m, ServerMsg::Ack { seq: 1, .. }).then_some(()))
        .await;
    bot.until(|m| matches!(m, ServerMsg::Routed(r) if r.conversation.id == conv).then_some(()))
        .await;
    // A second tab of the same visitor, on the other node, reading every frame raw.
    let mut v2 = visitor_on(b, v.welcome.as_ref().unwrap().token.clone()).await;

    alex.send(&note(
        &conv,
        "n1",
        &format!("{SECRET} refund approved? @sam"),
        &["sam"],
    ))
    .await;
    // Alex gets the ack, and the note too (every agent of the site does), in either order.
    let (mut seq, mut echoed) = (None, false);
    while seq.is_none() || !echoed {
        match alex.recv().await {
            ServerMsg::Ack {
                client_id,
                seq: s,
                duplicate: false,
                ..
            } if client_id == "n1" => seq = Some(s),
            ServerMsg::Message(m) if m.is_note() => echoed = true,
            ServerMsg::Mention(m) => panic!("a mention to the note's own author: {m:?}"),
            _ => {}
        }
    }
    let seq = seq.unwrap();
    assert_eq!(seq, 2);

    // Sam, on the other node: the note whole, then the mention.
    let got = sam
        .until(|m| match m {
            ServerMsg::Message(m) if m.seq == seq => Some(m.clone()),
            _ => None,
        })
        .await;
    assert!(got.is_note(), "{got:?}");
    assert!(got.text.contains(SECRET));
    assert_eq!(got.sender.kind, SenderKind::Agent);
    assert_eq!(got.sender.id, "alex");
    assert_eq!(got.note.as_ref().unwrap().mentions, vec!["sam".to_owned()]);
    let mention = sam
        .until(|m| match m {
            ServerMsg::Mention(x) => Some(x.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (
            mention.conversation_id.as_str(),
            mention.seq,
            mention.by.as_str()
        ),
        (conv.as_str(), seq, "alex")
    );
    assert_eq!(mention.by_name.as_deref(), Some("Alex"));

    // The visitor's sockets, live: the note's seq as a bare entry, nothing else of it.
    for (c, who) in [(&mut v, "visitor on a"), (&mut v2, "visitor on b")] {
        read_clean_until(c, who, |m| {
            matches!(m, ServerMsg::Message(x) if x.seq == seq
                && x.sender.kind == SenderKind::System
                && x.text.is_empty() && x.event.is_none() && !x.is_note())
        })
        .await;
        // The visitor keeps talking; seqs stay gap-free around the note.
        clean_roundtrip(c, who).await;
    }
    v.say("v2", "hello?").await;
    read_clean_until(&mut v, "visitor", |m| {
        matches!(m, ServerMsg::Ack { seq: 3, .. })
    })
    .await;

    // …and in a catch-up from the start, on both nodes.
    for (c, who) in [
        (&mut v, "visitor sync on a"),
        (&mut v2, "visitor sync on b"),
    ] {
        c.send(&ClientMsg::Sync {
            conversation_id: conv.clone(),
            since: 0,
        })
        .await;
        // The visitor's own message may come live as well (other tabs): a set.
        let mut seqs = std::collections::BTreeSet::new();
        read_clean_until(c, who, |m| match m {
            ServerMsg::Message(x) => {
                seqs.insert(x.seq);
                false
            }
            ServerMsg::Synced { .. } => true,
            _ => false,
        })
        .await;
        assert_eq!(seqs.into_iter().collect::<Vec<_>>(), vec![1, 2, 3], "{who}");
    }

    // The bot owning the conversation: nothing live (the visitor's next message, yes)…
    read_clean_until(
        &mut bot,
        "bot",
        |m| matches!(m, ServerMsg::Message(x) if x.seq == 3),
    )
    .await;
    // …a bare entry in its catch-up…
    bot.send(&ClientMsg::Sync {
        conversation_id: conv.clone(),
        since: 0,
    })
    .await;
    read_clean_until(&mut bot, "bot sync", |m| {
        matches!(m, ServerMsg::Synced { .. })
    })
    .await;
    // …and in the `routed` transcript a reconnecting bot gets.
    drop(bot);
    let mut again = b.bot(BOT_TOKEN).await;
    read_clean_until(&mut again, "reconnected bot", |m| {
        matches!(m, ServerMsg::Routed(r) if r.conversation.id == conv
            && r.transcript.iter().any(|x| x.seq == seq && x.sender.kind == SenderKind::System))
    })
    .await;
    // A note is not the conversation's activity: the inbox preview is the visitor's.
    let line = a.relay.state.broker.summary(&conv).await.unwrap().unwrap();
    assert_eq!(line.last_seq, 3);
    assert_eq!(line.last_message.unwrap().text, "hello?");
    // A bot does not take part in the agents' notes: it is refused one of its own.
    again.send(&note(&conv, "b1", "bots cannot", &[])).await;
    let code = again
        .until(|m| match m {
            ServerMsg::Error { code, .. } => Some(*code),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_note_reaches_agents_only_on_the_embedded_broker() {
    let relay = TestRelay::start_with(config).await;
    a_note_reaches_agents_only(&relay, &relay).await;
    // The stored entry is the whole note, for agents' catch-ups.
    let conv = relay
        .relay
        .state
        .broker
        .inbox(&[SITE.into()], None, 10)
        .await
        .unwrap()
        .items[0]
        .id
        .clone();
    let stored = relay.stored(&conv).await;
    assert!(stored[1].is_note() && stored[1].text.contains(SECRET));
}

#[tokio::test]
async fn a_note_written_on_one_node_reaches_an_agent_on_another_and_no_visitor_or_bot() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let a = TestRelay::start_with(|c| {
        config(c);
        c.redis_url = Some(url.clone());
    })
    .await;
    let b = TestRelay::start_with(|c| {
        config(c);
        c.redis_url = Some(url.clone());
    })
    .await;
    a_note_reaches_agents_only(&a, &b).await;
}

/// A webhook bot's queue (no bot answers here, so its events wait in the store) never holds
/// a note.
#[tokio::test]
async fn a_webhook_bots_queue_never_holds_a_note() {
    let relay = TestRelay::start_with(|c| {
        config(c);
        c.bots[0].webhook_url = Some("http://127.0.0.1:9/hook".into());
        c.bots[0].webhook_secret = Some("webhook-secret-0123456789abcdef0123".into());
    })
    .await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    let mut v = relay.visitor().await;
    let conv = v.conversation_id();
    v.say("v1", "hi").await;
    v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    alex.send(&note(&conv, "n1", SECRET, &[])).await;
    alex.until(|m| {
        matches!(m, ServerMsg::Ack { client_id, .. } if client_id == "n1").then_some(())
    })
    .await;
    v.say("v2", "still there?").await;
    v.until(|m| matches!(m, ServerMsg::Ack { seq: 3, .. }).then_some(()))
        .await;
    let events = crate::util::eventually("the bot's queued events", WAIT, || async {
        let events = relay.relay.state.broker.bot_events(BOT, 100).await.unwrap();
        (events.len() >= 2).then_some(events)
    })
    .await;
    for e in &events {
        assert!(
            !e.body.contains(SECRET),
            "a webhook event holds the note: {}",
            e.body
        );
    }
}

#[tokio::test]
async fn bad_notes_get_typed_errors_and_store_nothing() {
    let relay = TestRelay::start_with(config).await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    let mut v = relay.visitor().await;
    let conv = v.conversation_id();
    v.say("v1", "hi").await;
    v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;

    // A visitor asking to write a note.
    v.send(&note(&conv, "vn", "I am an agent", &[])).await;
    let refused = v
        .until(|m| match m {
            ServerMsg::Error { code, .. } => Some(*code),
            _ => None,
        })
        .await;
    assert_eq!(refused, ErrorCode::Forbidden);

    let big = "x".repeat(MAX_PRIVATE_NOTE_BYTES + 1);
    let many: Vec<&str> = (0..=MAX_MENTIONS).map(|_| "sam").collect();
    let cases: Vec<(String, ErrorCode)> = vec![
        (note(&conv, "n1", &big, &[]).to_json(), ErrorCode::TooLarge),
        (
            note(&conv, "n2", " \u{200B} ", &[]).to_json(),
            ErrorCode::Invalid,
        ),
        (
            note(&conv, "n3", "hi", &many).to_json(),
            ErrorCode::TooLarge,
        ),
        (
            note(&conv, "n4", "hi", &["nobody"]).to_json(),
            ErrorCode::UnknownAgent,
        ),
        // Olga serves another site: she is not told about this conversation.
        (
            note(&conv, "n5", "hi", &["olga"]).to_json(),
            ErrorCode::UnknownAgent,
        ),
        (
            note("c_nope", "n6", "hi", &[]).to_json(),
            ErrorCode::NotFound,
        ),
        (note(&conv, "<b>", "hi", &[]).to_json(), ErrorCode::Invalid),
        (
            format!(r#"{{"type":"note","conversation_id":"{conv}","client_id":"n7","text":5}}"#),
            ErrorCode::Invalid,
        ),
        (
            format!(
                r#"{{"type":"note","conversation_id":"{conv}","client_id":"n8","text":"x","mentions":"sam"}}"#
            ),
            ErrorCode::Invalid,
        ),
        ("{\"type\":\"note\",".into(), ErrorCode::BadJson),
    ];
    for (frame, expected) in &cases {
        alex.raw(frame).await;
        let code = alex
            .until(|m| match m {
                ServerMsg::Error { code, .. } => Some(*code),
                _ => None,
            })
            .await;
        assert_eq!(code, *expected, "{frame:.120}");
    }
    // Another site's agent cannot write into this site's conversation.
    let mut olga = relay.agent(crate::util::OTHER_AGENT_TOKEN).await;
    olga.send(&note(&conv, "o1", "hi", &[])).await;
    let code = olga
        .until(|m| match m {
            ServerMsg::Error { code, .. } => Some(*code),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::Forbidden);
    // Nothing was stored by any of them.
    assert_eq!(relay.stored(&conv).await.len(), 1);

    // A resend of a stored note is acknowledged again with its seq and stored once.
    for _ in 0..2 {
        alex.send(&note(&conv, "ok1", "checked the order", &["sam"]))
            .await;
    }
    let acks: Vec<(u64, bool)> = {
        let mut acks = Vec::new();
        while acks.len() < 2 {
            if let ServerMsg::Ack { seq, duplicate, .. } = alex.recv().await {
                acks.push((seq, duplicate));
            }
        }
        acks
    };
    assert_eq!(acks, vec![(2, false), (2, true)]);
    assert_eq!(relay.stored(&conv).await.len(), 2);
}
