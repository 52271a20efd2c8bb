//! How many writes one guest may make to a physical RPMB it shares with others.
//!
//! Every authenticated write wears the part, advances its write counter (which never goes
//! back) and holds the part while it runs; a guest writing in a loop would wear it out and
//! delay every other guest. Each guest gets a bucket of `per_minute` writes, refilled
//! continuously at that rate: bursts (a file system commit) pass, a sustained flood is
//! refused with a write failure the guest can retry later.

use std::time::Instant;

/// Default `guest_writes_per_minute` of an `[[rpmb_store]]`.
pub const DEFAULT_WRITES_PER_MINUTE: u32 = 600;

/// A token bucket of writes.
#[derive(Debug, Clone)]
pub struct WriteBudget {
    per_minute: u32,
    /// Writes available, in millionths of a write (so refills need no floats).
    micro_tokens: u64,
    last: Instant,
}

impl WriteBudget {
    /// A full bucket of `per_minute` writes (at least 1), refilled at that rate.
    pub fn new(per_minute: u32, now: Instant) -> Self {
        let per_minute = per_minute.max(1);
        Self {
            per_minute,
            micro_tokens: u64::from(per_minute) * 1_000_000,
            last: now,
        }
    }

    /// Takes one write if the budget has it.
    pub fn take(&mut self, now: Instant) -> bool {
        let cap = u64::from(self.per_minute) * 1_000_000;
        let elapsed_us = now.saturating_duration_since(self.last).as_micros();
        // per_minute writes per 60e6 us: per_minute / 60 micro-tokens per microsecond.
        let refill = elapsed_us.saturating_mul(u128::from(self.per_minute)) / 60;
        self.micro_tokens = self
            .micro_tokens
            .saturating_add(u64::try_from(refill).unwrap_or(u64::MAX))
            .min(cap);
        self.last = now;
        if self.micro_tokens >= 1_000_000 {
            self.micro_tokens -= 1_000_000;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_passes_a_flood_is_refused_and_time_refills() {
        let t0 = Instant::now();
        let mut b = WriteBudget::new(60, t0);
        assert_eq!((0..100).filter(|_| b.take(t0)).count(), 60);
        assert!(!b.take(t0 + Duration::from_millis(900)));
        assert!(
            b.take(t0 + Duration::from_millis(1000)),
            "one write a second"
        );
        assert!(!b.take(t0 + Duration::from_millis(1000)));
        // A long pause refills to the cap, not beyond.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!((0..100).filter(|_| b.take(later)).count(), 60);
    }
}
