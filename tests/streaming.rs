//! Streamed answers (issue 21, `protocol::stream`) over real sockets, on the embedded store and
//! across two relay nodes on a real Redis: a bot's `delta`s reach the visitor in order and
//! unstored, the `send` that ends the stream is stored once, a visitor that reconnects in the
//! middle gets the stored answer and no replayed piece, and what no client could show (gaps,
//! restarts, oversized pieces or streams, strangers' conversations, other roles, floods) is
//! refused with its typed error.

use std::time::Duration;

use switchboard_protocol::client::Send;
use switchboard_protocol::limits::{MAX_DELTA_BYTES, MAX_TEXT_BYTES};
use switchboard_protocol::{ClientMsg, Delta, ErrorCode, SenderKind, ServerMsg};

use crate::bots::bot_first;
use crate::redis_server::RedisServer;
use crate::util::*;

pub fn delta(conv: &str, client_id: &str, index: u32, text: &str) -> ClientMsg {
    ClientMsg::Delta(Delta {
        conversation_id: conv.into(),
        client_id: client_id.into(),
        index,
        text: text.into(),
    })
}

pub fn send(conv: &str, client_id: &str, text: &str) -> ClientMsg {
    ClientMsg::Send(Send {
        conversation_id: conv.into(),
        client_id: client_id.into(),
        text: text.into(),
        rich: None,
        canned_id: None,
    })
}

/// The next error the client gets.
async fn refused(c: &mut Client) -> ErrorCode {
    c.until(|m| match m {
        ServerMsg::Error { code, .. } => Some(*code),
        _ => None,
    })
    .await
}

/// A visitor whose first message made a conversation the bot owns; returns it and its id.
async fn routed_visitor(relay: &TestRelay, bot: &mut Client) -> (Client, String) {
    let mut v = relay.visitor().await;
    v.say("v1", "where is my order?").await;
    let conv = v.conversation_id();
    bot.until(|m| match m {
        ServerMsg::Routed(r) if r.conversation.id == conv => Some(()),
        _ => None,
    })
    .await;
    (v, conv)
}

/// The pieces of stream `client_id` a client gets until its stored message, then the message.
async fn pieces_then_message(c: &mut Client, client_id: &str) -> (Vec<(u32, String)>, String) {
    let mut pieces = Vec::new();
    loop {
        match c.recv().await {
            ServerMsg::Delta {
                client_id: id,
                index,
                text,
                sender,
                ..
            } if id == client_id => {
                assert_eq!(sender.kind, SenderKind::Bot);
                assert_eq!(sender.name.as_deref(), Some("Shopbot"));
                pieces.push((index, text));
            }
            ServerMsg::Message(m) if m.client_id == client_id => return (pieces, m.text),
            _ => {}
        }
    }
}

const WORDS: [&str; 4] = ["Your order ", "#1042 ", "ships ", "today."];

/// Streams [`WORDS`] as `client_id`, then stores the whole answer.
async fn stream_answer(bot: &mut Client, conv: &str, client_id: &str) {
    for (i, w) in WORDS.iter().enumerate() {
        bot.send(&delta(conv, client_id, i as u32, w)).await;
    }
    bot.send(&send(conv, client_id, &WORDS.concat())).await;
    bot.until(|m| match m {
        ServerMsg::Ack { client_id: id, .. } if id == client_id => Some(()),
        ServerMsg::Error { code, message, .. } => panic!("refused: {code:?} {message}"),
        _ => None,
    })
    .await;
}

async fn piece_by_piece_then_stored_once(bot_node: &TestRelay, visitor_node: &TestRelay) {
    let mut bot = bot_node.bot(BOT_TOKEN).await;
    let (mut v, conv) = routed_visitor(visitor_node, &mut bot).await;
    stream_answer(&mut bot, &conv, "answer-1").await;
    let (pieces, stored) = pieces_then_message(&mut v, "answer-1").await;
    let expected: Vec<(u32, String)> = WORDS
        .iter()
        .enumerate()
        .map(|(i, w)| (i as u32, w.to_string()))
        .collect();
    assert_eq!(pieces, expected);
    assert_eq!(stored, WORDS.concat());
    // Stored once, as the message; no piece is in the log.
    let log = visitor_node.stored(&conv).await;
    let texts: Vec<&str> = log.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["where is my order?", "Your order #1042 ships today."]
    );

    // Reconnecting in the middle of a stream: the catch-up is the log, never a piece again;
    // the pieces that follow carry their index, so a client that missed 0 shows none of them.
    bot.send(&delta(&conv, "answer-2", 0, "Checking ")).await;
    v.until(|m| matches!(m, ServerMsg::Delta { index: 0, .. }).then_some(()))
        .await;
    let token = v.welcome.as_ref().unwrap().token.clone();
    drop(v);
    let mut again = visitor_node.visitor_with(token, None).await;
    again
        .send(&ClientMsg::Sync {
            conversation_id: conv.clone(),
            since: 0,
        })
        .await;
    let mut caught_up = Vec::new();
    loop {
        match again.recv().await {
            ServerMsg::Synced { .. } => break,
            ServerMsg::Delta { .. } => panic!("a piece was replayed"),
            ServerMsg::Message(m) => caught_up.push(m.client_id),
            _ => {}
        }
    }
    assert_eq!(caught_up, ["v1", "answer-1"]);
    bot.send(&delta(&conv, "answer-2", 1, "the carrier…")).await;
    bot.send(&send(
        &conv,
        "answer-2",
        "Checking the carrier… it is on time.",
    ))
    .await;
    let (pieces, stored) = pieces_then_message(&mut again, "answer-2").await;
    assert_eq!(pieces, [(1, "the carrier…".to_string())]);
    assert_eq!(stored, "Checking the carrier… it is on time.");
    assert_eq!(visitor_node.stored(&conv).await.len(), 3);
}

#[tokio::test]
async fn a_streamed_answer_reaches_the_visitor_piece_by_piece_and_is_stored_once() {
    let relay = TestRelay::start_with(bot_first).await;
    piece_by_piece_then_stored_once(&relay, &relay).await;
}

#[tokio::test]
async fn a_streamed_answer_crosses_relay_nodes_on_redis() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let on_redis = |c: &mut switchboard_relay::config::Config| {
        bot_first(c);
        c.redis_url = Some(url.clone());
    };
    let a = TestRelay::start_with(on_redis).await;
    let b = TestRelay::start_with(on_redis).await;
    // The bot on one node, the visitor on the other.
    piece_by_piece_then_stored_once(&a, &b).await;
}

#[tokio::test]
async fn streams_refuse_what_no_client_could_show() {
    let relay = TestRelay::start_with(bot_first).await;
    let mut bot = relay.bot(BOT_TOKEN).await;
    let (mut v, conv) = routed_visitor(&relay, &mut bot).await;

    // Garbage and malformed pieces.
    bot.raw(r#"{"type":"delta","conversation_id":"#).await;
    assert_eq!(refused(&mut bot).await, ErrorCode::BadJson);
    bot.raw(r#"{"type":"delta","conversation_id":"c","client_id":"a","index":-1,"text":"x"}"#)
        .await;
    assert_eq!(refused(&mut bot).await, ErrorCode::Invalid);
    bot.raw(r#"{"type":"delta","conversation_id":"c","client_id":"a b","index":0,"text":"x"}"#)
        .await;
    assert_eq!(refused(&mut bot).await, ErrorCode::Invalid);
    bot.send(&delta(&conv, "a", 0, "")).await;
    assert_eq!(refused(&mut bot).await, ErrorCode::Invalid);
    bot.send(&delta(&conv, "a", 0, &"x".repeat(MAX_DELTA_BYTES + 1)))
        .await;
    assert_eq!(refused(&mut bot).await, ErrorCode::TooLarge);

    // Out of order: no start, a gap, a second start.
    bot.send(&delta(&conv, "s1", 1, "late")).await;
    assert_eq!(refused(&mut bot).await, ErrorCode::OutOfOrder);
    bot.send(&delta(&conv, "s1", 0, "first ")).await;
    bot.send(&delta(&conv, "s1", 2, "gap")).await;
    assert_eq!(refused(&mut bot).await, ErrorCode::OutOfOrder);
    bot.send(&delta(&conv, "s1", 0, "again")).await;
    assert_eq!(refused(&mut bot).await, ErrorCode::OutOfOrder);
    // A stream stays in its conversation.
    bot.send(&delta("c_elsewhere", "s1", 1, "moved")).await;
    assert_eq!(refused(&mut bot).await, ErrorCode::Invalid);
    // A stream is no longer than the message that ends it.
    let piece = "y".repeat(MAX_DELTA_BYTES);
    let mut index = 1;
    let mut bytes = "first ".len();
    let code = loop {
        bot.send(&delta(&conv, "s1", index, &piece)).await;
        bytes += piece.len();
        if bytes > MAX_TEXT_BYTES {
            break refused(&mut bot).await;
        }
        index += 1;
    };
    assert_eq!(code, ErrorCode::TooLarge);

    // Conversations that are not the bot's.
    bot.send(&delta("c_nowhere", "s2", 0, "hi")).await;
    assert_eq!(refused(&mut bot).await, ErrorCode::NotFound);

    // The visitor saw only what followed on: "first " and the pieces up to the limit.
    let roundtrip = v.roundtrip().await;
    let indexes: Vec<u32> = roundtrip
        .iter()
        .filter_map(|m| match m {
            ServerMsg::Delta { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(indexes, (0..index).collect::<Vec<_>>());

    // Only bots stream.
    v.send(&delta(&conv, "s3", 0, "I am a bot")).await;
    assert_eq!(refused(&mut v).await, ErrorCode::Forbidden);
    let mut agent = relay.agent(AGENT_TOKEN).await;
    agent.send(&delta(&conv, "s3", 0, "so am I")).await;
    assert_eq!(refused(&mut agent).await, ErrorCode::Forbidden);

    // Nothing of it was stored.
    assert_eq!(relay.stored(&conv).await.len(), 1);
}

#[tokio::test]
async fn a_stream_stops_when_an_agent_takes_the_conversation() {
    let relay = TestRelay::start_with(bot_first).await;
    let mut bot = relay.bot(BOT_TOKEN).await;
    let (_v, conv) = routed_visitor(&relay, &mut bot).await;
    bot.send(&delta(&conv, "s1", 0, "Let me ")).await;
    // An agent writing into the bot's conversation takes it over.
    let mut agent = relay.agent(AGENT_TOKEN).await;
    agent
        .send(&send(&conv, "a1", "I'll take it from here."))
        .await;
    bot.until(|m| matches!(m, ServerMsg::Released { .. }).then_some(()))
        .await;
    // Ownership is read again at most a second after the last check.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    bot.send(&delta(&conv, "s1", 1, "check")).await;
    assert_eq!(refused(&mut bot).await, ErrorCode::NotOwner);
    // A new stream is refused at once.
    bot.send(&delta(&conv, "s2", 0, "Hello")).await;
    assert_eq!(refused(&mut bot).await, ErrorCode::NotOwner);
}

#[tokio::test]
async fn a_flood_of_pieces_is_rate_limited() {
    let relay = TestRelay::start_with(|c| {
        bot_first(c);
        c.limits.enabled = true;
    })
    .await;
    let mut bot = relay.bot(BOT_TOKEN).await;
    let (_v, conv) = routed_visitor(&relay, &mut bot).await;
    // Past the bot's burst of deltas (1,000), one byte each so the stream stays in size.
    for i in 0..1_200u32 {
        bot.send(&delta(&conv, "flood", i, "x")).await;
    }
    let (code, retry) = bot
        .until(|m| match m {
            ServerMsg::Error {
                code,
                retry_after_ms,
                ..
            } => Some((*code, *retry_after_ms)),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::RateLimited);
    assert!(retry.is_some_and(|ms| ms > 0));
}
