//! Every device's state, in config order, plus the event bus and the detail watcher.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::device_state::DeviceState;
use super::events::{EventBus, Subscription};

/// The service's live status.
#[derive(Debug)]
pub struct Registry {
    started: Instant,
    devices: Vec<Arc<DeviceState>>,
    events: Arc<EventBus>,
}

impl Registry {
    /// A registry over `devices`, which must publish on `events`.
    pub fn new(devices: Vec<Arc<DeviceState>>, events: Arc<EventBus>) -> Self {
        Self {
            started: Instant::now(),
            devices,
            events,
        }
    }

    /// Time since the registry (the service) started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Every device in config order.
    pub fn devices(&self) -> &[Arc<DeviceState>] {
        &self.devices
    }

    /// The device with `id`.
    pub fn device(&self, id: &str) -> Option<&Arc<DeviceState>> {
        self.devices.iter().find(|d| d.id() == id)
    }

    /// Receives every event published from now on.
    pub fn subscribe(&self) -> Subscription {
        self.events.subscribe()
    }

    /// Starts a thread that turns detail changes into [`StatusEvent::Detail`]. It sleeps until
    /// a device's [`Generation`](super::Generation) rings the bus's bell, publishes one event
    /// per changed device, then waits `period` before looking again: devices only bump a
    /// counter, so a burst of changes (a guest writing RPMB in a loop) costs the device
    /// nothing and its watchers one event per period, and an idle service never wakes.
    /// Dropping the registry closes the bus's bell: one registry per bus.
    pub fn spawn_detail_watcher(self: &Arc<Self>, period: Duration) -> std::io::Result<()> {
        let weak = Arc::downgrade(self);
        let bell = Arc::clone(self.events.detail_bell());
        std::thread::Builder::new()
            .name("status-detail".into())
            .spawn(move || {
                crate::thread_role::enter(crate::thread_role::ThreadRole::Status);
                let mut seen: Vec<u64> = Vec::new();
                while bell.take() {
                    let Some(reg) = weak.upgrade() else { return };
                    seen.resize(reg.devices.len(), 0);
                    for (dev, last) in reg.devices.iter().zip(seen.iter_mut()) {
                        let now = dev.detail_generation();
                        if now != *last {
                            *last = now;
                            dev.notify_detail();
                        }
                    }
                    drop(reg);
                    std::thread::sleep(period);
                }
            })
            .map(|_| ())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // The watcher holds only a weak reference; wake it so it sees the registry is gone.
        self.events.detail_bell().close();
    }
}
