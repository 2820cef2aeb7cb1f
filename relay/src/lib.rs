//! The Switchboard relay: one binary between website visitors, agents and bots.
//!
//! Layout:
//! - [`config`]: flags, environment and the TOML file (sites, agents, demo mode);
//! - [`server`]: binds the listeners, runs until shutdown, drains sessions;
//! - [`endpoints`]: the WebSocket upgrades with their origin checks, `/healthz`;
//! - [`login`]: agents' console sign-in (password → session cookie), sign-out; [`password`]:
//!   argon2id hashes and their verification;
//! - [`assets`]: the loader, hashed widget assets, the console (static, precompressed);
//! - [`demo`]: the demo shop on its own port;
//! - [`csat`]: sites' rating prompts and visitors' ratings of resolved conversations;
//! - [`assignment`]: agent presence, queues and automatic assignment;
//! - [`session`]: one task per socket (`hello`, then visitor, agent or bot handling);
//! - [`bots`]: bot registry, routing policies and handoff, webhooks, the bot HTTP API, agent
//!   presence;
//! - [`admin`]: the admin HTTP API (a visitor's data: export, delete); [`retention`]: the
//!   purge job for sites with `retention_days`;
//! - [`site_webhooks`]: sites' CRM/data webhooks, derived from the stored log;
//!   [`outbound`]: signed POSTs from a durable broker queue, one node at a time (bots' and
//!   sites' webhooks);
//! - [`kpi`]: KPIs from the stored conversations (facts projected off the write path, reports
//!   as JSON and CSV);
//! - [`connection`]: socket ↔ typed protocol frames, bounded outbound queue, pings;
//! - [`hub`]: in-process fan-out of live frames to connections;
//! - [`broker`]: the seam for durable state and cross-node fan-out: embedded SQLite (default)
//!   or Redis;
//! - [`metrics`]: the Prometheus metrics `/metrics` exports;
//! - [`token`], [`clock`], [`error`]: tokens and ids, time, typed HTTP errors.

pub mod accept;
pub mod admin;
pub mod assets;
pub mod assignment;
pub mod block;
pub mod bots;
pub mod broker;
pub mod canned;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod connection;
pub mod csat;
pub mod demo;
pub mod endpoints;
pub mod error;
pub mod headers;
pub mod hub;
pub mod identity;
pub mod kpi;
pub mod limits;
pub mod loader_text;
pub mod login;
pub mod metrics;
pub mod outbound;
pub mod outbox;
pub mod password;
pub mod reply_time;
pub mod retention;
pub mod server;
pub mod session;
pub mod site_webhooks;
pub mod theme;
pub mod token;

use std::collections::HashMap;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::accept::Budget;
use crate::bots::webhook::Webhooks;
use crate::bots::Bots;
use crate::broker::Broker;
use crate::config::{Agent, Config, Site};
use crate::hub::Hub;
use crate::limits::Limiters;

pub use server::{start, Running};

/// What every request and session shares: one pointer, because every connection's task holds
/// a clone for its whole life.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub config: Arc<Config>,
    pub sites: Arc<HashMap<String, Arc<Site>>>,
    /// Agents by the SHA-256 of their token, so a lookup never compares raw secrets.
    pub agents: Arc<HashMap<String, Arc<Agent>>>,
    /// Every agent by id (sign-in by password, sessions).
    pub agents_by_id: Arc<HashMap<String, Arc<Agent>>>,
    /// Runs password verifications, a few at a time.
    pub passwords: password::Verifier,
    /// `scheme://host[:port]` of `public_url`, the console's origin.
    pub public_origin: String,
    pub bots: Arc<Bots>,
    pub webhooks: Arc<Webhooks>,
    /// Sites' CRM/data webhooks (`[[sites.webhooks]]`).
    pub site_webhooks: Arc<site_webhooks::SiteWebhooks>,
    pub broker: Arc<dyn Broker>,
    pub hub: Arc<Hub>,
    /// The hub's metrics (`/metrics`), at hand.
    pub metrics: Arc<metrics::Metrics>,
    /// Cancelled on shutdown: sessions close with `RECONNECT_NOW`.
    pub shutdown: CancellationToken,
    /// This process among the relay nodes (agent presence claims).
    pub node_id: String,
    /// Woken when an agent connects, so presence is claimed at once.
    pub presence_changed: Arc<Notify>,
    pub limiters: Limiters,
    /// Open connections (the accept loop's count), for the visitors' reserve.
    pub budget: Arc<Budget>,
    /// This node's side of presence and automatic assignment.
    pub assigner: Arc<assignment::Local>,
    /// Each site's typical first-response time, as this node last computed it.
    pub reply_times: reply_time::ReplyTimes,
}

impl AppState {
    pub fn new(config: Config, broker: Arc<dyn Broker>, hub: Arc<Hub>) -> AppState {
        let sites = config
            .sites
            .iter()
            .map(|s| (s.key.clone(), Arc::new(s.clone())))
            .collect();
        let agents_by_id: HashMap<String, Arc<Agent>> = config
            .agents
            .iter()
            .map(|a| (a.id.clone(), Arc::new(a.clone())))
            .collect();
        let agents = agents_by_id
            .values()
            .filter_map(|a| Some((config::token_hash(a.token.as_ref()?), a.clone())))
            .collect();
        let public_origin = origin_of(&config.public_url);
        let shutdown = CancellationToken::new();
        AppState(Arc::new(Shared {
            bots: Arc::new(Bots::new(&config.bots)),
            webhooks: Arc::new(Webhooks::new(&config.bots)),
            site_webhooks: Arc::new(site_webhooks::SiteWebhooks::new(&config.sites)),
            limiters: Limiters::new(config.limits.clone()).counted_in(hub.metrics.clone()),
            metrics: hub.metrics.clone(),
            budget: Arc::default(),
            config: Arc::new(config),
            sites: Arc::new(sites),
            agents: Arc::new(agents),
            agents_by_id: Arc::new(agents_by_id),
            passwords: Default::default(),
            public_origin,
            broker,
            hub,
            shutdown,
            node_id: token::random_id("n"),
            presence_changed: Arc::new(Notify::new()),
            assigner: Arc::default(),
            reply_times: Default::default(),
        }))
    }
}

/// The relay's routes; tests drive it directly.
pub fn app(state: AppState) -> Router {
    let body_timeout = std::time::Duration::from_secs(state.config.limits.body_timeout_secs.max(1));
    Router::new()
        .route("/v1/visitor", get(endpoints::visitor_ws))
        .route("/v1/agent", get(endpoints::agent_ws))
        .route("/v1/bot", get(endpoints::bot_ws))
        .merge(login::routes())
        .merge(bots::api::routes())
        .merge(admin::routes())
        .merge(kpi::api::routes())
        .route("/healthz", get(endpoints::healthz))
        .route("/metrics", get(endpoints::metrics))
        .merge(assets::routes(
            &state.config.assets_dir,
            &state.config.sites,
        ))
        .fallback(|| async { error::ApiError::NotFound })
        // A body that trickles in is cut off; one announced larger than any endpoint takes is
        // refused before a byte of it is read (the bot API also limits what it reads, for
        // bodies without a length).
        .layer(axum::middleware::from_fn(error::refuse_large_bodies))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            body_timeout,
        ))
        .layer(headers::baseline())
        .with_state(state)
}

fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or("")),
        None => url.to_owned(),
    }
}
