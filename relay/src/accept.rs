//! The relay's HTTP server: accepts TCP connections within a budget and serves them with
//! hyper, with a deadline for request headers.
//!
//! Not `axum::serve`: it runs hyper without a timer, so a client sending its headers a byte a
//! second holds a socket (and a file descriptor) forever, and it has no connection limits.
//! Here every connection counts against a budget before any HTTP is read: over the total or
//! over its address's share it is closed at once, which keeps descriptors for the clients
//! that are not attacking. Visitors are refused (503) before the last `reserved` connections
//! (see `endpoints::visitor_ws`), so agents, bots and health checks still get in when pages
//! fill the relay.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::limits::{address_key, Limits};

/// Open connections, in all and per address.
#[derive(Default)]
pub struct Budget {
    open: AtomicU32,
    per_address: Mutex<HashMap<IpAddr, u32>>,
}

/// Held for a connection's life; gives its place back when dropped.
pub struct Admitted {
    budget: Arc<Budget>,
    address: Option<IpAddr>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.budget.open.fetch_sub(1, Ordering::Relaxed);
        if let Some(a) = self.address {
            let mut map = self
                .budget
                .per_address
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(n) = map.get_mut(&a) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&a);
                }
            }
        }
    }
}

impl Budget {
    /// Open TCP connections now (WebSockets included).
    pub fn open(&self) -> u32 {
        self.open.load(Ordering::Relaxed)
    }

    /// A place for a new connection from `peer`, if the budget has one.
    fn admit(
        self: &Arc<Self>,
        peer: IpAddr,
        limits: &Limits,
        per_address: bool,
    ) -> Option<Admitted> {
        if self.open.fetch_add(1, Ordering::Relaxed) >= limits.max_connections {
            self.open.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let mut admitted = Admitted {
            budget: self.clone(),
            address: None,
        };
        if per_address && limits.connections_per_address > 0 {
            let key = address_key(peer);
            let mut map = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
            let n = map.entry(key).or_default();
            if *n >= limits.connections_per_address {
                // Dropping `admitted` gives back the total; the address was not counted.
                return None;
            }
            *n += 1;
            admitted.address = Some(key);
        }
        Some(admitted)
    }
}

/// A connection's place in the budget, as a request extension: a WebSocket upgrade takes it
/// into its session, so the place is held until the socket closes (the HTTP connection
/// itself ends at the upgrade).
#[derive(Clone)]
pub struct Slot(Arc<Mutex<Option<Admitted>>>);

impl Slot {
    pub fn take(&self) -> Option<Admitted> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// What the accept loop needs besides the router.
pub struct Serve {
    pub listener: TcpListener,
    pub router: Router,
    pub budget: Arc<Budget>,
    pub limits: Limits,
    /// Connections from these addresses (trusted reverse proxies) are not limited per address:
    /// every visitor arrives through them.
    pub proxies: Vec<ipnet::IpNet>,
    pub stop: CancellationToken,
}

/// Accepts until `stop` is cancelled, then lets requests in flight finish (upgraded
/// WebSockets are the sessions' own and drain through the hub).
pub async fn serve(s: Serve) {
    // HTTP/1 only: the automatic version detection reads the first bytes with no deadline,
    // and browsers open WebSockets over HTTP/1 anyway.
    let mut http = Builder::new(TokioExecutor::new()).http1_only();
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(s.limits.header_timeout_secs.max(1)));
    let http = Arc::new(http);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = s.listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a reset before accept: back off briefly, not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = s.stop.cancelled() => break,
        };
        let from_proxy = s.proxies.iter().any(|n| n.contains(&peer.ip()));
        let per_address = s.limits.enabled && !from_proxy;
        let Some(admitted) = s.budget.admit(peer.ip(), &s.limits, per_address) else {
            tracing::debug!(%peer, "connection refused: over budget");
            drop(tcp);
            continue;
        };
        // Chat frames are small and latency matters: no Nagle delay (which, with delayed
        // ACKs, can hold small writes back by tens of milliseconds).
        let _ = tcp.set_nodelay(true);
        let router = s.router.clone();
        let slot = Slot(Arc::new(Mutex::new(Some(admitted))));
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            req.extensions_mut().insert(slot.clone());
            router.clone().oneshot(req)
        });
        let (http, watcher) = (http.clone(), graceful.watcher());
        tokio::spawn(async move {
            let conn = http.serve_connection_with_upgrades(TokioIo::new(tcp), service);
            // The slot (unless an upgrade took it) goes with the service when this ends.
            let _ = watcher.watch(conn).await;
        });
    }
    drop(s.listener);
    // Plain HTTP requests get a moment to finish; WebSockets left hyper at their upgrade.
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}
