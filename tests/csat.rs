//! CSAT (issue 16): a visitor rates its conversation once it is resolved; the rating is a
//! `rated` event in the log that the visitor and the site's agents receive (on every node),
//! once per resolution. Garbage, oversized, out-of-order (before the resolve, twice, after a
//! reopen), another visitor's conversation, the wrong scale and floods get typed errors and
//! store nothing. On the embedded broker and on two relay nodes sharing one Redis.

use switchboard_protocol::csat::{Csat, Rate, Scale};
use switchboard_protocol::limits::MAX_RATING_COMMENT_BYTES;
use switchboard_protocol::{ClientMsg, ErrorCode, ServerMsg, Status, SystemEvent};

use crate::redis_server::RedisServer;
use crate::util::{Client, TestRelay, AGENT_TOKEN, OTHER_AGENT_TOKEN, OTHER_SITE};

fn rate(conversation_id: &str, score: u8, comment: Option<&str>) -> ClientMsg {
    ClientMsg::Rate(Rate {
        conversation_id: conversation_id.into(),
        score,
        comment: comment.map(Into::into),
    })
}

/// The code of the next `error` frame (other frames skipped).
async fn refused(c: &mut Client) -> ErrorCode {
    c.until(|m| match m {
        ServerMsg::Error { code, .. } => Some(*code),
        _ => None,
    })
    .await
}

/// The next `rated` event `c` receives for `conv`, with its seq.
async fn rated(c: &mut Client, conv: &str) -> (u64, SystemEvent) {
    c.until(|m| match m {
        ServerMsg::Message(m) if m.conversation_id == conv => match m.event.as_deref() {
            Some(e @ SystemEvent::Rated { .. }) => Some((m.seq, e.clone())),
            _ => None,
        },
        _ => None,
    })
    .await
}

async fn resolve(relay: &TestRelay, agent: &mut Client, conv: &str) {
    let version = relay.version(conv).await;
    agent
        .send(&ClientMsg::SetStatus {
            conversation_id: conv.into(),
            expected_version: version,
            status: Status::Resolved,
        })
        .await;
}

async fn resolved(c: &mut Client) {
    c.until(|m| match m {
        ServerMsg::Message(m) => {
            matches!(m.event.as_deref(), Some(SystemEvent::Resolved { .. })).then_some(())
        }
        _ => None,
    })
    .await;
}

/// The whole story: the visitor on `a`, the agent on `b` (the same relay, or another node).
async fn a_rating_after_a_resolve(a: &TestRelay, b: &TestRelay) {
    let mut alex = b.agent(AGENT_TOKEN).await;
    let mut v = a.visitor().await;
    assert_eq!(
        v.welcome.as_ref().unwrap().csat,
        Some(Csat {
            scale: Scale::Five,
            comment_max: 200
        }),
        "welcome tells the widget the site's prompt"
    );
    let conv = v.conversation_id();
    // Before anything is stored: nothing to rate.
    v.send(&rate(&conv, 5, None)).await;
    assert_eq!(refused(&mut v).await, ErrorCode::NotResolved);
    v.say("m1", "my parcel is late").await;
    v.until(|m| matches!(m, ServerMsg::Ack { seq: 1, .. }).then_some(()))
        .await;
    // Out of order: open, not resolved.
    v.send(&rate(&conv, 5, None)).await;
    assert_eq!(refused(&mut v).await, ErrorCode::NotResolved);

    resolve(b, &mut alex, &conv).await;
    resolved(&mut v).await;

    // Off the site's scale, blank, too long, or malformed: typed errors.
    for (bad, code) in [
        (rate(&conv, 0, None), ErrorCode::Invalid),
        (rate(&conv, 6, None), ErrorCode::Invalid),
        (
            rate(&conv, 5, Some(" \u{200B}\u{FEFF} ")),
            ErrorCode::Invalid,
        ),
        (rate(&conv, 5, Some("ok\u{0}")), ErrorCode::Invalid),
        (rate(&conv, 5, Some(&"é".repeat(201))), ErrorCode::TooLarge),
        (
            rate(&conv, 5, Some(&"x".repeat(MAX_RATING_COMMENT_BYTES + 1))),
            ErrorCode::TooLarge,
        ),
        (rate("c-nobody", 5, None), ErrorCode::NotFound),
    ] {
        v.send(&bad).await;
        assert_eq!(refused(&mut v).await, code, "{bad:?}");
    }
    for raw in [
        format!(r#"{{"type":"rate","conversation_id":"{conv}","score":-1}}"#),
        format!(r#"{{"type":"rate","conversation_id":"{conv}","score":4.5}}"#),
        format!(r#"{{"type":"rate","conversation_id":"{conv}","score":300}}"#),
        format!(r#"{{"type":"rate","conversation_id":"{conv}","score":"5"}}"#),
        format!(r#"{{"type":"rate","conversation_id":"{conv}"}}"#),
        format!(r#"{{"type":"rate","conversation_id":"{conv}","score":5,"comment":7}}"#),
    ] {
        v.raw(&raw).await;
        assert_eq!(refused(&mut v).await, ErrorCode::Invalid, "{raw}");
    }
    // Another visitor may not rate this conversation.
    let mut other = a.visitor().await;
    other.say("o1", "hello").await;
    other
        .until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    other.send(&rate(&conv, 1, Some("spite"))).await;
    assert_eq!(refused(&mut other).await, ErrorCode::Forbidden);
    // Nor an agent.
    alex.send(&rate(&conv, 1, None)).await;
    assert_eq!(refused(&mut alex).await, ErrorCode::Forbidden);
    // Nothing of it was stored: the log is the message and the resolve.
    assert_eq!(a.stored(&conv).await.len(), 2);

    v.send(&rate(&conv, 4, Some("Quick and friendly"))).await;
    let want = SystemEvent::Rated {
        score: 4,
        scale: Scale::Five,
        comment: Some("Quick and friendly".into()),
    };
    assert_eq!(rated(&mut v, &conv).await, (3, want.clone()));
    assert_eq!(rated(&mut alex, &conv).await, (3, want.clone()));
    // The agents' inbox line is told again (the rating bumped the version).
    alex.until(|m| match m {
        ServerMsg::Conversation(s) if s.id == conv && s.version == 2 => Some(()),
        _ => None,
    })
    .await;

    // Once per resolution: the first stands.
    v.send(&rate(&conv, 1, Some("changed my mind"))).await;
    assert_eq!(refused(&mut v).await, ErrorCode::AlreadyRated);
    let log = a.stored(&conv).await;
    assert_eq!(log.len(), 3);
    assert_eq!(log[2].event.as_deref(), Some(&want));

    // A reconnecting visitor reads its rating in the sync.
    let token = v.welcome.as_ref().unwrap().token.clone();
    let mut again = a.visitor_with(token, None).await;
    again
        .send(&ClientMsg::Sync {
            conversation_id: conv.clone(),
            since: 2,
        })
        .await;
    assert_eq!(rated(&mut again, &conv).await, (3, want));

    // Reopened by the visitor's message: nothing to rate until the next resolve.
    v.say("m2", "one more thing").await;
    v.until(|m| matches!(m, ServerMsg::Ack { seq: 5, .. }).then_some(()))
        .await;
    v.send(&rate(&conv, 5, None)).await;
    assert_eq!(refused(&mut v).await, ErrorCode::NotResolved);
    resolve(b, &mut alex, &conv).await;
    resolved(&mut v).await;
    v.send(&rate(&conv, 5, None)).await;
    assert_eq!(rated(&mut v, &conv).await.0, 7);
}

#[tokio::test]
async fn a_rating_is_stored_once_per_resolution_on_the_embedded_broker() {
    let relay = TestRelay::start().await;
    a_rating_after_a_resolve(&relay, &relay).await;
    relay.stop().await;
}

#[tokio::test]
async fn a_rating_on_one_node_reaches_an_agent_on_another_through_redis() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let a = TestRelay::start_with(|c| c.redis_url = Some(url.clone())).await;
    let b = TestRelay::start_with(|c| c.redis_url = Some(url.clone())).await;
    a_rating_after_a_resolve(&a, &b).await;
    a.stop().await;
    b.stop().await;
    drop(redis);
}

/// The other site asks for thumbs without a comment; a site without `[sites.csat]` (or
/// switched off) tells the widget nothing and refuses ratings.
#[tokio::test]
async fn each_site_has_its_scale_and_a_site_may_ask_for_none() {
    let relay = TestRelay::start_with(|c| c.sites[0].csat = None).await;
    let mut v = relay.visitor().await;
    assert_eq!(v.welcome.as_ref().unwrap().csat, None);
    let conv = v.conversation_id();
    v.say("m1", "hi").await;
    v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    resolve(&relay, &mut alex, &conv).await;
    resolved(&mut v).await;
    v.send(&rate(&conv, 5, None)).await;
    assert_eq!(refused(&mut v).await, ErrorCode::Forbidden);

    let mut thumbs = Client::connect(
        &relay.url(&format!("/v1/visitor?site={OTHER_SITE}")),
        Some("https://other.example"),
    )
    .await
    .unwrap();
    thumbs
        .send(&ClientMsg::Hello(switchboard_protocol::client::Hello {
            protocol: switchboard_protocol::PROTOCOL_VERSION,
            token: None,
            context: None,
            identity_token: None,
        }))
        .await;
    let mut thumbs = thumbs.welcome().await;
    assert_eq!(
        thumbs.welcome.as_ref().unwrap().csat,
        Some(Csat {
            scale: Scale::Thumbs,
            comment_max: 0
        })
    );
    let conv = thumbs.conversation_id();
    thumbs.say("t1", "hi").await;
    thumbs
        .until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    let mut olga = relay.agent(OTHER_AGENT_TOKEN).await;
    resolve(&relay, &mut olga, &conv).await;
    resolved(&mut thumbs).await;
    for bad in [
        rate(&conv, 2, None),
        rate(&conv, 1, Some("no comments here")),
    ] {
        thumbs.send(&bad).await;
        assert_eq!(refused(&mut thumbs).await, ErrorCode::Invalid, "{bad:?}");
    }
    thumbs.send(&rate(&conv, 0, None)).await;
    assert_eq!(
        rated(&mut thumbs, &conv).await.1,
        SystemEvent::Rated {
            score: 0,
            scale: Scale::Thumbs,
            comment: None
        }
    );
    relay.stop().await;
}

/// A visitor hammering `rate` is limited like its messages: refused with `rate_limited`.
#[tokio::test]
async fn a_flood_of_ratings_is_rate_limited() {
    let relay = TestRelay::start_with(|c| c.limits.enabled = true).await;
    let mut v = relay.visitor().await;
    let conv = v.conversation_id();
    let mut limited = false;
    for _ in 0..60 {
        v.send(&rate(&conv, 5, None)).await;
        match refused(&mut v).await {
            ErrorCode::RateLimited => {
                limited = true;
                break;
            }
            code => assert_eq!(code, ErrorCode::NotResolved),
        }
    }
    assert!(limited, "60 ratings in a row were never limited");
    relay.stop().await;
}
