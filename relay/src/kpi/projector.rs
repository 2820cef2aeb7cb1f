//! Keeps each conversation's KPI facts in step with its log, off the message path.
//!
//! The stores mark a conversation in the same atomic step as any write to its log; a pass
//! takes (unmarks) a batch of marks first and reads those logs after, so a write that lands
//! meanwhile marks its conversation again and the next pass sees it. A pass that fails puts
//! its batch's marks back. Projecting is idempotent and the stores keep the facts of the
//! later seq, so nodes projecting side by side (Redis) agree. A report runs a pass for its
//! site first, so it counts everything stored before it was asked.

use std::time::Duration;

use crate::broker::{Broker, Result};
use crate::AppState;

use super::Folder;

/// Conversations taken per round.
pub const BATCH: usize = 200;

/// How often every site's marks are projected.
pub const EVERY: Duration = Duration::from_secs(5);

/// The most of a conversation's log one read takes.
const PAGE: usize = 500;

/// Projects every marked conversation of `site`; how many.
pub async fn catch_up(broker: &dyn Broker, site: &str) -> Result<usize> {
    let mut done = 0;
    loop {
        let ids = broker.take_kpi_dirty(site, BATCH).await?;
        if ids.is_empty() {
            return Ok(done);
        }
        if let Err(e) = project(broker, site, &ids).await {
            broker.mark_kpi_dirty(site, &ids).await?;
            return Err(e);
        }
        done += ids.len();
    }
}

async fn project(broker: &dyn Broker, site: &str, ids: &[String]) -> Result<()> {
    let mut all = Vec::with_capacity(ids.len());
    for id in ids {
        // Deleted since (privacy, retention): its facts stay, they name no one.
        let Some(summary) = broker.summary(id).await? else {
            continue;
        };
        // A page at a time: a long conversation's log is never held whole.
        let mut folder = Folder::new(&summary);
        let mut since = 0;
        loop {
            let page = broker.history(id, since, PAGE).await?;
            for m in &page {
                folder.push(m);
            }
            match page.last() {
                Some(m) if page.len() == PAGE => since = m.seq,
                _ => break,
            }
        }
        if folder.is_empty() {
            continue;
        }
        let entry = broker
            .kpi_facts(site, id)
            .await?
            .map(|f| f.entry)
            .filter(|e| !e.is_empty());
        all.push(folder.finish(&summary, entry));
    }
    broker.put_kpi_facts(&all).await
}

/// Projects every site's marks every [`EVERY`] until shutdown.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = state.shutdown.cancelled() => return,
        }
        for site in state.sites.keys() {
            if let Err(e) = catch_up(state.broker.as_ref(), site).await {
                tracing::warn!(%site, error = %e, "kpi: projecting failed; retried next pass");
            }
        }
    }
}
