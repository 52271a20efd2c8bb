//! Bounds how many log lines a guest can cause: a hostile driver that sends nothing but
//! malformed chains must not be able to fill the driver VM's log.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use log::warn;

/// Guest-caused warnings logged per device per second; the rest are counted and summarised.
pub const LINES_PER_SECOND: u32 = 10;

/// A per-device budget of guest-caused log lines, refilled every second.
pub struct LogBudget {
    epoch: Instant,
    /// Second (since `epoch`) the current budget belongs to.
    window: AtomicU64,
    used: AtomicU32,
    suppressed: AtomicU64,
}

impl Default for LogBudget {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            window: AtomicU64::new(0),
            used: AtomicU32::new(0),
            suppressed: AtomicU64::new(0),
        }
    }
}

impl LogBudget {
    /// Whether one more guest-caused line for device `id` may be logged now.
    ///
    /// When a new second starts after lines were dropped, logs how many were.
    pub fn admit(&self, id: &str) -> bool {
        let (admitted, dropped) = self.charge();
        if dropped > 0 {
            warn!("{id}: {dropped} more guest errors were not logged (limit {LINES_PER_SECOND}/s)");
        }
        admitted
    }

    /// Charges one line: whether it may be logged, and how many lines were dropped in the
    /// previous window if this is the first charge of a new one (to be reported, once).
    pub fn charge(&self) -> (bool, u64) {
        let now = self.epoch.elapsed().as_secs();
        let mut dropped = 0;
        if self.window.swap(now, Ordering::Relaxed) != now {
            self.used.store(0, Ordering::Relaxed);
            dropped = self.suppressed.swap(0, Ordering::Relaxed);
        }
        if self.used.fetch_add(1, Ordering::Relaxed) < LINES_PER_SECOND {
            (true, dropped)
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            (false, dropped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_the_budget_then_counts_the_rest() {
        let b = LogBudget::default();
        let admitted = (0..100).filter(|_| b.admit("d")).count();
        // All 100 calls fall in the first second (or straddle one boundary).
        assert!((LINES_PER_SECOND as usize..=2 * LINES_PER_SECOND as usize).contains(&admitted));
        assert!(b.suppressed.load(Ordering::Relaxed) > 0);
    }
}
