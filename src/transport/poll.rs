//! Adaptive busy-polling of a request queue once its work is done.
//!
//! Going to sleep on the driver's notification costs a round of wake-ups per request: the
//! driver writes its kick, the kernel wakes the worker (often an idle CPU), the worker reads
//! the eventfd. When requests follow each other closely, looking at the available ring for
//! a few microseconds before sleeping finds the next one instead, and the driver, seeing
//! notifications still suppressed (EVENT_IDX), does not kick at all.
//!
//! Spinning is only worth it when it succeeds, so the window adapts to the gaps seen, as
//! QEMU's event loop does for its poll-max-ns: a gap that a longer window would have caught
//! doubles it (up to the configured maximum), a gap longer than the maximum resets it to
//! zero. Sparse traffic (a sound period every few milliseconds, an occasional clock
//! request) therefore never spins, and an idle device never wakes.

use std::time::{Duration, Instant};

/// Default for the longest window (the config's default, QEMU's default poll-max-ns).
pub const DEFAULT_POLL_MAX: Duration = crate::config::ServiceConfig::DEFAULT_QUEUE_POLL_MAX;

/// Longest one wake-up of a queue may keep polling it: then the worker goes back to its
/// event loop, where the device's other queues and its timer wait.
pub const POLL_SHARE: Duration = Duration::from_millis(1);

/// How often a spinning worker yields its CPU: where the driver runs on the same CPU (a
/// driver VM whose vCPU shares a physical CPU with the guest), pure spinning would keep the
/// driver from sending what the worker waits for.
const YIELD_EVERY: Duration = Duration::from_micros(5);

/// First non-zero window, grown from zero.
const FIRST_WINDOW: Duration = Duration::from_micros(4);

/// The polling state of one queue.
#[derive(Debug, Clone)]
pub struct AdaptivePoll {
    max: Duration,
    window: Duration,
    /// When the queue last stopped looking for work: polling started then and failed.
    idle_since: Option<Instant>,
}

impl AdaptivePoll {
    /// A queue polled for at most `max` after its work; `Duration::ZERO` disables polling.
    pub fn new(max: Duration) -> Self {
        Self {
            max,
            window: Duration::ZERO,
            idle_since: None,
        }
    }

    /// Whether the queue is polled at all (a non-zero maximum).
    pub fn enabled(&self) -> bool {
        !self.max.is_zero()
    }

    /// The window the next poll will spin for.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The driver woke the queue: sizes the window to the gap since it went idle.
    pub fn woken(&mut self) {
        if self.idle_since.is_some() {
            self.woken_at(Instant::now());
        }
    }

    fn woken_at(&mut self, now: Instant) {
        if let Some(since) = self.idle_since.take() {
            self.adapt(now.saturating_duration_since(since));
        }
    }

    /// Sizes the window after the queue was idle for `gap` (polling included).
    fn adapt(&mut self, gap: Duration) {
        if gap <= self.window {
            // Polling should have caught it (it arrived as the window closed): keep it.
        } else if gap > self.max {
            self.window = Duration::ZERO;
        } else {
            self.window = (self.window * 2).max(FIRST_WINDOW).min(self.max);
        }
    }

    /// Spins while `available` says no work has arrived, for the current window but at most
    /// `limit`; true if work arrived. A false return means the caller goes back to waiting
    /// for a notification.
    pub fn spin(&mut self, limit: Duration, mut available: impl FnMut() -> bool) -> bool {
        if !self.enabled() {
            return false;
        }
        let start = Instant::now();
        let window = self.window.min(limit);
        if !window.is_zero() {
            let mut next_yield = start + YIELD_EVERY;
            loop {
                if available() {
                    return true;
                }
                let now = Instant::now();
                if now.duration_since(start) >= window {
                    break;
                }
                if now >= next_yield {
                    std::thread::yield_now();
                    next_yield = now + YIELD_EVERY;
                } else {
                    std::hint::spin_loop();
                }
            }
        }
        self.idle_since = Some(start);
        false
    }
}

impl Default for AdaptivePoll {
    fn default() -> Self {
        Self::new(DEFAULT_POLL_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Duration = Duration::from_micros(1);

    #[test]
    fn starts_closed_and_grows_while_gaps_fit_the_maximum() {
        let mut p = AdaptivePoll::new(32 * US);
        assert_eq!(p.window(), Duration::ZERO);
        // 20 us gaps grow the window until it reaches the maximum; a gap a window catches
        // keeps it.
        for want in [4, 8, 16, 32, 32] {
            p.adapt(20 * US);
            assert_eq!(p.window(), want * US);
        }
    }

    #[test]
    fn a_gap_longer_than_the_maximum_closes_the_window() {
        let mut p = AdaptivePoll::new(32 * US);
        p.adapt(10 * US);
        p.adapt(10 * US);
        assert_eq!(p.window(), 8 * US);
        p.adapt(33 * US);
        assert_eq!(p.window(), Duration::ZERO);
    }

    #[test]
    fn a_caught_gap_keeps_the_window() {
        let mut p = AdaptivePoll::new(32 * US);
        for _ in 0..3 {
            p.adapt(10 * US);
        }
        assert_eq!(p.window(), 16 * US);
        p.adapt(16 * US);
        assert_eq!(p.window(), 16 * US);
    }

    #[test]
    fn zero_maximum_never_spins() {
        let mut p = AdaptivePoll::new(Duration::ZERO);
        p.adapt(US);
        assert_eq!(p.window(), Duration::ZERO);
        let mut asked = 0;
        assert!(!p.spin(Duration::MAX, || {
            asked += 1;
            true
        }));
        assert_eq!(asked, 0, "a closed window must not even look");
    }

    #[test]
    fn spin_returns_as_soon_as_work_arrives() {
        let mut p = AdaptivePoll::new(Duration::from_secs(1));
        p.adapt(Duration::from_millis(1));
        let mut asked = 0;
        assert!(p.spin(Duration::MAX, || {
            asked += 1;
            asked == 3
        }));
        assert_eq!(asked, 3);
    }

    #[test]
    fn failed_spin_marks_idle_and_the_next_wake_adapts() {
        let mut p = AdaptivePoll::new(32 * US);
        assert!(!p.spin(Duration::MAX, || false));
        let idle = p.idle_since.expect("idle after a failed spin");
        p.woken_at(idle + 10 * US);
        assert_eq!(p.window(), 4 * US);
        // Woken again without having polled (e.g. another queue's work): nothing to adapt.
        p.woken_at(idle + Duration::from_secs(1));
        assert_eq!(p.window(), 4 * US);
        let start = Instant::now();
        assert!(!p.spin(Duration::MAX, || false));
        assert!(start.elapsed() >= 4 * US, "spun for the window");
    }

    #[test]
    fn spin_stops_at_the_limit_before_the_window_closes() {
        let mut p = AdaptivePoll::new(Duration::from_secs(60));
        p.adapt(Duration::from_secs(1));
        assert_eq!(p.window(), FIRST_WINDOW);
        p.window = Duration::from_secs(60);
        let start = Instant::now();
        assert!(!p.spin(Duration::from_millis(1), || false));
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "spun past the limit"
        );
    }
}
