//! What the simulated backend node holds between the backend's requests and the frontend
//! driver's register writes: the virtio-mmio register file of each label, the events the
//! driver raised and the fds the backend registered.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::super::io::{EventSet, QueueInfo};

/// Queues per label the simulated node accepts: MAX_QUEUES of the device-node (0xBC)
/// driver the transport speaks to (gunyah-drivers' 0xB2 driver allows 16).
pub const SIM_MAX_QUEUES: u32 = 4;

/// One label's registers and fds.
#[derive(Default)]
pub struct LabelState {
    /// Offered features, as set by GH_SET_DEVICE_FEATURES (low, high).
    pub device_features: [u32; 2],
    /// QueueNumMax per queue.
    pub queue_num_max: BTreeMap<u32, u32>,
    /// Device config space; `None` until GH_SET_DEVICE_CONFIG_DATA.
    pub config: Option<Vec<u8>>,
    /// Per-queue ioeventfds the backend registered.
    pub ioeventfds: BTreeMap<u32, File>,
    /// The backend's irqfd.
    pub irqfd: Option<File>,
    /// Features the driver accepted (low, high).
    pub driver_features: [u32; 2],
    /// Queues as the driver set them up.
    pub queues: BTreeMap<u32, QueueInfo>,
    /// Events raised and not yet reported by GH_WAIT_FOR_EVENT (VM_EXIT and MODULE_EXIT
    /// stay until the node is closed, as in the 0xBC driver).
    pub pending: EventSet,
    /// An event was raised since the last GH_WAIT_FOR_EVENT looked (`evt_avail`).
    pub event_available: bool,
    /// GH_ACK_DRIVER_OK was issued on this open of the node; the 0xBC driver then reports
    /// no further DRIVER_OK until the node is closed.
    pub driver_ok_acked: bool,
    /// Count of GH_ACK_RESET calls.
    pub resets_acked: u64,
    /// Count of GH_ACK_DRIVER_OK calls.
    pub driver_ok_acks: u64,
}

impl LabelState {
    /// The frontend raises `events`.
    pub fn raise(&mut self, events: EventSet) {
        self.pending |= events;
        self.event_available = true;
    }

    /// What GH_WAIT_FOR_EVENT reports now, in the 0xBC driver's order (exit, reset,
    /// DRIVER_OK once per open, then the rest); `None` means keep waiting.
    pub fn take_event(&mut self) -> Option<EventSet> {
        if !self.event_available {
            return None;
        }
        self.event_available = false;
        let exit = EventSet::VM_EXIT | EventSet::MODULE_EXIT;
        let reported = if self.pending.intersects(exit) {
            EventSet::APP_EXIT
        } else if self.pending.contains(EventSet::RESET_RQST) {
            self.pending = self.pending.difference(EventSet::RESET_RQST);
            EventSet::RESET_RQST
        } else if self.pending.contains(EventSet::DRIVER_OK) {
            self.pending = self.pending.difference(EventSet::DRIVER_OK);
            if self.driver_ok_acked {
                EventSet::empty()
            } else {
                EventSet::DRIVER_OK
            }
        } else {
            std::mem::take(&mut self.pending)
        };
        if !self.pending.is_empty() && !self.pending.intersects(exit) {
            self.event_available = true;
        }
        (!reported.is_empty()).then_some(reported)
    }

    /// The backend closed the node: everything it registered is released.
    pub fn release(&mut self) {
        self.config = None;
        self.ioeventfds.clear();
        self.irqfd = None;
        self.pending = EventSet::empty();
        self.event_available = false;
        self.driver_ok_acked = false;
    }
}

/// The whole node.
#[derive(Default)]
pub struct NodeState {
    /// Labels the node serves (as listed in the device tree).
    pub labels: BTreeMap<u32, LabelState>,
    /// GH_SET_APP_READY was issued on this open (cleared on close and on VM exit).
    pub app_ready: bool,
    /// A backend has the node open (it is exclusive).
    pub open: bool,
    /// The node is gone: opening fails and every wait fails.
    pub closed: bool,
}

/// The node's state and the condition every waiter sleeps on.
#[derive(Default)]
pub struct Shared {
    state: Mutex<NodeState>,
    changed: Condvar,
}

/// `ENODEV`-like error for a closed node.
pub fn closed_error() -> io::Error {
    io::Error::from_raw_os_error(libc::ENODEV)
}

/// `EINVAL` as the kernel answers for an unknown label or queue.
pub fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_owned())
}

impl Shared {
    /// A node serving `labels`.
    pub fn new(labels: &[u32]) -> Self {
        let state = NodeState {
            labels: labels.iter().map(|&l| (l, LabelState::default())).collect(),
            ..NodeState::default()
        };
        Self {
            state: Mutex::new(state),
            changed: Condvar::new(),
        }
    }

    /// Locks the state (a poisoned lock is still usable: the state stays consistent
    /// field by field).
    pub fn lock(&self) -> MutexGuard<'_, NodeState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Runs `f` on label `label`'s state and wakes every waiter.
    pub fn with_label<R>(
        &self,
        label: u32,
        f: impl FnOnce(&mut LabelState) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut st = self.lock();
        if st.closed {
            return Err(closed_error());
        }
        let l = st
            .labels
            .get_mut(&label)
            .ok_or_else(|| invalid("no such label"))?;
        let r = f(l);
        drop(st);
        self.changed.notify_all();
        r
    }

    /// Waits until `ready` returns `Some` (checked under the lock), the node closes, or
    /// `timeout` (if any) passes.
    pub fn wait_until<R>(
        &self,
        timeout: Option<Duration>,
        mut ready: impl FnMut(&mut NodeState) -> Option<R>,
    ) -> io::Result<R> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.lock();
        loop {
            if st.closed {
                return Err(closed_error());
            }
            if let Some(r) = ready(&mut st) {
                return Ok(r);
            }
            st = match deadline {
                None => match self.changed.wait(st) {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                },
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the simulated backend did not answer in time",
                        ));
                    }
                    match self.changed.wait_timeout(st, d - now) {
                        Ok((g, _)) => g,
                        Err(p) => p.into_inner().0,
                    }
                }
            };
        }
    }

    /// Closes the node: every current and future wait fails.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Wakes every waiter (after a change made through [`Shared::lock`]).
    pub fn notify(&self) {
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_reported_in_the_0xbc_drivers_order() {
        let mut l = LabelState::default();
        assert_eq!(l.take_event(), None);
        l.raise(EventSet::DRIVER_OK | EventSet::RESET_RQST);
        assert_eq!(l.take_event(), Some(EventSet::RESET_RQST));
        assert_eq!(l.take_event(), Some(EventSet::DRIVER_OK));
        assert_eq!(l.take_event(), None);
        // Once acknowledged, DRIVER_OK is swallowed until the node is closed.
        l.driver_ok_acked = true;
        l.raise(EventSet::DRIVER_OK);
        assert_eq!(l.take_event(), None);
        l.raise(EventSet::DRIVER_FAILED | EventSet::INTERRUPT_ACK);
        assert_eq!(
            l.take_event(),
            Some(EventSet::DRIVER_FAILED | EventSet::INTERRUPT_ACK)
        );
        // VM exit wins over everything and stays until release.
        l.raise(EventSet::VM_EXIT | EventSet::RESET_RQST);
        assert_eq!(l.take_event(), Some(EventSet::APP_EXIT));
        assert_eq!(l.take_event(), None);
        l.raise(EventSet::RESET_RQST);
        assert_eq!(l.take_event(), Some(EventSet::APP_EXIT));
        l.release();
        assert_eq!(l.take_event(), None);
        assert!(!l.driver_ok_acked);
    }
}
