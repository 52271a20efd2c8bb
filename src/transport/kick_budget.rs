//! A per-queue budget of kicks that bring no work, shared by both transports.
//!
//! A kick is a hint: the worker wakes, looks at the available ring once and goes back to
//! sleep. A guest that kicks in a loop with nothing new therefore costs its device's worker
//! one wake-up per kick, for as long as it likes. A benign driver kicks only after adding
//! work; with EVENT_IDX a kick can still race the worker (it took the chain while polling,
//! or while re-checking after enabling notifications), so a benign driver makes at most
//! about one empty kick per chain it sends.
//!
//! So each queue may have, per [`KICK_WINDOW`], [`FREE_EMPTY_KICKS`] empty kicks plus one
//! per chain taken in that window. A queue past that stops being watched for
//! [`KICK_BACKOFF`]; then the transport watches its kick again and looks at the ring, so a
//! chain added meanwhile is served then (late, for the flooding guest only) and none is
//! lost. A benign driver never reaches the budget, so it never waits for a backoff.

use std::time::{Duration, Instant};

/// The interval empty kicks are counted over.
pub const KICK_WINDOW: Duration = Duration::from_millis(10);
/// Empty kicks a queue may have per window on top of one per chain it took.
pub const FREE_EMPTY_KICKS: u32 = 16;
/// How long a queue over its budget is not watched before its ring is looked at again.
pub const KICK_BACKOFF: Duration = Duration::from_millis(10);

/// The kick budget of one queue.
#[derive(Debug, Clone, Default)]
pub struct KickBudget {
    /// Start of the current window; `None` until the first kick after a reset or backoff.
    window_start: Option<Instant>,
    /// Kick wake-ups in this window that found no chain.
    empty: u32,
    /// Chains taken by kick wake-ups in this window.
    chains: u32,
    /// The queue's kick is not watched until then.
    backoff_until: Option<Instant>,
}

impl KickBudget {
    /// Records a kick wake-up that took `chains` chains at `now`. Returns the end of a
    /// backoff when the queue just went over its budget: the caller stops watching its kick
    /// until then.
    pub fn kicked(&mut self, chains: usize, now: Instant) -> Option<Instant> {
        let start = *self.window_start.get_or_insert(now);
        if now.saturating_duration_since(start) >= KICK_WINDOW {
            self.window_start = Some(now);
            self.empty = 0;
            self.chains = 0;
        }
        self.chains = self
            .chains
            .saturating_add(u32::try_from(chains).unwrap_or(u32::MAX));
        if chains > 0 {
            return None;
        }
        self.empty = self.empty.saturating_add(1);
        if self.empty <= FREE_EMPTY_KICKS.saturating_add(self.chains) {
            return None;
        }
        let until = now + KICK_BACKOFF;
        *self = Self {
            backoff_until: Some(until),
            ..Self::default()
        };
        Some(until)
    }

    /// When the current backoff ends, if the queue is in one.
    pub fn backoff_until(&self) -> Option<Instant> {
        self.backoff_until
    }

    /// Whether the queue is in a backoff (its kick is not watched).
    pub fn backing_off(&self) -> bool {
        self.backoff_until.is_some()
    }

    /// Ends the backoff if it is due at `now`; true if it ended, and the caller then
    /// watches the queue's kick again and looks at its ring.
    pub fn end_backoff(&mut self, now: Instant) -> bool {
        match self.backoff_until {
            Some(until) if now >= until => {
                self.backoff_until = None;
                true
            }
            _ => false,
        }
    }

    /// Forgets everything (the driver went away or reset the device).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// The earlier of two optional deadlines.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The earliest end of a backoff among `budgets`.
pub fn next_backoff_end(budgets: &[KickBudget]) -> Option<Instant> {
    budgets.iter().filter_map(KickBudget::backoff_until).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_driver_that_kicks_only_with_work_never_backs_off() {
        let t0 = Instant::now();
        let mut b = KickBudget::default();
        // Every request followed by a racing empty kick, ten thousand times in 100 ms.
        for i in 0..10_000u32 {
            let now = t0 + Duration::from_micros(u64::from(i) * 10);
            assert_eq!(b.kicked(1, now), None);
            assert_eq!(b.kicked(0, now), None);
        }
        assert!(!b.backing_off());
    }

    #[test]
    fn a_flood_of_empty_kicks_backs_off_after_the_free_ones() {
        let t0 = Instant::now();
        let mut b = KickBudget::default();
        for _ in 0..FREE_EMPTY_KICKS {
            assert_eq!(b.kicked(0, t0), None);
        }
        assert_eq!(b.kicked(0, t0 + MS), Some(t0 + MS + KICK_BACKOFF));
        assert!(b.backing_off());
        assert!(!b.end_backoff(t0 + MS + KICK_BACKOFF / 2), "not yet");
        assert!(b.end_backoff(t0 + MS + KICK_BACKOFF));
        assert!(!b.backing_off());
        // A fresh window after the backoff.
        for _ in 0..FREE_EMPTY_KICKS {
            assert_eq!(b.kicked(0, t0 + 20 * MS), None);
        }
        assert!(b.kicked(0, t0 + 20 * MS).is_some());
    }

    #[test]
    fn chains_in_the_window_raise_the_allowance_and_windows_start_afresh() {
        let t0 = Instant::now();
        let mut b = KickBudget::default();
        assert_eq!(b.kicked(5, t0), None);
        for _ in 0..FREE_EMPTY_KICKS + 5 {
            assert_eq!(b.kicked(0, t0 + MS), None);
        }
        // A new window forgets both the empty kicks and the chains.
        let later = t0 + KICK_WINDOW + MS;
        for _ in 0..FREE_EMPTY_KICKS {
            assert_eq!(b.kicked(0, later), None);
        }
        assert!(b.kicked(0, later).is_some());
        b.clear();
        assert!(!b.backing_off());
        assert_eq!(next_backoff_end(&[b.clone(), KickBudget::default()]), None);
    }

    #[test]
    fn earliest_of_optional_deadlines() {
        let t = Instant::now();
        assert_eq!(earliest(None, None), None);
        assert_eq!(earliest(Some(t), None), Some(t));
        assert_eq!(earliest(None, Some(t)), Some(t));
        assert_eq!(earliest(Some(t + MS), Some(t)), Some(t));
    }
}
