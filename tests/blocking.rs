//! Blocking a spammer over real sockets: an agent's `block` closes the visitor (4004), refuses
//! its reconnect and (with `ip`) any new visitor from its address, resolves and hides the
//! conversation from every inbox and view; refusals (wrong role, wrong site, garbage) change
//! nothing; an admin lifts the block over HTTP. Also: queues list only conversations in which
//! the visitor said something.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use switchboard_protocol::client::Hello;
use switchboard_protocol::{
    ClientMsg, ErrorCode, InboxCursor, ServerMsg, Status, SystemEvent, View, ViewCounts,
    PROTOCOL_VERSION,
};
use switchboard_relay::config::{Agent, AgentRole, Config};

use crate::util::*;

const ADMIN_TOKEN: &str = "admin-token-ada-0123456789abcdef0123";

fn with_admin(c: &mut Config) {
    c.agents.push(Agent {
        id: "ada".into(),
        name: "Ada".into(),
        token: Some(ADMIN_TOKEN.into()),
        password_hash: None,
        email: None,
        sites: vec![SITE.into()],
        role: AgentRole::Admin,
    });
}

async fn request(method: Method, url: &str, token: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .request(method, url)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn error_code(m: &ServerMsg) -> Option<ErrorCode> {
    match m {
        ServerMsg::Error { code, .. } => Some(*code),
        _ => None,
    }
}

/// A visitor whose message was stored; its connection, token and conversation.
async fn chatting(relay: &TestRelay, text: &str) -> (Client, String, String) {
    let mut v = relay.visitor().await;
    let token = v.welcome.as_ref().unwrap().token.clone().unwrap();
    v.say("m1", text).await;
    v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    let conv = v.conversation_id();
    (v, token, conv)
}

/// A visitor's `hello` with this token: the refusal's error code and the close code.
async fn hello_refused(relay: &TestRelay, token: Option<String>) -> (ErrorCode, Option<u16>) {
    let mut c = Client::connect(
        &relay.url(&format!("/v1/visitor?site={SITE}")),
        Some(SITE_ORIGIN),
    )
    .await
    .unwrap();
    c.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token,
        context: None,
        identity_token: None,
    }))
    .await;
    let code = c.until(error_code).await;
    (code, c.closed().await)
}

async fn view(agent: &mut Client, view: View) -> (Vec<String>, ViewCounts) {
    agent
        .send(&ClientMsg::ListView {
            view,
            before: None::<InboxCursor>,
            limit: Some(50),
        })
        .await;
    agent
        .until(|m| match m {
            ServerMsg::View { items, counts, .. } => {
                Some((items.iter().map(|c| c.id.clone()).collect(), *counts))
            }
            _ => None,
        })
        .await
}

async fn inbox_ids(relay: &TestRelay) -> Vec<String> {
    let (_, items) = relay.agent_with_inbox(AGENT_TOKEN).await;
    items.into_iter().map(|s| s.id).collect()
}

#[tokio::test]
async fn an_agent_blocks_a_spammer_and_its_address() {
    let relay = TestRelay::start_with(with_admin).await;
    let (mut spammer, token, conv) = chatting(&relay, "BUY CHEAP PILLS").await;
    let (mut agent, items) = relay.agent_with_inbox(AGENT_TOKEN).await;
    assert!(items.iter().any(|s| s.id == conv));

    agent
        .send(&ClientMsg::Block {
            conversation_id: conv.clone(),
            ip: true,
        })
        .await;
    // Agents get the line marked blocked (the console drops it) ...
    let line = agent
        .until(|m| match m {
            ServerMsg::Conversation(s) if s.id == conv && s.blocked => Some(s.clone()),
            _ => None,
        })
        .await;
    assert_eq!(line.status, Status::Resolved);
    // ... and the visitor is closed with 4004 without hearing who did it or why.
    let mut heard = Vec::new();
    let close = loop {
        match spammer.next_event().await {
            Event::Msg(m) => heard.push(*m),
            Event::Closed(code) => break code,
        }
    };
    assert_eq!(close, Some(4004));
    assert!(
        !heard
            .iter()
            .any(|m| matches!(m, ServerMsg::Message(msg) if msg.event.is_some())),
        "the visitor heard a system event: {heard:?}"
    );

    // The log has the agents-only event; nothing else was stored.
    let stored = relay.stored(&conv).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(
        stored[1].event.as_deref(),
        Some(&SystemEvent::Blocked { by: "alex".into() })
    );

    // Its reconnect is refused, and so is a new visitor from the same address.
    assert_eq!(
        hello_refused(&relay, Some(token)).await,
        (ErrorCode::Blocked, Some(4004))
    );
    assert_eq!(
        hello_refused(&relay, None).await,
        (ErrorCode::Blocked, Some(4004))
    );
    assert_eq!(relay.stored(&conv).await.len(), 2);

    // No inbox page and no view lists it, on a fresh connection too.
    assert!(!inbox_ids(&relay).await.contains(&conv));
    let mut fresh = relay.agent(AGENT_TOKEN).await;
    for v in [
        View::All,
        View::Unassigned,
        View::MyTeams,
        View::Mine,
        View::Resolved,
    ] {
        let (ids, counts) = view(&mut fresh, v).await;
        assert!(!ids.contains(&conv), "{v:?} lists the blocked conversation");
        assert_eq!(counts.resolved, 0);
        assert_eq!(counts.all, 0);
    }

    // The admin API lists both blocks and lifts the address.
    let blocks = relay.http(&format!("/v1/admin/sites/{SITE}/blocks"));
    let (status, body) = request(Method::GET, &blocks, ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&str> = body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 2, "{body}");
    assert!(keys.contains(&"addr:127.0.0.1"), "{keys:?}");
    let (status, _) = request(
        Method::DELETE,
        &format!("{blocks}?addr=127.0.0.1"),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // A new visitor from the address may chat again; the blocked one may not.
    let (_new, _, other) = chatting(&relay, "hello, a real question").await;
    assert_ne!(other, conv);
    relay.stop().await;
}

#[tokio::test]
async fn an_admin_lifts_a_visitors_block() {
    let relay = TestRelay::start_with(with_admin).await;
    let (spammer, token, conv) = chatting(&relay, "spam").await;
    let visitor_id = spammer.welcome.as_ref().unwrap().id.clone();
    let mut agent = relay.agent(AGENT_TOKEN).await;
    agent
        .send(&ClientMsg::Block {
            conversation_id: conv.clone(),
            ip: false,
        })
        .await;
    agent
        .until(|m| matches!(m, ServerMsg::Conversation(s) if s.blocked).then_some(()))
        .await;
    // Without `ip`, others from the address chat on.
    let (_other, _, _) = chatting(&relay, "a real customer").await;
    assert_eq!(
        hello_refused(&relay, Some(token.clone())).await,
        (ErrorCode::Blocked, Some(4004))
    );

    let blocks = relay.http(&format!("/v1/admin/sites/{SITE}/blocks"));
    // Refusals: no admin, another site, no or two selectors, a garbage address.
    let (status, _) = request(
        Method::DELETE,
        &format!("{blocks}?visitor={visitor_id}"),
        AGENT_TOKEN,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let foreign = relay.http(&format!(
        "/v1/admin/sites/{OTHER_SITE}/blocks?visitor={visitor_id}"
    ));
    assert_eq!(
        request(Method::DELETE, &foreign, ADMIN_TOKEN).await.0,
        StatusCode::NOT_FOUND
    );
    for bad in [
        String::new(),
        format!("?visitor={visitor_id}&addr=127.0.0.1"),
        "?addr=not-an-address".into(),
        "?visitor=%3Cscript%3E".into(),
        format!("?visitor={}", "v".repeat(100)),
        "?site=x".into(),
    ] {
        let (status, body) = request(Method::DELETE, &format!("{blocks}{bad}"), ADMIN_TOKEN).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    // Nothing changed by any of them.
    assert_eq!(
        hello_refused(&relay, Some(token.clone())).await,
        (ErrorCode::Blocked, Some(4004))
    );

    let (status, body) = request(
        Method::DELETE,
        &format!("{blocks}?visitor={visitor_id}"),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["conversations"], 1);
    assert!(inbox_ids(&relay).await.contains(&conv));
    // Lifted twice: nothing left to lift.
    let (status, _) = request(
        Method::DELETE,
        &format!("{blocks}?visitor={visitor_id}"),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The visitor is back: its message reopens the conversation; its sync shows the block's
    // events only as bare system messages.
    let mut back = relay.visitor_with(Some(token), None).await;
    assert_eq!(back.conversation_id(), conv);
    back.say("m2", "sorry").await;
    back.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    back.send(&ClientMsg::Sync {
        conversation_id: conv.clone(),
        since: 0,
    })
    .await;
    let mut seqs = Vec::new();
    loop {
        match back.recv().await {
            ServerMsg::Message(m) => {
                if let Some(e) = &m.event {
                    assert!(e.for_visitors(), "the visitor got {e:?}");
                }
                seqs.push(m.seq);
            }
            ServerMsg::Synced { .. } => break,
            _ => {}
        }
    }
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "gap-free"
    );
    assert!(seqs.len() >= 4);
    relay.stop().await;
}

#[tokio::test]
async fn block_refusals_change_nothing() {
    let relay = TestRelay::start().await;
    let (mut visitor, token, conv) = chatting(&relay, "hello").await;
    let mut agent = relay.agent(AGENT_TOKEN).await;
    let mut other_site = relay.agent(OTHER_AGENT_TOKEN).await;

    let block = |id: &str| ClientMsg::Block {
        conversation_id: id.into(),
        ip: true,
    };
    // Not for visitors; not for an agent of another site; not for a conversation that is not.
    visitor.send(&block(&conv)).await;
    assert_eq!(visitor.until(error_code).await, ErrorCode::Forbidden);
    other_site.send(&block(&conv)).await;
    assert_eq!(other_site.until(error_code).await, ErrorCode::Forbidden);
    agent.send(&block("c_nope")).await;
    assert_eq!(agent.until(error_code).await, ErrorCode::NotFound);
    // Garbage: missing or oversized ids, a mistyped flag.
    for raw in [
        r#"{"type":"block"}"#.to_owned(),
        r#"{"type":"block","conversation_id":"c1","ip":"yes"}"#.to_owned(),
        format!(
            r#"{{"type":"block","conversation_id":"{}"}}"#,
            "c".repeat(65)
        ),
        r#"{"type":"block","conversation_id":""}"#.to_owned(),
    ] {
        agent.raw(&raw).await;
        assert_eq!(agent.until(error_code).await, ErrorCode::Invalid, "{raw}");
    }
    // Read back: the conversation is listed and untouched, the visitor chats on.
    let stored = relay.stored(&conv).await;
    assert_eq!(stored.len(), 1);
    assert!(inbox_ids(&relay).await.contains(&conv));
    visitor.say("m2", "still here").await;
    visitor
        .until(|m| matches!(m, ServerMsg::Ack { seq: 2, .. }).then_some(()))
        .await;
    let again = relay.visitor_with(Some(token), None).await;
    assert_eq!(again.conversation_id(), conv);
    relay.stop().await;
}

/// A page view that talks to the relay (context, identity attempts, typing, sync) but never
/// says anything puts nothing in any queue; its first message does.
#[tokio::test]
async fn queues_list_only_conversations_with_a_visitor_message() {
    let relay = TestRelay::start().await;
    let mut quiet = relay.visitor().await;
    let conv = quiet.conversation_id();
    quiet
        .send(&ClientMsg::SetContext {
            context: Default::default(),
        })
        .await;
    quiet
        .send(&ClientMsg::Typing {
            conversation_id: conv.clone(),
            active: true,
        })
        .await;
    quiet
        .send(&ClientMsg::Sync {
            conversation_id: conv.clone(),
            since: 0,
        })
        .await;
    quiet.roundtrip().await;
    let mut agent = relay.agent(AGENT_TOKEN).await;
    for v in [View::All, View::Unassigned, View::MyTeams] {
        let (ids, counts) = view(&mut agent, v).await;
        assert!(ids.is_empty(), "{v:?}: {ids:?}");
        assert_eq!(counts.all, 0);
    }
    assert!(inbox_ids(&relay).await.is_empty());
    quiet.say("m1", "a question").await;
    quiet
        .until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    let (ids, counts) = view(&mut agent, View::Unassigned).await;
    assert_eq!(ids, [conv]);
    assert_eq!(counts.all, 1);
    relay.stop().await;
}
