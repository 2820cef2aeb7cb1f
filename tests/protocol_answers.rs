//! The answers `docs/protocol.md` gives a client implementer, each pinned by a test against a
//! real relay over real sockets: when the relay's behaviour changes, one of these fails and the
//! document has to change with it. Each test names the question it answers.

use std::collections::BTreeMap;
use std::time::Duration;

use switchboard_protocol::client::{Hello, Send};
use switchboard_protocol::limits::{MAX_HISTORY_BATCH, MAX_INBOX};
use switchboard_protocol::{
    ClientMsg, Context, ErrorCode, Owner, Sender, SenderKind, ServerMsg, PROTOCOL_VERSION,
};
use switchboard_relay::broker::NewMessage;

use crate::redis_server::RedisServer;
use crate::util::*;

/// A relay on its own `redis-server` (kept beside it: dropping it kills Redis).
async fn redis_relay() -> (TestRelay, RedisServer) {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let relay = TestRelay::start_with(|c| c.redis_url = Some(url)).await;
    (relay, redis)
}

fn hello(token: Option<String>) -> ClientMsg {
    ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token,
        context: None,
        identity_token: None,
    })
}

fn send(conversation_id: &str, client_id: &str, text: &str) -> ClientMsg {
    ClientMsg::Send(Send {
        conversation_id: conversation_id.into(),
        client_id: client_id.into(),
        text: text.into(),
        rich: None,
        canned_id: None,
    })
}

fn sync(conversation_id: &str, since: u64) -> ClientMsg {
    ClientMsg::Sync {
        conversation_id: conversation_id.into(),
        since,
    }
}

/// Frames up to and including the `synced` that ends a catch-up.
async fn catch_up(c: &mut Client) -> (Vec<ServerMsg>, u64, bool) {
    let mut frames = Vec::new();
    loop {
        match c.recv().await {
            ServerMsg::Synced { last_seq, more, .. } => return (frames, last_seq, more),
            other => frames.push(other),
        }
    }
}

fn seqs(frames: &[ServerMsg]) -> Vec<u64> {
    frames
        .iter()
        .filter_map(|m| match m {
            ServerMsg::Message(m) => Some(m.seq),
            _ => None,
        })
        .collect()
}

async fn acked(c: &mut Client, client_id: &str) -> (u64, u64, bool) {
    c.until(|m| match m {
        ServerMsg::Ack {
            client_id: id,
            seq,
            at,
            duplicate,
            ..
        } if id == client_id => Some((*seq, *at, *duplicate)),
        _ => None,
    })
    .await
}

/// Waits for both the `ack` of `client_id` and the sender's own copy of the message, in
/// whichever order they come; the ack's (seq, at, duplicate) and the copy's seq.
async fn ack_and_own_copy(c: &mut Client, client_id: &str) -> ((u64, u64, bool), u64) {
    let (mut ack, mut own) = (None, None);
    while ack.is_none() || own.is_none() {
        match c.recv().await {
            ServerMsg::Ack {
                client_id: id,
                seq,
                at,
                duplicate,
                ..
            } if id == client_id => ack = Some((seq, at, duplicate)),
            ServerMsg::Message(m) if m.client_id == client_id => own = Some(m.seq),
            _ => {}
        }
    }
    (ack.unwrap(), own.unwrap())
}

/// Stores `n` visitor messages straight through the broker (faster than a socket round trip
/// each), as the visitor of `v`.
async fn fill(relay: &TestRelay, v: &Client, n: usize) {
    let w = v.welcome.as_ref().unwrap();
    let conv = v.conversation_id();
    // Stored as the relay stores a visitor at its first message (idempotent, so the
    // session's own first message later finds them there).
    let broker = &relay.relay.state.broker;
    let hash = switchboard_relay::token::hash(w.token.as_deref().unwrap());
    broker
        .create_visitor_with_id(SITE, &hash, &w.id, Context::default())
        .await
        .unwrap();
    broker
        .open_conversation_with_id(SITE, &w.id, &conv, 1, &Owner::Humans, None)
        .await
        .unwrap();
    for i in 0..n {
        let sender = Sender {
            kind: SenderKind::Visitor,
            id: w.id.clone(),
            name: None,
            avatar: None,
        };
        relay
            .relay
            .state
            .broker
            .append(
                SITE,
                NewMessage::new(&conv, format!("fill-{i}"), sender, format!("line {i}")),
            )
            .await
            .unwrap();
    }
}

/// Question 1: a `hello` while the store is down is answered with `error`/`unavailable`, then
/// close 4013 (agents and bots get their `welcome` first: their tokens need no store); the
/// client comes back with backoff, and once the store is back its `hello` is welcomed.
#[tokio::test]
async fn q1_hello_while_the_broker_is_down_gets_unavailable_then_4013() {
    let (relay, mut redis) = redis_relay().await;
    let mut known = relay.visitor().await;
    let token = known.welcome.as_ref().unwrap().token.clone();
    // Only a visitor that said something is stored, and only a stored token is looked up.
    known.say("first", "hello").await;
    known
        .until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    drop(known);
    redis.kill9();

    let mut visitor = Client::connect(
        &relay.url(&format!("/v1/visitor?site={SITE}")),
        Some(SITE_ORIGIN),
    )
    .await
    .unwrap();
    visitor.send(&hello(token.clone())).await;
    match visitor.recv().await {
        ServerMsg::Error { code, .. } => assert_eq!(code, ErrorCode::Unavailable),
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert_eq!(visitor.closed().await, Some(4013));

    for (path, token) in [("/v1/agent", AGENT_TOKEN), ("/v1/bot", BOT_TOKEN)] {
        let mut c = Client::connect(&relay.url(path), None).await.unwrap();
        c.send(&hello(Some(token.into()))).await;
        let mut c = c.welcome().await;
        let mut next = c.recv().await;
        if let ServerMsg::Directory(_) = next {
            // An agent's directory comes from the configuration, before the inbox is read.
            next = c.recv().await;
        }
        match next {
            ServerMsg::Error { code, .. } => assert_eq!(code, ErrorCode::Unavailable, "{path}"),
            other => panic!("{path}: expected unavailable, got {other:?}"),
        }
        assert_eq!(c.closed().await, Some(4013), "{path}");
    }

    // Retrying (here every 200 ms) succeeds once Redis is back, with the same visitor.
    redis.start_again().await;
    let welcomed = eventually(
        "a welcome after Redis is back",
        Duration::from_secs(20),
        || {
            let (url, token) = (
                relay.url(&format!("/v1/visitor?site={SITE}")),
                token.clone(),
            );
            async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let mut c = Client::connect(&url, Some(SITE_ORIGIN)).await.ok()?;
                c.send(&hello(token)).await;
                match c.next_event().await {
                    Event::Msg(m) => match *m {
                        ServerMsg::Welcome(w) => Some(w),
                        _ => None,
                    },
                    Event::Closed(_) => None,
                }
            }
        },
    )
    .await;
    assert_eq!(welcomed.token, token);
}

/// Question 2: a client may send `sync` and its resends at once, without waiting for
/// `synced`: the relay handles one connection's frames in order, so the whole catch-up and
/// `synced` come before the first resend's `ack`.
#[tokio::test]
async fn q2_sync_and_resends_sent_at_once_are_answered_catch_up_first() {
    let relay = TestRelay::start().await;
    let mut v = relay.visitor().await;
    let conv = v.conversation_id();
    let token = v.welcome.as_ref().unwrap().token.clone();
    v.say("m-1", "one").await;
    acked(&mut v, "m-1").await;
    v.say("m-2", "two").await;
    acked(&mut v, "m-2").await;
    let mut agent = relay.agent(AGENT_TOKEN).await;
    agent.send(&send(&conv, "a-1", "an answer")).await;
    acked(&mut agent, "a-1").await;
    drop(v);

    // Back, having seen seq 1 only; m-2's ack was "lost", m-3 was never sent.
    let mut v = relay.visitor_with(token, None).await;
    v.send(&sync(&conv, 1)).await;
    v.send(&send(&conv, "m-2", "two")).await;
    v.send(&send(&conv, "m-3", "three")).await;
    let (frames, last_seq, more) = catch_up(&mut v).await;
    assert!(
        !frames.iter().any(|m| matches!(m, ServerMsg::Ack { .. })),
        "an ack came before synced: {frames:?}"
    );
    assert_eq!((seqs(&frames), last_seq, more), (vec![2, 3], 3, false));
    match v.recv().await {
        ServerMsg::Ack {
            client_id,
            seq,
            duplicate,
            ..
        } => assert_eq!((client_id.as_str(), seq, duplicate), ("m-2", 2, true)),
        other => panic!("expected m-2's ack next, got {other:?}"),
    }
    assert_eq!(acked(&mut v, "m-3").await.0, 4);
}

/// Question 3: `synced.last_seq` is the seq of the batch's last message (the `since` sent when
/// the batch is empty), not the conversation's, so "sync again from `last_seq`" continues
/// exactly where the batch ended.
#[tokio::test]
async fn q3_synced_last_seq_is_the_last_seq_of_the_batch() {
    let relay = TestRelay::start().await;
    let mut v = relay.visitor().await;
    let conv = v.conversation_id();
    fill(&relay, &v, MAX_HISTORY_BATCH + 1).await;
    // Their live copies, queued before the pong.
    v.roundtrip().await;

    v.send(&sync(&conv, 0)).await;
    let (frames, last_seq, more) = catch_up(&mut v).await;
    let batch = seqs(&frames);
    assert_eq!(batch.len(), MAX_HISTORY_BATCH);
    assert_eq!((last_seq, more), (*batch.last().unwrap(), true));
    assert_eq!(last_seq, MAX_HISTORY_BATCH as u64);

    v.send(&sync(&conv, last_seq)).await;
    let (frames, last_seq, more) = catch_up(&mut v).await;
    let end = MAX_HISTORY_BATCH as u64 + 1;
    assert_eq!((seqs(&frames), last_seq, more), (vec![end], end, false));

    v.send(&sync(&conv, end)).await;
    let (frames, last_seq, more) = catch_up(&mut v).await;
    assert_eq!((seqs(&frames), last_seq, more), (vec![], end, false));
}

/// Question 4: an agent finds an older conversation by paging the inbox with
/// `list_conversations`, from the `next` of the inbox it got at connect; bad limits and
/// cursors are refused with `invalid`, and the frame is for agents only.
#[tokio::test]
async fn q4_an_agent_pages_through_the_inbox_with_list_conversations() {
    let relay = TestRelay::start().await;
    let broker = &relay.relay.state.broker;
    let mut all = Vec::new();
    for i in 0..MAX_INBOX + 5 {
        let token = format!("page-{i}");
        let v = broker
            .create_visitor(SITE, &token, Context::default())
            .await
            .unwrap();
        let conv = broker
            .open_conversation(SITE, &v.id, 1, &Owner::Humans)
            .await
            .unwrap();
        let sender = Sender {
            kind: SenderKind::Visitor,
            id: v.id,
            name: None,
            avatar: None,
        };
        let mut msg = NewMessage::new(&conv.id, token, sender, "hi".into());
        // Pairs share a millisecond, so a page boundary can fall inside a tie.
        msg.at = 1_000 + (i as u64) / 2;
        broker.append(SITE, msg).await.unwrap();
        all.push((1_000 + (i as u64) / 2, conv.id));
    }
    all.sort_by(|a, b| b.cmp(a));
    let all: Vec<String> = all.into_iter().map(|(_, id)| id).collect();

    let mut agent = Client::connect(&relay.url("/v1/agent"), None)
        .await
        .unwrap();
    agent.send(&hello(Some(AGENT_TOKEN.into()))).await;
    let mut agent = agent.welcome().await;
    // The directory comes between welcome and the inbox.
    assert!(matches!(agent.recv().await, ServerMsg::Directory(_)));
    let ServerMsg::Conversations {
        items,
        before: None,
        more: true,
        next: Some(mut next),
    } = agent.recv().await
    else {
        panic!("expected the newest page with more")
    };
    assert_eq!(items.len(), MAX_INBOX);
    let mut seen: Vec<String> = items.into_iter().map(|s| s.id).collect();
    loop {
        agent
            .send(&ClientMsg::ListConversations {
                before: Some(next.clone()),
                limit: Some(2),
            })
            .await;
        let ServerMsg::Conversations {
            items,
            before,
            more,
            next: after,
        } = agent.recv().await
        else {
            panic!("expected a page")
        };
        assert_eq!(before.as_ref(), Some(&next));
        assert_eq!(more, after.is_some());
        seen.extend(items.into_iter().map(|s| s.id));
        match after {
            Some(n) => next = n,
            None => break,
        }
    }
    assert_eq!(seen, all);

    // Without a cursor: the newest page again.
    agent
        .send(&ClientMsg::ListConversations {
            before: None,
            limit: Some(3),
        })
        .await;
    let ServerMsg::Conversations { items, before, .. } = agent.recv().await else {
        panic!("expected a page")
    };
    assert_eq!(before, None);
    assert_eq!(
        items.into_iter().map(|s| s.id).collect::<Vec<_>>(),
        all[..3]
    );

    for bad in [
        r#"{"type":"list_conversations","limit":0}"#.to_owned(),
        format!(
            r#"{{"type":"list_conversations","limit":{}}}"#,
            MAX_INBOX + 1
        ),
        r#"{"type":"list_conversations","before":{"last_activity":1000,"id":""}}"#.to_owned(),
        r#"{"type":"list_conversations","before":{"id":"c_1"}}"#.to_owned(),
    ] {
        agent.raw(&bad).await;
        match agent.recv().await {
            ServerMsg::Error { code, .. } => assert_eq!(code, ErrorCode::Invalid, "{bad}"),
            other => panic!("{bad}: expected invalid, got {other:?}"),
        }
    }

    let page = ClientMsg::ListConversations {
        before: None,
        limit: None,
    };
    let mut visitor = relay.visitor().await;
    visitor.send(&page).await;
    let mut bot = relay.bot(BOT_TOKEN).await;
    bot.send(&page).await;
    for c in [&mut visitor, &mut bot] {
        let refused = c
            .until(|m| match m {
                ServerMsg::Error { code, .. } => Some(*code),
                _ => None,
            })
            .await;
        assert_eq!(refused, ErrorCode::Forbidden);
    }
    // Another site's agent pages an inbox without them.
    let (mut olga, inbox) = relay.agent_with_inbox(OTHER_AGENT_TOKEN).await;
    assert!(inbox.is_empty());
    olga.send(&page).await;
    let ServerMsg::Conversations { items, more, .. } = olga.recv().await else {
        panic!("expected a page")
    };
    assert!(items.is_empty() && !more);
}

/// Question 5a: a sender gets both its `ack` and its own `message` (other tabs need it), with
/// the same seq, in no promised order (the embedded relay sends the message first; over Redis
/// the message comes through pub/sub and either may lead).
async fn q5_sender_gets_ack_and_own_message(relay: &TestRelay) {
    let mut v = relay.visitor().await;
    let conv = v.conversation_id();
    let mut agent = relay.agent(AGENT_TOKEN).await;
    for (c, id) in [(&mut v, "v-1"), (&mut agent, "a-1")] {
        c.send(&send(&conv, id, "hello")).await;
        let ((seq, _, _), own) = ack_and_own_copy(c, id).await;
        assert_eq!(seq, own, "{id}");
    }
}

#[tokio::test]
async fn q5_a_sender_gets_its_ack_and_its_own_message_sqlite() {
    q5_sender_gets_ack_and_own_message(&TestRelay::start().await).await;
}

#[tokio::test]
async fn q5_a_sender_gets_its_ack_and_its_own_message_redis() {
    let (relay, _redis) = redis_relay().await;
    q5_sender_gets_ack_and_own_message(&relay).await;
}

/// Question 5b: live messages are not held back during a catch-up: while another sender
/// writes, they arrive before, inside and after the replayed ones, and a live one may come
/// again in the batch. A client that merges by seq ends with every message once, in order.
/// On several threads, as the relay binary runs: one thread would finish each batch before
/// any other task ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q5_live_messages_arrive_inside_a_catch_up_and_merging_by_seq_is_exact() {
    let relay = TestRelay::start().await;
    let v = relay.visitor().await;
    let conv = v.conversation_id();
    let token = v.welcome.as_ref().unwrap().token.clone();
    fill(&relay, &v, 300).await;
    drop(v);

    // The agent writes without pause until told to stop (or 600 messages: `stored` reads
    // 1000).
    let stop = tokio_util::sync::CancellationToken::new();
    let mut agent = relay.agent(AGENT_TOKEN).await;
    let writer = {
        let (stop, conv) = (stop.clone(), conv.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.is_cancelled() && n < 600 {
                for _ in 0..20 {
                    agent.send(&send(&conv, &format!("a-{n}"), "live")).await;
                    n += 1;
                }
                acked(&mut agent, &format!("a-{}", n - 1)).await;
            }
        })
    };

    let mut tab = relay.visitor_with(token, None).await;
    let mut merged: BTreeMap<u64, String> = BTreeMap::new();
    let mut interleaved = false;
    for _ in 0..40 {
        tab.send(&sync(&conv, 0)).await;
        let (frames, last_seq, _) = catch_up(&mut tab).await;
        let got = seqs(&frames);
        // Live frames queued before the sync was handled come before seq 1; from seq 1 on, a
        // catch-up alone would be exactly 1..=last_seq.
        let start = got.iter().position(|s| *s == 1).expect("a catch-up from 0");
        interleaved |= got[start..] != (1..=last_seq).collect::<Vec<_>>();
        for m in frames {
            if let ServerMsg::Message(m) = m {
                merged.insert(m.seq, m.client_id);
            }
        }
        if interleaved {
            break;
        }
    }
    stop.cancel();
    writer.await.unwrap();
    assert!(interleaved, "no live message arrived inside 40 catch-ups");

    // Then the gap-free position is caught up and live frames are drained.
    let mut since = merged
        .keys()
        .zip(1..)
        .take_while(|(s, i)| **s == *i)
        .count() as u64;
    loop {
        tab.send(&sync(&conv, since)).await;
        let (frames, last_seq, more) = catch_up(&mut tab).await;
        for m in frames {
            if let ServerMsg::Message(m) = m {
                merged.insert(m.seq, m.client_id);
            }
        }
        since = last_seq;
        if !more {
            break;
        }
    }
    for m in tab.roundtrip().await {
        if let ServerMsg::Message(m) = m {
            merged.insert(m.seq, m.client_id);
        }
    }
    let stored: BTreeMap<u64, String> = relay
        .stored(&conv)
        .await
        .into_iter()
        .map(|m| (m.seq, m.client_id))
        .collect();
    assert_eq!(merged, stored);
}

/// Question 6: a visitor's `welcome.last_seq` is the conversation's last seq when the relay
/// handled `hello` (others' messages included), so a client whose last seq is lower knows
/// it misses the end; `sync` then fetches it.
#[tokio::test]
async fn q6_welcome_last_seq_shows_what_a_returning_visitor_misses_at_the_end() {
    let relay = TestRelay::start().await;
    let mut v = relay.visitor().await;
    assert_eq!(v.welcome.as_ref().unwrap().last_seq, Some(0));
    let conv = v.conversation_id();
    let token = v.welcome.as_ref().unwrap().token.clone();
    v.say("m-1", "one").await;
    acked(&mut v, "m-1").await;
    v.say("m-2", "two").await;
    acked(&mut v, "m-2").await;
    drop(v);
    let mut agent = relay.agent(AGENT_TOKEN).await;
    agent
        .send(&send(&conv, "a-1", "answered while you were away"))
        .await;
    acked(&mut agent, "a-1").await;

    let mut v = relay.visitor_with(token, None).await;
    assert_eq!(v.welcome.as_ref().unwrap().last_seq, Some(3));
    v.send(&sync(&conv, 2)).await;
    let (frames, last_seq, _) = catch_up(&mut v).await;
    assert_eq!((seqs(&frames), last_seq), (vec![3], 3));
}

/// Question 7: the `ack` of a resend (`duplicate: true`) carries the original `seq` and the
/// original `at`, the time the message was stored, and nothing is delivered again.
async fn q7_duplicate_ack_is_the_original(relay: &TestRelay) {
    let mut v = relay.visitor().await;
    let conv = v.conversation_id();
    v.say("m-1", "once").await;
    // Both, so the original's own copy (over Redis it may trail the ack) is not taken for a
    // second delivery below.
    let ((seq, at, duplicate), _) = ack_and_own_copy(&mut v, "m-1").await;
    assert!(!duplicate);
    tokio::time::sleep(Duration::from_millis(20)).await;
    v.say("m-1", "once").await;
    let again = acked(&mut v, "m-1").await;
    assert_eq!(again, (seq, at, true));
    let after = v.roundtrip().await;
    assert!(
        !after.iter().any(|m| matches!(m, ServerMsg::Message(_))),
        "a resend was delivered again: {after:?}"
    );
    assert_eq!(relay.stored(&conv).await.len(), 1);
}

#[tokio::test]
async fn q7_a_duplicate_ack_carries_the_original_seq_and_time_sqlite() {
    q7_duplicate_ack_is_the_original(&TestRelay::start().await).await;
}

#[tokio::test]
async fn q7_a_duplicate_ack_carries_the_original_seq_and_time_redis() {
    let (relay, _redis) = redis_relay().await;
    q7_duplicate_ack_is_the_original(&relay).await;
}
