//! KPIs from the stored conversations (`GET /v1/admin/sites/{site}/kpis`), on SQLite and on a
//! real Redis: two scripted conversations with known timings (the relay's clock is manual)
//! through real WebSocket clients — a bot that settles one alone, and one the bot hands off,
//! an agent answers and resolves, and the visitor reopens — give exact first response,
//! assignment, queue, resolution, containment, handoff and reopen figures as JSON and CSV,
//! the same after a relay restart; bad input gets typed refusals, floods `rate_limited`.

use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_protocol::client::Send;
use switchboard_protocol::{
    ClientMsg, Context, Handoff, HandoffReason, Priority, SenderKind, ServerMsg, Status,
    SystemEvent,
};
use switchboard_relay::clock::Clock;
use switchboard_relay::config::{Agent, AgentRole, Config, Routing};

use crate::redis_server::RedisServer;
use crate::util::*;

const ADMIN_TOKEN: &str = "admin-token-kpi-ada-0123456789abcdef";
/// 2026-03-02T08:00:00Z: 09:00 in Paris, the site's time zone.
const T0: u64 = 1_772_438_400_000;
const SECOND: u64 = 1_000;

/// The shop, bot first, reporting in Paris time, with an admin; `clock` stamps what it stores.
fn kpi_site(c: &mut Config, clock: &Clock) {
    c.sites[0].routing = Routing::BotFirst;
    c.sites[0].time_zone = Some("Europe/Paris".into());
    c.clock = clock.clone();
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

fn send(conv: &str, client_id: &str, text: &str) -> ClientMsg {
    ClientMsg::Send(Send {
        conversation_id: conv.into(),
        client_id: client_id.into(),
        text: text.into(),
        rich: None,
        canned_id: None,
    })
}

fn acked(m: &ServerMsg) -> Option<()> {
    matches!(m, ServerMsg::Ack { .. }).then_some(())
}

/// Sends a lifecycle change on the stored version and waits until the agent sees its event.
async fn change(relay: &TestRelay, agent: &mut Client, conv: &str, what: &str) {
    let version = relay.version(conv).await;
    let msg = match what {
        "assign" => ClientMsg::Assign {
            conversation_id: conv.into(),
            expected_version: version,
            agent: Some("alex".into()),
        },
        _ => ClientMsg::SetStatus {
            conversation_id: conv.into(),
            expected_version: version,
            status: Status::Resolved,
        },
    };
    agent.send(&msg).await;
    agent
        .until(|m| match m {
            ServerMsg::Message(msg) if msg.conversation_id == conv => {
                let event = msg.event.as_ref()?;
                (msg.sender.kind == SenderKind::System && event.code().starts_with(&what[..3]))
                    .then_some(())
            }
            ServerMsg::Error { message, .. } => panic!("{what} refused: {message}"),
            _ => None,
        })
        .await;
}

/// The two conversations, scripted on `clock`.
/// The visitor rates its resolved conversation (the test site asks for 1–5).
async fn rate(visitor: &mut Client, conv: &str, score: u8) {
    visitor
        .send(&ClientMsg::Rate(switchboard_protocol::csat::Rate {
            conversation_id: conv.into(),
            score,
            comment: None,
        }))
        .await;
    visitor
        .until(|m| match m {
            ServerMsg::Message(m) if m.conversation_id == conv => m
                .event
                .as_deref()
                .filter(|e| matches!(e, SystemEvent::Rated { .. }))
                .map(drop),
            _ => None,
        })
        .await;
}

async fn script(relay: &TestRelay, clock: &Clock) {
    let mut alex = relay.agent(AGENT_TOKEN).await;
    let mut bot = relay.bot(BOT_TOKEN).await;
    let routed = |m: &ServerMsg| match m {
        ServerMsg::Routed(r) => Some(r.conversation.id.clone()),
        _ => None,
    };

    // One: entered on the pricing page, the bot answers in 2 s, an agent resolves it a minute
    // later without writing: contained.
    let page: Context = serde_json::from_value(json!({
        "page": {"url": "https://shop.example/pricing/pro?utm_source=x", "title": "Pricing"}
    }))
    .unwrap();
    let mut v1 = relay.visitor_with(None, Some(page)).await;
    let c1 = v1.conversation_id();
    v1.say("m1", "How much is Pro?").await;
    v1.until(acked).await;
    assert_eq!(bot.until(routed).await, c1);
    clock.advance(2 * SECOND);
    bot.send(&send(&c1, "b1", "It is 20 € a month.")).await;
    bot.until(acked).await;
    clock.advance(60 * SECOND);
    change(relay, &mut alex, &c1, "resolve").await;
    rate(&mut v1, &c1, 4).await;

    // Two, an hour later: the bot answers in 4 s, hands off 6 s later, Alex takes it after
    // 30 s in the queue, answers, resolves; the visitor writes again: reopened.
    clock.advance(3_600 * SECOND - 62 * SECOND);
    let home: Context =
        serde_json::from_value(json!({"page": {"url": "https://shop.example/", "title": "Shop"}}))
            .unwrap();
    let mut v2 = relay.visitor_with(None, Some(home)).await;
    let c2 = v2.conversation_id();
    v2.say("m1", "I want a refund").await;
    v2.until(acked).await;
    assert_eq!(bot.until(routed).await, c2);
    clock.advance(4 * SECOND);
    bot.send(&send(&c2, "b1", "Let me check.")).await;
    bot.until(acked).await;
    clock.advance(6 * SECOND);
    bot.send(&ClientMsg::Handoff {
        conversation_id: c2.clone(),
        handoff: Handoff {
            reason: HandoffReason::Policy,
            summary: "Refund above the bot's limit.".into(),
            team: None,
            priority: Priority::High,
            fields: Default::default(),
            language: None,
            sentiment: None,
        },
    })
    .await;
    bot.until(|m| matches!(m, ServerMsg::Released { .. }).then_some(()))
        .await;
    clock.advance(30 * SECOND);
    change(relay, &mut alex, &c2, "assign").await;
    clock.advance(5 * SECOND);
    alex.send(&send(&c2, "a1", "Refunded.")).await;
    alex.until(acked).await;
    clock.advance(60 * SECOND);
    change(relay, &mut alex, &c2, "resolve").await;
    rate(&mut v2, &c2, 2).await;
    clock.advance(10 * SECOND);
    v2.say("m2", "Thanks, one more thing").await;
    v2.until(acked).await;
}

async fn get(relay: &TestRelay, query: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut req =
        reqwest::Client::new().get(relay.http(&format!("/v1/admin/sites/{SITE}/kpis?{query}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn json(relay: &TestRelay, query: &str) -> Value {
    let (status, body) = get(relay, query, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The figures the script makes, from the API.
async fn check(relay: &TestRelay) {
    let day = json(relay, "from=2026-03-02&to=2026-03-02&group=hour").await;
    let t = &day["total"];
    assert_eq!(t["conversations"], 2, "{day}");
    assert_eq!(t["messages"], 6);
    assert_eq!(t["messages_per_conversation"], 3.0);
    assert_eq!(
        t["first_response"],
        json!({"count": 2, "median_ms": 2000, "p90_ms": 4000})
    );
    assert_eq!(
        t["time_to_assignment"],
        json!({"count": 1, "median_ms": 40000, "p90_ms": 40000})
    );
    assert_eq!(
        t["queue_wait"],
        json!({"count": 1, "median_ms": 30000, "p90_ms": 30000})
    );
    // The second was reopened after its resolution: only the first counts as resolved.
    assert_eq!(
        t["resolution"],
        json!({"count": 1, "median_ms": 62000, "p90_ms": 62000})
    );
    assert_eq!((&t["resolved"], &t["reopened"]), (&json!(1), &json!(1)));
    assert_eq!(t["reopen_rate"], 0.5);
    assert_eq!(
        (&t["bot_conversations"], &t["contained"]),
        (&json!(2), &json!(1))
    );
    assert_eq!(t["containment_rate"], 0.5);
    assert_eq!(t["handoff_rate"], 0.5);
    assert_eq!(t["handoff_reasons"], json!({"policy": 1}));
    // Rated 4, and 2 before its reopen: the last rating stands.
    assert_eq!(
        t["csat"],
        json!({"count": 2, "average": 3.0, "distribution": [0, 1, 0, 1, 0]}),
        "{day}"
    );
    assert_eq!(day["time_zone"], "Europe/Paris");
    let hours: Vec<_> = day["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap(),
                g["conversations"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(hours, [("2026-03-02T09", 1), ("2026-03-02T10", 1)]);

    // The same period in milliseconds; a period after it holds nothing.
    let ms = json(relay, &format!("from={T0}&to={}", T0 + 7_200 * SECOND)).await;
    assert_eq!(ms["total"], day["total"]);
    let after = json(relay, "from=2026-03-03&to=2026-03-04").await;
    assert_eq!(after["total"]["conversations"], 0);
    assert_eq!(after["total"]["first_response"]["median_ms"], Value::Null);

    let by_entry = json(relay, "from=2026-03-02&to=2026-03-02&group=entry").await;
    let entries: Vec<_> = by_entry["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap(), g["contained"].as_u64().unwrap()))
        .collect();
    assert_eq!(entries, [("/", 0), ("/pricing", 1)]);

    let (status, csv) = get(
        relay,
        "from=2026-03-02&to=2026-03-02&group=agent&format=csv",
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    let lines: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    let header = &lines[0];
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let cell = |line: usize, name: &str| lines[line][col(name)];
    assert_eq!(lines.len(), 4, "{csv}");
    assert_eq!(
        [lines[1][0], lines[1][1], lines[2][1], lines[3][1]],
        ["total", "total", "alex", "none"]
    );
    assert_eq!(cell(1, "first_response_median_ms"), "2000");
    assert_eq!(cell(1, "first_response_p90_ms"), "4000");
    assert_eq!(cell(1, "containment_rate"), "0.5");
    assert_eq!(cell(1, "handoff_reasons"), "policy=1");
    assert_eq!(cell(2, "time_to_assignment_median_ms"), "40000");
    assert_eq!(cell(3, "resolution_median_ms"), "62000");
}

#[tokio::test]
async fn scripted_conversations_give_exact_kpis_on_sqlite_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let relay = TestRelay::start_in(dir.path(), |c| kpi_site(c, &clock)).await;
    script(&relay, &clock).await;
    check(&relay).await;
    relay.stop().await;
    let relay = TestRelay::start_in(dir.path(), |c| kpi_site(c, &clock)).await;
    check(&relay).await;
    relay.stop().await;
}

#[tokio::test]
async fn scripted_conversations_give_exact_kpis_on_redis_across_a_restart() {
    let redis = RedisServer::start().await;
    let clock = Clock::manual(T0);
    let on_redis = |c: &mut Config| {
        kpi_site(c, &clock);
        c.redis_url = Some(redis.url());
    };
    let relay = TestRelay::start_with(on_redis).await;
    script(&relay, &clock).await;
    check(&relay).await;
    relay.stop().await;
    let relay = TestRelay::start_with(on_redis).await;
    check(&relay).await;
    relay.stop().await;
}

#[tokio::test]
async fn bad_requests_get_typed_refusals_and_floods_are_limited() {
    let clock = Clock::manual(T0);
    let relay = TestRelay::start_with(|c| {
        kpi_site(c, &clock);
        c.limits.enabled = true;
    })
    .await;
    let ok = "from=2026-03-01&to=2026-03-31";
    let refused = |status: StatusCode, body: &str, code: &str| {
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        assert_eq!(v["code"], code, "{status} {body}");
    };

    let (status, body) = get(&relay, ok, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    refused(status, &body, "unauthorized");
    // An agent who is not an admin; an admin of another site sees no such site.
    let (status, body) = get(&relay, ok, Some(AGENT_TOKEN)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    refused(status, &body, "forbidden");
    let res = reqwest::Client::new()
        .get(relay.http(&format!("/v1/admin/sites/{OTHER_SITE}/kpis?{ok}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let long = "9".repeat(5_000);
    for query in [
        "",
        "from=2026-03-01",
        "from=yesterday&to=2026-03-31",
        "from=2026-02-30&to=2026-03-31",
        "from=-1&to=5",
        "from=2026-03-31&to=2026-03-01",
        "from=2024-01-01&to=2026-03-31",
        "from=2026-01-01&to=2026-06-30&group=hour",
        "from=2026-03-01&to=2026-03-31&group=week",
        "from=2026-03-01&to=2026-03-31&group=team%27%3B%20DROP%20TABLE%20kpi_facts%3B--",
        "from=2026-03-01&to=2026-03-31&format=xml",
        "from=2026-03-01&to=2026-03-31&site=other",
        &format!("from={long}&to=2026-03-31"),
        "from=%FF%FE&to=2026-03-31",
    ] {
        let (status, body) = get(&relay, query, Some(ADMIN_TOKEN)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        refused(status, &body, "invalid");
    }
    // Still answering, and the store intact.
    assert_eq!(
        json(&relay, ok).await["total"]["conversations"],
        0,
        "a refused request changed nothing"
    );

    // The admin API's quota: a flood gets 429 with a Retry-After.
    let mut limited = None;
    for _ in 0..200 {
        let res = reqwest::Client::new()
            .get(relay.http(&format!("/v1/admin/sites/{SITE}/kpis?{ok}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
    }
    let res = limited.expect("the flood was limited");
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    relay.stop().await;
}
