//! The relay's Prometheus metrics, exported at `/metrics` (names, labels and who may read them:
//! `docs/operations.md`).
//!
//! Every series is created up front (error codes: on first use) and its handle kept, so
//! counting is one relaxed atomic add: no map lookup under a lock, no allocation, per frame.
//! Label values come from closed sets (roles, frame types, error codes, store operations,
//! rate-limit scopes, configured bot ids), never from conversations, visitors or addresses,
//! so the number of series is bounded whatever the traffic.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use switchboard_protocol::ErrorCode;

type Label = [(&'static str, &'static str); 1];

/// Every client frame type (`ClientMsg::kind`); anything else counts as `other`. The most
/// frequent first: a lookup scans the list (16–80 ns from first to last, BENCHMARKS.md).
pub const CLIENT_TYPES: &[&str] = &[
    "send",
    "delta",
    "typing",
    "ping",
    "sync",
    "hello",
    "set_context",
    "identify",
    "postback",
    "handoff",
    "hand_back",
    "list_conversations",
    "assign",
    "transfer",
    "set_status",
    "set_priority",
    "set_presence",
    "list_view",
    "block",
    "note",
    "search",
    "visitor_history",
    "list_canned",
    "create_canned",
    "update_canned",
    "delete_canned",
    "rate",
    "read",
];

/// Every server frame type (`ServerMsg`'s tags); anything else counts as `other`. The most
/// frequent first, as above.
pub const SERVER_TYPES: &[&str] = &[
    "message",
    "delta",
    "ack",
    "typing",
    "pong",
    "conversation",
    "welcome",
    "synced",
    "error",
    "availability",
    "queue",
    "context",
    "conversations",
    "view",
    "search_results",
    "visitor_history",
    "routed",
    "released",
    "presence",
    "directory",
    "mention",
    "canned",
    "read",
    "page_trail",
];

/// Who is on the other end of a WebSocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Visitor,
    Agent,
    Bot,
}

impl Role {
    const ALL: [Role; 3] = [Role::Visitor, Role::Agent, Role::Bot];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Visitor => "visitor",
            Role::Agent => "agent",
            Role::Bot => "bot",
        }
    }
}

/// Which limit refused something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// A frame over its connection's quota.
    Frame,
    /// A WebSocket upgrade over the address's rate.
    Connect,
    /// A new visitor or conversation over the address's or the site's rate.
    NewVisitor,
    /// An address blocked for failed authentications.
    Auth,
    /// An account name blocked for failed password sign-ins.
    Login,
    BotApi,
    AdminApi,
}

impl Limit {
    const ALL: [Limit; 7] = [
        Limit::Frame,
        Limit::Connect,
        Limit::NewVisitor,
        Limit::Auth,
        Limit::Login,
        Limit::BotApi,
        Limit::AdminApi,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Frame => "frame",
            Limit::Connect => "connect",
            Limit::NewVisitor => "new_visitor",
            Limit::Auth => "auth",
            Limit::Login => "login",
            Limit::BotApi => "bot_api",
            Limit::AdminApi => "admin_api",
        }
    }
}

/// A timed store (broker) operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOp {
    /// A message's append (visitor, agent or bot `send`, postback).
    Append,
    /// A `sync`'s read of the log.
    History,
    /// A live event's publish (every node's hub).
    Publish,
    /// `/healthz`'s ping.
    Ping,
}

impl StoreOp {
    const ALL: [StoreOp; 4] = [
        StoreOp::Append,
        StoreOp::History,
        StoreOp::Publish,
        StoreOp::Ping,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StoreOp::Append => "append",
            StoreOp::History => "history",
            StoreOp::Publish => "publish",
            StoreOp::Ping => "ping",
        }
    }
}

/// What became of one webhook POST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// 2xx: taken, deleted from the queue.
    Delivered,
    /// A status that is not retried (4xx other than 408/429): dropped.
    Refused,
    /// A failure that is retried (5xx, 408, 429, unreachable).
    Failed,
}

impl WebhookOutcome {
    const ALL: [WebhookOutcome; 3] = [
        WebhookOutcome::Delivered,
        WebhookOutcome::Refused,
        WebhookOutcome::Failed,
    ];

    fn as_str(self) -> &'static str {
        match self {
            WebhookOutcome::Delivered => "delivered",
            WebhookOutcome::Refused => "refused",
            WebhookOutcome::Failed => "failed",
        }
    }
}

/// Counters for a closed list of label values, found by a short scan of `&'static str`s
/// (measured faster than a binary search for the frequent types at the head of the list).
struct ByName {
    names: &'static [&'static str],
    counters: Vec<Counter>,
    other: Counter,
}

impl ByName {
    fn new(family: &Family<Label, Counter>, label: &'static str, names: &'static [&str]) -> Self {
        ByName {
            names,
            counters: names
                .iter()
                .map(|n| family.get_or_create(&[(label, *n)]).clone())
                .collect(),
            other: family.get_or_create(&[(label, "other")]).clone(),
        }
    }

    fn get(&self, name: &str) -> &Counter {
        match self.names.iter().position(|n| *n == name) {
            Some(i) => &self.counters[i],
            None => &self.other,
        }
    }
}

/// Refusals by error code: a series per code, made the first time the code is counted (so
/// the list of codes is `ErrorCode`'s own and never copied here).
struct ByCode {
    family: Family<Label, Counter>,
    counters: [OnceLock<Counter>; 64],
}

impl ByCode {
    fn get(&self, code: ErrorCode) -> &Counter {
        let slot = &self.counters[(code as usize).min(63)];
        slot.get_or_init(|| {
            self.family
                .get_or_create(&[("code", code.as_str())])
                .clone()
        })
    }
}

/// The relay's metrics: one per relay (tests run several in one process).
pub struct Metrics {
    registry: Registry,
    connections: [Gauge; 3],
    connections_opened: [Counter; 3],
    frames_in: ByName,
    frames_out: ByName,
    refusals: ByCode,
    rate_limited: [Counter; 7],
    pub slow_closes: Counter,
    store_seconds: [Histogram; 4],
    fanout_lag: Histogram,
    webhook_posts: [Counter; 3],
    webhook_backlog: Family<[(&'static str, String); 1], Gauge>,
    webhook_overflow: Counter,
    site_webhook_posts: [Counter; 3],
    site_webhook_backlog: Family<[(&'static str, String); 2], Gauge>,
    site_webhook_overflow: Counter,
    redis_resubscribes: Counter,
    open_sockets: Gauge,
    /// Scrapes bring the counters kept elsewhere up to date one at a time.
    scrape: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("switchboard");
        let connections = Family::<Label, Gauge>::default();
        let opened = Family::<Label, Counter>::default();
        let frames_in = Family::<Label, Counter>::default();
        let frames_out = Family::<Label, Counter>::default();
        let refusals = Family::<Label, Counter>::default();
        let rate_limited = Family::<Label, Counter>::default();
        let webhook_posts = Family::<Label, Counter>::default();
        let webhook_backlog = Family::default();
        let site_webhook_posts = Family::<Label, Counter>::default();
        let site_webhook_backlog = Family::default();
        let store = Family::<Label, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.000_25, 2.0, 15))) as fn() -> Histogram,
        );
        let metrics = Metrics {
            connections: Role::ALL
                .map(|r| connections.get_or_create(&[("role", r.as_str())]).clone()),
            connections_opened: Role::ALL
                .map(|r| opened.get_or_create(&[("role", r.as_str())]).clone()),
            frames_in: ByName::new(&frames_in, "type", CLIENT_TYPES),
            frames_out: ByName::new(&frames_out, "type", SERVER_TYPES),
            refusals: ByCode {
                family: refusals.clone(),
                counters: std::array::from_fn(|_| OnceLock::new()),
            },
            rate_limited: Limit::ALL
                .map(|l| rate_limited.get_or_create(&[("limit", l.as_str())]).clone()),
            slow_closes: Counter::default(),
            store_seconds: StoreOp::ALL.map(|o| store.get_or_create(&[("op", o.as_str())]).clone()),
            fanout_lag: Histogram::new(exponential_buckets(0.001, 2.0, 13)),
            webhook_posts: WebhookOutcome::ALL.map(|o| {
                webhook_posts
                    .get_or_create(&[("outcome", o.as_str())])
                    .clone()
            }),
            webhook_backlog: webhook_backlog.clone(),
            webhook_overflow: Counter::default(),
            site_webhook_posts: WebhookOutcome::ALL.map(|o| {
                (site_webhook_posts)
                    .get_or_create(&[("outcome", o.as_str())])
                    .clone()
            }),
            site_webhook_backlog: site_webhook_backlog.clone(),
            site_webhook_overflow: Counter::default(),
            redis_resubscribes: Counter::default(),
            open_sockets: Gauge::default(),
            scrape: Mutex::new(()),
            registry: Registry::default(),
        };
        registry.register(
            "connections",
            "Open WebSocket sessions by role",
            connections,
        );
        registry.register(
            "connections_opened",
            "WebSocket sessions opened by role",
            opened,
        );
        registry.register(
            "open_sockets",
            "Open TCP connections (HTTP and WebSocket) counted against the budget",
            metrics.open_sockets.clone(),
        );
        registry.register("frames_in", "Client frames decoded, by type", frames_in);
        registry.register(
            "frames_out",
            "Frames written to sockets, by type",
            frames_out,
        );
        registry.register(
            "refusals",
            "Frames refused with an error frame, by error code",
            refusals,
        );
        registry.register(
            "rate_limited",
            "Requests and frames refused by a rate limit, by limit",
            rate_limited,
        );
        registry.register(
            "slow_consumer_closes",
            "Connections closed because their outbound queue overflowed (4008)",
            metrics.slow_closes.clone(),
        );
        registry.register(
            "store_seconds",
            "Latency of store (broker) operations, by operation",
            store,
        );
        registry.register(
            "fanout_lag_seconds",
            "From a message's append to its hand-off to this node's sockets",
            metrics.fanout_lag.clone(),
        );
        registry.register(
            "webhook_posts",
            "Webhook POSTs to bots by outcome",
            webhook_posts,
        );
        registry.register(
            "webhook_backlog",
            "Events waiting in each webhook bot's queue",
            webhook_backlog,
        );
        registry.register(
            "webhook_overflow",
            "Events that did not fit a webhook bot's queue",
            metrics.webhook_overflow.clone(),
        );
        registry.register(
            "site_webhook_posts",
            "Webhook POSTs to sites' CRM/data webhooks by outcome",
            site_webhook_posts,
        );
        registry.register(
            "site_webhook_backlog",
            "Events waiting in each site webhook's queue, by site and webhook (its index)",
            site_webhook_backlog,
        );
        registry.register(
            "site_webhook_overflow",
            "Events that did not fit a site webhook's queue (or could not be queued)",
            metrics.site_webhook_overflow.clone(),
        );
        registry.register(
            "redis_resubscribes",
            "Times the Redis subscription came back after a loss (clients were told to resync)",
            metrics.redis_resubscribes.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// A WebSocket session began; `connection_closed` with the same role when it ends.
    pub fn connection_opened(&self, role: Role) {
        self.connections[role as usize].inc();
        self.connections_opened[role as usize].inc();
    }

    pub fn connection_closed(&self, role: Role) {
        self.connections[role as usize].dec();
    }

    /// A decoded client frame (`ClientMsg::kind`).
    pub fn frame_in(&self, kind: &str) {
        self.frames_in.get(kind).inc();
    }

    /// A frame about to be written; its type is read from the `{"type":"…"` every server
    /// frame starts with (serde writes an internally tagged enum's tag first).
    pub fn frame_out(&self, json: &str) {
        let kind = json
            .strip_prefix("{\"type\":\"")
            .and_then(|rest| rest.split_once('"'))
            .map_or("", |(kind, _)| kind);
        self.frames_out.get(kind).inc();
    }

    pub fn refused(&self, code: ErrorCode) {
        self.refusals.get(code).inc();
    }

    pub fn rate_limited(&self, limit: Limit) {
        self.rate_limited[limit as usize].inc();
    }

    pub fn store(&self, op: StoreOp, took: Duration) {
        self.store_seconds[op as usize].observe(took.as_secs_f64());
    }

    pub fn webhook(&self, outcome: WebhookOutcome) {
        self.webhook_posts[outcome as usize].inc();
    }

    pub fn site_webhook(&self, outcome: WebhookOutcome) {
        self.site_webhook_posts[outcome as usize].inc();
    }

    pub fn redis_resubscribed(&self) {
        self.redis_resubscribes.inc();
    }

    /// A live frame handed to this node's sockets: for a `message`, how long after its append
    /// (its `at`, stamped by the node that appended it; clamped at zero for clock skew).
    pub fn fanned_out(&self, json: &str, now_ms: u64) {
        if !json.starts_with("{\"type\":\"message\"") {
            return;
        }
        #[derive(serde::Deserialize)]
        struct At {
            at: u64,
        }
        if let Ok(At { at }) = serde_json::from_str::<At>(json) {
            self.fanout_lag
                .observe(now_ms.saturating_sub(at) as f64 / 1000.0);
        }
    }

    /// The text exposition, after setting what is read at scrape time.
    pub fn render(&self, scraped: Scraped) -> String {
        let _one = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.open_sockets.set(scraped.open_sockets as i64);
        for (bot, n) in scraped.webhook_backlog {
            self.webhook_backlog
                .get_or_create(&[("bot", bot)])
                .set(n as i64);
        }
        // Kept by `Webhooks` since the start; brought up to its value.
        let overflow = self.webhook_overflow.get();
        if scraped.webhook_overflow > overflow {
            self.webhook_overflow
                .inc_by(scraped.webhook_overflow - overflow);
        }
        for (site, hook, n) in scraped.site_webhook_backlog {
            self.site_webhook_backlog
                .get_or_create(&[("site", site), ("webhook", hook)])
                .set(n as i64);
        }
        let overflow = self.site_webhook_overflow.get();
        if scraped.site_webhook_overflow > overflow {
            self.site_webhook_overflow
                .inc_by(scraped.site_webhook_overflow - overflow);
        }
        let mut out = String::with_capacity(16 * 1024);
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// What a scrape reads from the rest of the relay.
#[derive(Debug, Default)]
pub struct Scraped {
    pub open_sockets: usize,
    /// Each webhook bot (from the configuration: a bounded set) and its queue's length.
    pub webhook_backlog: Vec<(String, u64)>,
    pub webhook_overflow: u64,
    /// Each site webhook (site key, its index: from the configuration, a bounded set) and its
    /// queue's length.
    pub site_webhook_backlog: Vec<(String, String, u64)>,
    pub site_webhook_overflow: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list is ordered by frequency, so it is not the protocol's list itself: this keeps
    /// the two from drifting apart when a frame type is added.
    #[test]
    fn every_client_frame_type_has_its_own_series() {
        let mut ours: Vec<&str> = CLIENT_TYPES.to_vec();
        let mut protocol: Vec<&str> = switchboard_protocol::client::KNOWN_TYPES.to_vec();
        ours.sort_unstable();
        protocol.sort_unstable();
        assert_eq!(ours, protocol);
    }

    #[test]
    fn frame_types_are_read_from_the_tag_and_unknown_ones_are_other() {
        let m = Metrics::new();
        m.frame_out(r#"{"type":"ack","seq":1}"#);
        m.frame_out(r#"{"type":"ack","seq":2}"#);
        m.frame_out(r#"{"type":"brand_new"}"#);
        m.frame_out("not json");
        m.frame_in("send");
        m.refused(ErrorCode::RateLimited);
        let text = m.render(Scraped::default());
        assert!(
            text.contains("switchboard_frames_out_total{type=\"ack\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("switchboard_frames_out_total{type=\"other\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("switchboard_frames_in_total{type=\"send\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("switchboard_refusals_total{code=\"rate_limited\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn fan_out_lag_reads_the_message_time_only_from_messages() {
        let m = Metrics::new();
        m.fanned_out(
            r#"{"type":"message","conversation_id":"c","seq":1,"sender":{"kind":"visitor","at":1},"text":"\"at\":5","at":1000}"#,
            1_250,
        );
        m.fanned_out(r#"{"type":"typing","at":0}"#, 1_250);
        let text = m.render(Scraped::default());
        assert!(
            text.contains("switchboard_fanout_lag_seconds_count 1\n"),
            "{text}"
        );
        assert!(
            text.contains("switchboard_fanout_lag_seconds_sum 0.25\n"),
            "{text}"
        );
    }
}
