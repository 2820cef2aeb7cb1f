//! Signed webhook POSTs from a durable queue in the broker, one node at a time: the part bot
//! webhooks (`bots::webhook`) and sites' webhooks (`site_webhooks`) share.
//!
//! A queue is named by a string (a bot id, or `hook:SITE:N`); the broker keeps its events in
//! order and its delivery lease. The node holding the lease POSTs the oldest event, signed
//! afresh on every attempt, retries a failure with exponential backoff and jitter (keeping the
//! event id) until the receiver takes or refuses it, and only then deletes it. A dead node's
//! lease lapses after [`LEASE`] and another node goes on where it stopped; at most the event
//! that was in flight is POSTed twice, with the same id.

use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;
use switchboard_protocol::webhook::{
    AttemptOutcome, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use tokio::time::Instant;

use crate::metrics::WebhookOutcome;
use crate::{clock, AppState};

pub use switchboard_protocol::signature::sign;

/// How long one POST may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How long a node's right to deliver a queue lasts unless renewed. A live node renews it
/// every third of this, also while it waits to retry, and a POST times out sooner, so it keeps
/// it; a dead node's passes to another node (or to itself, restarted) this long after its last
/// renewal. A node that shuts down gives it up at once.
pub const LEASE: Duration = Duration::from_secs(15);
/// How often a node without the lease asks for it again.
pub const LEASE_RETRY: Duration = Duration::from_secs(2);

/// The HTTP client every webhook POST goes through.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("switchboard-relay/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds")
}

/// Where a queue's events go.
pub struct Target<'a> {
    /// The queue's name in the broker (its events and its lease).
    pub queue: &'a str,
    pub url: &'a str,
    pub secret: &'a str,
    /// Which metrics count its POSTs.
    pub sink: Sink,
}

/// Whose webhook a POST is, for the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    Bot,
    Site,
}

/// One finished POST, for the caller's delivery log.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    /// 1 for the first POST of the event.
    pub number: u32,
    pub outcome: AttemptOutcome,
    pub status: Option<u16>,
}

/// Whether a receiver should get this event again: it was not reached, failed, or asked to
/// wait. Any other 4xx is the receiver refusing this event for good (it would refuse a retry
/// too).
fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

/// The lease, as this worker last saw it.
#[derive(Default)]
pub struct Lease {
    renewed: Option<Instant>,
}

impl Lease {
    /// Whether this node may deliver now; asks the broker when the last renewal is a third of
    /// the lease old, so a busy queue costs one renewal per 5 s, not one per event.
    pub async fn held(&mut self, state: &AppState, queue: &str) -> bool {
        if self.renewed.is_some_and(|t| t.elapsed() < LEASE / 3) {
            return true;
        }
        let asked = Instant::now();
        let ttl = LEASE.as_millis() as u64;
        match state.broker.bot_lease(queue, &state.node_id, ttl).await {
            Ok(true) => {
                self.renewed = Some(asked);
                true
            }
            Ok(false) => {
                self.renewed = None;
                false
            }
            Err(e) => {
                tracing::warn!(queue, error = %e, "webhook lease unavailable");
                self.renewed = None;
                false
            }
        }
    }

    /// Gives the lease up (a lease of 1 ms), so another node, or this one restarted, delivers
    /// at once rather than after it lapses.
    pub async fn release(&mut self, state: &AppState, queue: &str) {
        if self.renewed.take().is_some() {
            let _ = state.broker.bot_lease(queue, &state.node_id, 1).await;
        }
    }

    /// Waits `wait` (unless the relay shuts down: false), renewing the lease meanwhile; false
    /// also if it went to another node.
    async fn wait(&mut self, state: &AppState, queue: &str, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        while Instant::now() < until {
            let step = (until - Instant::now()).min(LEASE / 3);
            if !pause(state, step).await || !self.held(state, queue).await {
                return false;
            }
        }
        true
    }
}

/// Sleeps unless the relay shuts down first; false on shutdown.
pub async fn pause(state: &AppState, wait: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = state.shutdown.cancelled() => false,
    }
}

/// A delivery log to write every attempt to: `line` turns an attempt into the stored line,
/// the newest `keep` of which the broker keeps under the target's queue name.
pub struct Log<'a> {
    pub line: &'a (dyn Fn(Attempt) -> String + Sync),
    pub keep: usize,
}

/// POSTs one queued event (`body`, whose id is `id`) until the receiver takes or refuses it,
/// writing every attempt to `log` if given; false if this node must stop delivering
/// (shutdown, or the lease went to another node) with the event still queued.
pub async fn post_until_taken(
    state: &AppState,
    lease: &mut Lease,
    target: &Target<'_>,
    id: &str,
    body: &str,
    log: Option<Log<'_>>,
) -> bool {
    let mut wait = FIRST_RETRY;
    let mut number = 0u32;
    loop {
        if !lease.held(state, target.queue).await {
            return false;
        }
        number += 1;
        // Signed afresh on every attempt: a retry hours later must still be inside the
        // receiver's replay window.
        let timestamp = clock::now() / 1000;
        let sent = (state.webhooks.client)
            .post(target.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, id)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                sign(target.secret, timestamp, body.as_bytes()),
            )
            .body(body.to_owned())
            .send()
            .await;
        let status = sent.as_ref().ok().map(|r| r.status());
        let outcome = match status {
            Some(s) if s.is_success() => AttemptOutcome::Delivered,
            Some(s) if !retryable(s) => AttemptOutcome::Refused,
            _ => AttemptOutcome::Failed,
        };
        count(state, target.sink, outcome);
        if let Some(log) = &log {
            let line = (log.line)(Attempt {
                number,
                outcome,
                status: status.map(|s| s.as_u16()),
            });
            let logged = (state.broker).log_webhook_attempt(target.queue, &line, log.keep);
            if let Err(e) = logged.await {
                tracing::warn!(queue = target.queue, error = %e, "delivery log not written");
            }
        }
        match (outcome, sent) {
            (AttemptOutcome::Delivered, _) => return true,
            (AttemptOutcome::Refused, _) => {
                tracing::warn!(queue = target.queue, event = %id, status = ?status, "receiver refused the event; not retried");
                return true;
            }
            (_, Ok(r)) => {
                tracing::info!(queue = target.queue, event = %id, status = %r.status(), "webhook failed; retrying")
            }
            (_, Err(e)) => {
                tracing::info!(queue = target.queue, event = %id, error = %e, "webhook unreachable; retrying")
            }
        }
        let jitter = rand::rng().random_range(0..=wait.as_millis() as u64 / 2);
        if !lease
            .wait(state, target.queue, wait + Duration::from_millis(jitter))
            .await
        {
            return false;
        }
        wait = (wait * 2).min(MAX_RETRY);
    }
}

fn count(state: &AppState, sink: Sink, outcome: AttemptOutcome) {
    let outcome = match outcome {
        AttemptOutcome::Delivered => WebhookOutcome::Delivered,
        AttemptOutcome::Refused => WebhookOutcome::Refused,
        AttemptOutcome::Failed => WebhookOutcome::Failed,
    };
    match sink {
        Sink::Bot => state.metrics.webhook(outcome),
        Sink::Site => state.metrics.site_webhook(outcome),
    }
}
