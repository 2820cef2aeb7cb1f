//! Canned replies over real sockets, on SQLite and on two relay nodes sharing one Redis:
//! seeded from the configuration once, listed by every agent of the site, changed by admins
//! only (a non-admin, another site's admin, garbage and oversized frames change nothing),
//! bounded per site, told live to the site's agents on every node; a send naming a canned
//! reply of another site, or still holding a raw placeholder, is refused and stores nothing.

use switchboard_protocol::client::Send;
use switchboard_protocol::context::Order;
use switchboard_protocol::limits::{
    MAX_CANNED_BODY_BYTES, MAX_CANNED_PER_SITE, MAX_CANNED_SHORTCUT_BYTES,
};
use switchboard_protocol::{CannedReply, ClientMsg, Context, ErrorCode, ServerMsg};
use switchboard_relay::config::{Agent, AgentRole, CannedSeed, Config};
use switchboard_relay::limits::Rate;

use crate::redis_server::RedisServer;
use crate::util::*;

const ADMIN_TOKEN: &str = "admin-token-ada-0123456789abcdef0123";
const OTHER_ADMIN_TOKEN: &str = "admin-token-oda-0123456789abcdef0123";

fn seed(shortcut: &str, body: &str) -> CannedSeed {
    CannedSeed {
        shortcut: shortcut.into(),
        body: body.into(),
    }
}

/// Two admins (one per site) and seeds for both sites.
fn with_canned(c: &mut Config) {
    for (id, token, site) in [
        ("ada", ADMIN_TOKEN, SITE),
        ("oda", OTHER_ADMIN_TOKEN, OTHER_SITE),
    ] {
        c.agents.push(Agent {
            id: id.into(),
            name: id.to_uppercase(),
            token: Some(token.into()),
            password_hash: None,
            email: None,
            sites: vec![site.into()],
            role: AgentRole::Admin,
        });
    }
    c.sites[0].canned = vec![seed("order", "Order {{order.number}} is {{order.status}}")];
    c.sites[1].canned = vec![seed("other", "Only for the other site")];
}

fn error(m: &ServerMsg) -> Option<(ErrorCode, Option<String>)> {
    match m {
        ServerMsg::Error {
            code, client_id, ..
        } => Some((*code, client_id.clone())),
        _ => None,
    }
}

fn canned_of(site: &str) -> impl Fn(&ServerMsg) -> Option<Vec<CannedReply>> + '_ {
    move |m| match m {
        ServerMsg::Canned { site: s, items } if s == site => Some(items.clone()),
        _ => None,
    }
}

/// Sends `msg` and returns the error it is refused with.
async fn refused(c: &mut Client, msg: &ClientMsg) -> ErrorCode {
    c.send(msg).await;
    c.until(error).await.0
}

async fn refused_raw(c: &mut Client, text: &str) -> ErrorCode {
    c.raw(text).await;
    c.until(error).await.0
}

async fn list(c: &mut Client, site: &str) -> Vec<CannedReply> {
    c.send(&ClientMsg::ListCanned {
        site: Some(site.into()),
    })
    .await;
    c.until(canned_of(site)).await
}

fn create(site: &str, shortcut: &str, body: &str) -> ClientMsg {
    ClientMsg::CreateCanned {
        site: site.into(),
        shortcut: shortcut.into(),
        body: body.into(),
    }
}

fn send(conv: &str, client_id: &str, text: &str, canned_id: Option<&str>) -> ClientMsg {
    ClientMsg::Send(Send {
        conversation_id: conv.into(),
        client_id: client_id.into(),
        text: text.into(),
        rich: None,
        canned_id: canned_id.map(str::to_owned),
    })
}

/// The whole behaviour, against `a` (where admins act) and `b` (another node, or the same).
async fn scenario(a: &TestRelay, b: &TestRelay) {
    let mut alex = b.agent(AGENT_TOKEN).await;
    let mut ada = a.agent(ADMIN_TOKEN).await;
    let mut oda = a.agent(OTHER_ADMIN_TOKEN).await;

    // Seeded from the configuration; `list_canned` without a site answers per served site.
    alex.send(&ClientMsg::ListCanned { site: None }).await;
    let seeded = alex.until(canned_of(SITE)).await;
    assert_eq!(seeded.len(), 1);
    assert_eq!(seeded[0].shortcut, "order");
    let other = list(&mut oda, OTHER_SITE).await;
    assert_eq!(other[0].shortcut, "other");

    // Another site's list is not an agent's to read; an unknown site is not found.
    assert_eq!(
        refused(
            &mut alex,
            &ClientMsg::ListCanned {
                site: Some(OTHER_SITE.into())
            }
        )
        .await,
        ErrorCode::Forbidden
    );
    assert_eq!(
        refused(
            &mut alex,
            &ClientMsg::ListCanned {
                site: Some("nowhere".into())
            }
        )
        .await,
        ErrorCode::NotFound
    );

    // Only admins write, and only on their own sites.
    let id = seeded[0].id.clone();
    for msg in [
        create(SITE, "mine", "text"),
        ClientMsg::UpdateCanned {
            site: SITE.into(),
            id: id.clone(),
            shortcut: "order".into(),
            body: "changed".into(),
        },
        ClientMsg::DeleteCanned {
            site: SITE.into(),
            id: id.clone(),
        },
    ] {
        assert_eq!(refused(&mut alex, &msg).await, ErrorCode::Forbidden);
    }
    assert_eq!(
        refused(&mut oda, &create(SITE, "sneaky", "text")).await,
        ErrorCode::Forbidden
    );
    // Another site's id through one's own site is unknown, whatever the frame.
    assert_eq!(
        refused(
            &mut oda,
            &ClientMsg::DeleteCanned {
                site: OTHER_SITE.into(),
                id: id.clone()
            }
        )
        .await,
        ErrorCode::CannedNotFound
    );

    // Bad input: each refused with its code, nothing stored.
    let long_shortcut = "s".repeat(MAX_CANNED_SHORTCUT_BYTES + 1);
    let long_body = "b".repeat(MAX_CANNED_BODY_BYTES + 1);
    for (msg, code) in [
        (create(SITE, "order", "taken"), ErrorCode::ShortcutTaken),
        (create(SITE, "two words", "x"), ErrorCode::Invalid),
        (create(SITE, "<script>", "x"), ErrorCode::Invalid),
        (create(SITE, "", "x"), ErrorCode::Invalid),
        (create(SITE, &long_shortcut, "x"), ErrorCode::TooLarge),
        (create(SITE, "long", &long_body), ErrorCode::TooLarge),
        (create(SITE, "blank", " \u{200B}\n"), ErrorCode::Invalid),
        (
            create(SITE, "open", "Hi {{visitor.name"),
            ErrorCode::Invalid,
        ),
        (
            create(SITE, "evil", "Hi {{<img src=x>}}"),
            ErrorCode::Invalid,
        ),
        (create("", "x", "y"), ErrorCode::Invalid),
        (create("nowhere", "x", "y"), ErrorCode::NotFound),
        (
            ClientMsg::UpdateCanned {
                site: SITE.into(),
                id: "cr_unknown".into(),
                shortcut: "fresh".into(),
                body: "x".into(),
            },
            ErrorCode::CannedNotFound,
        ),
        (
            ClientMsg::DeleteCanned {
                site: SITE.into(),
                id: "x".repeat(65),
            },
            ErrorCode::Invalid,
        ),
    ] {
        assert_eq!(refused(&mut ada, &msg).await, code, "{msg:?}");
    }
    for raw in [
        r#"{"type":"create_canned","site":"shop","shortcut":5,"body":"x"}"#,
        r#"{"type":"create_canned","site":"shop"}"#,
        r#"{"type":"update_canned","site":"shop","shortcut":"a","body":"b"}"#,
        r#"{"type":"delete_canned","site":["shop"],"id":"x"}"#,
        r#"{"type":"list_canned","site":{"$ne":null}}"#,
    ] {
        assert_eq!(
            refused_raw(&mut ada, raw).await,
            ErrorCode::Invalid,
            "{raw}"
        );
    }
    assert_eq!(list(&mut ada, SITE).await, seeded, "nothing changed");

    // An admin's change reaches every agent of the site, on every node, and no other site's.
    ada.send(&create(
        SITE,
        "hello",
        "Hi {{visitor.name}}, I am {{agent.name}}",
    ))
    .await;
    let live = alex.until(canned_of(SITE)).await;
    assert_eq!(
        live.iter().map(|c| c.shortcut.as_str()).collect::<Vec<_>>(),
        ["hello", "order"]
    );
    let hello = live.iter().find(|c| c.shortcut == "hello").unwrap().clone();
    ada.send(&ClientMsg::UpdateCanned {
        site: SITE.into(),
        id: hello.id.clone(),
        shortcut: "hi".into(),
        body: "Hello {{visitor.name}}".into(),
    })
    .await;
    let live = alex.until(canned_of(SITE)).await;
    assert!(live
        .iter()
        .any(|c| c.id == hello.id && c.shortcut == "hi" && c.body == "Hello {{visitor.name}}"));
    let frames = oda.roundtrip().await;
    assert!(
        !frames
            .iter()
            .any(|m| matches!(m, ServerMsg::Canned { site, .. } if site == SITE)),
        "another site's admin hears nothing: {frames:?}"
    );

    // A conversation on the shop with an order in its context.
    let context = Context {
        order: Some(Order {
            number: "1042".into(),
            status: Some("delayed".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut v = b.visitor_with(None, Some(context)).await;
    v.say("v1", "where is my order?").await;
    v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    let conv = v.conversation_id();

    // Another site's canned reply cannot be used here, nor an unknown one; nothing stored.
    let foreign = &other[0].id;
    alex.send(&send(&conv, "r1", "Only for the other site", Some(foreign)))
        .await;
    assert_eq!(
        alex.until(error).await,
        (ErrorCode::CannedNotFound, Some("r1".into()))
    );
    assert_eq!(
        refused(&mut alex, &send(&conv, "r2", "x", Some("cr_nope"))).await,
        ErrorCode::CannedNotFound
    );
    // Raw placeholders are never sent, even by a client that skipped the console's check.
    alex.send(&send(
        &conv,
        "r3",
        "Order {{ order.number }} is delayed",
        Some(&id),
    ))
    .await;
    assert_eq!(
        alex.until(error).await,
        (ErrorCode::Invalid, Some("r3".into()))
    );
    assert_eq!(b.stored(&conv).await.len(), 1, "only the visitor's message");
    // Visitors and bots may not name one.
    assert_eq!(
        refused(&mut v, &send(&conv, "v2", "hi", Some(&id))).await,
        ErrorCode::Forbidden
    );

    // The filled text goes through and reaches the visitor.
    alex.send(&send(&conv, "r4", "Order 1042 is delayed", Some(&id)))
        .await;
    alex.until(|m| {
        matches!(m, ServerMsg::Ack { client_id, .. } if client_id == "r4").then_some(())
    })
    .await;
    let text = v
        .until(|m| match m {
            ServerMsg::Message(msg) if msg.client_id == "r4" => Some(msg.text.clone()),
            _ => None,
        })
        .await;
    assert_eq!(text, "Order 1042 is delayed");

    // Deleting it: the id is unknown from then on, for sends too.
    ada.send(&ClientMsg::DeleteCanned {
        site: SITE.into(),
        id: id.clone(),
    })
    .await;
    let live = alex.until(canned_of(SITE)).await;
    assert!(!live.iter().any(|c| c.id == id));
    assert_eq!(
        refused(&mut alex, &send(&conv, "r5", "Order 1042", Some(&id))).await,
        ErrorCode::CannedNotFound
    );

    // The bound per site (each create's `canned` carries the whole list; the last is full).
    for i in live.len()..MAX_CANNED_PER_SITE {
        ada.send(&create(SITE, &format!("n{i}"), "x")).await;
    }
    while ada.until(canned_of(SITE)).await.len() < MAX_CANNED_PER_SITE {}
    assert_eq!(
        refused(&mut ada, &create(SITE, "one-more", "x")).await,
        ErrorCode::CannedLimit
    );
}

#[tokio::test]
async fn canned_replies_on_sqlite() {
    let relay = TestRelay::start_with(with_canned).await;
    scenario(&relay, &relay).await;
    relay.stop().await;
}

#[tokio::test]
async fn canned_replies_on_two_nodes_sharing_redis() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let node = |url: String| async move {
        TestRelay::start_with(|c| {
            with_canned(c);
            c.redis_url = Some(url);
        })
        .await
    };
    let a = node(url.clone()).await;
    // The second node starts on a seeded store: it seeds nothing more.
    let b = node(url).await;
    scenario(&a, &b).await;
    a.stop().await;
    b.stop().await;
}

/// Seeds apply only to a site with nothing stored: a restart with other seeds changes
/// nothing an admin made.
#[tokio::test]
async fn seeds_apply_once() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start_in(dir.path(), with_canned).await;
    let mut ada = relay.agent(ADMIN_TOKEN).await;
    ada.send(&create(SITE, "mine", "An admin's own")).await;
    let before = ada.until(canned_of(SITE)).await;
    assert_eq!(before.len(), 2);
    relay.stop().await;
    let relay = TestRelay::start_in(dir.path(), |c| {
        with_canned(c);
        c.sites[0].canned = vec![seed("new-seed", "From an edited file")];
    })
    .await;
    let mut ada = relay.agent(ADMIN_TOKEN).await;
    assert_eq!(list(&mut ada, SITE).await, before);
    relay.stop().await;
}

/// Canned frames count against the agent's existing per-connection rates.
#[tokio::test]
async fn canned_writes_are_rate_limited() {
    let relay = TestRelay::start_with(|c| {
        with_canned(c);
        c.limits.enabled = true;
        c.limits.agent.messages = Rate::new(2, 1);
    })
    .await;
    let mut ada = relay.agent(ADMIN_TOKEN).await;
    ada.send(&create(SITE, "a1", "x")).await;
    ada.send(&create(SITE, "a2", "x")).await;
    assert_eq!(
        refused(&mut ada, &create(SITE, "a3", "x")).await,
        ErrorCode::RateLimited
    );
    relay.stop().await;
}
