//! Retention: every `--purge-interval-ms` (an hour by default), each site with
//! `retention_days` loses the conversations whose last activity is older than that, and the
//! visitors left with nothing newer (see [`Broker::purge`](crate::broker::Broker::purge)).
//!
//! The work is done in bounded rounds of [`BATCH`] so one purge never holds the SQLite writer
//! (or a Redis node) for long; the rounds of one pass yield between them and stop on shutdown.

use std::time::Duration;

use switchboard_protocol::Millis;

use crate::broker::{Audience, Event};
use crate::AppState;

/// Conversations (and visitors) deleted per broker call.
pub const BATCH: usize = 200;

/// Upper bound on rounds per site and pass, so a pass always ends; what is left is taken by
/// the next pass.
const MAX_ROUNDS: usize = 1_000;

const DAY_MS: Millis = 24 * 60 * 60 * 1000;

/// The cutoff for a site keeping `days` of activity, at `now`.
pub fn cutoff(now: Millis, days: u32) -> Millis {
    now.saturating_sub(u64::from(days) * DAY_MS)
}

/// Runs passes until shutdown. The first pass runs one interval after start, not at once: a
/// relay restarted in a crash loop should not purge on every start.
pub async fn run(state: AppState) {
    if !state.sites.values().any(|s| s.retention_days.is_some()) {
        return;
    }
    let every = state.config.purge_interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => pass(&state).await,
            _ = state.shutdown.cancelled() => return,
        }
    }
}

/// One pass over every site with a retention.
async fn pass(state: &AppState) {
    for site in state.sites.values() {
        let Some(days) = site.retention_days else {
            continue;
        };
        let before = cutoff(crate::clock::now(), days);
        let (mut conversations, mut visitors) = (0, 0);
        for _ in 0..MAX_ROUNDS {
            if state.shutdown.is_cancelled() {
                return;
            }
            match state.broker.purge(&site.key, before, BATCH).await {
                Ok(p) => {
                    conversations += p.conversations.len();
                    visitors += p.visitors;
                    if p.conversations.is_empty() && p.visitors == 0 {
                        break;
                    }
                    // A tab left open for the whole retention still holds the conversation:
                    // it is closed (4012) and starts over, as after a deletion.
                    for id in p.conversations {
                        state
                            .broker
                            .publish(Event {
                                audience: Audience::Deleted,
                                site: site.key.clone(),
                                conversation_id: id,
                                frame: "".into(),
                            })
                            .await;
                    }
                }
                Err(e) => {
                    // The next pass tries again; nothing is half-deleted (each step is atomic
                    // in its store).
                    tracing::warn!(site = %site.key, error = %e, "retention purge failed");
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if conversations + visitors > 0 {
            tracing::info!(site = %site.key, days, conversations, visitors, "retention purge");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_days_before_now_and_never_wraps() {
        assert_eq!(cutoff(10 * DAY_MS + 5, 3), 7 * DAY_MS + 5);
        assert_eq!(cutoff(DAY_MS, 30), 0);
        assert_eq!(
            cutoff(Millis::MAX, u32::MAX),
            Millis::MAX - u64::from(u32::MAX) * DAY_MS
        );
    }
}
