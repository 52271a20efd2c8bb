//! Registered `IDriverVmListener`s and the thread that calls them.
//!
//! Device threads never call a listener: they publish on the status event bus, and one
//! dispatcher thread turns events into oneway binder calls. A listener whose call fails
//! (its process died, its session closed) is dropped.

use std::sync::{Arc, Mutex};

use log::{debug, info, warn};

use super::convert;
use super::shim::{self, iface, Status, Strong};
use crate::status::{Registry, StatusEvent};

use iface::IDriverVmListener::IDriverVmListener;

/// Most listeners held at once; more are refused with ERROR_TOO_MANY_LISTENERS.
pub const MAX_LISTENERS: usize = 32;

/// The registered listeners.
#[derive(Default)]
pub struct Listeners {
    list: Mutex<Vec<Strong<dyn IDriverVmListener>>>,
}

impl Listeners {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Strong<dyn IDriverVmListener>>> {
        match self.list.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Adds `listener` unless the same binder is already registered.
    pub fn register(&self, listener: &Strong<dyn IDriverVmListener>) -> Result<(), Status> {
        let mut list = self.lock();
        if list.iter().any(|l| shim::same_listener(l, listener)) {
            return Ok(());
        }
        if list.len() >= MAX_LISTENERS {
            return Err(shim::service_specific(
                iface::IDriverVm::ERROR_TOO_MANY_LISTENERS,
                &format!("already {MAX_LISTENERS} listeners"),
            ));
        }
        list.push(listener.clone());
        info!("control: listener registered ({} now)", list.len());
        Ok(())
    }

    /// Removes `listener` if registered.
    pub fn unregister(&self, listener: &Strong<dyn IDriverVmListener>) {
        let mut list = self.lock();
        list.retain(|l| !shim::same_listener(l, listener));
    }

    /// How many listeners are registered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Calls every listener with `event`, outside the lock, and drops the ones that fail.
    fn dispatch(&self, event: &StatusEvent) {
        let targets: Vec<_> = self.lock().clone();
        for l in targets {
            let result = match event {
                StatusEvent::Link { device, state } => {
                    l.r#onLinkStateChanged(device, convert::link(*state))
                }
                StatusEvent::Detail { device } => l.r#onDeviceStateChanged(device),
            };
            if let Err(e) = result {
                warn!("control: dropping a listener whose call failed: {e:?}");
                self.unregister(&l);
            }
        }
    }

    /// Starts the dispatcher thread; it ends when the registry's event bus goes away.
    pub fn spawn_dispatcher(self: &Arc<Self>, registry: &Registry) -> std::io::Result<()> {
        let rx = registry.subscribe();
        let me = Arc::clone(self);
        std::thread::Builder::new()
            .name("control-events".into())
            .spawn(move || {
                for event in rx {
                    debug!("control: event {event:?}");
                    me.dispatch(&event);
                }
            })
            .map(|_| ())
    }
}
