//! Registered `IDriverVmListener`s and the thread that calls them.
//!
//! Device threads never call a listener: they publish on the status event bus, and one
//! dispatcher thread turns events into oneway binder calls. A listener is dropped as soon as
//! its client dies (a death notification: kernel binder's, or the RPC session's end), so a
//! dead client frees its slot at once; one whose call fails is dropped too.

use std::sync::{Arc, Mutex, Weak};

use log::{debug, info, warn};

use super::convert;
use super::shim::{self, iface, Status, Strong};
use crate::status::{Registry, StatusEvent};

use iface::IDriverVmListener::IDriverVmListener;

/// Most listeners held at once; more are refused with ERROR_TOO_MANY_LISTENERS.
pub const MAX_LISTENERS: usize = 32;

/// Most listeners one peer (a uid, a vsock CID) may hold, so one client cannot take every
/// slot; more are refused with ERROR_TOO_MANY_LISTENERS.
pub const MAX_LISTENERS_PER_PEER: usize = 8;

/// One registered listener.
struct Entry {
    listener: Strong<dyn IDriverVmListener>,
    /// Identifies the entry to its death notification, which holds no binder reference.
    id: u64,
    /// `None` when the client's death cannot be watched (a listener in this process); such a
    /// listener goes when a call to it fails.
    _death: Option<shim::DeathWatch>,
    /// Who registered it (`uid N`, `cid N`); `None` for a caller in this process.
    peer: Option<String>,
}

/// Refuses one more listener when the list, or `peer`'s share of it, is full.
fn check_caps(list: &[Entry], peer: Option<&str>) -> Result<(), Status> {
    if list.len() >= MAX_LISTENERS {
        return Err(shim::service_specific(
            iface::IDriverVm::ERROR_TOO_MANY_LISTENERS,
            &format!("already {MAX_LISTENERS} listeners"),
        ));
    }
    if let Some(peer) = peer {
        if list
            .iter()
            .filter(|e| e.peer.as_deref() == Some(peer))
            .count()
            >= MAX_LISTENERS_PER_PEER
        {
            return Err(shim::service_specific(
                iface::IDriverVm::ERROR_TOO_MANY_LISTENERS,
                &format!("already {MAX_LISTENERS_PER_PEER} listeners from {peer}"),
            ));
        }
    }
    Ok(())
}

/// The registered listeners.
#[derive(Default)]
pub struct Listeners {
    list: Mutex<(u64, Vec<Entry>)>,
}

impl Listeners {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Vec<Entry>)> {
        match self.list.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Adds `listener` unless the same binder is already registered, and drops it again when
    /// its client dies.
    pub fn register(
        self: &Arc<Self>,
        listener: &Strong<dyn IDriverVmListener>,
    ) -> Result<(), Status> {
        // Asked here, on the binder thread serving the call.
        let peer = shim::calling_peer();
        let id = {
            let mut list = self.lock();
            if list
                .1
                .iter()
                .any(|e| shim::same_listener(&e.listener, listener))
            {
                return Ok(());
            }
            check_caps(&list.1, peer.as_deref())?;
            list.0 += 1;
            list.0
        };
        // Linked outside the lock: a client already dead calls back at once.
        let me: Weak<Self> = Arc::downgrade(self);
        let death = match shim::watch_death(
            listener,
            Box::new(move || {
                if let Some(me) = me.upgrade() {
                    me.remove_dead(id);
                }
            }),
        ) {
            Ok(d) => Some(d),
            // Dead before it could be watched (killed mid-call): registered, it would hold a
            // slot that no death notification ever frees.
            Err(e) if shim::is_dead(&e) => {
                info!("control: a listener's client died while registering; not registered");
                return Err(e);
            }
            Err(e) => {
                debug!(
                    "control: cannot watch a listener's death ({e:?}); dropped on a failed call"
                );
                None
            }
        };
        let mut list = self.lock();
        if list
            .1
            .iter()
            .any(|e| shim::same_listener(&e.listener, listener))
        {
            return Ok(());
        }
        check_caps(&list.1, peer.as_deref())?;
        list.1.push(Entry {
            listener: listener.clone(),
            id,
            _death: death,
            peer,
        });
        info!("control: listener registered ({} now)", list.1.len());
        Ok(())
    }

    /// Drops the listener whose client died.
    fn remove_dead(&self, id: u64) {
        let removed: Vec<Entry> = {
            let mut list = self.lock();
            let (gone, kept) = std::mem::take(&mut list.1)
                .into_iter()
                .partition(|e| e.id == id);
            list.1 = kept;
            if !gone.is_empty() {
                info!("control: a listener's client died ({} left)", list.1.len());
            }
            gone
        };
        // Unlinked outside the lock.
        drop(removed);
    }

    /// Removes `listener` if registered.
    pub fn unregister(&self, listener: &Strong<dyn IDriverVmListener>) {
        let removed: Vec<Entry> = {
            let mut list = self.lock();
            let (gone, kept) = std::mem::take(&mut list.1)
                .into_iter()
                .partition(|e| shim::same_listener(&e.listener, listener));
            list.1 = kept;
            gone
        };
        drop(removed);
    }

    /// How many listeners are registered.
    pub fn len(&self) -> usize {
        self.lock().1.len()
    }

    /// Calls every listener with `event`, outside the lock, and drops the ones that fail.
    fn dispatch(&self, event: &StatusEvent) {
        let targets: Vec<_> = self.lock().1.iter().map(|e| e.listener.clone()).collect();
        for l in targets {
            let result = match event {
                StatusEvent::Link { device, state } => {
                    l.r#onLinkStateChanged(device, convert::link(*state))
                }
                StatusEvent::Detail { device } => l.r#onDeviceStateChanged(device),
            };
            match result {
                Ok(()) => {}
                // The death notification may lose this race (the session is shut before it
                // is sent, and dropping the listener cancels it): say the same thing.
                Err(e) if shim::is_dead(&e) => {
                    info!("control: a listener's client died (its call failed)");
                    self.unregister(&l);
                }
                Err(e) => {
                    warn!("control: dropping a listener whose call failed: {e:?}");
                    self.unregister(&l);
                }
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
                crate::thread_role::enter(crate::thread_role::ThreadRole::Control);
                while let Some(event) = rx.recv() {
                    let dropped = rx.take_dropped();
                    if dropped > 0 {
                        // Rare by construction (a backlog of 256 behind a stuck call), and
                        // counted, so one line per overflow.
                        warn!(
                            "control: {dropped} older events dropped while a listener call \
                             was slow; listeners see the newest"
                        );
                    }
                    debug!("control: event {event:?}");
                    me.dispatch(&event);
                }
            })
            .map(|_| ())
    }
}
