//! The event queue: driver buffers waiting for a notification, and notifications waiting
//! for a buffer.

use std::collections::VecDeque;

use log::warn;

use super::layout::EVENT_SIZE;
use crate::devices::{Completer, Token};

/// Most notifications kept while the driver has no buffer posted; older ones are dropped.
pub const MAX_PENDING_EVENTS: usize = 64;

/// Pairs event buffers with notifications.
#[derive(Default)]
pub struct EventQueue {
    buffers: VecDeque<Token>,
    pending: VecDeque<[u8; EVENT_SIZE]>,
    /// Notifications dropped because too many were pending.
    pub dropped: u64,
}

impl EventQueue {
    /// Holds a driver buffer (at most `cap` are kept; extras are returned empty).
    pub fn add_buffer(
        &mut self,
        token: Token,
        writable_len: usize,
        cap: usize,
        completer: &mut dyn Completer,
    ) {
        if writable_len < EVENT_SIZE || self.buffers.len() >= cap {
            warn!("event buffer of {writable_len} bytes refused");
            if let Err(e) = completer.complete(token, &[]) {
                warn!("{e}");
            }
            return;
        }
        self.buffers.push_back(token);
        self.flush(completer);
    }

    /// Queues a notification.
    pub fn push(&mut self, event: [u8; EVENT_SIZE], completer: &mut dyn Completer) {
        if self.pending.len() >= MAX_PENDING_EVENTS {
            self.pending.pop_front();
            self.dropped += 1;
        }
        self.pending.push_back(event);
        self.flush(completer);
    }

    fn flush(&mut self, completer: &mut dyn Completer) {
        while !self.pending.is_empty() && !self.buffers.is_empty() {
            if let (Some(ev), Some(token)) = (self.pending.pop_front(), self.buffers.pop_front()) {
                if let Err(e) = completer.complete(token, &ev) {
                    warn!("event: {e}");
                }
            }
        }
    }

    /// Forgets every buffer and notification (device reset).
    pub fn reset(&mut self) {
        self.buffers.clear();
        self.pending.clear();
    }

    /// Buffers the driver has posted and that are still unused.
    pub fn buffers(&self) -> usize {
        self.buffers.len()
    }
}
