//! Change notifications from the device side to whoever watches (the control plane).

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

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

/// Fans events out to every subscriber.
///
/// Publishing takes a short lock and never blocks on a subscriber (unbounded channels);
/// only rare events (link changes, coalesced detail changes) go through here, never
/// per-request work.
#[derive(Debug, Default)]
pub struct EventBus {
    subscribers: Mutex<Vec<Sender<StatusEvent>>>,
    detail_bell: Arc<DetailBell>,
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

    /// A new receiver of every event published from now on.
    pub fn subscribe(&self) -> Receiver<StatusEvent> {
        let (tx, rx) = channel();
        match self.subscribers.lock() {
            Ok(mut subs) => subs.push(tx),
            Err(poisoned) => poisoned.into_inner().push(tx),
        }
        rx
    }

    /// Sends `event` to every live subscriber and forgets the ones that hung up.
    pub fn publish(&self, event: StatusEvent) {
        let mut subs = match self.subscribers.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        subs.retain(|tx| tx.send(event.clone()).is_ok());
    }
}
