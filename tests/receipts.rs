//! Read receipts and the page trail (issue 16) over real sockets, on the embedded broker and
//! on two relay nodes sharing one Redis: marks reach the other side across nodes, move only
//! forward, stop at the conversation's last seq, survive a reconnect, and a flood of them is
//! answered from memory; the trail follows the visitor's pages. Garbage, oversized,
//! out-of-order and foreign marks get typed errors and change nothing.

use switchboard_protocol::context::Page;
use switchboard_protocol::limits::MAX_ID_BYTES;
use switchboard_protocol::{
    ClientMsg, CloseCode, Context, ErrorCode, PageVisit, ReadSide, ServerMsg,
};

use crate::redis_server::RedisServer;
use crate::util::{Client, TestRelay, AGENT_TOKEN, SITE, SITE_ORIGIN};

fn read(conversation_id: &str, seq: u64) -> ClientMsg {
    ClientMsg::Read {
        conversation_id: conversation_id.into(),
        seq,
    }
}

fn context(path: &str, title: &str) -> Context {
    Context {
        page: Some(Page {
            url: format!("https://shop.example{path}"),
            title: title.into(),
            ..Page::default()
        }),
        ..Context::default()
    }
}

/// The next `read` frame of `side` for `conv`.
async fn read_frame(c: &mut Client, conv: &str, side: ReadSide) -> u64 {
    c.until(|m| match m {
        ServerMsg::Read {
            conversation_id,
            side: s,
            seq,
        } if conversation_id == conv && *s == side => Some(*seq),
        _ => None,
    })
    .await
}

/// The error the next refused frame gets.
async fn refused(c: &mut Client) -> ErrorCode {
    c.until(|m| match m {
        ServerMsg::Error { code, .. } => Some(*code),
        _ => None,
    })
    .await
}

/// Everything before a pong, asserting no `read` frame among it.
async fn no_read_frame(c: &mut Client, who: &str) {
    for m in c.roundtrip().await {
        assert!(!matches!(m, ServerMsg::Read { .. }), "{who} got {m:?}");
    }
}

/// The visitor on `a`, the agent on `b` (another node, or the same relay).
async fn marks_travel_forward_only(a: &TestRelay, b: &TestRelay) {
    let mut alex = b.agent(AGENT_TOKEN).await;
    let mut v = a.visitor_with(None, Some(context("/shoes", "Shoes"))).await;
    let conv = v.conversation_id();
    // Before anything is stored, every mark is past the end.
    v.send(&read(&conv, 1)).await;
    assert_eq!(refused(&mut v).await, ErrorCode::SeqAhead);
    v.say("m1", "hello").await;
    v.say("m2", "anyone?").await;
    v.until(|m| matches!(m, ServerMsg::Ack { seq: 2, .. }).then_some(()))
        .await;
    alex.send(&ClientMsg::Sync {
        conversation_id: conv.clone(),
        since: 0,
    })
    .await;
    alex.until(|m| matches!(m, ServerMsg::Synced { .. }).then_some(()))
        .await;
    let before = a.relay.state.broker.summary(&conv).await.unwrap().unwrap();

    // The agent reads: the visitor hears it (on the other node).
    alex.send(&read(&conv, 2)).await;
    assert_eq!(read_frame(&mut v, &conv, ReadSide::Agents).await, 2);
    // The visitor reads: the agent hears it.
    v.send(&read(&conv, 2)).await;
    assert_eq!(read_frame(&mut alex, &conv, ReadSide::Visitor).await, 2);

    // A lower or repeated mark changes nothing and tells nobody; a flood of them neither.
    for _ in 0..50 {
        alex.send(&read(&conv, 1)).await;
        alex.send(&read(&conv, 2)).await;
    }
    no_read_frame(&mut alex, "the agent").await;
    no_read_frame(&mut v, "the visitor").await;
    // Past the end: a typed refusal, and the mark stays.
    alex.send(&read(&conv, 3)).await;
    assert_eq!(refused(&mut alex).await, ErrorCode::SeqAhead);
    v.send(&read(&conv, u64::MAX)).await;
    assert_eq!(refused(&mut v).await, ErrorCode::SeqAhead);
    assert_eq!(
        a.relay.state.broker.read_marks(&conv).await.unwrap(),
        (2, 2)
    );
    // Marks are not activity: the inbox line, preview and version are as they were.
    assert_eq!(
        a.relay.state.broker.summary(&conv).await.unwrap().unwrap(),
        before
    );

    // Garbage: each a typed error, the connection stays.
    for (frame, code) in [
        (
            r#"{"type":"read","conversation_id":"c","seq":0}"#.to_owned(),
            ErrorCode::Invalid,
        ),
        (
            r#"{"type":"read","conversation_id":"c","seq":-3}"#.to_owned(),
            ErrorCode::Invalid,
        ),
        (
            r#"{"type":"read","conversation_id":"c","seq":1.5}"#.to_owned(),
            ErrorCode::Invalid,
        ),
        (
            r#"{"type":"read","conversation_id":["c"],"seq":1}"#.to_owned(),
            ErrorCode::Invalid,
        ),
        (r#"{"type":"read","seq":1}"#.to_owned(), ErrorCode::Invalid),
        (
            format!(
                r#"{{"type":"read","conversation_id":"{}","seq":1}}"#,
                "c".repeat(MAX_ID_BYTES + 1)
            ),
            ErrorCode::Invalid,
        ),
        (
            format!(
                r#"{{"type":"read","conversation_id":"c","seq":1,"pad":"{}"}}"#,
                "x".repeat(70 * 1024)
            ),
            ErrorCode::TooLarge,
        ),
        (
            r#"{"type":"read","conversation_id":"c_unknown","seq":1}"#.to_owned(),
            ErrorCode::NotFound,
        ),
    ] {
        for c in [&mut v, &mut alex] {
            c.raw(&frame).await;
            assert_eq!(refused(c).await, code, "{frame:.80}");
        }
    }
    // Another visitor's conversation is not this visitor's to mark.
    let mut other = a.visitor().await;
    other.send(&read(&conv, 1)).await;
    assert_eq!(refused(&mut other).await, ErrorCode::Forbidden);
    assert_eq!(
        a.relay.state.broker.read_marks(&conv).await.unwrap(),
        (2, 2)
    );

    // A reconnecting visitor learns the agents' mark after its catch-up; an agent, both.
    let token = v.welcome.as_ref().unwrap().token.clone();
    drop(v);
    let mut again = b.visitor_with(token, None).await;
    again
        .send(&ClientMsg::Sync {
            conversation_id: conv.clone(),
            since: 0,
        })
        .await;
    assert_eq!(read_frame(&mut again, &conv, ReadSide::Agents).await, 2);
    no_read_frame(&mut again, "the visitor after its catch-up").await;
    alex.send(&ClientMsg::Sync {
        conversation_id: conv.clone(),
        since: 2,
    })
    .await;
    assert_eq!(read_frame(&mut alex, &conv, ReadSide::Visitor).await, 2);
    assert_eq!(read_frame(&mut alex, &conv, ReadSide::Agents).await, 2);
}

#[tokio::test]
async fn read_marks_on_the_embedded_broker() {
    let relay = TestRelay::start().await;
    marks_travel_forward_only(&relay, &relay).await;
}

#[tokio::test]
async fn read_marks_across_two_nodes_on_redis() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let a = TestRelay::start_with(|c| c.redis_url = Some(url.clone())).await;
    let b = TestRelay::start_with(|c| c.redis_url = Some(url.clone())).await;
    marks_travel_forward_only(&a, &b).await;
}

#[tokio::test]
async fn a_read_before_hello_closes_the_connection() {
    let relay = TestRelay::start().await;
    let mut c = Client::connect(
        &relay.url(&format!("/v1/visitor?site={SITE}")),
        Some(SITE_ORIGIN),
    )
    .await
    .unwrap();
    c.send(&read("c_1", 1)).await;
    assert_eq!(c.closed().await, Some(CloseCode::BAD_HELLO.code));
}

#[tokio::test]
async fn a_flood_of_marks_is_rate_limited() {
    let relay = TestRelay::start_with(|c| c.limits.enabled = true).await;
    let mut v = relay.visitor().await;
    let conv = v.conversation_id();
    v.say("m1", "hi").await;
    v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    // The control quota's burst, then refusals, then the connection ends.
    for _ in 0..400 {
        v.send(&read(&conv, 1)).await;
    }
    let mut limited = false;
    let code = loop {
        match v.next_event().await {
            crate::util::Event::Msg(m) => {
                if let ServerMsg::Error {
                    code: ErrorCode::RateLimited,
                    retry_after_ms,
                    ..
                } = *m
                {
                    assert!(retry_after_ms.is_some());
                    limited = true;
                }
            }
            crate::util::Event::Closed(code) => break code,
        }
    };
    assert!(limited);
    assert_eq!(code, Some(CloseCode::RATE_LIMITED.code));
    assert_eq!(
        relay.relay.state.broker.read_marks(&conv).await.unwrap(),
        (1, 0)
    );
}

/// The trail on `a` (visitor) and `b` (agent).
async fn the_trail_follows_the_visitor(a: &TestRelay, b: &TestRelay) {
    let mut alex = b.agent(AGENT_TOKEN).await;
    let mut v = a.visitor_with(None, Some(context("/", "Home"))).await;
    let conv = v.conversation_id();
    // The page the visitor chats from starts the trail.
    v.say("m1", "hi").await;
    v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    let urls = |pages: &[PageVisit]| pages.iter().map(|p| p.url.clone()).collect::<Vec<_>>();
    // A single-page app's navigation: the widget sends the new page.
    v.send(&ClientMsg::SetContext {
        context: context("/cart", "Cart"),
    })
    .await;
    let pages = trail(&mut alex, &conv).await;
    assert_eq!(
        urls(&pages),
        ["https://shop.example/", "https://shop.example/cart"]
    );
    assert_eq!(pages[1].title, "Cart");
    assert!(pages[0].at <= pages[1].at);
    // The same page again (a title change, a cart update) is no new page.
    v.send(&ClientMsg::SetContext {
        context: context("/cart", "Cart (2)"),
    })
    .await;
    alex.until(|m| matches!(m, ServerMsg::Context { .. }).then_some(()))
        .await;
    no_page_trail(&mut alex).await;
    // A URL that is not http(s) is refused like any bad context, and stores nothing.
    v.raw(r#"{"type":"set_context","context":{"page":{"url":"javascript:alert(1)"}}}"#)
        .await;
    assert_eq!(refused(&mut v).await, ErrorCode::Invalid);
    v.raw(&format!(
        r#"{{"type":"set_context","context":{{"page":{{"url":"https://shop.example/{}"}}}}}}"#,
        "a".repeat(3000)
    ))
    .await;
    assert!(matches!(
        refused(&mut v).await,
        ErrorCode::Invalid | ErrorCode::TooLarge
    ));
    // Many pages: the last 20 are kept, oldest first.
    for n in 0..25 {
        v.send(&ClientMsg::SetContext {
            context: context(&format!("/p{n}"), "P"),
        })
        .await;
        // Each frame taken before the next goes, so the order is the visitor's.
        v.roundtrip().await;
    }
    let stored = a
        .relay
        .state
        .broker
        .page_trail(&v.welcome.as_ref().unwrap().id)
        .await
        .unwrap();
    assert_eq!(stored.len(), 20);
    assert_eq!(stored[0].url, "https://shop.example/p5");
    assert_eq!(stored[19].url, "https://shop.example/p24");
    // An agent opening the conversation gets the whole trail.
    let mut sam = b.agent(AGENT_TOKEN).await;
    sam.send(&ClientMsg::Sync {
        conversation_id: conv.clone(),
        since: 0,
    })
    .await;
    assert_eq!(trail(&mut sam, &conv).await, stored);
}

/// The next `page_trail` frame for `conv`.
async fn trail(c: &mut Client, conv: &str) -> Vec<PageVisit> {
    c.until(|m| match m {
        ServerMsg::PageTrail {
            conversation_id,
            pages,
        } if conversation_id == conv => Some(pages.clone()),
        _ => None,
    })
    .await
}

async fn no_page_trail(c: &mut Client) {
    for m in c.roundtrip().await {
        assert!(!matches!(m, ServerMsg::PageTrail { .. }), "{m:?}");
    }
}

#[tokio::test]
async fn the_page_trail_on_the_embedded_broker() {
    let relay = TestRelay::start().await;
    the_trail_follows_the_visitor(&relay, &relay).await;
}

#[tokio::test]
async fn the_page_trail_across_two_nodes_on_redis() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let a = TestRelay::start_with(|c| c.redis_url = Some(url.clone())).await;
    let b = TestRelay::start_with(|c| c.redis_url = Some(url.clone())).await;
    the_trail_follows_the_visitor(&a, &b).await;
}
