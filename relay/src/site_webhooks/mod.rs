//! Sites' outbound webhooks for CRMs and data tools (`[[sites.webhooks]]`): conversation and
//! message events, signed like bot webhooks, delivered at least once, in order per
//! conversation, from durable state in the broker.
//!
//! Events are derived from the stored conversation log, not kept beside it:
//! - after a store step returns (an append, a lifecycle change), [`record`] queues a small
//!   *trigger* (conversation, seq) for each of the site's webhooks that subscribes to one of
//!   the stored entries' events, in the webhook's durable queue (`outbound`'s, the one bot
//!   webhooks use, named `hook:SITE:N`);
//! - the node holding the webhook's lease takes triggers oldest first; for a trigger's
//!   conversation it reads the log from the webhook's durable cursor on that conversation,
//!   turns each entry into its events (`events.rs`), POSTs them one at a time until each is
//!   taken (or refused), moves the cursor past the entry, and deletes the trigger last.
//!
//! So a conversation's events leave in seq order whatever order triggers were queued in (two
//! nodes, two racing sessions), an event's id is the same on every retry and every re-read,
//! and a relay that dies after storing an entry but before queueing its trigger delays that
//! entry's events until the conversation's next trigger (which sends everything after the
//! cursor) instead of losing them. What can still wait forever is the very last entry of a
//! conversation that nobody writes to again after such a crash. A crash between a POST and
//! the cursor's move sends that event again, with the same id: receivers deduplicate on it.
//!
//! The queue holds ids, not text: an erased visitor's messages are not sent after the
//! erasure (the log is gone; the trigger is dropped). Each attempt is written to the
//! webhook's bounded delivery log ([`LOG_KEEP`] lines), which admins read through
//! `GET /v1/admin/sites/{site}/webhooks` (`log.rs`).

pub mod events;
pub mod log;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::bail;
use switchboard_protocol::webhook::{SiteEventType, WebhookAttempt};
use switchboard_protocol::ChatMessage;
use tokio::sync::Notify;

use crate::broker::StoreError;
use crate::config::Site;
use crate::metrics::Scraped;
use crate::outbound::{self, pause, Lease, Sink, Target, LEASE_RETRY};
use crate::{clock, AppState};

/// Most webhooks one site may have.
pub const MAX_PER_SITE: usize = 8;
/// Longest webhook URL accepted.
pub const MAX_URL_BYTES: usize = 2048;
/// Shortest and longest signing secret accepted.
pub const SECRET_BYTES: std::ops::RangeInclusive<usize> = 16..=256;
/// Lines of a webhook's delivery log kept in the store.
pub const LOG_KEEP: usize = 200;
/// Triggers the worker reads from its queue at a time: its whole memory, whatever the backlog.
const BATCH: usize = 64;
/// Log entries read per store call while catching a conversation up.
const PAGE: usize = 100;
/// How often an idle worker looks at its queue without being woken: triggers queued on
/// another node wake only that node's worker.
const POLL: Duration = Duration::from_millis(500);

/// Every site webhook of the configuration, and this node's handles on them.
#[derive(Default)]
pub struct SiteWebhooks {
    hooks: Vec<Hook>,
    /// Indexes into `hooks`, by site key.
    by_site: HashMap<String, Vec<usize>>,
    /// Triggers refused (full queue, or the store failed) since start, on this node.
    refused: AtomicU64,
}

struct Hook {
    site: String,
    /// Its place in the site's `[[sites.webhooks]]`.
    index: usize,
    /// Its queue's (and lease's, and log's, and cursors') name in the broker.
    queue: String,
    url: String,
    secret: String,
    events: Vec<SiteEventType>,
    /// Woken when this node queued a trigger.
    wake: Notify,
}

impl SiteWebhooks {
    pub fn new(sites: &[Site]) -> SiteWebhooks {
        let mut hooks = SiteWebhooks::default();
        for site in sites {
            for (index, w) in site.webhooks.iter().enumerate() {
                (hooks.by_site.entry(site.key.clone()).or_default()).push(hooks.hooks.len());
                hooks.hooks.push(Hook {
                    site: site.key.clone(),
                    index,
                    queue: queue_name(&site.key, index),
                    url: w.url.clone(),
                    secret: w.secret.clone(),
                    events: w.events.clone(),
                    wake: Notify::new(),
                });
            }
        }
        hooks
    }

    /// Triggers this node could not queue since it started.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn of_site(&self, site: &str) -> impl Iterator<Item = &Hook> {
        (self.by_site.get(site).into_iter().flatten()).map(|&i| &self.hooks[i])
    }
}

/// The broker queue of a site's `index`th webhook. Bot ids have no `:`, so no bot's queue
/// can have this name.
pub fn queue_name(site: &str, index: usize) -> String {
    format!("hook:{site}:{index}")
}

/// The configuration's check of a site's webhooks (unknown event names are refused when the
/// file is read, naming the known ones).
pub fn check_config(site: &Site) -> anyhow::Result<()> {
    if site.webhooks.len() > MAX_PER_SITE {
        bail!(
            "site {:?}: at most {MAX_PER_SITE} [[sites.webhooks]]",
            site.key
        );
    }
    for (i, w) in site.webhooks.iter().enumerate() {
        let at = format!("site {:?} webhook {i}", site.key);
        if !switchboard_protocol::context::is_http_url(&w.url) || w.url.len() > MAX_URL_BYTES {
            bail!("{at}: url must be an http(s) URL of at most {MAX_URL_BYTES} bytes");
        }
        if !SECRET_BYTES.contains(&w.secret.len()) {
            bail!(
                "{at}: secret must be {}-{} characters",
                SECRET_BYTES.start(),
                SECRET_BYTES.end()
            );
        }
        if w.events.is_empty() {
            bail!("{at}: events must name at least one event");
        }
        for (j, e) in w.events.iter().enumerate() {
            if w.events[..j].contains(e) {
                bail!("{at}: event {:?} is listed twice", e.as_str());
            }
        }
    }
    Ok(())
}

/// Queues the triggers for entries just stored (one conversation's, in seq order) of `site`.
/// Called after every store step that appends to a log; a site without webhooks costs a map
/// lookup. A trigger that cannot be queued is logged and counted: the conversation's next
/// trigger carries its entries.
pub async fn record(state: &AppState, site: &str, entries: &[&ChatMessage]) {
    let Some(last) = entries.last() else {
        return;
    };
    for hook in state.site_webhooks.of_site(site) {
        let wanted = entries
            .iter()
            .any(|e| events::kinds(e).any(|k| hook.events.contains(&k)));
        if !wanted {
            continue;
        }
        let limit = state.config.limits.webhook_backlog.max(1);
        let trigger = format!("{} {}", last.seq, last.conversation_id);
        match (state.broker)
            .push_bot_event(&hook.queue, clock::now(), &trigger, limit)
            .await
        {
            Ok(Some(_)) => {
                hook.wake.notify_one();
                continue;
            }
            Ok(None) => {
                tracing::warn!(queue = %hook.queue, conversation = %last.conversation_id, backlog = limit, "site webhook queue full; the conversation's events wait for its next entry");
            }
            Err(e) => {
                tracing::error!(queue = %hook.queue, conversation = %last.conversation_id, error = %e, "site webhook trigger not queued");
            }
        }
        state.site_webhooks.refused.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts a delivery worker for every site webhook; workers stop on shutdown.
pub fn run(state: &AppState) {
    for i in 0..state.site_webhooks.hooks.len() {
        tokio::spawn(worker(state.clone(), i));
    }
}

/// The queue lengths and refusals `/metrics` shows.
pub async fn scrape(state: &AppState, scraped: &mut Scraped) {
    scraped.site_webhook_overflow = state.site_webhooks.refused();
    for hook in &state.site_webhooks.hooks {
        if let Ok(n) = state.broker.bot_backlog(&hook.queue).await {
            (scraped.site_webhook_backlog).push((hook.site.clone(), hook.index.to_string(), n));
        }
    }
}

async fn worker(state: AppState, hook: usize) {
    let hook = &state.site_webhooks.hooks[hook];
    let mut lease = Lease::default();
    deliver_queue(&state, hook, &mut lease).await;
    lease.release(&state, &hook.queue).await;
}

/// Delivers the webhook's queue until shutdown.
async fn deliver_queue(state: &AppState, hook: &Hook, lease: &mut Lease) {
    while !state.shutdown.is_cancelled() {
        if !lease.held(state, &hook.queue).await {
            if !pause(state, LEASE_RETRY).await {
                return;
            }
            continue;
        }
        let batch = match state.broker.bot_events(&hook.queue, BATCH).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(queue = %hook.queue, error = %e, "site webhook queue unreadable; retrying");
                if !pause(state, Duration::from_secs(1)).await {
                    return;
                }
                continue;
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = hook.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = state.shutdown.cancelled() => return,
            }
            continue;
        }
        for trigger in batch {
            let parsed = trigger
                .body
                .split_once(' ')
                .and_then(|(seq, conv)| Some((seq.parse::<u64>().ok()?, conv)));
            let done = match parsed {
                Some((seq, conv)) => catch_up(state, hook, lease, conv, seq).await,
                None => {
                    tracing::error!(queue = %hook.queue, position = trigger.position, "unreadable trigger; skipped");
                    Ok(true)
                }
            };
            match done {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(queue = %hook.queue, error = %e, "site webhook: store failed; retrying");
                    pause(state, Duration::from_secs(1)).await;
                    break;
                }
            }
            if let Err(e) = (state.broker)
                .ack_bot_event(&hook.queue, trigger.position)
                .await
            {
                // Read again: the cursor makes it a no-op.
                tracing::warn!(queue = %hook.queue, error = %e, "handled trigger not deleted");
                break;
            }
        }
    }
}

/// Sends the events of every entry of the conversation past the webhook's cursor (at least
/// up to `seq`, the trigger's, and on until the log has no more), in seq order; false if this
/// node must stop (shutdown, lease lost) with the trigger still queued.
async fn catch_up(
    state: &AppState,
    hook: &Hook,
    lease: &mut Lease,
    conversation_id: &str,
    seq: u64,
) -> Result<bool, StoreError> {
    let mut cursor = (state.broker)
        .webhook_cursor(&hook.queue, conversation_id)
        .await?;
    if cursor >= seq {
        return Ok(true);
    }
    let target = Target {
        queue: &hook.queue,
        url: &hook.url,
        secret: &hook.secret,
        sink: Sink::Site,
    };
    loop {
        let entries = match state.broker.history(conversation_id, cursor, PAGE).await {
            Ok(entries) => entries,
            // Erased (privacy request, retention) since: nothing left to send.
            Err(StoreError::NotFound(_)) => return Ok(true),
            Err(e) => return Err(e),
        };
        // Read until the log has nothing more: entries stored while this one was POSTed may
        // have had their own trigger refused (a full queue), and are sent now.
        if entries.is_empty() {
            return Ok(true);
        }
        let mut moved = false;
        for entry in &entries {
            let mut sent = false;
            for event in events::derive(&hook.site, entry) {
                if !hook.events.contains(&event.kind) {
                    continue;
                }
                let body = serde_json::to_string(&event).expect("events serialize");
                let line = |a: outbound::Attempt| {
                    let line = WebhookAttempt {
                        webhook: hook.index,
                        event_id: event.id.clone(),
                        kind: event.kind,
                        conversation_id: event.conversation_id.clone(),
                        attempt: a.number,
                        outcome: a.outcome,
                        status: a.status,
                        at: clock::now(),
                    };
                    serde_json::to_string(&line).expect("attempts serialize")
                };
                let log = outbound::Log {
                    line: &line,
                    keep: LOG_KEEP,
                };
                let taken =
                    outbound::post_until_taken(state, lease, &target, &event.id, &body, Some(log));
                if !taken.await {
                    if moved {
                        (state.broker)
                            .set_webhook_cursor(&hook.queue, conversation_id, cursor)
                            .await?;
                    }
                    return Ok(false);
                }
                sent = true;
            }
            cursor = entry.seq;
            moved = true;
            if sent {
                // Moved past every entry that sent something at once: a crash repeats at
                // most the events of the entry in flight.
                (state.broker)
                    .set_webhook_cursor(&hook.queue, conversation_id, cursor)
                    .await?;
                moved = false;
            }
        }
        if moved {
            (state.broker)
                .set_webhook_cursor(&hook.queue, conversation_id, cursor)
                .await?;
        }
    }
}

/// What `log.rs` needs of a site's webhooks.
pub(crate) struct HookView<'a> {
    pub index: usize,
    pub queue: &'a str,
    pub url: &'a str,
    pub events: &'a [SiteEventType],
}

pub(crate) fn site_hooks<'a>(state: &'a AppState, site: &str) -> Vec<HookView<'a>> {
    (state.site_webhooks.of_site(site))
        .map(|h| HookView {
            index: h.index,
            queue: &h.queue,
            url: &h.url,
            events: &h.events,
        })
        .collect()
}
