//! Change notifications from the device side to whoever watches (the control plane).

use std::collections::VecDeque;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::generation::DetailBell;

use super::LinkState;

/// Something a watcher may want to react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusEvent {
    /// A device's link moved to a new state.
    Link {
        /// The device id.
        device: String,
        /// The new state.
        state: LinkState,
    },
    /// A device's per-kind detail changed (clock rate, RPMB counter, tuning, stream).
    Detail {
        /// The device id.
        device: String,
    },
}

/// Most events held for one subscriber that has not taken them yet. A listener stuck in a
/// binder call stalls its dispatcher; past this backlog the oldest events go, so memory
/// stays bounded whatever the listener does.
pub const SUBSCRIBER_BACKLOG: usize = 256;

/// Fans events out to every subscriber.
///
/// Publishing takes two short locks and never blocks on a subscriber. Each subscriber has a
/// bounded queue ([`SUBSCRIBER_BACKLOG`]); when it is full the oldest event is dropped, not
/// the newest and not the subscriber: events announce state that can be read again (link
/// state, detail), so the newest ones are the ones worth delivering late, while dropping
/// the subscriber (the control plane's dispatcher) would silence every listener for the
/// sake of one slow one. Only rare events (link changes, coalesced detail changes) go
/// through here, never per-request work.
#[derive(Debug, Default)]
pub struct EventBus {
    subscribers: Mutex<Vec<Weak<Queue>>>,
    detail_bell: Arc<DetailBell>,
}

/// One subscriber's bounded queue.
#[derive(Debug, Default)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct QueueState {
    events: VecDeque<StatusEvent>,
    /// The bus is gone: nothing more will come.
    closed: bool,
    /// Events dropped because the backlog was full, since the last time they were counted.
    dropped: u64,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// A receiver of every event published after it subscribed.
#[derive(Debug)]
pub struct Subscription {
    queue: Arc<Queue>,
}

impl Subscription {
    /// Waits for the next event; `None` once the bus is gone and the queue drained.
    pub fn recv(&self) -> Option<StatusEvent> {
        let mut state = self.queue.lock();
        loop {
            if let Some(e) = state.events.pop_front() {
                return Some(e);
            }
            if state.closed {
                return None;
            }
            state = match self.queue.ready.wait(state) {
                Ok(s) => s,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
    }

    /// Waits up to `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<StatusEvent, RecvTimeoutError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.queue.lock();
        loop {
            if let Some(e) = state.events.pop_front() {
                return Ok(e);
            }
            if state.closed {
                return Err(RecvTimeoutError::Disconnected);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RecvTimeoutError::Timeout);
            }
            state = match self.queue.ready.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// The events queued now, without waiting.
    pub fn try_iter(&self) -> impl Iterator<Item = StatusEvent> + '_ {
        std::iter::from_fn(move || self.queue.lock().events.pop_front())
    }

    /// How many events were dropped (backlog full) since the last call.
    pub fn take_dropped(&self) -> u64 {
        std::mem::take(&mut self.queue.lock().dropped)
    }
}

impl Iterator for Subscription {
    type Item = StatusEvent;

    fn next(&mut self) -> Option<StatusEvent> {
        self.recv()
    }
}

impl EventBus {
    /// A bus with no subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bell every detail source installed on a device of this bus rings on a change.
    pub fn detail_bell(&self) -> &Arc<DetailBell> {
        &self.detail_bell
    }

    fn subscribers(&self) -> MutexGuard<'_, Vec<Weak<Queue>>> {
        match self.subscribers.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A new receiver of every event published from now on.
    pub fn subscribe(&self) -> Subscription {
        let queue = Arc::new(Queue::default());
        self.subscribers().push(Arc::downgrade(&queue));
        Subscription { queue }
    }

    /// Queues `event` for every live subscriber (dropping its oldest one when its backlog is
    /// full) and forgets the subscribers that went away.
    pub fn publish(&self, event: StatusEvent) {
        self.subscribers().retain(|weak| {
            let Some(queue) = weak.upgrade() else {
                return false;
            };
            let mut state = queue.lock();
            if state.events.len() >= SUBSCRIBER_BACKLOG {
                state.events.pop_front();
                state.dropped += 1;
            }
            state.events.push_back(event.clone());
            drop(state);
            queue.ready.notify_one();
            true
        });
    }
}

impl Drop for EventBus {
    fn drop(&mut self) {
        for weak in self.subscribers().drain(..) {
            if let Some(queue) = weak.upgrade() {
                queue.lock().closed = true;
                queue.ready.notify_all();
            }
        }
    }
}
