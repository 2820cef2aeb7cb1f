//! What an operator runs the relay with: `/metrics` (read by a Prometheus text-format parser,
//! its counters moving exactly as scripted traffic over real WebSockets says), who may read
//! it, the JSON log format (one conversation followed through a node, no message text), and
//! the Grafana dashboard asking only for series the relay exports.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use switchboard_protocol::client::Send;
use switchboard_protocol::{ClientMsg, ServerMsg};
use switchboard_relay::limits::Rate;

use crate::process::RelayProcess;
use crate::util::{eventually, workspace, TestRelay, AGENT_TOKEN, OPERATOR_TOKEN};

/// One scrape: every sample by its name and labels (`name{k="v",…}` sorted), as Prometheus
/// would store it.
pub(crate) struct Scrape(HashMap<String, f64>, BTreeSet<String>);

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("a Prometheus text exposition");
        let families = scrape.docs.keys().cloned().collect();
        let mut samples = HashMap::new();
        for s in scrape.samples {
            let value = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                // Buckets are checked through `_count` and `_sum`.
                _ => continue,
            };
            let labels: BTreeSet<String> =
                s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            let labels: Vec<String> = labels.into_iter().collect();
            samples.insert(format!("{}{{{}}}", s.metric, labels.join(",")), value);
        }
        Scrape(samples, families)
    }

    /// A sample's value; `series` is `name{label="value"}` (or `name{}`).
    pub(crate) fn get(&self, series: &str) -> f64 {
        *self
            .0
            .get(series)
            .unwrap_or_else(|| panic!("{series} is not exported; have {:?}", self.names()))
    }

    /// The metric families (as their `# HELP` lines name them).
    fn names(&self) -> BTreeSet<String> {
        self.1.clone()
    }
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

pub(crate) async fn scrape(relay: &TestRelay) -> Scrape {
    let (status, body) = get(&relay.http("/metrics"), Some(OPERATOR_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    Scrape::parse(&body)
}

/// How much each series moved between two scrapes.
fn delta(before: &Scrape, after: &Scrape, series: &str) -> f64 {
    after.get(series) - before.0.get(series).copied().unwrap_or(0.0)
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

#[tokio::test]
async fn metrics_move_exactly_as_scripted_traffic_says() {
    let relay = TestRelay::start_with(|c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        // Limits on, with a context quota of 2 and no refill to speak of, so exactly the
        // frames past it are refused.
        c.limits.enabled = true;
        c.limits.visitor.context = Rate::new(2, 1);
    })
    .await;
    let before = scrape(&relay).await;

    let mut visitor = relay.visitor().await;
    let conv = visitor.conversation_id();
    visitor.say("m1", "first words").await;
    visitor.say("m2", "second words").await;
    // A resend: acknowledged again (duplicate), stored once, still one append call.
    visitor.say("m2", "second words").await;
    let mut acks = 0;
    while acks < 3 {
        if let ServerMsg::Ack { .. } = visitor.recv().await {
            acks += 1;
        }
    }
    let mut agent = relay.agent(AGENT_TOKEN).await;
    agent.send(&send(&conv, "a1", "an agent's answer")).await;
    agent
        .until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    // Garbage: two decode refusals.
    visitor.raw("{not json").await;
    visitor.raw(r#"{"type":"no_such_frame"}"#).await;
    // Five context updates against a quota of two: three rate-limited.
    for _ in 0..5 {
        visitor.raw(r#"{"type":"set_context","context":{}}"#).await;
    }
    visitor.roundtrip().await;
    agent.roundtrip().await;

    let after = scrape(&relay).await;
    let d = |series: &str| delta(&before, &after, series);
    assert_eq!(d(r#"switchboard_frames_in_total{type="hello"}"#), 2.0);
    assert_eq!(d(r#"switchboard_frames_in_total{type="send"}"#), 4.0);
    assert_eq!(d(r#"switchboard_frames_in_total{type="set_context"}"#), 5.0);
    assert_eq!(d(r#"switchboard_frames_in_total{type="ping"}"#), 2.0);
    assert_eq!(d(r#"switchboard_frames_in_total{type="other"}"#), 2.0);
    assert_eq!(d(r#"switchboard_refusals_total{code="bad_json"}"#), 1.0);
    assert_eq!(d(r#"switchboard_refusals_total{code="unknown_type"}"#), 1.0);
    assert_eq!(d(r#"switchboard_refusals_total{code="rate_limited"}"#), 3.0);
    assert_eq!(d(r#"switchboard_rate_limited_total{limit="frame"}"#), 3.0);
    assert_eq!(d(r#"switchboard_rate_limited_total{limit="connect"}"#), 0.0);
    assert_eq!(d(r#"switchboard_frames_out_total{type="welcome"}"#), 2.0);
    assert_eq!(d(r#"switchboard_frames_out_total{type="ack"}"#), 4.0);
    assert_eq!(d(r#"switchboard_frames_out_total{type="error"}"#), 5.0);
    assert_eq!(d(r#"switchboard_frames_out_total{type="pong"}"#), 2.0);
    assert_eq!(d(r#"switchboard_frames_out_total{type="other"}"#), 0.0);
    assert_eq!(d(r#"switchboard_store_seconds_count{op="append"}"#), 4.0);
    // Two stored visitor messages and the agent's, each handed to this node's sockets once
    // (system events, also messages, may add to it).
    assert!(d("switchboard_fanout_lag_seconds_count{}") >= 3.0);
    assert_eq!(
        d(r#"switchboard_connections_opened_total{role="visitor"}"#),
        1.0
    );
    assert_eq!(
        d(r#"switchboard_connections_opened_total{role="agent"}"#),
        1.0
    );
    assert_eq!(after.get(r#"switchboard_connections{role="visitor"}"#), 1.0);
    assert_eq!(after.get(r#"switchboard_connections{role="agent"}"#), 1.0);
    assert_eq!(after.get(r#"switchboard_connections{role="bot"}"#), 0.0);
    assert_eq!(after.get("switchboard_slow_consumer_closes_total{}"), 0.0);
    // No series is labelled with a conversation or visitor id.
    assert!(
        after.0.keys().all(|k| !k.contains(&conv)),
        "a conversation id in a label"
    );

    // The gauge follows the socket's end.
    drop(visitor);
    eventually(
        "the visitor's session to end",
        Duration::from_secs(10),
        || async {
            let s = scrape(&relay).await;
            (s.get(r#"switchboard_connections{role="visitor"}"#) == 0.0).then_some(())
        },
    )
    .await;

    // Who may read it: the operator token on the public listener (else a 404, as for any
    // unknown path), anyone who reaches the metrics listener.
    assert_eq!(get(&relay.http("/metrics"), None).await.0, 404);
    assert_eq!(
        get(&relay.http("/metrics"), Some("wrong-token-0123456789"))
            .await
            .0,
        404
    );
    assert_eq!(get(&relay.http("/metrics"), Some(AGENT_TOKEN)).await.0, 404);
    let private = relay.relay.metrics_addr.expect("the metrics listener");
    let (status, body) = get(&format!("http://{private}/metrics"), None).await;
    assert_eq!(status, 200);
    assert!(Scrape::parse(&body).get(r#"switchboard_connections{role="agent"}"#) == 1.0);
    // Only /metrics there.
    assert_eq!(get(&format!("http://{private}/healthz"), None).await.0, 404);
    relay.stop().await;
}

/// Guessing the operator token on the public listener is a failed authentication like any
/// other: past the address's quota every try is refused (429), the right token too, and the
/// metrics listener still answers.
#[tokio::test]
async fn guessing_the_metrics_token_is_rate_limited() {
    let relay = TestRelay::start_with(|c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        c.limits.enabled = true;
        c.limits.auth_failures_per_address = Rate::new(3, 1);
    })
    .await;
    let url = relay.http("/metrics");
    // Garbage in the header is a wrong token like any other.
    let garbage = reqwest::Client::new()
        .get(&url)
        .header("authorization", "Basic ../../etc/passwd%00\"}{")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status().as_u16(), 404);
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(
            get(&url, Some(&format!("guess-{i}-0123456789abcdef")))
                .await
                .0,
        );
    }
    // Quota 3: the fourth failure (the garbage and three guesses) blocks the address.
    assert_eq!(statuses, [404, 404, 404, 429, 429]);
    assert_eq!(get(&url, Some(OPERATOR_TOKEN)).await.0, 429);
    let private = relay.relay.metrics_addr.unwrap();
    let (status, body) = get(&format!("http://{private}/metrics"), None).await;
    assert_eq!(status, 200);
    // Refused at the gate: two guesses and the right token.
    assert_eq!(
        Scrape::parse(&body).get(r#"switchboard_rate_limited_total{limit="auth"}"#),
        3.0
    );
    relay.stop().await;
}

/// Every metric name the dashboard's queries use (`switchboard_…`) is one the relay exports.
#[tokio::test]
async fn the_grafana_dashboard_uses_only_exported_metrics() {
    // A webhook bot and a site webhook (their queues' gauges) and one refusal (a family whose
    // series appear with their first code), so every family is in the scrape.
    let relay = TestRelay::start_with(|c| {
        c.bots[0].webhook_url = Some("http://127.0.0.1:9/hook".into());
        c.bots[0].webhook_secret = Some("a-webhook-secret-of-32-characters-or-more".into());
        c.sites[0].webhooks = vec![switchboard_relay::config::SiteWebhook {
            url: "http://127.0.0.1:9/crm".into(),
            secret: "a-webhook-secret-of-32-characters-or-more".into(),
            events: vec![switchboard_protocol::webhook::SiteEventType::MessageCreated],
        }];
    })
    .await;
    let mut visitor = relay.visitor().await;
    visitor.raw("{not json").await;
    visitor.roundtrip().await;
    let exported = scrape(&relay).await.names();
    let dashboard =
        std::fs::read_to_string(workspace().join("docs/grafana/switchboard.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&dashboard).expect("valid JSON");
    let mut exprs = Vec::new();
    collect_exprs(&json, &mut exprs);
    assert!(
        exprs.len() >= 10,
        "the dashboard has {} queries",
        exprs.len()
    );
    let mut used = BTreeSet::new();
    for expr in &exprs {
        let mut rest = expr.as_str();
        while let Some(i) = rest.find("switchboard_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[i + name.len()..];
            used.insert(name);
        }
    }
    // A series name is its family's, or the family's with a counter's or histogram's suffix.
    let family = |name: &str| -> Option<String> {
        ["", "_total", "_bucket", "_count", "_sum"]
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .find(|base| exported.contains(*base))
            .map(str::to_owned)
    };
    let missing: Vec<_> = used.iter().filter(|n| family(n).is_none()).collect();
    assert!(
        missing.is_empty(),
        "not exported: {missing:?}; exported: {exported:?}"
    );
    // And every exported family has a panel.
    let shown: BTreeSet<String> = used.iter().filter_map(|n| family(n)).collect();
    let unshown: Vec<_> = exported.difference(&shown).collect();
    assert!(unshown.is_empty(), "no panel for {unshown:?}");
    relay.stop().await;
}

fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

/// `--log-format json`: every line is a JSON object; with the session's debug lines on, one
/// conversation can be followed by its id (the visitor's session, its frames, the agent's
/// answer); no line holds a word anyone wrote.
#[tokio::test]
async fn json_logs_follow_a_conversation_and_hold_no_message_text() {
    let mut relay = RelayProcess::start_logged(
        &["--log-format", "json"],
        "info,switchboard_relay::session=debug",
    )
    .await;
    let secret = "zebra-sapphire-7731";
    let mut visitor = crate::util::Client::connect(
        &relay.ws("/v1/visitor?site=demo"),
        Some(&relay.shop_origin()),
    )
    .await
    .unwrap();
    visitor
        .send(&ClientMsg::Hello(switchboard_protocol::client::Hello {
            protocol: switchboard_protocol::PROTOCOL_VERSION,
            token: None,
            context: None,
            identity_token: None,
        }))
        .await;
    let mut visitor = visitor.welcome().await;
    let conv = visitor.conversation_id();
    visitor.say("v1", &format!("my card is {secret}")).await;
    visitor
        .until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    let mut agent = crate::util::Client::connect(&relay.ws("/v1/agent"), None)
        .await
        .unwrap();
    agent
        .send(&ClientMsg::Hello(switchboard_protocol::client::Hello {
            protocol: switchboard_protocol::PROTOCOL_VERSION,
            token: Some(crate::process::AGENT_TOKEN.into()),
            context: None,
            identity_token: None,
        }))
        .await;
    let mut agent = agent.welcome().await;
    agent
        .send(&send(&conv, "a1", &format!("noted, {secret}-reply")))
        .await;
    agent
        .until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    drop(visitor);
    drop(agent);
    relay.stop().await;

    let logs = relay.logs();
    assert!(!logs.is_empty(), "no log lines");
    let mut about_conv = Vec::new();
    for line in logs.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        assert!(!line.contains(secret), "message text in the logs: {line}");
        if line.contains(&conv) {
            about_conv.push(v);
        }
    }
    let messages: Vec<&str> = about_conv
        .iter()
        .filter_map(|v| v["message"].as_str())
        .collect();
    // The visitor's session, its frame stored, and the agent's answer to it, all by id.
    assert!(messages.contains(&"session started"), "{messages:?}");
    assert!(messages.contains(&"message stored"), "{messages:?}");
    let frames: Vec<&serde_json::Value> = about_conv
        .iter()
        .flat_map(|v| v["spans"].as_array().into_iter().flatten())
        .filter(|s| s["name"] == "frame" && s["conversation"] == conv.as_str())
        .collect();
    let conns: BTreeSet<u64> = frames.iter().filter_map(|s| s["conn"].as_u64()).collect();
    assert!(
        conns.len() >= 2,
        "the visitor's and the agent's frames on {conv}: {frames:?}"
    );
    assert!(frames.iter().any(|s| s["kind"] == "send"));
}
