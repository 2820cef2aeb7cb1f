//! Whether any agent is online for a site, across nodes: each node claims the sites its agents
//! serve in the broker with an expiry and renews the claim while they stay.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::broker::Result;
use crate::{clock, AppState};

/// How often a node renews its claims; a claim lives three times as long, so a dead node's
/// agents count as offline within that.
pub const RENEW: Duration = Duration::from_secs(5);

pub async fn agents_online(state: &AppState, site: &str) -> Result<bool> {
    if state.hub.agent_online(site) {
        return Ok(true);
    }
    let now = clock::now();
    for pattern in [site, "*"] {
        if state
            .broker
            .present_elsewhere(pattern, &state.node_id, now)
            .await?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Claims this node's agent sites now and withdraws the ones it no longer has; returns what
/// it claimed, to compare with next time.
pub async fn announce(state: &AppState, before: &BTreeSet<String>) -> BTreeSet<String> {
    let now = state.hub.agent_sites();
    let until = clock::now() + 3 * RENEW.as_millis() as u64;
    for site in &now {
        if let Err(e) = state
            .broker
            .set_presence(site, &state.node_id, Some(until))
            .await
        {
            tracing::debug!(error = %e, "presence claim failed");
        }
    }
    for gone in before.difference(&now) {
        let _ = state.broker.set_presence(gone, &state.node_id, None).await;
    }
    now
}

/// Renews the claims until shutdown, then withdraws them.
pub async fn run(state: AppState) {
    let mut claimed = BTreeSet::new();
    loop {
        claimed = announce(&state, &claimed).await;
        tokio::select! {
            _ = tokio::time::sleep(RENEW) => {}
            _ = state.presence_changed.notified() => {}
            _ = state.shutdown.cancelled() => break,
        }
    }
    for site in claimed {
        let _ = state.broker.set_presence(&site, &state.node_id, None).await;
    }
}
