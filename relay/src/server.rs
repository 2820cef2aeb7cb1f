//! Binding, serving and shutting down.
//!
//! Shutdown: cancelling [`Running::shutdown`] stops accepting, queues a `RECONNECT_NOW` close
//! behind every connection's queued frames (`Hub::close_all`), and waits (bounded by
//! [`DRAIN_TIMEOUT`]) for the sessions to flush and close.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard_protocol::CloseCode;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::broker::redis::RedisBroker;
use crate::broker::sqlite::SqliteBroker;
use crate::broker::Broker;
use crate::config::Config;
use crate::hub::Hub;
use crate::{app, demo, AppState};

/// Longest wait for sessions to close after shutdown begins.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Running {
    pub addr: SocketAddr,
    /// Where `/metrics` is served without a token (`--metrics-listen`).
    pub metrics_addr: Option<SocketAddr>,
    pub demo_addr: Option<SocketAddr>,
    pub shutdown: CancellationToken,
    pub state: AppState,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Resolves once the relay has shut down and drained.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Chooses and opens the broker (the one place that decides), binds the listeners and starts
/// serving in the background.
pub async fn start(mut config: Config) -> anyhow::Result<Running> {
    let hub = Arc::new(Hub::default());
    let broker: Arc<dyn Broker> = match &config.redis_url {
        Some(url) => {
            let broker = RedisBroker::connect(url, hub.clone()).await?;
            tracing::info!(broker = "redis", url = %redact(url), "state and fan-out in Redis");
            Arc::new(broker)
        }
        None => {
            let broker = SqliteBroker::open(&config.data_dir, hub.clone())?;
            tracing::info!(broker = "sqlite", dir = %config.data_dir.display(), "embedded store, one node");
            Arc::new(broker)
        }
    };
    // Before serving, so the first agent already lists them.
    if let Err(e) = crate::canned::seed(&config, broker.as_ref()).await {
        tracing::error!(error = %e, "could not seed canned replies");
    }
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    if config.listen.port() == 0 {
        // Tests bind port 0; the console's origin check needs the real address.
        config.public_url = format!("http://{addr}/");
    }
    let demo = match &config.demo {
        Some(d) => Some((TcpListener::bind(d.listen).await?, d.dir.clone())),
        None => None,
    };
    let demo_addr = demo.as_ref().map(|(l, _)| l.local_addr()).transpose()?;
    let metrics = match config.metrics_listen {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    let metrics_addr = metrics.as_ref().map(|l| l.local_addr()).transpose()?;
    let state = AppState::new(config, broker, hub);
    if let Some(listener) = metrics {
        let routes = axum::Router::new()
            .route(
                "/metrics",
                axum::routing::get(crate::endpoints::metrics_open),
            )
            .with_state(state.clone());
        let stop = state.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, routes)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
    }
    tokio::spawn(crate::bots::presence::run(state.clone()));
    crate::bots::webhook::run(&state);
    crate::site_webhooks::run(&state);
    tokio::spawn(crate::assignment::run(state.clone()));
    tokio::spawn(crate::limits::sweep(state.clone()));
    tokio::spawn(crate::retention::run(state.clone()));
    tokio::spawn(crate::kpi::projector::run(state.clone()));
    let (budget, limits) = (state.budget.clone(), state.config.limits.clone());
    let proxies = state.config.trusted_proxies.clone();
    let shutdown = state.shutdown.clone();
    let router = app(state.clone());
    let hub = state.hub.clone();
    let relay_url = (state.config.demo.as_ref().and_then(|d| d.relay_url.clone()))
        .unwrap_or_else(|| state.config.public_url.clone());
    let stop = shutdown.clone();
    {
        let (hub, stop) = (hub.clone(), stop.clone());
        tokio::spawn(async move {
            stop.cancelled().await;
            // Behind every frame already queued, so acks still reach the clients.
            hub.close_all(CloseCode::RECONNECT_NOW);
        });
    }
    let task = tokio::spawn(async move {
        if let Some((listener, dir)) = demo {
            let stop = stop.clone();
            let shop = demo::routes(&dir, &relay_url);
            tokio::spawn(async move {
                let _ = axum::serve(listener, shop)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await;
            });
        }
        crate::accept::serve(crate::accept::Serve {
            listener,
            router,
            budget: budget.clone(),
            limits: limits.clone(),
            proxies,
            stop: stop.clone(),
        })
        .await;
        let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        while hub.connections() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    Ok(Running {
        addr,
        metrics_addr,
        demo_addr,
        shutdown,
        state,
        task,
    })
}

/// A Redis URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 3], &url[at..]),
        _ => url.to_owned(),
    }
}
