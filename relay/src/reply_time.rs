//! "Typically replies in N minutes": the median of a site's latest first-response times.
//!
//! The samples live in the broker ([`Broker::first_reply_times`]), written in the same step
//! as each conversation's first agent message, so every node computes the same figure from the
//! same data. Each node keeps the figure per site for [`FRESH`], so a visitor's `hello` reads
//! memory, not the store: at most one small read per site and node every [`FRESH`], and at
//! once after this node measured a new reply.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::broker::Broker;

/// Fewer measured conversations than this and the figure says more about luck than about
/// the site: none is given.
pub const MIN_SAMPLES: usize = 3;
/// How long a node trusts the figure it computed.
pub const FRESH: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct ReplyTimes {
    /// Site → when computed, the figure.
    cache: Mutex<HashMap<String, (Instant, Option<u64>)>>,
}

impl ReplyTimes {
    /// The site's typical first-response time in milliseconds, if it has enough samples.
    pub async fn typical(&self, broker: &dyn Broker, site: &str) -> Option<u64> {
        if let Some((at, figure)) = self.lock().get(site) {
            if at.elapsed() < FRESH {
                return *figure;
            }
        }
        let figure = match broker.first_reply_times(site).await {
            Ok(samples) => median(samples),
            Err(e) => {
                // The last figure is better than none while the store is away.
                tracing::debug!(error = %e, "first reply times unavailable");
                return self.lock().get(site).and_then(|(_, f)| *f);
            }
        };
        self.lock()
            .insert(site.to_owned(), (Instant::now(), figure));
        figure
    }

    /// This node just measured a reply on the site: the next figure reads the store again.
    pub fn forget(&self, site: &str) {
        self.lock().remove(site);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Option<u64>)>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The median (of an even count, the mean of the middle two, rounded down); `None` below
/// [`MIN_SAMPLES`]. A median, not a mean: one conversation answered the next morning must not
/// turn "2 minutes" into "an hour".
pub fn median(mut samples: Vec<u64>) -> Option<u64> {
    if samples.len() < MIN_SAMPLES {
        return None;
    }
    samples.sort_unstable();
    let n = samples.len();
    Some((samples[(n - 1) / 2] + samples[n / 2]) / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_ignores_an_outlier_and_needs_enough_samples() {
        assert_eq!(median(vec![60_000, 120_000]), None);
        assert_eq!(median(vec![90_000, 30_000, 36_000_000]), Some(90_000));
        assert_eq!(median(vec![4, 1, 3, 2]), Some(2));
    }
}
