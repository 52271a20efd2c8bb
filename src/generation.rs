//! Change generations that wake the detail watcher, so an idle service never polls.
//!
//! A device bumps its [`Generation`] on every detail change; the first bump after the
//! watcher last looked rings the [`DetailBell`] it is attached to. A burst of changes costs
//! the device one atomic swap each beyond the first, and the watcher sleeps on a condvar
//! until something rings.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// Wakes the detail watcher when any attached [`Generation`] moves.
#[derive(Debug, Default)]
pub struct DetailBell {
    /// Set by the first ring since the watcher last took it; read under `lock` by the waiter.
    pending: AtomicBool,
    closed: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
}

impl DetailBell {
    /// A silent bell.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks a change; only the first ring since the last [`take`](Self::take) wakes anyone.
    pub fn ring(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            // Taking the lock orders this notify after a waiter's check of `pending`.
            drop(self.lock.lock().unwrap_or_else(|p| p.into_inner()));
            self.cv.notify_all();
        }
    }

    /// Blocks until the bell rang or was closed; `true` means it rang and is silent again.
    pub fn take(&self) -> bool {
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.closed.load(Ordering::Acquire) {
                return false;
            }
            if self.pending.swap(false, Ordering::AcqRel) {
                return true;
            }
            guard = self.cv.wait(guard).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Ends every current and future [`take`](Self::take).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        drop(self.lock.lock().unwrap_or_else(|p| p.into_inner()));
        self.cv.notify_all();
    }
}

/// A detail change counter that rings its bell, once one is attached.
#[derive(Debug, Default)]
pub struct Generation {
    value: AtomicU64,
    bell: OnceLock<Arc<DetailBell>>,
}

impl Generation {
    /// Generation 0, with no bell.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one change.
    pub fn bump(&self) {
        self.value.fetch_add(1, Ordering::Release);
        if let Some(bell) = self.bell.get() {
            bell.ring();
        }
    }

    /// The number of changes so far.
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Acquire)
    }

    /// Rings `bell` on every later change; only the first attached bell is kept.
    pub fn attach(&self, bell: &Arc<DetailBell>) {
        let _ = self.bell.set(Arc::clone(bell));
    }
}
