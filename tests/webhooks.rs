//! Webhook bots against a real HTTP server (this test's, standing in for a bot service):
//! every POST is signed and carries its event id; a bot that is down, then failing, gets each
//! event again until it takes it — once; it answers through the HTTP API.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use switchboard_protocol::{SenderKind, ServerMsg};

use crate::util::*;

const SECRET: &str = "webhook-secret-0123456789";

/// What the stand-in bot saw: every attempt, and whether it accepted it.
#[derive(Default)]
struct Seen {
    attempts: Vec<Attempt>,
    /// Answer this many POSTs with 503 before accepting.
    fail_next: usize,
}

#[derive(Clone, Debug)]
struct Attempt {
    id: String,
    body: Value,
    signed: bool,
    fresh: bool,
    accepted: bool,
}

type Shared = Arc<Mutex<Seen>>;

/// The receiving side of the signature scheme, written from the docs, independent of the
/// relay's code.
fn verify(headers: &HeaderMap, body: &[u8]) -> (bool, bool) {
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ts = get("switchboard-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let signed = get("switchboard-signature") == format!("v1={want}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let fresh = ts.parse::<u64>().is_ok_and(|t| t.abs_diff(now) <= 300);
    (signed, fresh)
}

async fn hook(State(seen): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let (signed, fresh) = verify(&headers, &body);
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut seen = seen.lock().unwrap();
    let accepted = seen.fail_next == 0;
    seen.fail_next = seen.fail_next.saturating_sub(1);
    let id = headers
        .get("switchboard-event-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(
        parsed["id"].as_str(),
        Some(id.as_str()),
        "header and body ids differ"
    );
    seen.attempts.push(Attempt {
        id,
        body: parsed,
        signed,
        fresh,
        accepted,
    });
    if accepted {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

async fn serve_bot(addr: SocketAddr, seen: Shared) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(seen);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    })
}

fn webhook_bot(bot_port: u16) -> impl FnOnce(&mut switchboard_relay::config::Config) {
    move |c| {
        super::bots::bot_first(c);
        c.bots[0].webhook_url = Some(format!("http://127.0.0.1:{bot_port}/hook"));
        c.bots[0].webhook_secret = Some(SECRET.into());
    }
}

async fn webhook_relay(bot_port: u16) -> TestRelay {
    TestRelay::start_with(webhook_bot(bot_port)).await
}

/// `/healthz` with its details (webhook backlogs and refusals).
async fn health(relay: &TestRelay) -> Value {
    reqwest::Client::new()
        .get(relay.http("/healthz"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn accepted(seen: &Shared) -> Vec<Attempt> {
    let seen = seen.lock().unwrap();
    seen.attempts
        .iter()
        .filter(|a| a.accepted)
        .cloned()
        .collect()
}

#[tokio::test]
async fn webhooks_are_signed_and_the_bot_answers_over_http() {
    let port = free_port();
    let seen = Shared::default();
    let server = serve_bot(([127, 0, 0, 1], port).into(), seen.clone()).await;
    let relay = webhook_relay(port).await;
    let mut visitor = relay.visitor().await;
    let conv = visitor.conversation_id();
    visitor.say("v1", "Do you ship to Norway?").await;
    let event = eventually("the routed webhook", WAIT, || async {
        accepted(&seen).first().cloned()
    })
    .await;
    assert!(event.signed, "signature did not verify");
    assert!(event.fresh, "timestamp outside the replay window");
    assert_eq!(event.body["bot_id"], BOT);
    assert_eq!(event.body["event"]["type"], "routed");
    assert_eq!(event.body["event"]["conversation"]["id"], conv.as_str());
    assert_eq!(
        event.body["event"]["transcript"][0]["text"],
        "Do you ship to Norway?"
    );

    let resp = reqwest::Client::new()
        .post(relay.http(&format!("/v1/bot/conversations/{conv}/messages")))
        .bearer_auth(BOT_TOKEN)
        .header("idempotency-key", format!("r-{}", event.id))
        .json(&json!({"text": "Yes, in 3-5 days."}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer = visitor
        .until(|m| match m {
            ServerMsg::Message(m) if m.sender.kind == SenderKind::Bot => Some(m.text.clone()),
            _ => None,
        })
        .await;
    assert_eq!(answer, "Yes, in 3-5 days.");

    // The visitor's next message comes as a `message` event with its own id.
    visitor.say("v2", "Thanks!").await;
    let events = eventually("the message webhook", WAIT, || async {
        let a = accepted(&seen);
        (a.len() == 2).then_some(a)
    })
    .await;
    assert_eq!(events[1].body["event"]["type"], "message");
    assert_eq!(events[1].body["event"]["text"], "Thanks!");
    assert_ne!(events[0].id, events[1].id);
    server.abort();
}

#[tokio::test]
async fn a_bot_that_was_down_gets_each_event_once_after_it_returns() {
    let port = free_port();
    let relay = webhook_relay(port).await;
    let mut visitor = relay.visitor().await;
    visitor.say("v1", "hello?").await;
    visitor
        .until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    // Down (nothing listens) long enough for several failed attempts...
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // ...then up but failing twice more with 503, then healthy.
    let seen = Shared::default();
    seen.lock().unwrap().fail_next = 2;
    let server = serve_bot(([127, 0, 0, 1], port).into(), seen.clone()).await;
    eventually(
        "redelivery after the bot came back",
        Duration::from_secs(60),
        || async { (!accepted(&seen).is_empty()).then_some(()) },
    )
    .await;
    // Long enough for any duplicate to show up: backoff is capped at 30 s but a delivered
    // event is never retried, so nothing more may arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = seen.lock().unwrap().attempts.clone();
    assert!(
        all.len() >= 3,
        "expected the two 503s and a success: {all:?}"
    );
    assert!(
        all.iter().all(|a| a.id == all[0].id),
        "a retry changed the event id"
    );
    assert!(all.iter().all(|a| a.signed && a.fresh));
    let ok = accepted(&seen);
    assert_eq!(ok.len(), 1, "the event was accepted more than once");
    assert_eq!(ok[0].body["event"]["type"], "routed");
    server.abort();
}

/// Events wait in the store, not in the relay's memory: a relay restarted while its bot was
/// down still delivers each queued event, once.
#[tokio::test]
async fn a_restarted_relay_delivers_what_was_queued_before() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let first = TestRelay::start_in(dir.path(), webhook_bot(port)).await;
    let mut waiting = first.visitor().await;
    let waiting_conv = waiting.conversation_id();
    waiting.say("v1", "Is the tent waterproof?").await;
    let mut answered = first.visitor().await;
    let answered_conv = answered.conversation_id();
    answered.say("v1", "Hi").await;
    for v in [&mut waiting, &mut answered] {
        v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
            .await;
    }
    eventually("both events queued", WAIT, || async {
        let h = health(&first).await;
        (h["webhook_backlog"][BOT] == 2).then_some(())
    })
    .await;
    first.stop().await;

    let seen = Shared::default();
    let server = serve_bot(([127, 0, 0, 1], port).into(), seen.clone()).await;
    let _second = TestRelay::start_in(dir.path(), webhook_bot(port)).await;
    let events = eventually("the queued events after the restart", WAIT, || async {
        let a = accepted(&seen);
        (a.len() >= 2).then_some(a)
    })
    .await;
    // Long enough for a duplicate to show up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(accepted(&seen).len(), 2, "an event came twice");
    let mut routed: Vec<String> = events
        .iter()
        .map(|a| {
            assert_eq!(a.body["event"]["type"], "routed");
            a.body["event"]["conversation"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    routed.sort();
    let mut want = vec![waiting_conv, answered_conv];
    want.sort();
    assert_eq!(routed, want);
    server.abort();
}

/// Conversations waiting on the bot: `n` visitors each asked one question (acknowledged).
pub async fn waiting_conversations(relay: &TestRelay, n: usize) -> Vec<String> {
    let mut convs = Vec::with_capacity(n);
    for i in 0..n {
        let mut v = relay.visitor().await;
        v.say("q1", &format!("question {i}")).await;
        v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
            .await;
        convs.push(v.conversation_id());
    }
    convs
}

/// The issue's case: a webhook bot down for 10,000 events loses none of them, gets them once
/// each and in order, and when it is back gets every conversation waiting on it (more than
/// the 200 of one inbox page). What comes past the bound (here a visitor's first message) is
/// refused out loud, counted, and its conversation offered again.
#[tokio::test]
async fn a_bot_down_for_10000_events_loses_none_and_gets_every_waiting_conversation() {
    const BOUND: usize = 10_000;
    const CONVERSATIONS: usize = 250;
    let port = free_port();
    let relay = webhook_relay(port).await;
    let state = relay.relay.state.clone();
    let started = std::time::Instant::now();
    let convs = waiting_conversations(&relay, CONVERSATIONS).await;
    eprintln!("{CONVERSATIONS} conversations in {:?}", started.elapsed());
    // The rest of the backlog: message events as a visitor's messages queue them, generated
    // here to keep the test short (each one a real queued event of the real delivery path).
    for i in CONVERSATIONS..BOUND {
        let conv = &convs[i % CONVERSATIONS];
        let seq = 1 + (i / CONVERSATIONS) as u64;
        let message = switchboard_protocol::ChatMessage {
            conversation_id: conv.clone(),
            seq,
            client_id: format!("gen-{i}"),
            sender: switchboard_protocol::Sender {
                kind: SenderKind::Visitor,
                id: "v".into(),
                name: None,
                avatar: None,
            },
            text: "x".into(),
            at: 1,
            rich: None,
            postback: None,
            event: None,
            note: None,
        };
        switchboard_relay::bots::webhook::enqueue(&state, BOT, ServerMsg::Message(message)).await;
    }
    let h = health(&relay).await;
    eprintln!("backlog of {BOUND} after {:?}", started.elapsed());
    assert_eq!(h["webhook_backlog"][BOT], BOUND, "{h}");
    assert_eq!(h["webhook_refused"], 0, "{h}");

    // Past the bound: a new visitor's first message is stored and acknowledged, but its event
    // is refused, counted, and the conversation marked to be offered again.
    let late = waiting_conversations(&relay, 1).await.remove(0);
    let h = eventually("the refusal counted", WAIT, || async {
        let h = health(&relay).await;
        (h["webhook_refused"] == 1).then_some(h)
    })
    .await;
    assert_eq!(h["webhook_backlog"][BOT], BOUND, "{h}");

    let seen = Shared::default();
    let server = serve_bot(([127, 0, 0, 1], port).into(), seen.clone()).await;
    let all = CONVERSATIONS + 1;
    let accepted = eventually(
        "the backlog and the re-offer",
        Duration::from_secs(240),
        || async {
            let a = accepted(&seen);
            (a.len() >= BOUND + all).then_some(a)
        },
    )
    .await;
    eprintln!("all delivered after {:?}", started.elapsed());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let attempts = seen.lock().unwrap().attempts.len();
    assert_eq!(accepted.len(), BOUND + all, "events after the re-offer");
    assert_eq!(attempts, BOUND + all, "an accepted event was sent again");
    let mut ids: Vec<&str> = accepted.iter().map(|a| a.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), BOUND + all, "an event id came twice");
    assert!(accepted.iter().all(|a| a.signed && a.fresh));

    // The backlog, in order per conversation: its `routed`, then its messages by seq.
    let (backlog, reoffer) = accepted.split_at(BOUND);
    let mut last: std::collections::HashMap<&str, u64> = Default::default();
    for a in backlog {
        let e = &a.body["event"];
        let (conv, seq) = match e["type"].as_str().unwrap() {
            "routed" => (e["conversation"]["id"].as_str().unwrap(), 1),
            "message" => (
                e["conversation_id"].as_str().unwrap(),
                e["seq"].as_u64().unwrap(),
            ),
            other => panic!("unexpected {other}"),
        };
        let before = last.insert(conv, seq);
        assert_eq!(before.map_or(1, |s| s + 1), seq, "{conv} out of order");
    }
    assert_eq!(last.len(), CONVERSATIONS);
    assert!(last.values().all(|s| *s == (BOUND / CONVERSATIONS) as u64));

    // Then every conversation waiting on the bot, the late one included, with its question.
    let mut offered: Vec<String> = reoffer
        .iter()
        .map(|a| {
            assert_eq!(a.body["event"]["type"], "routed");
            a.body["event"]["conversation"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let late_offer = reoffer
        .iter()
        .find(|a| a.body["event"]["conversation"]["id"] == late.as_str())
        .expect("the refused first message's conversation is offered");
    assert_eq!(
        late_offer.body["event"]["transcript"][0]["text"],
        "question 0"
    );
    offered.sort();
    let mut want: Vec<String> = convs.iter().cloned().chain([late]).collect();
    want.sort();
    assert_eq!(offered, want);
    let h = health(&relay).await;
    assert_eq!(h["webhook_backlog"][BOT], 0, "{h}");
    server.abort();
}

/// The relay as a process, its webhook bot down while visitors' messages queue 10,000 events:
/// the backlog lives in the store, so the relay's memory does not grow with it.
#[tokio::test]
async fn a_relay_process_stays_small_while_a_webhook_backlog_builds() {
    use crate::process::RelayProcess;
    use switchboard_protocol::client::Hello;
    use switchboard_protocol::{ClientMsg, PROTOCOL_VERSION};

    const VISITORS: usize = 50;
    const EACH: usize = 200;
    let down = free_port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[limits]
new_conversations_per_site = {{ burst = 100000, per_minute = 100000 }}
[limits.visitor]
messages = {{ burst = 100000, per_minute = 100000 }}

[[sites]]
key = "hooks"
allowed_origins = ["https://hooks.example"]
routing = "bot_first"
bot = "hookbot"

[[bots]]
id = "hookbot"
name = "Hookbot"
site = "hooks"
token = "hookbot-token-0123456789abcdef0123"
webhook_url = "http://127.0.0.1:{down}/hook"
webhook_secret = "{SECRET}"
"#
        ),
    )
    .unwrap();
    let relay = RelayProcess::start_with(&["--config", path.to_str().unwrap()]).await;
    let backlog = || async {
        crate::process::healthz(relay.port).await.unwrap()["webhook_backlog"]["hookbot"]
            .as_u64()
            .unwrap()
    };

    let mut rss = vec![("started", relay.rss())];
    let mut tasks = Vec::new();
    for v in 0..VISITORS {
        let url = relay.ws("/v1/visitor?site=hooks");
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(&url, Some("https://hooks.example"))
                .await
                .unwrap();
            c.send(&ClientMsg::Hello(Hello {
                protocol: PROTOCOL_VERSION,
                token: None,
                context: None,
                identity_token: None,
            }))
            .await;
            let mut c = c.welcome().await;
            for i in 0..EACH {
                c.say(&format!("m{v}-{i}"), &format!("message {i} of visitor {v}"))
                    .await;
                c.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
                    .await;
            }
        }));
        if v == VISITORS / 10 {
            // A first part of the backlog, so the baseline includes what any backlog costs
            // (the store's page cache, the connections).
            for t in tasks.drain(..) {
                t.await.unwrap();
            }
            rss.push(("first 10%", relay.rss()));
        }
    }
    let mut peak = 0;
    for t in tasks {
        t.await.unwrap();
        peak = peak.max(relay.rss());
    }
    let queued = eventually("10,000 events queued", WAIT, || async {
        let n = backlog().await;
        (n == (VISITORS * EACH) as u64).then_some(n)
    })
    .await;
    rss.push(("10,000 queued", relay.rss()));
    eprintln!("relay RSS (bytes): {rss:?}, peak while queueing {peak}; backlog {queued}");
    let h = crate::process::healthz(relay.port).await.unwrap();
    assert_eq!(h["webhook_refused"], 0, "{h}");
    let base = rss[1].1;
    let grown = peak.max(rss[2].1).saturating_sub(base);
    assert!(
        grown < 8 << 20,
        "RSS grew by {} MiB while 90% of the backlog was queued: {rss:?}",
        grown >> 20
    );
}

/// Two relay nodes on one Redis: events from both go into the bot's one queue and only the
/// node holding its lease delivers them (each event POSTed once, never by both nodes); when
/// that node shuts down, the other takes delivery over.
#[tokio::test]
async fn two_nodes_deliver_each_event_once_and_hand_delivery_over() {
    let redis = crate::redis_server::RedisServer::start().await;
    let port = free_port();
    let seen = Shared::default();
    let server = serve_bot(([127, 0, 0, 1], port).into(), seen.clone()).await;
    let url = redis.url();
    let on_redis = |c: &mut switchboard_relay::config::Config| {
        webhook_bot(port)(c);
        c.redis_url = Some(url.clone());
    };
    // The first node takes the lease before the second exists.
    let a = TestRelay::start_with(on_redis).await;
    waiting_conversations(&a, 1).await;
    eventually("the first event", WAIT, || async {
        (accepted(&seen).len() == 1).then_some(())
    })
    .await;
    let b = TestRelay::start_with(on_redis).await;
    let mut convs = Vec::new();
    for _ in 0..5 {
        convs.extend(waiting_conversations(&a, 1).await);
        convs.extend(waiting_conversations(&b, 1).await);
    }
    eventually("events from both nodes", WAIT, || async {
        (accepted(&seen).len() == 11).then_some(())
    })
    .await;

    a.stop().await;
    convs.extend(waiting_conversations(&b, 3).await);
    eventually("delivery handed over", WAIT, || async {
        (accepted(&seen).len() == 14).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let attempts = seen.lock().unwrap().attempts.clone();
    assert_eq!(attempts.len(), 14, "an event was POSTed twice");
    let mut routed: Vec<String> = attempts[1..]
        .iter()
        .map(|a| {
            a.body["event"]["conversation"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    routed.sort();
    convs.sort();
    assert_eq!(routed, convs);
    drop(b);
    server.abort();
}

/// More conversations waiting than the backlog holds: the re-offer fills the backlog, then
/// goes on where it stopped once the bot has taken those, so each is offered and none twice.
#[tokio::test]
async fn a_reoffer_larger_than_the_backlog_goes_out_a_backlog_at_a_time() {
    const BOUND: u64 = 50;
    const WAITING: usize = 120;
    let port = free_port();
    let relay = TestRelay::start_with(|c| {
        webhook_bot(port)(c);
        c.limits.webhook_backlog = BOUND;
    })
    .await;
    let convs = waiting_conversations(&relay, WAITING).await;
    let h = eventually("the refusals counted", WAIT, || async {
        let h = health(&relay).await;
        (h["webhook_refused"] == WAITING as u64 - BOUND).then_some(h)
    })
    .await;
    assert_eq!(h["webhook_backlog"][BOT], BOUND, "{h}");

    let seen = Shared::default();
    let server = serve_bot(([127, 0, 0, 1], port).into(), seen.clone()).await;
    let total = BOUND as usize + WAITING;
    eventually(
        "the backlog, then every waiting conversation",
        Duration::from_secs(120),
        || async { (accepted(&seen).len() >= total).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = accepted(&seen);
    assert_eq!(all.len(), total, "offered more than once");
    let mut offered: Vec<String> = all[BOUND as usize..]
        .iter()
        .map(|a| {
            a.body["event"]["conversation"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    offered.sort();
    let mut want = convs;
    want.sort();
    assert_eq!(offered, want);
    server.abort();
}
