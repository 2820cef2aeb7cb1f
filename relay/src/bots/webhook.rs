//! Webhook delivery. Events wait in the broker, in one ordered queue per bot (durable: a
//! relay that restarts or dies loses none), and one node at a time delivers a bot's queue: the
//! holder of its lease, renewed while it delivers, taken over by another node once a dead
//! node's lease expires. Events go out in order; a failed POST is retried with exponential
//! backoff and jitter until the bot takes it, keeping its event id, and is deleted only then.
//!
//! The backlog is bounded (`[limits] webhook_backlog` per bot). Past the bound nothing is
//! dropped silently, and the oldest are kept (a visitor's first message is never pushed out by
//! later ones):
//! - `typing` and `context` are refused from half the bound on, so the rest stays for the
//!   events a bot cannot do without;
//! - `routed`, `message` and `released` are refused at the bound; the refusal is logged,
//!   counted (`/healthz`: `webhook_refused`) and marks the bot's queue as overflowed. Once the
//!   bot has taken its backlog, the delivering node offers it `routed` again for every
//!   conversation it owns whose last word is the visitor's (paging through all of them): its
//!   transcript holds the messages the bot never got. More of them than the bound fill the
//!   backlog again: the re-offer stops there and goes on from that conversation once the bot
//!   has taken those.
//!
//! Memory does not grow with the backlog: the worker holds one batch of [`BATCH`] events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchboard_protocol::webhook::WebhookEvent;
use switchboard_protocol::{InboxCursor, Owner, ServerMsg};
use tokio::sync::Notify;

use super::routing;
use crate::broker::BotEvent;
use crate::config::Bot;
use crate::outbound::{self, pause, Lease, Sink, Target, LEASE_RETRY};
use crate::{clock, token, AppState};

/// Events the worker reads from the broker at a time: its whole memory, whatever the backlog.
pub const BATCH: usize = 64;
/// How often an idle worker looks at its queue without being woken: events queued on another
/// node wake only that node's worker.
const POLL: Duration = Duration::from_millis(500);

pub struct Webhooks {
    /// The HTTP client of every webhook POST, bots' and sites'.
    pub client: reqwest::Client,
    bots: HashMap<String, Queue>,
    /// Events refused (full backlog or storage failure) since start, on this node.
    refused: AtomicU64,
}

/// This node's handles on one webhook bot's queue.
#[derive(Default)]
struct Queue {
    /// Woken when this node queued an event.
    wake: Notify,
    /// An event the bot needed could not be queued and the overflow mark could not be stored
    /// either (the store failed): re-offer from here.
    lost: AtomicBool,
    /// Where an interrupted re-offer goes on (past the last conversation it queued), so one
    /// with more waiting conversations than the bound makes progress instead of offering the
    /// newest ones again and again.
    resume: std::sync::Mutex<Option<InboxCursor>>,
}

impl Webhooks {
    pub fn new(bots: &[Bot]) -> Webhooks {
        let client = outbound::client();
        let bots = (bots.iter())
            .filter(|b| b.webhook().is_some())
            .map(|b| (b.id.clone(), Queue::default()))
            .collect();
        Webhooks {
            client,
            bots,
            refused: AtomicU64::new(0),
        }
    }

    /// Events this node could not queue since it started.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The webhook bots' ids.
    pub fn bots(&self) -> impl Iterator<Item = &str> {
        self.bots.keys().map(String::as_str)
    }
}

/// Whether a bot needs the event to answer correctly; the others are live hints.
fn essential(msg: &ServerMsg) -> bool {
    !matches!(msg, ServerMsg::Typing { .. } | ServerMsg::Context { .. })
}

/// Queues an event for a webhook bot, under the backlog policy in the module docs; whether it
/// was queued.
pub async fn enqueue(state: &AppState, bot_id: &str, msg: ServerMsg) -> bool {
    let Some(queue) = state.webhooks.bots.get(bot_id) else {
        return false;
    };
    let max = state.config.limits.webhook_backlog.max(1);
    let essential = essential(&msg);
    let limit = if essential { max } else { max / 2 };
    let event = WebhookEvent {
        id: token::random_id("evt"),
        bot_id: bot_id.to_owned(),
        at: clock::now(),
        event: msg,
    };
    let body = serde_json::to_string(&event).expect("events serialize");
    let pushed = state
        .broker
        .push_bot_event(bot_id, event.at, &body, limit)
        .await;
    match pushed {
        Ok(Some(_)) => {
            queue.wake.notify_one();
            return true;
        }
        Ok(None) if !essential => {
            tracing::info!(bot = bot_id, event = %event.id, "webhook backlog half full; live hint not queued");
        }
        Ok(None) => {
            tracing::warn!(bot = bot_id, event = %event.id, backlog = max, "webhook backlog full; event not queued, its conversation is offered again once the bot catches up");
        }
        Err(e) => {
            tracing::error!(bot = bot_id, event = %event.id, error = %e, "webhook event could not be queued");
        }
    }
    state.webhooks.refused.fetch_add(1, Ordering::Relaxed);
    if essential {
        if let Err(e) = state.broker.set_bot_overflow(bot_id).await {
            tracing::error!(bot = bot_id, error = %e, "overflow mark not stored; this node re-offers");
            queue.lost.store(true, Ordering::Relaxed);
            queue.wake.notify_one();
        }
    }
    false
}

pub use outbound::sign;

/// Starts a delivery worker for every webhook bot; workers stop on shutdown.
pub fn run(state: &AppState) {
    for id in state.webhooks.bots() {
        if let Some(bot) = state.bots.get(id) {
            tokio::spawn(worker(state.clone(), bot.clone()));
        }
    }
}

async fn worker(state: AppState, bot: Arc<Bot>) {
    let mut lease = Lease::default();
    deliver_queue(&state, &bot, &mut lease).await;
    lease.release(&state, &bot.id).await;
}

/// Delivers the bot's queue until shutdown.
async fn deliver_queue(state: &AppState, bot: &Bot, lease: &mut Lease) {
    let state = state.clone();
    let queue = &state.webhooks.bots[&bot.id];
    while !state.shutdown.is_cancelled() {
        if !lease.held(&state, &bot.id).await {
            if !pause(&state, LEASE_RETRY).await {
                return;
            }
            continue;
        }
        let batch = match state.broker.bot_events(&bot.id, BATCH).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(bot = %bot.id, error = %e, "webhook queue unreadable; retrying");
                if !pause(&state, Duration::from_secs(1)).await {
                    return;
                }
                continue;
            }
        };
        if batch.is_empty() {
            // Caught up: only now is a re-offer useful (it queues behind nothing).
            if reoffer_due(&state, &bot.id, queue).await {
                reoffer(&state, bot).await;
                continue;
            }
            tokio::select! {
                _ = queue.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = state.shutdown.cancelled() => return,
            }
            continue;
        }
        for event in batch {
            if !deliver(&state, bot, lease, &event).await {
                break;
            }
            if let Err(e) = state.broker.ack_bot_event(&bot.id, event.position).await {
                // Read again from the store: the bot gets this event twice, with the same id.
                tracing::warn!(bot = %bot.id, error = %e, "delivered webhook event not deleted");
                break;
            }
        }
    }
}

async fn reoffer_due(state: &AppState, bot: &str, queue: &Queue) -> bool {
    let marked = match state.broker.take_bot_overflow(bot).await {
        Ok(marked) => marked,
        Err(e) => {
            tracing::warn!(bot, error = %e, "overflow mark unreadable");
            false
        }
    };
    queue.lost.swap(false, Ordering::Relaxed) || marked
}

/// Offers the bot `routed` again for every conversation it owns that waits for its answer.
/// Stops where the backlog fills up again (the refusal marked the queue) and goes on from
/// there once the bot has taken what was queued.
async fn reoffer(state: &AppState, bot: &Bot) {
    let queue = &state.webhooks.bots[&bot.id];
    let mut done = queue
        .resume
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    let me = Owner::Bot { id: bot.id.clone() };
    let mut owned = routing::Owned::after(&bot.site, me, done.clone());
    let mut offered = 0usize;
    let interrupted = 'pages: loop {
        let page = match owned.next_page(state).await {
            Ok(Some(page)) => page,
            Ok(None) => break false,
            Err(e) => {
                tracing::warn!(bot = %bot.id, error = %e, "re-offer interrupted; retried");
                queue.lost.store(true, Ordering::Relaxed);
                break true;
            }
        };
        for c in page.into_iter().filter(routing::awaits_answer) {
            let at = InboxCursor {
                last_activity: c.last_activity,
                id: c.id.clone(),
            };
            let queued = match routing::routed_from(state, c).await {
                Ok(frame) => enqueue(state, &bot.id, frame).await,
                Err(e) => {
                    tracing::warn!(bot = %bot.id, error = %e, "conversation not re-offered; retried");
                    queue.lost.store(true, Ordering::Relaxed);
                    false
                }
            };
            if !queued {
                break 'pages true;
            }
            offered += 1;
            done = Some(at);
        }
    };
    if interrupted {
        *queue.resume.lock().unwrap_or_else(|p| p.into_inner()) = done;
    }
    tracing::info!(bot = %bot.id, offered, interrupted, "conversations waiting on the bot offered again");
}

/// POSTs one event until the bot takes or refuses it; false if this node must stop
/// delivering (shutdown, or the lease went to another node) with the event still queued.
async fn deliver(state: &AppState, bot: &Bot, lease: &mut Lease, event: &BotEvent) -> bool {
    let (url, secret) = bot.webhook().expect("only webhook bots get a worker");
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    let Ok(Id { id }) = serde_json::from_str::<Id>(&event.body) else {
        tracing::error!(bot = %bot.id, position = event.position, "unreadable queued event; skipped");
        return true;
    };
    let target = Target {
        queue: &bot.id,
        url,
        secret,
        sink: Sink::Bot,
    };
    outbound::post_until_taken(state, lease, &target, &id, &event.body, None).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // Computed independently: python3 -c "import hmac,hashlib;
        // print(hmac.new(b'secret-secret-123', b'1700000000.{}', hashlib.sha256).hexdigest())"
        assert_eq!(
            sign("secret-secret-123", 1_700_000_000, b"{}"),
            "v1=1196b5c9835f5176d7628fdc4acb6809f5cb2a0c22a3c251e8ddde90541c29df"
        );
    }

    #[test]
    fn only_typing_and_context_are_live_hints() {
        let typing = ServerMsg::Typing {
            conversation_id: "c".into(),
            sender: switchboard_protocol::Sender {
                kind: switchboard_protocol::SenderKind::Visitor,
                id: "v".into(),
                name: None,
                avatar: None,
            },
            active: true,
        };
        assert!(!essential(&typing));
        let released = ServerMsg::Released {
            conversation_id: "c".into(),
            owner: Owner::Humans,
        };
        assert!(essential(&released));
    }
}
