//! Wall-clock time in protocol units, and the relay's [`Clock`]: the time its sessions stamp
//! on what they store (messages, lifecycle changes, conversations opened), which tests can
//! move forward to script conversations with known timings (KPI tests).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use switchboard_protocol::Millis;

/// The system's wall clock.
pub fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// The system clock, or (tests) a manual one that stands still until moved, so scripted
/// conversations have exact timings. A cheap clone: clones share the manual time.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// A clock that reads `start` until [`Clock::advance`] moves it.
    pub fn manual(start: Millis) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicU64::new(start))),
        }
    }

    pub fn now(&self) -> Millis {
        match &self.manual {
            Some(t) => t.load(Ordering::Relaxed),
            None => now(),
        }
    }

    /// Moves a manual clock (and every clone) `ms` milliseconds ahead; the system clock
    /// cannot be moved.
    pub fn advance(&self, ms: u64) {
        if let Some(t) = &self.manual {
            t.fetch_add(ms, Ordering::Relaxed);
        }
    }
}
