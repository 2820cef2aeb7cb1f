//! Rate limits: what one connection, one address, one site and one bot token may do per unit
//! of time, so a single client cannot fill the store, the agents' inboxes or their sockets.
//!
//! Every limit is a GCRA quota from `governor` (a burst, refilled at a steady rate): a real
//! visitor typing, clicking and navigating never meets one; a script does at once. Over a
//! limit a frame is refused with `rate_limited` and a `retry_after_ms`, and nothing changes;
//! a connection that keeps going after [`Limits::close_after_refusals`] refusals in a row is
//! closed with 4029. The defaults suit a real shop; each is configurable under `[limits]`.
//!
//! Per-address limits key IPv6 clients by their /64, the block one subscriber gets, so an
//! attacker cannot step around them by walking the host part of one address.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{NotUntil, Quota};
use serde::Deserialize;
use switchboard_protocol::{ClientMsg, ErrorCode};

use crate::metrics::{Limit, Metrics};
use crate::session::Refusal;

type Instant = <MonotonicClock as Clock>::Instant;
type Direct =
    governor::RateLimiter<NotKeyed, InMemoryState, MonotonicClock, NoOpMiddleware<Instant>>;
type Keyed<K> = governor::RateLimiter<
    K,
    governor::state::keyed::DashMapStateStore<K>,
    MonotonicClock,
    NoOpMiddleware<Instant>,
>;

/// `burst` events at once, refilled at `per_minute` a minute.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub burst: u32,
    pub per_minute: u32,
}

impl Rate {
    pub const fn new(burst: u32, per_minute: u32) -> Rate {
        Rate { burst, per_minute }
    }

    fn quota(self) -> Quota {
        let burst = NonZeroU32::new(self.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs(60) / self.per_minute.max(1);
        Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(burst)
    }
}

/// The frame classes limited per connection. Pings, syncs and typing share `control`: each is
/// cheap, but a flood of any of them is still a flood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Messages,
    Context,
    Control,
    Search,
    Stream,
}

fn class_of(msg: &ClientMsg) -> Option<Class> {
    Some(match msg {
        ClientMsg::Hello(_) => return None,
        // A note is stored and fanned out like a message: the same quota.
        ClientMsg::Send(_) | ClientMsg::Postback { .. } | ClientMsg::Note(_) | ClientMsg::Rate(_) => {
            Class::Messages
        }
        ClientMsg::SetContext { .. } | ClientMsg::Identify { .. } => Class::Context,
        // Each stores a system event and reaches every agent and the visitor.
        ClientMsg::Handoff { .. }
        | ClientMsg::HandBack { .. }
        | ClientMsg::Assign { .. }
        | ClientMsg::Transfer { .. }
        | ClientMsg::SetStatus { .. }
        | ClientMsg::SetPriority { .. }
        | ClientMsg::SetPresence { .. }
        | ClientMsg::Block { .. }
        // Each writes the store and reaches every agent of the site.
        | ClientMsg::CreateCanned { .. }
        | ClientMsg::UpdateCanned { .. }
        | ClientMsg::DeleteCanned { .. } => Class::Messages,
        ClientMsg::Typing { .. }
        | ClientMsg::Sync { .. }
        | ClientMsg::Ping { .. }
        | ClientMsg::ListConversations { .. }
        | ClientMsg::ListView { .. }
        | ClientMsg::VisitorHistory { .. }
        | ClientMsg::ListCanned { .. }
        // Cheap to refuse: a mark at or below the last one this connection stored does not
        // reach the store (`session::receipts`).
        | ClientMsg::Read { .. } => Class::Control,
        // Each one reads an index across the agent's sites: far dearer than a page of the inbox.
        ClientMsg::Search(_) => Class::Search,
        ClientMsg::Delta(_) => Class::Stream,
    })
}

/// Per-connection quotas of one role.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct FrameRates {
    /// `send`, `postback`, a bot's `handoff`/`hand_back`, an agent's lifecycle changes: what
    /// is stored and fanned out.
    pub messages: Rate,
    /// `set_context`: each one is pushed whole to every agent of the site.
    pub context: Rate,
    /// `typing`, `sync`, `ping`, `read`, `list_conversations`, `visitor_history`.
    pub control: Rate,
    /// `search` (agents only; others are refused anyway).
    pub search: Rate,
    /// A bot's `delta`s: an LLM's answer arrives in many small pieces, for every conversation
    /// the bot is answering at once.
    pub stream: Rate,
}

impl Default for FrameRates {
    fn default() -> FrameRates {
        FrameRates::VISITOR
    }
}

impl FrameRates {
    /// Someone typing fast sends a message every couple of seconds; ten at once covers a paste
    /// of queued messages after a reconnect (the outbox resends them in one go).
    pub const VISITOR: FrameRates = FrameRates {
        messages: Rate::new(20, 60),
        context: Rate::new(10, 30),
        control: Rate::new(60, 300),
        search: Rate::new(1, 1),
        stream: Rate::new(1, 1),
    };
    /// Agents are signed in, but a stolen or buggy console must not flood visitors either.
    pub const AGENT: FrameRates = FrameRates {
        messages: Rate::new(60, 300),
        context: Rate::new(10, 30),
        control: Rate::new(240, 1200),
        // Someone refining a search types a few in a row, then reads.
        search: Rate::new(10, 30),
        stream: Rate::new(1, 1),
    };
    /// A bot answers every conversation of its site on one connection.
    pub const BOT: FrameRates = FrameRates {
        messages: Rate::new(200, 6000),
        context: Rate::new(10, 30),
        control: Rate::new(600, 6000),
        search: Rate::new(1, 1),
        // 20 answers streaming at once, ten pieces a second each.
        stream: Rate::new(1000, 12000),
    };
}

/// The `[limits]` section.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub visitor: FrameRates,
    pub agent: FrameRates,
    pub bot: FrameRates,
    /// Refusals in a row after which a connection is closed (4029).
    pub close_after_refusals: u32,
    /// Whether rate limits apply at all (frames, addresses, sites, tokens, the per-address
    /// socket share). Off only for load tests, where every client shares 127.0.0.1 and
    /// streams far faster than a person types.
    pub enabled: bool,
    /// WebSocket upgrades (any role) per address.
    pub connects_per_address: Rate,
    /// Open TCP connections per address (checked at accept, before any HTTP is read).
    pub connections_per_address: u32,
    /// Visitors stored (their first message) per address.
    pub new_visitors_per_address: Rate,
    /// Failed agent or bot authentications per address; over it, every attempt from that
    /// address is refused until the wait is over, right or wrong.
    pub auth_failures_per_address: Rate,
    /// Failed console sign-ins per account name (known or not); over it, every sign-in with
    /// that name is refused until the wait is over, right password or not.
    pub login_failures_per_account: Rate,
    /// New conversations per site, whatever the addresses.
    pub new_conversations_per_site: Rate,
    /// Bot HTTP API requests per bot token.
    pub bot_api_per_token: Rate,
    /// Admin API requests (export, delete) per admin agent or operator token.
    pub admin_api_per_token: Rate,
    /// Open connections in all; visitors are refused (503) at this less `reserved`, which is
    /// kept for agents, bots and health checks.
    pub max_connections: u32,
    pub reserved: u32,
    /// How long a client may take to send a request's headers.
    pub header_timeout_secs: u64,
    /// How long a client may take to send a request's body.
    pub body_timeout_secs: u64,
    /// Events one webhook bot may have queued (in the broker) while it does not take them;
    /// see `bots::webhook` for what happens past it.
    pub webhook_backlog: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            visitor: FrameRates::VISITOR,
            agent: FrameRates::AGENT,
            bot: FrameRates::BOT,
            close_after_refusals: 50,
            enabled: true,
            // Offices and mobile carriers put many visitors behind one address.
            connects_per_address: Rate::new(120, 600),
            connections_per_address: 512,
            new_visitors_per_address: Rate::new(30, 60),
            auth_failures_per_address: Rate::new(10, 10),
            // Spread over many addresses, a guesser still gets two tries a minute per account;
            // a person mistyping gets five before the first wait.
            login_failures_per_account: Rate::new(5, 2),
            new_conversations_per_site: Rate::new(300, 1200),
            bot_api_per_token: Rate::new(200, 6000),
            // A person working through requests, or a script doing a backlog slowly.
            admin_api_per_token: Rate::new(30, 120),
            max_connections: 60_000,
            reserved: 1_000,
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            webhook_backlog: 10_000,
        }
    }
}

/// Turns a limiter's "not until" into the refusal a client sees.
fn refusal(not_until: NotUntil<Instant>, what: &str) -> Refusal {
    let wait = not_until.wait_time_from(MonotonicClock.now());
    let mut r = Refusal::new(
        ErrorCode::RateLimited,
        format!("too many {what}; retry later"),
    );
    r.retry_after_ms = Some(wait.as_millis().max(1) as u64);
    r
}

/// One connection's quotas. Boxed by the session on its first limited frame, so an idle
/// connection carries one pointer, not three limiters.
pub struct FrameLimits {
    messages: Direct,
    context: Direct,
    control: Direct,
    search: Direct,
    stream: Direct,
    /// Refusals since a frame of the refused class last passed. Other classes passing do not
    /// reset it, or a flood interleaved with pings would never be closed.
    refused_in_a_row: u32,
    refused_class: Option<Class>,
}

/// What the session does with a frame after the limits looked at it.
pub enum Verdict {
    Pass,
    Refuse(Refusal),
    /// Refused too often in a row: close the connection.
    Close(Refusal),
}

impl FrameLimits {
    pub fn new(rates: &FrameRates) -> FrameLimits {
        let direct = |r: Rate| Direct::direct_with_clock(r.quota(), MonotonicClock);
        FrameLimits {
            messages: direct(rates.messages),
            context: direct(rates.context),
            control: direct(rates.control),
            search: direct(rates.search),
            stream: direct(rates.stream),
            refused_in_a_row: 0,
            refused_class: None,
        }
    }

    pub fn check(&mut self, msg: &ClientMsg, close_after: u32) -> Verdict {
        let Some(class) = class_of(msg) else {
            return Verdict::Pass;
        };
        let (limiter, what) = match class {
            Class::Messages => (&self.messages, "messages"),
            Class::Context => (&self.context, "context updates"),
            Class::Control => (&self.control, "frames"),
            Class::Search => (&self.search, "searches"),
            Class::Stream => (&self.stream, "deltas"),
        };
        match limiter.check() {
            Ok(()) => {
                if self.refused_class == Some(class) {
                    self.refused_in_a_row = 0;
                    self.refused_class = None;
                }
                Verdict::Pass
            }
            Err(nu) => {
                self.refused_in_a_row += 1;
                self.refused_class = Some(class);
                let r = refusal(nu, what);
                if self.refused_in_a_row >= close_after.max(1) {
                    Verdict::Close(r)
                } else {
                    Verdict::Refuse(r)
                }
            }
        }
    }
}

/// The key of an address for per-address limits: IPv4 as is, IPv6 by its /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(s.into())
            }
        },
    }
}

/// The limits shared by every connection of this node. Per node, not cluster-wide: behind a
/// load balancer each node enforces its own share, which bounds a client by N × the quota.
pub struct Limiters {
    pub config: Limits,
    connects: Keyed<IpAddr>,
    new_visitors: Keyed<IpAddr>,
    auth_failures: FailureGate<IpAddr>,
    login_failures: FailureGate<String>,
    new_conversations: Keyed<String>,
    bot_api: Keyed<String>,
    admin_api: Keyed<String>,
    /// Where refusals are counted (`switchboard_rate_limited_total`).
    metrics: std::sync::Arc<Metrics>,
}

/// A limiter per key (an address, a site, a token) for one quota.
fn keyed<K: std::hash::Hash + Eq + Clone>(rate: Rate) -> Keyed<K> {
    Keyed::dashmap_with_clock(rate.quota(), MonotonicClock)
}

impl Limiters {
    pub fn new(config: Limits) -> Limiters {
        Limiters {
            connects: keyed(config.connects_per_address),
            new_visitors: keyed(config.new_visitors_per_address),
            auth_failures: FailureGate::new(config.auth_failures_per_address),
            login_failures: FailureGate::new(config.login_failures_per_account),
            new_conversations: keyed(config.new_conversations_per_site),
            bot_api: keyed(config.bot_api_per_token),
            admin_api: keyed(config.admin_api_per_token),
            config,
            metrics: Default::default(),
        }
    }

    /// Counts refusals in the relay's metrics (by default in a set nobody reads).
    pub fn counted_in(mut self, metrics: std::sync::Arc<Metrics>) -> Limiters {
        self.metrics = metrics;
        self
    }

    /// A WebSocket upgrade from this address.
    pub fn connect(&self, ip: IpAddr) -> Result<(), Refusal> {
        if !self.config.enabled {
            return Ok(());
        }
        self.connects
            .check_key(&address_key(ip))
            .map_err(|nu| refusal(nu, "connections from this address"))
    }

    /// A visitor about to be stored (its first message) from this address, on this site.
    pub fn new_visitor(&self, ip: IpAddr, site: &str) -> Result<(), Refusal> {
        if !self.config.enabled {
            return Ok(());
        }
        self.new_visitors
            .check_key(&address_key(ip))
            .map_err(|nu| refusal(nu, "new conversations from this address"))
            .and_then(|()| {
                self.new_conversations
                    .check_key(&site.to_owned())
                    .map_err(|nu| refusal(nu, "new conversations on this site"))
            })
            .inspect_err(|_| self.metrics.rate_limited(Limit::NewVisitor))
    }

    /// Refuses at once while the address is blocked for failed authentications.
    pub fn auth_allowed(&self, ip: IpAddr) -> Result<(), Refusal> {
        if !self.config.enabled {
            return Ok(());
        }
        self.auth_failures
            .allowed(&address_key(ip))
            .map_err(|wait| blocked(wait, "failed authentications from this address"))
            .inspect_err(|_| self.metrics.rate_limited(Limit::Auth))
    }

    /// Counts a failed authentication; past the quota the address is blocked until it refills.
    pub fn auth_failed(&self, ip: IpAddr) {
        self.auth_failures.failed(address_key(ip));
    }

    /// Refuses at once while the account name is blocked for failed sign-ins. `name` is what
    /// the client typed, normalized, whether or not such an agent exists, so the answer says
    /// nothing about which do.
    pub fn login_allowed(&self, name: &str) -> Result<(), Refusal> {
        if !self.config.enabled {
            return Ok(());
        }
        self.login_failures
            .allowed(&name.to_owned())
            .map_err(|wait| blocked(wait, "failed sign-ins for this account"))
            .inspect_err(|_| self.metrics.rate_limited(Limit::Login))
    }

    /// Counts a failed sign-in for the account name.
    pub fn login_failed(&self, name: &str) {
        self.login_failures.failed(name.to_owned());
    }

    /// A bot HTTP API request with this (valid) bot's id.
    pub fn bot_api(&self, bot_id: &str) -> Result<(), Refusal> {
        if !self.config.enabled {
            return Ok(());
        }
        self.bot_api
            .check_key(&bot_id.to_owned())
            .map_err(|nu| refusal(nu, "requests for this bot"))
            .inspect_err(|_| self.metrics.rate_limited(Limit::BotApi))
    }

    /// An admin API request by this (valid) admin (`agent:ID` or `operator`).
    pub fn admin_api(&self, who: &str) -> Result<(), Refusal> {
        if !self.config.enabled {
            return Ok(());
        }
        self.admin_api
            .check_key(&who.to_owned())
            .map_err(|nu| refusal(nu, "admin requests"))
            .inspect_err(|_| self.metrics.rate_limited(Limit::AdminApi))
    }

    /// Forgets keys whose quotas are full again, so the maps hold only recent clients.
    pub fn sweep(&self) {
        self.connects.retain_recent();
        self.new_visitors.retain_recent();
        self.auth_failures.sweep();
        self.login_failures.sweep();
        self.new_conversations.retain_recent();
        self.bot_api.retain_recent();
        self.admin_api.retain_recent();
    }
}

/// The refusal while a key is blocked for failures.
fn blocked(wait: Duration, what: &str) -> Refusal {
    let mut r = Refusal::new(
        ErrorCode::RateLimited,
        format!("too many {what}; retry later"),
    );
    r.retry_after_ms = Some(wait.as_millis().max(1) as u64);
    r
}

/// Failures per key (an address, an account name): within the quota nothing happens; past
/// it the key is refused outright until the quota has room again, so a guesser cannot keep
/// trying at the refill rate by spacing guesses against a counter it never sees.
struct FailureGate<K: std::hash::Hash + Eq + Clone> {
    failures: Keyed<K>,
    /// Keys refused until the instant.
    blocked: dashmap::DashMap<K, Instant>,
}

impl<K: std::hash::Hash + Eq + Clone> FailureGate<K> {
    fn new(rate: Rate) -> FailureGate<K> {
        FailureGate {
            failures: keyed(rate),
            blocked: Default::default(),
        }
    }

    /// `Err(wait)` while the key is blocked.
    fn allowed(&self, key: &K) -> Result<(), Duration> {
        let Some(until) = self.blocked.get(key).map(|u| *u) else {
            return Ok(());
        };
        let now = MonotonicClock.now();
        if until <= now {
            self.blocked.remove(key);
            return Ok(());
        }
        Err(until - now)
    }

    fn failed(&self, key: K) {
        if let Err(nu) = self.failures.check_key(&key) {
            let until = MonotonicClock.now() + nu.wait_time_from(MonotonicClock.now());
            self.blocked.insert(key, until);
        }
    }

    fn sweep(&self) {
        self.failures.retain_recent();
        let now = MonotonicClock.now();
        self.blocked.retain(|_, until| *until > now);
    }
}

/// Sweeps the limiters' maps every minute until shutdown.
pub async fn sweep(state: crate::AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => state.limiters.sweep(),
            _ = state.shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_class_is_refused_with_a_wait_and_then_closed() {
        let rates = FrameRates {
            messages: Rate::new(3, 60),
            ..FrameRates::VISITOR
        };
        let mut limits = FrameLimits::new(&rates);
        let ping = ClientMsg::Ping { nonce: None };
        let send: ClientMsg = serde_json::from_str(
            r#"{"type":"send","conversation_id":"c","client_id":"a","text":"hi"}"#,
        )
        .unwrap();
        for _ in 0..3 {
            assert!(matches!(limits.check(&send, 3), Verdict::Pass));
        }
        match limits.check(&send, 3) {
            Verdict::Refuse(r) => {
                assert_eq!(r.code, ErrorCode::RateLimited);
                let wait = r.retry_after_ms.unwrap();
                assert!((500..=1000).contains(&wait), "{wait}");
            }
            _ => panic!("the fourth message passed"),
        }
        // Another class is not held back by this one, and does not excuse the flood.
        assert!(matches!(limits.check(&ping, 3), Verdict::Pass));
        assert!(matches!(limits.check(&send, 3), Verdict::Refuse(_)));
        assert!(matches!(limits.check(&send, 3), Verdict::Close(_)));
    }

    #[test]
    fn notes_and_replies_share_the_agents_message_quota() {
        let rates = FrameRates {
            messages: Rate::new(2, 60),
            ..FrameRates::AGENT
        };
        let mut limits = FrameLimits::new(&rates);
        let send: ClientMsg = serde_json::from_str(
            r#"{"type":"send","conversation_id":"c","client_id":"a","text":"hi"}"#,
        )
        .unwrap();
        let note: ClientMsg = serde_json::from_str(
            r#"{"type":"note","conversation_id":"c","client_id":"n","text":"psst"}"#,
        )
        .unwrap();
        assert!(matches!(limits.check(&send, 3), Verdict::Pass));
        assert!(matches!(limits.check(&note, 3), Verdict::Pass));
        assert!(matches!(limits.check(&note, 3), Verdict::Refuse(_)));
    }

    #[test]
    fn ipv6_addresses_share_their_64_and_mapped_v4_is_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn failed_authentications_block_the_address_whatever_comes_next() {
        let limiters = Limiters::new(Limits {
            auth_failures_per_address: Rate::new(2, 1),
            ..Limits::default()
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..2 {
            assert!(limiters.auth_allowed(ip).is_ok());
            limiters.auth_failed(ip);
        }
        assert!(
            limiters.auth_allowed(ip).is_ok(),
            "two failures are within the burst"
        );
        limiters.auth_failed(ip);
        let refused = limiters.auth_allowed(ip).unwrap_err();
        assert_eq!(refused.code, ErrorCode::RateLimited);
        assert!(refused.retry_after_ms.unwrap() > 30_000);
        assert!(limiters.auth_allowed(other).is_ok());
    }
}
