//! Per-queue counters: written by the one thread serving the queue, read by anyone.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one virtqueue since the driver last reached DRIVER_OK.
///
/// Relaxed atomics: each counter is exact on its own, and a snapshot taken while requests
/// flow may see one counter a request ahead of another, which a status display tolerates.
/// The transport publishes request counts once per batch of chains, before interrupting
/// the driver, so a driver that polls its used ring can be one batch ahead of the counters.
#[derive(Debug, Default)]
pub struct QueueCounters {
    requests: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
}

/// A copy of one queue's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueSnapshot {
    /// Virtqueue index.
    pub index: u16,
    /// Descriptor chains taken from the available ring.
    pub requests: u64,
    /// Chains refused as malformed or whose response could not be returned.
    pub errors: u64,
    /// Payload bytes moved in either direction.
    pub bytes: u64,
}

impl QueueCounters {
    /// Adds a batch of work: the transport accumulates locally and publishes once per batch.
    pub fn add(&self, requests: u64, errors: u64, bytes: u64) {
        if requests != 0 {
            self.requests.fetch_add(requests, Ordering::Relaxed);
        }
        if errors != 0 {
            self.errors.fetch_add(errors, Ordering::Relaxed);
        }
        if bytes != 0 {
            self.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Zeroes the counters (a new driver session begins).
    pub fn clear(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
    }

    /// The current values.
    pub fn snapshot(&self, index: u16) -> QueueSnapshot {
        QueueSnapshot {
            index,
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }
}
