//! Search and visitor history over real sockets, on SQLite (FTS5) and on a real Redis with
//! RediSearch loaded: a word finds its messages, the filters (status, team, assignee, dates)
//! narrow them, another site's transcripts are never reached, query syntax of either engine
//! (`"`, `*`, `NEAR(`, `col:`, `@site:{…}`) is only ever words, oversized input is refused with
//! typed errors, searches are rate limited, deleted visitors leave the index; a Redis without
//! the module answers `search_unavailable`. History lists a verified customer's other
//! conversations across devices, never an unverified claim's, never to another site's agent.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use switchboard_protocol::client::{Hello, Send};
use switchboard_protocol::context::Identity;
use switchboard_protocol::search::{SearchHit, SearchQuery, SearchStatus};
use switchboard_protocol::{
    ClientMsg, Context, ConversationSummary, ErrorCode, SenderKind, ServerMsg, Status,
    PROTOCOL_VERSION,
};
use switchboard_relay::config::Config;

use crate::redis_server::RedisServer;
use crate::util::*;

const SECRET: &str = "shop-identity-secret-0123456789abcdef";

fn with_secret(c: &mut Config) {
    c.sites[0].identity_secret = Some(SECRET.into());
}

fn identity_token(sub: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": sub, "aud": SITE, "exp": exp, "name": "Ada"}),
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A visitor of `site` (with an identity token, or a context) who said `text`: its
/// conversation id.
async fn said(
    relay: &TestRelay,
    site: &str,
    origin: &str,
    identity: Option<String>,
    context: Option<Context>,
    text: &str,
) -> String {
    let mut c = Client::connect(
        &relay.url(&format!("/v1/visitor?site={site}")),
        Some(origin),
    )
    .await
    .unwrap();
    c.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: None,
        context,
        identity_token: identity,
    }))
    .await;
    let mut c = c.welcome().await;
    c.say("m1", text).await;
    c.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    c.conversation_id()
}

/// The answer to one search: its hits and `more`, or the refusal's code.
async fn search(agent: &mut Client, q: SearchQuery) -> Result<(Vec<SearchHit>, bool), ErrorCode> {
    agent.send(&ClientMsg::Search(q)).await;
    agent
        .until(|m| match m {
            ServerMsg::SearchResults { hits, more, .. } => Some(Ok((hits.clone(), *more))),
            ServerMsg::Error {
                code,
                client_id: None,
                ..
            } => Some(Err(*code)),
            _ => None,
        })
        .await
}

fn words(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.into(),
        ..Default::default()
    }
}

/// Which conversations the hits are in, in order.
fn convs(hits: &[SearchHit]) -> Vec<&str> {
    hits.iter().map(|h| h.conversation.id.as_str()).collect()
}

async fn version(relay: &TestRelay, conv: &str) -> u64 {
    let c = relay.relay.state.broker.conversation(conv).await.unwrap();
    c.unwrap().state.version
}

async fn changed(agent: &mut Client, conv: &str, done: impl Fn(&ConversationSummary) -> bool) {
    agent
        .until(|m| match m {
            ServerMsg::Conversation(s) if s.id == conv && done(s) => Some(()),
            _ => None,
        })
        .await;
}

/// Everything search promises, on whichever store the relay runs.
async fn search_suite(relay: &TestRelay) {
    let start = now_ms() - 1;
    let order = said(
        relay,
        SITE,
        SITE_ORIGIN,
        None,
        None,
        "Where is my order 1042? It is late.",
    )
    .await;
    let kettle = said(
        relay,
        SITE,
        SITE_ORIGIN,
        None,
        None,
        "Refund for the blue kettle please",
    )
    .await;
    let other = said(
        relay,
        OTHER_SITE,
        "https://other.example",
        None,
        None,
        "My order 1042 at the other shop, secret",
    )
    .await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    let mut olga = relay.agent(OTHER_AGENT_TOKEN).await;
    alex.send(&ClientMsg::Send(Send {
        conversation_id: order.clone(),
        client_id: "r1".into(),
        text: "Order 1042 shipped yesterday".into(),
        rich: None,
        canned_id: None,
    }))
    .await;
    alex.until(|m| {
        matches!(m, ServerMsg::Ack { client_id, .. } if client_id == "r1").then_some(())
    })
    .await;

    // A word finds its messages, newest first, with a snippet around it.
    let (hits, more) = search(&mut alex, words("1042")).await.unwrap();
    assert_eq!(convs(&hits), [order.as_str(), order.as_str()], "{hits:?}");
    assert!(!more);
    assert_eq!(hits[0].sender, SenderKind::Agent);
    assert_eq!(hits[1].sender, SenderKind::Visitor);
    assert_eq!(hits[1].snippet, "Where is my order 1042? It is late.");
    assert!(hits[0].seq > hits[1].seq);
    // Case and punctuation do not matter; every word must be there.
    let (hits, _) = search(&mut alex, words("  KETTLE, blue!")).await.unwrap();
    assert_eq!(convs(&hits), [kettle.as_str()]);
    let (hits, _) = search(&mut alex, words("kettle 1042")).await.unwrap();
    assert!(hits.is_empty());

    // Another site's transcripts: never, by any word; its own agent finds them.
    for q in ["secret", "shop", "other"] {
        let (hits, _) = search(&mut alex, words(q)).await.unwrap();
        assert!(hits.is_empty(), "{q}: {hits:?}");
    }
    let (hits, _) = search(&mut olga, words("1042")).await.unwrap();
    assert_eq!(convs(&hits), [other.as_str()]);
    assert_eq!(hits[0].conversation.site, OTHER_SITE);

    // Paging.
    let page = |offset, limit| SearchQuery {
        offset,
        limit: Some(limit),
        ..words("1042")
    };
    let (first, more) = search(&mut alex, page(0, 1)).await.unwrap();
    assert!(more);
    let (second, more) = search(&mut alex, page(1, 1)).await.unwrap();
    assert!(!more);
    assert_ne!(first[0].seq, second[0].seq);

    // Filters: assignee, status, team, dates; the index follows each change.
    let v = version(relay, &order).await;
    alex.send(&ClientMsg::Assign {
        conversation_id: order.clone(),
        expected_version: v,
        agent: Some("alex".into()),
    })
    .await;
    changed(&mut alex, &order, |s| s.assignee.as_deref() == Some("alex")).await;
    let v = version(relay, &order).await;
    alex.send(&ClientMsg::SetStatus {
        conversation_id: order.clone(),
        expected_version: v,
        status: Status::Resolved,
    })
    .await;
    changed(&mut alex, &order, |s| s.status == Status::Resolved).await;
    let with_status = |s| SearchQuery {
        status: Some(s),
        ..words("1042")
    };
    assert_eq!(
        count(&mut alex, with_status(SearchStatus::Resolved)).await,
        2
    );
    assert_eq!(count(&mut alex, with_status(SearchStatus::Open)).await, 0);
    assert_eq!(
        count(
            &mut alex,
            SearchQuery {
                status: Some(SearchStatus::Open),
                ..words("kettle")
            }
        )
        .await,
        1
    );
    let assigned = |a: &str| SearchQuery {
        assignee: Some(a.into()),
        ..words("1042")
    };
    assert_eq!(count(&mut alex, assigned("alex")).await, 2);
    assert_eq!(count(&mut alex, assigned("olga")).await, 0);
    let team = |t: &str| SearchQuery {
        team: Some(t.into()),
        ..words("1042")
    };
    assert_eq!(count(&mut alex, team(TEAM)).await, 2);
    assert_eq!(count(&mut alex, team("billing")).await, 0);
    let dates = |from: Option<u64>, to: Option<u64>| SearchQuery {
        from,
        to,
        ..words("1042")
    };
    assert_eq!(count(&mut alex, dates(Some(start), None)).await, 2);
    assert_eq!(
        count(&mut alex, dates(Some(now_ms() + 3_600_000), None)).await,
        0
    );
    assert_eq!(count(&mut alex, dates(None, Some(start))).await, 0);
    assert_eq!(
        count(&mut alex, dates(Some(start), Some(now_ms() + 1000))).await,
        2
    );
    // Query syntax of FTS5 and RediSearch is only ever words.
    for q in [
        "\"1042\"",
        "1042\"",
        "1042*",
        "-1042",
        "(1042)|",
        "text:1042",
        "1042 col:order",
        "NEAR(order 1042)",
        "@site:{other} 1042",
        "1042 OR secret",
        "^1042 AND shop",
        "1042 @site:{shop|other}",
    ] {
        let (hits, _) = search(&mut alex, words(q))
            .await
            .unwrap_or_else(|e| panic!("{q}: {e:?}"));
        assert!(
            hits.iter().all(|h| h.conversation.id == order),
            "{q}: {hits:?}"
        );
    }
    for q in ["\"", "*", "\"*\"", "():{}|@-^", ""] {
        assert_eq!(
            search(&mut alex, words(q)).await.unwrap_err(),
            ErrorCode::Invalid,
            "{q}"
        );
    }
    let (hits, _) = search(&mut alex, words("NEAR(")).await.unwrap();
    assert!(hits.is_empty());

    // Oversized or malformed input: typed refusals, and the connection stays.
    let refused = [
        (words(&"a".repeat(257)), ErrorCode::TooLarge),
        (words("a b c d e f g h i"), ErrorCode::TooLarge),
        (words(&"w".repeat(65)), ErrorCode::TooLarge),
        (
            SearchQuery {
                limit: Some(0),
                ..words("1042")
            },
            ErrorCode::Invalid,
        ),
        (
            SearchQuery {
                limit: Some(21),
                ..words("1042")
            },
            ErrorCode::Invalid,
        ),
        (
            SearchQuery {
                offset: 201,
                ..words("1042")
            },
            ErrorCode::Invalid,
        ),
        (dates(Some(5), Some(5)), ErrorCode::Invalid),
        (team(""), ErrorCode::Invalid),
        (assigned(&"x".repeat(65)), ErrorCode::Invalid),
    ];
    for (q, code) in refused {
        assert_eq!(
            search(&mut alex, q.clone()).await.unwrap_err(),
            code,
            "{q:?}"
        );
    }
    for raw in [
        r#"{"type":"search","text":1042}"#,
        r#"{"type":"search"}"#,
        r#"{"type":"search","text":"1042","status":"lost"}"#,
        r#"{"type":"search","text":"1042","offset":-1}"#,
    ] {
        alex.raw(raw).await;
        let code = alex
            .until(|m| match m {
                ServerMsg::Error { code, .. } => Some(*code),
                _ => None,
            })
            .await;
        assert_eq!(code, ErrorCode::Invalid, "{raw}");
    }
    alex.raw(&format!(
        r#"{{"type":"search","text":"{}"}}"#,
        "a ".repeat(40_000)
    ))
    .await;
    let code = alex
        .until(|m| match m {
            ServerMsg::Error { code, .. } => Some(*code),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::TooLarge);
    assert_eq!(
        count(&mut alex, words("1042")).await,
        2,
        "the connection still serves"
    );

    // Visitors cannot search.
    let mut visitor = relay.visitor().await;
    visitor.send(&ClientMsg::Search(words("1042"))).await;
    let code = visitor
        .until(|m| match m {
            ServerMsg::Error { code, .. } => Some(*code),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::Forbidden);

    // A deleted visitor leaves nothing to find.
    let visitor_id = relay
        .relay
        .state
        .broker
        .summary(&kettle)
        .await
        .unwrap()
        .unwrap()
        .visitor_id;
    relay
        .relay
        .state
        .broker
        .delete_visitor(&visitor_id)
        .await
        .unwrap();
    assert_eq!(count(&mut alex, words("kettle")).await, 0);
}

async fn count(agent: &mut Client, q: SearchQuery) -> usize {
    search(agent, q).await.unwrap().0.len()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn history(agent: &mut Client, conv: &str) -> Result<Vec<String>, ErrorCode> {
    agent
        .send(&ClientMsg::VisitorHistory {
            conversation_id: conv.into(),
        })
        .await;
    agent
        .until(|m| match m {
            ServerMsg::VisitorHistory {
                conversation_id,
                items,
            } if conversation_id == conv => Some(Ok(items.iter().map(|s| s.id.clone()).collect())),
            ServerMsg::Error {
                code,
                client_id: None,
                ..
            } => Some(Err(*code)),
            _ => None,
        })
        .await
}

/// A verified customer's conversations on two devices list each other; an unverified claim
/// to the same id, another customer and another site's agent get nothing of them.
async fn history_suite(relay: &TestRelay) {
    let first = said(
        relay,
        SITE,
        SITE_ORIGIN,
        Some(identity_token("cust-1")),
        None,
        "first device",
    )
    .await;
    let second = said(
        relay,
        SITE,
        SITE_ORIGIN,
        Some(identity_token("cust-1")),
        None,
        "second device",
    )
    .await;
    let someone = said(
        relay,
        SITE,
        SITE_ORIGIN,
        Some(identity_token("cust-2")),
        None,
        "someone else",
    )
    .await;
    let claim = Context {
        identity: Some(Identity {
            id: Some("cust-1".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let claimed = said(
        relay,
        SITE,
        SITE_ORIGIN,
        None,
        Some(claim),
        "I say I am cust-1",
    )
    .await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    assert_eq!(history(&mut alex, &second).await.unwrap(), [first.as_str()]);
    assert_eq!(history(&mut alex, &first).await.unwrap(), [second.as_str()]);
    assert!(history(&mut alex, &someone).await.unwrap().is_empty());
    assert!(history(&mut alex, &claimed).await.unwrap().is_empty());
    let mut olga = relay.agent(OTHER_AGENT_TOKEN).await;
    assert_eq!(
        history(&mut olga, &second).await.unwrap_err(),
        ErrorCode::Forbidden
    );
    assert_eq!(
        history(&mut alex, "c_nope").await.unwrap_err(),
        ErrorCode::NotFound
    );
    assert_eq!(
        history(&mut alex, &"c".repeat(65)).await.unwrap_err(),
        ErrorCode::Invalid
    );
    // A device deleted (privacy): gone from the other's history.
    let v = relay
        .relay
        .state
        .broker
        .summary(&first)
        .await
        .unwrap()
        .unwrap()
        .visitor_id;
    relay.relay.state.broker.delete_visitor(&v).await.unwrap();
    assert!(history(&mut alex, &second).await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_search_finds_filters_and_stays_in_the_agents_sites() {
    let relay = TestRelay::start().await;
    search_suite(&relay).await;
    relay.stop().await;
}

#[tokio::test]
async fn redisearch_search_finds_filters_and_stays_in_the_agents_sites() {
    let redis = RedisServer::start_with_search().await;
    let url = redis.url();
    let relay = TestRelay::start_with(|c| c.redis_url = Some(url)).await;
    search_suite(&relay).await;
    relay.stop().await;
    drop(redis);
}

#[tokio::test]
async fn redis_without_the_search_module_answers_search_unavailable() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let relay = TestRelay::start_with(|c| c.redis_url = Some(url)).await;
    said(&relay, SITE, SITE_ORIGIN, None, None, "order 1042").await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    assert_eq!(
        search(&mut alex, words("1042")).await.unwrap_err(),
        ErrorCode::SearchUnavailable
    );
    // Everything else still works on that connection.
    alex.send(&ClientMsg::Ping { nonce: Some(7) }).await;
    alex.until(|m| matches!(m, ServerMsg::Pong { nonce: Some(7) }).then_some(()))
        .await;
    relay.stop().await;
    drop(redis);
}

#[tokio::test]
async fn searches_are_rate_limited() {
    let relay = TestRelay::start_with(|c| c.limits.enabled = true).await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    let mut limited = None;
    for _ in 0..20 {
        if let Err(code) = search(&mut alex, words("anything")).await {
            limited = Some(code);
            break;
        }
    }
    assert_eq!(limited, Some(ErrorCode::RateLimited));
    relay.stop().await;
}

#[tokio::test]
async fn sqlite_history_spans_a_verified_customers_devices() {
    let relay = TestRelay::start_with(with_secret).await;
    history_suite(&relay).await;
    relay.stop().await;
}

#[tokio::test]
async fn redis_history_spans_a_verified_customers_devices() {
    let redis = RedisServer::start_with_search().await;
    let url = redis.url();
    let relay = TestRelay::start_with(|c| {
        with_secret(c);
        c.redis_url = Some(url);
    })
    .await;
    history_suite(&relay).await;
    relay.stop().await;
    drop(redis);
}
