//! Configuration: command-line flags (each also settable from the environment) plus an
//! optional TOML file listing sites and agents. Flags win over the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Parser;
use serde::Deserialize;

pub use crate::connection::Tuning;
pub use crate::limits::Limits;

/// Switchboard relay: live chat between website visitors and agents.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Args {
    /// TOML file with `[[sites]]` and `[[agents]]` (see README.md).
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address for the API, WebSockets, widget assets and console.
    #[arg(long, env = "SWITCHBOARD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the embedded store (created if missing).
    #[arg(long, env = "SWITCHBOARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Directory of built browser assets (`cargo xtask dist` writes `dist/`).
    #[arg(long, env = "SWITCHBOARD_ASSETS_DIR")]
    pub assets_dir: Option<PathBuf>,
    /// Redis to keep all state in and fan out through, so several relay nodes can share the
    /// load (e.g. `redis://127.0.0.1:6379/`). Without it the relay uses its embedded store.
    #[arg(long, env = "SWITCHBOARD_REDIS_URL")]
    pub redis_url: Option<String>,
    /// The URL browsers reach this relay at, if not `http://<listen>/`.
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Demo mode: serve the demo shop on `--demo-listen` and add the `demo` site and a demo agent.
    #[arg(long, env = "SWITCHBOARD_DEMO")]
    pub demo: bool,
    /// Address of the demo shop (demo mode only).
    #[arg(
        long,
        env = "SWITCHBOARD_DEMO_LISTEN",
        default_value = "127.0.0.1:8081"
    )]
    pub demo_listen: SocketAddr,
    /// Directory of the demo shop's pages (demo mode only).
    #[arg(long, env = "SWITCHBOARD_DEMO_DIR", default_value = "demo-site")]
    pub demo_dir: PathBuf,
    /// The relay URL the demo pages embed (demo mode only); this relay's own by default. Lets a
    /// test keep the shop up while the relay it embeds is stopped.
    #[arg(long, env = "SWITCHBOARD_DEMO_RELAY_URL")]
    pub demo_relay_url: Option<String>,
    /// Token of the demo agent (demo mode only); random if not given.
    #[arg(long, env = "SWITCHBOARD_DEMO_AGENT_TOKEN")]
    pub demo_agent_token: Option<String>,
    /// Console password of the demo agent (demo mode only); random if not given.
    #[arg(long, env = "SWITCHBOARD_DEMO_AGENT_PASSWORD")]
    pub demo_agent_password: Option<String>,
    /// Token of the demo's order-status bot (demo mode only); with it the demo site routes new
    /// conversations to that bot first. Without it the demo has no bot.
    #[arg(long, env = "SWITCHBOARD_DEMO_BOT_TOKEN")]
    pub demo_bot_token: Option<String>,
    /// Milliseconds between pings (the relay's, and the interval clients are told to use).
    #[arg(long, env = "SWITCHBOARD_PING_INTERVAL_MS", default_value_t = 10_000)]
    pub ping_interval_ms: u64,
    /// Milliseconds of silence after which a connection counts as dead.
    #[arg(long, env = "SWITCHBOARD_IDLE_TIMEOUT_MS", default_value_t = 30_000)]
    pub idle_timeout_ms: u64,
    /// Frames one connection may have queued before it is closed as slow (4008).
    #[arg(long, env = "SWITCHBOARD_OUTBOX_CAPACITY", default_value_t = 1024)]
    pub outbox_capacity: usize,
    /// Microseconds a busy connection's frames may wait to share one write with the frames
    /// behind them. 0 (the default) writes every frame at once. A connection that has not
    /// written within this window writes its next frame at once either way; only a steady
    /// stream (an agent watching a busy site) is batched, trading up to this much latency for
    /// fewer syscalls and wakeups per frame.
    #[arg(long, env = "SWITCHBOARD_WRITE_COALESCE_US", default_value_t = 0)]
    pub write_coalesce_us: u64,
    /// Milliseconds an agent stays present after its last connection to a node dropped.
    #[arg(long, env = "SWITCHBOARD_PRESENCE_GRACE_MS", default_value_t = 15_000)]
    pub presence_grace_ms: u64,
    /// Milliseconds between automatic assignment passes (a node also assigns at once on its own
    /// events; other nodes' events wait for this).
    #[arg(long, env = "SWITCHBOARD_ASSIGN_INTERVAL_MS", default_value_t = 1_000)]
    pub assign_interval_ms: u64,
    /// Token that unlocks the details of `/healthz` (counts, broker); without it the answer is
    /// only `ok` or `degraded`.
    #[arg(long, env = "SWITCHBOARD_OPERATOR_TOKEN")]
    pub operator_token: Option<String>,
    /// Milliseconds between retention purges (sites with `retention_days`).
    #[arg(
        long,
        env = "SWITCHBOARD_PURGE_INTERVAL_MS",
        default_value_t = 3_600_000
    )]
    pub purge_interval_ms: u64,
    /// A reverse proxy (address or CIDR range) whose `X-Forwarded-For` is believed; repeat for
    /// several. Adds to `trusted_proxies` in the file.
    #[arg(
        long = "trusted-proxy",
        env = "SWITCHBOARD_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Rate limits (per connection, address, site and token; see `[limits]`). Turn off only
    /// for load tests, where every client comes from one address and streams far faster
    /// than a person types.
    #[arg(long, env = "SWITCHBOARD_RATE_LIMITS", action = clap::ArgAction::Set, default_value_t = true, overrides_with = "rate_limits")]
    pub rate_limits: bool,
    /// Seconds an agent's console sign-in (its session cookie) lasts.
    #[arg(long, env = "SWITCHBOARD_AGENT_SESSION_SECS", default_value_t = 12 * 3600)]
    pub agent_session_secs: u64,
    /// An address that serves only `GET /metrics`, without a token (bind it to an interface
    /// only the scraper reaches). Without it, `/metrics` on `--listen` needs the operator token.
    #[arg(long, env = "SWITCHBOARD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Log lines as plain text (default) or one JSON object per line (for a log shipper).
    /// The level and modules come from `RUST_LOG` (default `info`).
    #[arg(long, env = "SWITCHBOARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

/// What the binary does instead of serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Reads a password from stdin (one line) and prints its argon2id hash (a PHC string) for
    /// an agent's `password_hash`.
    HashPassword,
}

/// The file form. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    assets_dir: Option<PathBuf>,
    public_url: Option<String>,
    redis_url: Option<String>,
    metrics_listen: Option<SocketAddr>,
    operator_token: Option<String>,
    #[serde(default)]
    trusted_proxies: Vec<ipnet::IpNet>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    sites: Vec<Site>,
    #[serde(default)]
    agents: Vec<Agent>,
    #[serde(default)]
    bots: Vec<Bot>,
    #[serde(default)]
    teams: Vec<Team>,
}

/// A website that embeds the widget.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// The `data-site` value in the embed tag.
    pub key: String,
    #[serde(default)]
    pub name: String,
    /// Origins (`https://shop.example`) whose pages may open visitor connections; `*` allows any.
    pub allowed_origins: Vec<String>,
    /// Who answers new conversations.
    #[serde(default)]
    pub routing: Routing,
    /// The bot (an id from `[[bots]]`) for `bot_first` and `humans_first`, and for hand-backs.
    #[serde(default)]
    pub bot: Option<String>,
    /// `humans_first`: seconds a visitor's message may wait unanswered before the bot takes it.
    #[serde(default = "default_bot_after_secs")]
    pub bot_after_secs: u64,
    /// The team (an id from `[[teams]]` of this site) whose queue a conversation is in until
    /// someone routes it elsewhere.
    #[serde(default)]
    pub default_team: Option<String>,
    /// Days a conversation is kept after its last activity (then deleted with its messages,
    /// and its visitor once nothing of theirs is left). Absent: kept until deleted through
    /// the admin API.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// Whether a visitor must present a verified identity token before sending.
    #[serde(default)]
    pub identity: IdentityMode,
    /// HS256 key the site's server signs identity tokens with (at least 32 bytes).
    #[serde(default)]
    pub identity_secret: Option<String>,
    /// PEM public key (RSA for RS256, EC P-256 for ES256) of the site's signing key.
    #[serde(default)]
    pub identity_public_key: Option<String>,
    /// Days an address an agent blocked stays blocked (the visitor itself stays blocked until
    /// an admin lifts it): addresses change hands, so not forever.
    #[serde(default = "default_block_addr_days")]
    pub block_addr_days: u32,
    /// The widget's look on this site (`[sites.theme]`, see `crate::theme`); absent: the
    /// default look.
    #[serde(default)]
    pub theme: Option<crate::theme::Theme>,
    /// Canned replies stored for the site when it has none (`[[sites.canned]]`); after that,
    /// admins edit them in the console and the store's set is the one in force.
    #[serde(default)]
    pub canned: Vec<CannedSeed>,
    /// Outbound webhooks for CRMs and data tools (`[[sites.webhooks]]`, see
    /// `crate::site_webhooks`).
    #[serde(default)]
    pub webhooks: Vec<SiteWebhook>,
    /// The rating visitors are asked for once a conversation is resolved (`[sites.csat]`,
    /// see `crate::csat`); absent: none.
    #[serde(default)]
    pub csat: Option<crate::csat::SiteCsat>,
    /// The IANA time zone (`Europe/Paris`) the site's KPIs are reported in by day and hour;
    /// absent: UTC.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// One of a site's outbound webhooks: where its subscribed events are POSTed, signed with
/// `secret` exactly as a bot's webhooks are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteWebhook {
    pub url: String,
    pub secret: String,
    pub events: Vec<switchboard_protocol::webhook::SiteEventType>,
}

/// A canned reply from the configuration file (`canned.rs` seeds the store with them).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedSeed {
    pub shortcut: String,
    pub body: String,
}

fn default_block_addr_days() -> u32 {
    30
}

/// The demo shop's canned replies: the order page puts its order in the context, so
/// `/order` shows a filled reply at once.
fn demo_canned() -> Vec<CannedSeed> {
    [
        (
            "order",
            "I checked order {{order.number}}: it is {{order.status}}. Anything else I can help with?",
        ),
        (
            "returns",
            "You can return anything within 30 days, unworn and with its tags. I'll send the label for order {{order.number}} to your email.",
        ),
        ("hello", "Hi, I'm {{agent.name}} from Trailhead Outfitters. How can I help?"),
        (
            "loyalty",
            "As a {{loyalty_tier}} member, your shipping on order {{order.number}} is free.",
        ),
        ("thanks", "Thanks for shopping with us, {{visitor.name}}, and have a good hike!"),
    ]
    .into_iter()
    .map(|(shortcut, body)| CannedSeed {
        shortcut: shortcut.into(),
        body: body.into(),
    })
    .collect()
}

/// A site's identity policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityMode {
    /// Anonymous visitors may chat; a valid identity token marks its fields verified.
    #[default]
    Optional,
    /// Nothing a visitor sends is stored before a valid identity token.
    Required,
}

fn default_bot_after_secs() -> u64 {
    60
}

/// A site's routing policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// The bot owns every new conversation until it hands off.
    BotFirst,
    /// Agents own new conversations; the bot takes one when no agent is online or nobody
    /// answered within `bot_after_secs`.
    HumansFirst,
    #[default]
    HumansOnly,
}

/// A bot attached through the relay API: over WebSocket (`/v1/bot`) or, with `webhook_url`,
/// as an HTTP service the relay POSTs events to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bot {
    pub id: String,
    /// The sender name visitors see.
    pub name: String,
    /// An http(s) image URL visitors see beside its messages.
    #[serde(default)]
    pub avatar: Option<String>,
    /// The one site this bot serves; its token opens no other site's conversations.
    pub site: String,
    /// At least 32 random characters, or `sha256:HEX` of such a token.
    pub token: String,
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Key of the HMAC-SHA256 signature on every webhook POST.
    #[serde(default)]
    pub webhook_secret: Option<String>,
}

impl Bot {
    /// The webhook target, if this is a webhook bot.
    pub fn webhook(&self) -> Option<(&str, &str)> {
        Some((
            self.webhook_url.as_deref()?,
            self.webhook_secret.as_deref()?,
        ))
    }
}

/// A group of agents of one site with one queue of conversations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub site: String,
    /// Agent ids; each must serve the site.
    #[serde(default)]
    pub members: Vec<String>,
    /// How the team's queue is handed out.
    #[serde(default)]
    pub policy: Policy,
    /// Most conversations one member holds at once (for automatic assignment).
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// Languages the team answers in, as bots detect them (ISO 639-3: `hin`, `ara`): a bot's
    /// handoff that names no team goes to the first team of its site that speaks the
    /// visitor's language (`bots::triage`).
    #[serde(default)]
    pub languages: Vec<String>,
}

fn default_capacity() -> u32 {
    5
}

/// How a team's queue reaches its members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    RoundRobin,
    LeastBusy,
    /// Agents take conversations from the queue themselves.
    #[default]
    Manual,
}

impl Team {
    pub fn has_member(&self, agent: &str) -> bool {
        self.members.iter().any(|m| m == agent)
    }

    pub fn speaks(&self, language: &str) -> bool {
        self.languages
            .iter()
            .any(|l| l.eq_ignore_ascii_case(language))
    }
}

/// What an agent may do beyond its own conversations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentRole {
    /// Acts on unassigned conversations and its own.
    #[default]
    Agent,
    /// Also reassigns anyone's conversation.
    Admin,
}

/// A human agent who signs into the console: with a password (`password_hash`), or with a
/// token (bots, scripts, or a console without a password). At least one of the two.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub id: String,
    pub name: String,
    /// At least 32 random characters, or `sha256:HEX` of such a token so the file holds no
    /// secret.
    #[serde(default)]
    pub token: Option<String>,
    /// The argon2id PHC string of the console password (`switchboard-relay hash-password`).
    #[serde(default)]
    pub password_hash: Option<String>,
    /// Another name to sign in with; compared without regard to case.
    #[serde(default)]
    pub email: Option<String>,
    /// Site keys this agent serves; `*` for all.
    #[serde(default = "all_sites")]
    pub sites: Vec<String>,
    #[serde(default)]
    pub role: AgentRole,
}

fn all_sites() -> Vec<String> {
    vec!["*".into()]
}

/// The resolved configuration the relay runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub assets_dir: PathBuf,
    pub public_url: String,
    pub redis_url: Option<String>,
    /// Where `/metrics` is served without a token (`--metrics-listen`).
    pub metrics_listen: Option<SocketAddr>,
    pub sites: Vec<Site>,
    pub agents: Vec<Agent>,
    pub bots: Vec<Bot>,
    pub teams: Vec<Team>,
    pub demo: Option<Demo>,
    /// Shared, not copied: every connection keeps a handle to it.
    pub tuning: Arc<Tuning>,
    pub limits: Limits,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub operator_token: Option<String>,
    /// How often the retention purge runs.
    pub purge_interval: Duration,
    /// How long a console sign-in lasts.
    pub agent_session: Duration,
    /// The time stamped on what sessions store; the system clock but in tests.
    pub clock: crate::clock::Clock,
}

#[derive(Debug, Clone)]
pub struct Demo {
    pub listen: SocketAddr,
    pub dir: PathBuf,
    pub agent_token: String,
    /// The demo agent's console password (printed at start, like the token).
    pub agent_password: String,
    /// The relay the shop's pages embed, when not this one.
    pub relay_url: Option<String>,
}

impl Config {
    pub fn load(args: Args) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        // Before the demo's own entries are added: its tokens are for trying it on localhost.
        check_tokens(&file)?;
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or(([127, 0, 0, 1], 8080).into());
        let public_url = args
            .public_url
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}/"));
        let public_url = if public_url.ends_with('/') {
            public_url
        } else {
            format!("{public_url}/")
        };
        let mut config = Config {
            listen,
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| "data".into()),
            assets_dir: args
                .assets_dir
                .or(file.assets_dir)
                .unwrap_or_else(|| "dist".into()),
            public_url,
            redis_url: args.redis_url.or(file.redis_url),
            metrics_listen: args.metrics_listen.or(file.metrics_listen),
            sites: file.sites,
            agents: file.agents,
            bots: file.bots,
            teams: file.teams,
            demo: None,
            tuning: Arc::new(Tuning {
                ping_interval: Duration::from_millis(args.ping_interval_ms.max(100)),
                idle_timeout: Duration::from_millis(
                    args.idle_timeout_ms.max(args.ping_interval_ms * 2),
                ),
                outbox_capacity: args.outbox_capacity.max(16),
                // Beyond 100 ms a batch would be a visible delay, not a saving.
                write_coalesce: Duration::from_micros(args.write_coalesce_us.min(100_000)),
                presence_grace: Duration::from_millis(args.presence_grace_ms.max(300)),
                assign_interval: Duration::from_millis(args.assign_interval_ms.clamp(50, 60_000)),
            }),
            limits: Limits {
                enabled: file.limits.enabled && args.rate_limits,
                ..file.limits
            },
            trusted_proxies: [file.trusted_proxies, args.trusted_proxies].concat(),
            operator_token: args.operator_token.or(file.operator_token),
            purge_interval: Duration::from_millis(args.purge_interval_ms.max(10)),
            agent_session: Duration::from_secs(args.agent_session_secs.max(1)),
            clock: Default::default(),
        };
        if args.demo {
            let token = args
                .demo_agent_token
                .unwrap_or_else(crate::token::random_token);
            // 96 random bits: typed by a person trying the demo, still not guessable.
            let password = args
                .demo_agent_password
                .unwrap_or_else(|| crate::token::random_token()[..24].to_owned());
            config.add_demo(
                args.demo_listen,
                args.demo_dir,
                (token, password),
                args.demo_relay_url,
            )?;
            if let Some(bot_token) = args.demo_bot_token {
                config.add_demo_bot(bot_token);
            }
        }
        config.check()?;
        Ok(config)
    }

    fn add_demo(
        &mut self,
        listen: SocketAddr,
        dir: PathBuf,
        (agent_token, agent_password): (String, String),
        relay_url: Option<String>,
    ) -> anyhow::Result<()> {
        let port = listen.port();
        let mut origins = vec![format!("http://{listen}")];
        if listen.ip().is_loopback() {
            origins.push(format!("http://localhost:{port}"));
            origins.push(format!("http://127.0.0.1:{port}"));
        }
        origins.sort();
        origins.dedup();
        if !self.sites.iter().any(|s| s.key == "demo") {
            self.sites.push(Site {
                key: "demo".into(),
                name: "Demo shop".into(),
                allowed_origins: origins,
                routing: Routing::HumansOnly,
                bot: None,
                bot_after_secs: default_bot_after_secs(),
                default_team: Some("demo-support".into()),
                retention_days: None,
                identity: IdentityMode::Optional,
                identity_secret: None,
                identity_public_key: None,
                block_addr_days: default_block_addr_days(),
                theme: None,
                canned: demo_canned(),
                webhooks: Vec::new(),
                csat: Some(crate::csat::SiteCsat {
                    enabled: true,
                    scale: Default::default(),
                    comment_max: 500,
                }),
                time_zone: None,
            });
            self.teams.push(Team {
                id: "demo-support".into(),
                name: "Support".into(),
                site: "demo".into(),
                members: vec!["demo-agent".into()],
                policy: Policy::Manual,
                capacity: default_capacity(),
                languages: Vec::new(),
            });
        }
        self.agents.push(Agent {
            id: "demo-agent".into(),
            name: "Alex".into(),
            token: Some(agent_token.clone()),
            password_hash: Some(crate::password::hash(&agent_password)?),
            email: Some("alex@demo.example".into()),
            sites: all_sites(),
            role: AgentRole::Admin,
        });
        self.demo = Some(Demo {
            listen,
            dir,
            agent_token,
            agent_password,
            relay_url,
        });
        Ok(())
    }

    /// The demo's order-status bot (`bots/order-status`) answers the demo shop first.
    fn add_demo_bot(&mut self, token: String) {
        self.bots.push(Bot {
            id: "orderbot".into(),
            name: "Orderbot".into(),
            avatar: None,
            site: "demo".into(),
            token,
            webhook_url: None,
            webhook_secret: None,
        });
        if let Some(site) = self.sites.iter_mut().find(|s| s.key == "demo") {
            site.routing = Routing::BotFirst;
            site.bot = Some("orderbot".into());
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        for site in &self.sites {
            crate::canned::check_seeds(site)?;
            if site.key.is_empty() || site.key.len() > 64 {
                bail!("site key {:?} must be 1-64 bytes", site.key);
            }
            crate::site_webhooks::check_config(site)?;
            if site.block_addr_days == 0 || site.block_addr_days > 3650 {
                bail!("site {:?}: block_addr_days must be 1-3650", site.key);
            }
            if let Some(tz) = &site.time_zone {
                if jiff::tz::TimeZone::get(tz).is_err() {
                    bail!(
                        "site {:?}: time_zone {tz:?} is not an IANA time zone",
                        site.key
                    );
                }
            }
            if site.retention_days == Some(0) {
                bail!(
                    "site {:?}: retention_days must be at least 1 (leave it out to keep forever)",
                    site.key
                );
            }
            crate::identity::check_site(site)?;
            if let Some(theme) = &site.theme {
                theme.check(&site.key)?;
            }
            if let Some(csat) = &site.csat {
                csat.check(&site.key)?;
            }
            match (&site.bot, site.routing) {
                (None, Routing::BotFirst | Routing::HumansFirst) => {
                    bail!(
                        "site {:?} routes to a bot but names none (bot = ...)",
                        site.key
                    )
                }
                (Some(id), _) if !self.bots.iter().any(|b| &b.id == id && b.site == site.key) => {
                    bail!(
                        "site {:?} names bot {id:?}, which is not a bot of that site",
                        site.key
                    )
                }
                _ => {}
            }
        }
        self.check_agents()?;
        for bot in &self.bots {
            if bot.id.is_empty() || bot.id.len() > 64 || bot.id.contains(['\n', ':']) {
                bail!(
                    "bot id {:?} must be 1-64 bytes without ':' or newlines",
                    bot.id
                );
            }
            if self.site(&bot.site).is_none() {
                bail!("bot {:?} serves unknown site {:?}", bot.id, bot.site);
            }
            if let Some(a) = &bot.avatar {
                if !switchboard_protocol::context::is_http_url(a) {
                    bail!("bot {:?} avatar must be an http(s) URL", bot.id);
                }
            }
            match (&bot.webhook_url, &bot.webhook_secret) {
                (Some(u), Some(s)) => {
                    if !switchboard_protocol::context::is_http_url(u) {
                        bail!("bot {:?} webhook_url must be an http(s) URL", bot.id);
                    }
                    if s.len() < 16 {
                        bail!(
                            "bot {:?} webhook_secret must be at least 16 characters",
                            bot.id
                        );
                    }
                }
                (Some(_), None) => {
                    bail!("bot {:?} has a webhook_url but no webhook_secret", bot.id)
                }
                (None, Some(_)) => {
                    bail!("bot {:?} has a webhook_secret but no webhook_url", bot.id)
                }
                (None, None) => {}
            }
        }
        self.check_teams()
    }

    fn check_agents(&self) -> anyhow::Result<()> {
        for (i, agent) in self.agents.iter().enumerate() {
            if self.agents[..i].iter().any(|a| a.id == agent.id) {
                bail!("agent id {:?} is used twice", agent.id);
            }
            if agent.token.is_none() && agent.password_hash.is_none() {
                bail!(
                    "agent {:?} needs a token or a password_hash (or both)",
                    agent.id
                );
            }
            if let Some(hash) = &agent.password_hash {
                crate::password::check_phc(hash)
                    .with_context(|| format!("agent {:?}: password_hash", agent.id))?;
            }
            if let Some(email) = &agent.email {
                let taken = self.agents.iter().any(|a| {
                    a.id != agent.id
                        && (a.id.eq_ignore_ascii_case(email)
                            || a.email
                                .as_deref()
                                .is_some_and(|e| e.eq_ignore_ascii_case(email)))
                });
                if email.is_empty()
                    || email.len() > switchboard_protocol::limits::MAX_LOGIN_NAME_BYTES
                    || taken
                {
                    bail!(
                        "agent {:?}: email {email:?} is empty, too long or another agent's name",
                        agent.id
                    );
                }
            }
        }
        Ok(())
    }

    fn check_teams(&self) -> anyhow::Result<()> {
        for (i, team) in self.teams.iter().enumerate() {
            if team.id.is_empty() || team.id.len() > 64 || team.id.contains(['\n', ':']) {
                bail!(
                    "team id {:?} must be 1-64 bytes without ':' or newlines",
                    team.id
                );
            }
            if self.teams[..i].iter().any(|t| t.id == team.id) {
                bail!("team id {:?} is used twice", team.id);
            }
            if self.site(&team.site).is_none() {
                bail!("team {:?} belongs to unknown site {:?}", team.id, team.site);
            }
            for member in &team.members {
                match self.agents.iter().find(|a| &a.id == member) {
                    None => bail!("team {:?} lists unknown agent {member:?}", team.id),
                    Some(a) if !a.serves(&team.site) => bail!(
                        "team {:?} lists agent {member:?}, who does not serve site {:?}",
                        team.id,
                        team.site
                    ),
                    Some(_) => {}
                }
            }
            if team.capacity == 0 {
                bail!("team {:?} has capacity 0", team.id);
            }
            if let Some(bad) = team.languages.iter().find(|l| {
                !(2..=8).contains(&l.len()) || !l.chars().all(|c| c.is_ascii_alphabetic())
            }) {
                bail!(
                    "team {:?} lists language {bad:?}: use ISO 639-3 codes such as \"hin\"",
                    team.id
                );
            }
        }
        for site in &self.sites {
            if let Some(id) = &site.default_team {
                if self.team(&site.key, id).is_none() {
                    bail!(
                        "site {:?} names default team {id:?}, which is not a team of that site",
                        site.key
                    );
                }
            }
        }
        Ok(())
    }

    /// The team with this id, if it is one of the site's.
    pub fn team(&self, site: &str, id: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.id == id && t.site == site)
    }

    /// The agent with this id, if it serves the site.
    pub fn agent_of(&self, site: &str, id: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.id == id && a.serves(site))
    }

    pub fn site(&self, key: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.key == key)
    }

    /// The keys of the configured sites this agent serves (`*` expanded).
    pub fn sites_served_by(&self, agent: &Agent) -> Vec<String> {
        self.sites
            .iter()
            .filter(|s| agent.serves(&s.key))
            .map(|s| s.key.clone())
            .collect()
    }
}

impl Site {
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| o == "*" || o.trim_end_matches('/') == origin)
    }
}

impl Agent {
    pub fn serves(&self, site: &str) -> bool {
        self.sites.iter().any(|s| s == "*" || s == site)
    }
}

/// The shortest token the file may hold: 32 characters of a random string is ~190 bits even
/// from a 62-letter alphabet, past any online guessing (which the relay throttles besides).
pub const MIN_TOKEN_CHARS: usize = 32;

fn check_tokens(file: &FileConfig) -> anyhow::Result<()> {
    let tokens = (file.agents.iter())
        .filter_map(|a| Some(("agent", &a.id, a.token.as_ref()?)))
        .chain(file.bots.iter().map(|b| ("bot", &b.id, &b.token)))
        .chain(file.operator_token.iter().map(|t| ("operator", t, t)));
    for (kind, id, token) in tokens {
        match token.strip_prefix("sha256:") {
            Some(hex) if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                bail!("{kind} {id:?}: a sha256: token needs 64 hex digits");
            }
            Some(_) => {}
            None if token.chars().count() < MIN_TOKEN_CHARS => {
                let id = if kind == "operator" { "token" } else { id };
                bail!(
                    "{kind} {id:?} has a token shorter than {MIN_TOKEN_CHARS} characters \
                     (e.g. `openssl rand -hex 32`)"
                )
            }
            None => {}
        }
    }
    Ok(())
}

/// The SHA-256 (hex) a configured token is looked up by: the token's own, or the one given
/// as `sha256:HEX`.
pub fn token_hash(token: &str) -> String {
    match token.strip_prefix("sha256:") {
        Some(hex) => hex.to_ascii_lowercase(),
        None => crate::token::hash(token),
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        [[sites]]
        key = "shop"
        allowed_origins = ["*"]
        default_team = "support"
        [[sites]]
        key = "other"
        allowed_origins = ["*"]
        [[agents]]
        id = "alex"
        name = "Alex"
        token = "alex-token-0123456789abcdef0123456789"
        sites = ["shop"]
        role = "admin"
        [[agents]]
        id = "olga"
        name = "Olga"
        token = "olga-token-0123456789abcdef0123456789"
        sites = ["other"]
        [[teams]]
        id = "support"
        site = "shop"
        members = ["alex"]
        policy = "round_robin"
    "#;

    fn load(toml: &str) -> anyhow::Result<Config> {
        let path = std::env::temp_dir().join(format!(
            "sb-config-{}-{}.toml",
            std::process::id(),
            crate::token::random_id("t")
        ));
        std::fs::write(&path, toml).unwrap();
        let args = Args::parse_from(["switchboard-relay", "--config", path.to_str().unwrap()]);
        let config = Config::load(args);
        std::fs::remove_file(&path).unwrap();
        config
    }

    #[test]
    fn teams_and_roles_load() {
        let config = load(BASE).unwrap();
        let team = config.team("shop", "support").unwrap();
        assert_eq!((team.policy, team.capacity), (Policy::RoundRobin, 5));
        assert!(config.team("other", "support").is_none());
        assert_eq!(config.agents[0].role, AgentRole::Admin);
        assert_eq!(config.agents[1].role, AgentRole::Agent);
        assert!(config.agent_of("shop", "alex").is_some());
        assert!(config.agent_of("shop", "olga").is_none());
    }

    #[test]
    fn csat_is_checked_at_load() {
        let with = |section: &str| {
            BASE.replace(
                "allowed_origins = [\"*\"]\n        [[agents]]",
                &format!("allowed_origins = [\"*\"]\n        [sites.csat]\n        {section}\n        [[agents]]"),
            )
        };
        assert_ne!(
            with("scale = \"five\""),
            BASE,
            "the replacement found its place"
        );
        let config = load(&with("scale = \"thumbs\"\n        comment_max = 300")).unwrap();
        let csat = config.site("other").unwrap().csat.as_ref().unwrap().wire();
        assert_eq!(
            csat,
            Some(switchboard_protocol::csat::Csat {
                scale: switchboard_protocol::csat::Scale::Thumbs,
                comment_max: 300
            })
        );
        assert!(config.site("shop").unwrap().csat.is_none());
        let off = load(&with("enabled = false")).unwrap();
        assert_eq!(
            off.site("other").unwrap().csat.as_ref().unwrap().wire(),
            None
        );
        let err = load(&with("comment_max = 5000")).unwrap_err().to_string();
        assert!(err.contains("csat.comment_max must be 0-1000"), "{err}");
        assert!(load(&with("scale = \"ten\"")).is_err());
        assert!(load(&with("stars = 5")).is_err());
    }

    #[test]
    fn retention_is_optional_and_at_least_a_day() {
        let config = load(BASE).unwrap();
        assert_eq!(config.site("shop").unwrap().retention_days, None);
        let with = |days: &str| {
            BASE.replace(
                "allowed_origins = [\"*\"]\n        [[agents]]",
                &format!("allowed_origins = [\"*\"]\n        retention_days = {days}\n        [[agents]]"),
            )
        };
        assert_ne!(with("30"), BASE, "the replacement found its place");
        assert_eq!(
            load(&with("30"))
                .unwrap()
                .site("other")
                .unwrap()
                .retention_days,
            Some(30)
        );
        let err = load(&with("0")).unwrap_err().to_string();
        assert!(err.contains("retention_days must be at least 1"), "{err}");
        assert!(load(&with("-1")).is_err());
        assert!(load(&with("\"thirty\"")).is_err());
    }

    #[test]
    fn agents_sign_in_by_password_or_token_and_bad_hashes_are_refused_at_load() {
        let phc = crate::password::hash("a long enough password").unwrap();
        let with =
            |agent: &str| format!("{BASE}\n[[agents]]\nid = \"pia\"\nname = \"Pia\"\n{agent}");
        let config = load(&with(&format!(
            "password_hash = \"{phc}\"\nemail = \"pia@shop.example\""
        )))
        .unwrap();
        let pia = config.agents.iter().find(|a| a.id == "pia").unwrap();
        assert_eq!(pia.token, None);
        assert_eq!(pia.password_hash.as_deref(), Some(phc.as_str()));
        let cases = [
            ("", "needs a token or a password_hash"),
            ("password_hash = \"hunter2\"", "not a PHC string"),
            (
                "password_hash = \"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA\"",
                "not argon2id",
            ),
            ("token = \"short\"", "shorter than 32"),
            (
                &format!("password_hash = \"{phc}\"\nemail = \"ALEX\""),
                "another agent's name",
            ),
        ];
        for (agent, why) in cases {
            let err = format!("{:#}", load(&with(agent)).unwrap_err());
            assert!(err.contains(why), "{agent}: {err}");
        }
        let twice =
            format!("{BASE}\n[[agents]]\nid = \"alex\"\nname = \"A\"\npassword_hash = \"{phc}\"");
        assert!(format!("{:#}", load(&twice).unwrap_err()).contains("used twice"));
    }

    #[test]
    fn sha256_tokens_are_looked_up_by_their_hash_for_bots_too() {
        let hashed = format!(
            "sha256:{}",
            crate::token::hash("bot-token-0123456789abcdef0123456789")
        );
        let bot = Bot {
            id: "b".into(),
            name: "B".into(),
            avatar: None,
            site: "shop".into(),
            token: hashed,
            webhook_url: None,
            webhook_secret: None,
        };
        let bots = crate::bots::Bots::new(&[bot]);
        assert!(bots
            .by_token("bot-token-0123456789abcdef0123456789")
            .is_some());
        assert!(bots
            .by_token("bot-token-0123456789abcdef012345678X")
            .is_none());
    }

    #[test]
    fn address_blocks_last_30_days_unless_set_within_ten_years() {
        let config = load(BASE).unwrap();
        assert_eq!(config.site("shop").unwrap().block_addr_days, 30);
        let with = |days: &str| {
            BASE.replace(
                "allowed_origins = [\"*\"]\n        [[agents]]",
                &format!("allowed_origins = [\"*\"]\n        block_addr_days = {days}\n        [[agents]]"),
            )
        };
        assert_ne!(with("7"), BASE, "the replacement found its place");
        assert_eq!(
            load(&with("7"))
                .unwrap()
                .site("other")
                .unwrap()
                .block_addr_days,
            7
        );
        for bad in ["0", "3651"] {
            let err = load(&with(bad)).unwrap_err().to_string();
            assert!(err.contains("block_addr_days must be 1-3650"), "{err}");
        }
        assert!(load(&with("-1")).is_err());
    }

    #[test]
    fn canned_seeds_are_checked_at_load() {
        let with = |canned: &str| {
            BASE.replace(
                "[[sites]]\n        key = \"other\"",
                &format!("{canned}\n        [[sites]]\n        key = \"other\""),
            )
        };
        let one = |shortcut: &str, body: &str| {
            format!(
                "[[sites.canned]]\n        shortcut = \"{shortcut}\"\n        body = \"{body}\""
            )
        };
        let good = with(&one("order", "Order {{order.number}}"));
        assert_ne!(good, BASE, "the replacement found its place");
        let config = load(&good).unwrap();
        assert_eq!(config.site("shop").unwrap().canned[0].shortcut, "order");
        for (canned, why) in [
            (one("two words", "x"), "shortcut must be"),
            (one("open", "Hi {{visitor.name"), "not closed"),
            (one("blank", " "), "body is empty"),
            (
                format!("{}\n        {}", one("same", "a"), one("same", "b")),
                "appears twice",
            ),
        ] {
            let err = load(&with(&canned)).unwrap_err().to_string();
            assert!(err.contains(why), "{why}: {err}");
        }
        // The demo's own seeds pass the same check, and `/order` fills from the demo order.
        let demo = Config::load(Args::parse_from(["switchboard-relay", "--demo"])).unwrap();
        let seeds = &demo.site("demo").unwrap().canned;
        assert!(seeds
            .iter()
            .any(|s| s.shortcut == "order" && s.body.contains("{{order.number}}")));
    }

    #[test]
    fn site_webhooks_are_checked_at_load_saying_why() {
        let with = |hook: &str| {
            BASE.replace(
                "[[sites]]\n        key = \"other\"",
                &format!("{hook}\n        [[sites]]\n        key = \"other\""),
            )
        };
        let one = |url: &str, secret: &str, events: &str| {
            format!(
                "[[sites.webhooks]]\nurl = \"{url}\"\nsecret = \"{secret}\"\nevents = [{events}]"
            )
        };
        let secret = "a-secret-of-24-characters";
        let good = with(&one(
            "https://crm.example/hook",
            secret,
            r#""conversation.created", "csat.submitted""#,
        ));
        assert_ne!(good, BASE, "the replacement found its place");
        let config = load(&good).unwrap();
        assert_eq!(config.site("shop").unwrap().webhooks[0].events.len(), 2);
        for (hook, why) in [
            (
                one("ftp://crm.example", secret, r#""message.created""#),
                "http(s) URL",
            ),
            (
                one("https://crm.example", "short", r#""message.created""#),
                "secret must be 16-256",
            ),
            (one("https://crm.example", secret, ""), "at least one event"),
            (
                one("https://crm.example", secret, r#""message.sent""#),
                "unknown variant `message.sent`",
            ),
            (
                one(
                    "https://crm.example",
                    secret,
                    r#""message.created", "message.created""#,
                ),
                "listed twice",
            ),
            (
                format!("[[sites.webhooks]]\nurl = \"https://x.example\"\nsecret = \"{secret}\""),
                "missing field `events`",
            ),
            (
                (0..9)
                    .map(|_| one("https://crm.example", secret, r#""message.created""#))
                    .collect::<Vec<_>>()
                    .join("\n"),
                "at most 8",
            ),
        ] {
            let err = format!("{:#}", load(&with(&hook)).unwrap_err());
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn the_demo_has_a_default_team() {
        let config = Config::load(Args::parse_from(["switchboard-relay", "--demo"])).unwrap();
        let site = config.site("demo").unwrap();
        let team = config
            .team("demo", site.default_team.as_deref().unwrap())
            .unwrap();
        assert!(team.has_member("demo-agent"));
    }

    #[test]
    fn bad_teams_are_refused_at_load_saying_why() {
        let cases = [
            (
                "[[teams]]\nid = \"support\"\nsite = \"shop\"",
                "team id \"support\" is used twice",
            ),
            (
                "[[teams]]\nid = \"x\"\nsite = \"shop\"\nmembers = [\"nobody\"]",
                "team \"x\" lists unknown agent \"nobody\"",
            ),
            (
                "[[teams]]\nid = \"x\"\nsite = \"shop\"\nmembers = [\"olga\"]",
                "does not serve site \"shop\"",
            ),
            (
                "[[teams]]\nid = \"x\"\nsite = \"nowhere\"",
                "unknown site \"nowhere\"",
            ),
            (
                "[[teams]]\nid = \"x\"\nsite = \"shop\"\nlanguages = [\"hi<script>\"]",
                "lists language \"hi<script>\"",
            ),
        ];
        for (extra, why) in cases {
            let err = load(&format!("{BASE}\n{extra}")).unwrap_err().to_string();
            assert!(err.contains(why), "{extra}: {err}");
        }
        let elsewhere = BASE.replace(
            "allowed_origins = [\"*\"]\n        [[agents]]",
            "allowed_origins = [\"*\"]\n        default_team = \"support\"\n        [[agents]]",
        );
        let err = load(&elsewhere).unwrap_err().to_string();
        assert!(err.contains("not a team of that site"), "{err}");
    }
}
