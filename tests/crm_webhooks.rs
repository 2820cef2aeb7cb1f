//! Sites' CRM/data webhooks against a real HTTP receiver (this test's axum server, standing
//! in for a CRM): every event of a scripted helpdesk conversation arrives once per id, signed,
//! in seq order per conversation, on the embedded broker and on Redis, across a relay restart
//! and a receiver that was down and then failing; entries whose trigger did not fit the queue;
//! the admin's delivery log and its refusals.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use switchboard_protocol::client::Send;
use switchboard_protocol::webhook::SiteEventType;
use switchboard_protocol::{ClientMsg, Handoff, HandoffReason, Priority, ServerMsg, Status};
use switchboard_relay::config::{Agent, AgentRole, Config, Routing, SiteWebhook};
use switchboard_relay::limits::Rate;

use crate::redis_server::RedisServer;
use crate::util::*;

const SECRET: &str = "crm-webhook-secret-0123456789";
const ADMIN_TOKEN: &str = "agent-token-ada-0123456789";
const SAM_TOKEN: &str = "agent-token-sam-0123456789";

/// What the stand-in CRM saw: every POST, and whether it took it.
#[derive(Default)]
struct Seen {
    attempts: Vec<Attempt>,
    /// Answer this many POSTs with 503 before taking any.
    fail_next: usize,
}

#[derive(Clone, Debug)]
struct Attempt {
    id: String,
    body: Value,
    signed: bool,
    accepted: bool,
}

type Shared = Arc<Mutex<Seen>>;

/// The receiving side of the signature scheme, written from the docs.
fn signed(headers: &HeaderMap, body: &[u8]) -> bool {
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ts = get("switchboard-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    let want: String = (mac.finalize().into_bytes().iter())
        .map(|b| format!("{b:02x}"))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    get("switchboard-signature") == format!("v1={want}")
        && ts.parse::<u64>().is_ok_and(|t| t.abs_diff(now) <= 300)
}

async fn hook(State(seen): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut seen = seen.lock().unwrap();
    let accepted = seen.fail_next == 0;
    seen.fail_next = seen.fail_next.saturating_sub(1);
    seen.attempts.push(Attempt {
        id: (headers.get("switchboard-event-id"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        signed: signed(&headers, &body),
        accepted,
    });
    if accepted {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

async fn serve(addr: SocketAddr, seen: Shared) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let app = axum::Router::new()
        .route("/crm", axum::routing::post(hook))
        .with_state(seen);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() })
}

/// The shop with a WebSocket bot first, an admin (Ada) and Sam, one webhook subscribed to
/// every event (on `port`), and a second that wants only resolutions and is never reachable.
fn with_webhooks(port: u16, redis: Option<String>) -> impl FnOnce(&mut Config) {
    move |c| {
        c.redis_url = redis;
        c.sites[0].routing = Routing::BotFirst;
        for (id, token, role) in [
            ("ada", ADMIN_TOKEN, AgentRole::Admin),
            ("sam", SAM_TOKEN, AgentRole::Agent),
        ] {
            c.agents.push(Agent {
                id: id.into(),
                name: id.into(),
                token: Some(token.into()),
                password_hash: None,
                email: None,
                sites: vec![SITE.into()],
                role,
            });
        }
        let url = format!("http://127.0.0.1:{port}/crm");
        c.sites[0].webhooks = vec![
            SiteWebhook {
                url: url.clone(),
                secret: SECRET.into(),
                events: SiteEventType::ALL.to_vec(),
            },
            SiteWebhook {
                // Nothing listens there: its failures must not hold the first one back.
                url: format!("http://127.0.0.1:{}/crm", free_port()),
                secret: SECRET.into(),
                events: vec![SiteEventType::ConversationResolved],
            },
        ];
    }
}

fn accepted(seen: &Shared) -> Vec<Attempt> {
    let seen = seen.lock().unwrap();
    (seen.attempts.iter())
        .filter(|a| a.accepted)
        .cloned()
        .collect()
}

/// Waits until the conversation is stored and its log reaches `seq`; its version then.
async fn settled(relay: &TestRelay, conv: &str, seq: u64) -> u64 {
    eventually("the change stored", WAIT, || async {
        let c = relay.relay.state.broker.conversation(conv).await.unwrap()?;
        (c.last_seq >= seq).then_some(c.state.version)
    })
    .await
}

fn send(conv: &str, client_id: &str, text: &str) -> ClientMsg {
    ClientMsg::Send(Send {
        conversation_id: conv.into(),
        client_id: client_id.into(),
        text: text.into(),
        rich: None,
        canned_id: None,
    })
}

/// The scripted conversations: `conv` goes through the whole helpdesk, `other` interleaves.
struct Script {
    conv: String,
    other: String,
    /// The visitors' tokens, so they come back after the restart as a widget does.
    tokens: [String; 2],
}

/// The first half of the script: the visitor asks, the bot answers and hands off, Ada
/// assigns it to herself and answers; a second visitor's conversation interleaves.
async fn first_half(relay: &TestRelay) -> Script {
    let mut bot = relay.bot(BOT_TOKEN).await;
    let mut visitor = relay.visitor().await;
    let conv = visitor.conversation_id();
    visitor.say("v1", "Where is my order?").await;
    bot.until(|m| matches!(m, ServerMsg::Routed { .. }).then_some(()))
        .await;
    let mut other = relay.visitor().await;
    let other_conv = other.conversation_id();
    other.say("o1", "Do you ship to Norway?").await;
    bot.send(&send(&conv, "b1", "Let me find someone.")).await;
    settled(relay, &conv, 2).await;
    bot.send(&ClientMsg::Handoff {
        conversation_id: conv.clone(),
        handoff: Handoff {
            reason: HandoffReason::Requested,
            summary: "Order question".into(),
            team: None,
            priority: Priority::High,
            fields: Default::default(),
            language: None,
            sentiment: None,
        },
    })
    .await;
    let version = settled(relay, &conv, 3).await;
    let mut ada = relay.agent(ADMIN_TOKEN).await;
    ada.send(&ClientMsg::Assign {
        conversation_id: conv.clone(),
        expected_version: version,
        agent: Some("ada".into()),
    })
    .await;
    settled(relay, &conv, 4).await;
    ada.send(&send(&conv, "a1", "It ships tomorrow.")).await;
    settled(relay, &conv, 5).await;
    settled(relay, &other_conv, 1).await;
    let token = |c: &Client| c.welcome.as_ref().unwrap().token.clone().unwrap();
    Script {
        tokens: [token(&visitor), token(&other)],
        conv,
        other: other_conv,
    }
}

/// The second half: Ada transfers it to Sam and resolves it, the visitor writes again (it
/// reopens), and the second visitor says more; the visitors on `visitors` (another node on
/// Redis), so triggers of one conversation are queued by two nodes.
async fn second_half(relay: &TestRelay, visitors: &TestRelay, s: &Script) {
    let mut ada = relay.agent(ADMIN_TOKEN).await;
    let version = relay.version(&s.conv).await;
    ada.send(&ClientMsg::Transfer {
        conversation_id: s.conv.clone(),
        expected_version: version,
        to_agent: Some("sam".into()),
        to_team: None,
        note: None,
    })
    .await;
    let version = settled(relay, &s.conv, 6).await;
    ada.send(&ClientMsg::SetStatus {
        conversation_id: s.conv.clone(),
        expected_version: version,
        status: Status::Resolved,
    })
    .await;
    settled(relay, &s.conv, 7).await;
    for (conv, token, text) in [
        (&s.conv, &s.tokens[0], "One more thing"),
        (&s.other, &s.tokens[1], "And to Sweden?"),
    ] {
        let mut v = visitors.visitor_with(Some(token.clone()), None).await;
        assert_eq!(&v.conversation_id(), conv);
        v.say("again", text).await;
    }
    settled(relay, &s.conv, 9).await;
    settled(relay, &s.other, 2).await;
}

/// Each conversation's events as the spec says they follow from the script: (seq, type,
/// sender kind of the entry).
fn expected(s: &Script) -> HashMap<String, Vec<(u64, &'static str, &'static str)>> {
    let conv = vec![
        (1, "conversation.created", "visitor"),
        (1, "message.created", "visitor"),
        (2, "message.created", "bot"),
        (3, "handoff.requested", "system"),
        (4, "conversation.assigned", "system"),
        (5, "message.created", "agent"),
        (6, "conversation.transferred", "system"),
        (7, "conversation.resolved", "system"),
        (8, "conversation.reopened", "system"),
        (9, "message.created", "visitor"),
    ];
    let other = vec![
        (1, "conversation.created", "visitor"),
        (1, "message.created", "visitor"),
        (2, "message.created", "visitor"),
    ];
    [(s.conv.clone(), conv), (s.other.clone(), other)].into()
}

async fn admin_log(relay: &TestRelay, token: &str, query: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .get(relay.http(&format!("/v1/admin/sites/{SITE}/webhooks{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The case, on one broker: the CRM is down while the first half happens, the relay
/// restarts (on Redis, as two nodes), the second half happens, then the CRM comes back
/// failing twice before it takes anything. It gets every event once per id, signed, in seq order per conversation; the
/// delivery log shows the failures and the deliveries.
async fn every_event_once_in_order(redis: Option<String>) {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let first = TestRelay::start_in(dir.path(), with_webhooks(port, redis.clone())).await;
    let script = first_half(&first).await;
    // Down: attempts fail (nothing listens) and are logged.
    eventually("a failed attempt logged", WAIT, || async {
        let (_, log) = admin_log(&first, ADMIN_TOKEN, "").await;
        let failed = (log["attempts"].as_array().unwrap().iter())
            .any(|a| a["webhook"] == 0 && a["outcome"] == "failed" && a["status"].is_null());
        failed.then_some(())
    })
    .await;
    first.stop().await;

    let other_dir = tempfile::tempdir().unwrap();
    let third = match &redis {
        Some(_) => {
            Some(TestRelay::start_in(other_dir.path(), with_webhooks(port, redis.clone())).await)
        }
        None => None,
    };
    let second = TestRelay::start_in(dir.path(), with_webhooks(port, redis)).await;
    let nodes: Vec<&TestRelay> = [Some(&second), third.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    second_half(&second, nodes[nodes.len() - 1], &script).await;
    let seen = Shared::default();
    seen.lock().unwrap().fail_next = 2;
    let server = serve(([127, 0, 0, 1], port).into(), seen.clone()).await;
    let want = expected(&script);
    let total: usize = want.values().map(Vec::len).sum();
    let got = eventually(
        "every event after the CRM came back",
        Duration::from_secs(60),
        || async {
            let a = accepted(&seen);
            (a.len() >= total).then_some(a)
        },
    )
    .await;
    // Long enough for a duplicate to show up: a taken event is never sent again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all = seen.lock().unwrap().attempts.clone();
    assert_eq!(accepted(&seen).len(), total, "an event was taken twice");
    assert!(all.iter().all(|a| a.signed), "an unsigned or stale POST");
    assert!(all.len() >= total + 2, "the two 503s were not retried");
    let ids: HashSet<&str> = got.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), total, "an id came twice");

    let mut by_conv: HashMap<String, Vec<(u64, &'static str, &'static str)>> = HashMap::new();
    for a in &got {
        let b = &a.body;
        assert_eq!(b["id"].as_str(), Some(a.id.as_str()), "header and body ids");
        assert_eq!(b["site"], SITE);
        let kind = SiteEventType::ALL
            .into_iter()
            .find(|k| b["type"] == k.as_str())
            .unwrap_or_else(|| panic!("unknown type {b}"));
        let seq = b["seq"].as_u64().unwrap();
        let conv = b["conversation_id"].as_str().unwrap();
        assert_eq!(a.id, format!("{conv}.{seq}.{}", kind.as_str()));
        assert_eq!(b["entry"]["seq"], seq);
        let sender = ["visitor", "agent", "bot", "system"]
            .into_iter()
            .find(|k| b["entry"]["sender"]["kind"] == *k)
            .unwrap();
        by_conv
            .entry(conv.to_owned())
            .or_default()
            .push((seq, kind.as_str(), sender));
    }
    assert_eq!(by_conv, want, "events per conversation, in arrival order");
    let text = |seq: u64, kind: &str| {
        got.iter()
            .find(|a| {
                a.body["conversation_id"] == script.conv.as_str()
                    && a.body["seq"] == seq
                    && a.body["type"] == kind
            })
            .map(|a| a.body["entry"].clone())
            .unwrap()
    };
    assert_eq!(text(5, "message.created")["text"], "It ships tomorrow.");
    assert_eq!(text(4, "conversation.assigned")["event"]["agent"], "ada");
    assert_eq!(
        text(6, "conversation.transferred")["event"]["to_agent"],
        "sam"
    );

    // The log: newest first, the 503s with their status, the deliveries, and the second
    // webhook failing on the one event it wants; no secret anywhere.
    let (status, log) = admin_log(&second, ADMIN_TOKEN, "?limit=200").await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert!(!log.to_string().contains(SECRET));
    assert_eq!(log["webhooks"][0]["events"].as_array().unwrap().len(), 8);
    assert_eq!(log["webhooks"][1]["events"][0], "conversation.resolved");
    let attempts = log["attempts"].as_array().unwrap();
    let at: Vec<u64> = attempts.iter().map(|a| a["at"].as_u64().unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let delivered = (attempts.iter())
        .filter(|a| a["webhook"] == 0 && a["outcome"] == "delivered" && a["status"] == 204)
        .count();
    assert_eq!(delivered, total);
    assert!(attempts
        .iter()
        .any(|a| a["webhook"] == 0 && a["outcome"] == "failed" && a["status"] == 503));
    let resolved_id = format!("{}.7.conversation.resolved", script.conv);
    let second_hook: Vec<&Value> = attempts.iter().filter(|a| a["webhook"] == 1).collect();
    assert!(!second_hook.is_empty());
    assert!(second_hook
        .iter()
        .all(|a| a["event_id"] == resolved_id.as_str() && a["outcome"] == "failed"));
    let retried = second_hook
        .iter()
        .map(|a| a["attempt"].as_u64().unwrap())
        .max();
    assert!(
        retried >= Some(2),
        "the second webhook's event is retried: {second_hook:?}"
    );

    // The metrics say the same, summed over the nodes: every delivery, the failures, and the
    // second webhook's trigger still waiting.
    let mut scrapes = Vec::new();
    for node in &nodes {
        scrapes.push(crate::operations::scrape(node).await);
    }
    let posts = |o: &str| -> f64 {
        let series = format!("switchboard_site_webhook_posts_total{{outcome=\"{o}\"}}");
        scrapes.iter().map(|m| m.get(&series)).sum()
    };
    assert_eq!(posts("delivered"), total as f64);
    assert!(posts("failed") >= 2.0);
    let m = &scrapes[0];
    let backlog = |w: &str| {
        m.get(&format!(
            "switchboard_site_webhook_backlog{{site=\"{SITE}\",webhook=\"{w}\"}}"
        ))
    };
    assert_eq!(backlog("0"), 0.0);
    assert_eq!(backlog("1"), 1.0);
    server.abort();
    second.stop().await;
    if let Some(third) = third {
        third.stop().await;
    }
}

#[tokio::test]
async fn crm_webhooks_get_every_event_once_in_order_on_the_embedded_store() {
    every_event_once_in_order(None).await;
}

#[tokio::test]
async fn crm_webhooks_get_every_event_once_in_order_on_redis() {
    let redis = RedisServer::start().await;
    every_event_once_in_order(Some(redis.url())).await;
    drop(redis);
}

/// The delivery log is for admins of the site and the operator; bad input gets a typed error,
/// floods a 429.
#[tokio::test]
async fn the_delivery_log_refuses_strangers_bad_input_and_floods() {
    let relay = TestRelay::start_with(|c| {
        with_webhooks(free_port(), None)(c);
        c.limits.enabled = true;
        c.limits.admin_api_per_token = Rate::new(12, 1);
    })
    .await;
    let get = |path: String, token: Option<&'static str>| {
        let req = reqwest::Client::new().get(relay.http(&path));
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        async move {
            let res = req.send().await.unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            (status, body["code"].as_str().map(str::to_owned))
        }
    };
    let log = |q: &str| format!("/v1/admin/sites/{SITE}/webhooks{q}");
    let code = |s: &str| Some(s.to_owned());
    for (path, token, want) in [
        (
            log(""),
            None,
            (StatusCode::UNAUTHORIZED, code("unauthorized")),
        ),
        (
            log(""),
            Some("not-a-token"),
            (StatusCode::UNAUTHORIZED, code("unauthorized")),
        ),
        (
            log(""),
            Some(AGENT_TOKEN),
            (StatusCode::FORBIDDEN, code("forbidden")),
        ),
        (
            format!("/v1/admin/sites/{OTHER_SITE}/webhooks"),
            Some(ADMIN_TOKEN),
            (StatusCode::NOT_FOUND, code("not_found")),
        ),
        (
            "/v1/admin/sites/nope/webhooks".into(),
            Some(OPERATOR_TOKEN),
            (StatusCode::NOT_FOUND, code("not_found")),
        ),
        (
            log("?limit=0"),
            Some(ADMIN_TOKEN),
            (StatusCode::BAD_REQUEST, code("invalid")),
        ),
        (
            log("?limit=201"),
            Some(ADMIN_TOKEN),
            (StatusCode::BAD_REQUEST, code("invalid")),
        ),
        (
            log("?limit=ten"),
            Some(ADMIN_TOKEN),
            (StatusCode::BAD_REQUEST, code("invalid")),
        ),
        (
            log("?limit=99999999999999999999999"),
            Some(ADMIN_TOKEN),
            (StatusCode::BAD_REQUEST, code("invalid")),
        ),
        (
            log("?secret=1"),
            Some(ADMIN_TOKEN),
            (StatusCode::BAD_REQUEST, code("invalid")),
        ),
        (log("?limit=5"), Some(ADMIN_TOKEN), (StatusCode::OK, None)),
        (
            format!("/v1/admin/sites/{OTHER_SITE}/webhooks"),
            Some(OPERATOR_TOKEN),
            (StatusCode::OK, None),
        ),
    ] {
        assert_eq!(get(path.clone(), token).await, want, "{path} {token:?}");
    }
    // Ada's quota is spent by the flood; each request past it is a 429.
    let mut limited = false;
    for _ in 0..20 {
        if get(log(""), Some(ADMIN_TOKEN)).await
            == (StatusCode::TOO_MANY_REQUESTS, code("rate_limited"))
        {
            limited = true;
            break;
        }
    }
    assert!(limited, "a flood of log reads was never limited");
    relay.stop().await;
}

/// A trigger that did not fit the webhook's queue loses nothing: its conversation's next
/// trigger sends every entry past the cursor, the refused one's included, in order.
#[tokio::test]
async fn entries_whose_trigger_did_not_fit_go_with_the_conversations_next() {
    let port = free_port();
    let relay = TestRelay::start_with(|c| {
        with_webhooks(port, None)(c);
        c.limits.webhook_backlog = 2;
    })
    .await;
    let mut a = relay.visitor().await;
    let mut b = relay.visitor().await;
    let (conv_a, conv_b) = (a.conversation_id(), b.conversation_id());
    a.say("a1", "first").await;
    settled(&relay, &conv_a, 1).await;
    b.say("b1", "hello").await;
    settled(&relay, &conv_b, 1).await;
    // The receiver is down and the queue holds its two triggers: these two are refused.
    a.say("a2", "second").await;
    a.say("a3", "third").await;
    settled(&relay, &conv_a, 3).await;
    let m = crate::operations::scrape(&relay).await;
    assert_eq!(m.get("switchboard_site_webhook_overflow_total{}"), 2.0);

    let seen = Shared::default();
    let server = serve(([127, 0, 0, 1], port).into(), seen.clone()).await;
    let got = eventually("every entry's events", Duration::from_secs(30), || async {
        let a = accepted(&seen);
        (a.len() >= 6).then_some(a)
    })
    .await;
    let ids: Vec<String> = got.iter().map(|a| a.id.clone()).collect();
    let want: Vec<String> = [
        (&conv_a, 1, "conversation.created"),
        (&conv_a, 1, "message.created"),
        (&conv_a, 2, "message.created"),
        (&conv_a, 3, "message.created"),
        (&conv_b, 1, "conversation.created"),
        (&conv_b, 1, "message.created"),
    ]
    .iter()
    .map(|(c, seq, kind)| format!("{c}.{seq}.{kind}"))
    .collect();
    assert_eq!(ids, want);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(accepted(&seen).len(), 6, "an event came twice");
    server.abort();
    relay.stop().await;
}
