//! Loopback simulator of a Gunyah virtio-backend node, for tests: one process plays both
//! the backend kernel driver ([`SimBackend`], the [`GunyahBackendIo`] the transport uses)
//! and the frontend VM's virtio-mmio driver ([`SimFrontend`] register by register,
//! [`SimDriver`] as a whole driver writing split rings into the shared window).
//!
//! The shared window is a memfd mapped by both sides at the same guest-physical base, the
//! frontend's notifications are writes to the ioeventfds the backend registered, and the
//! backend's interrupts are read from its irqfd: the transport runs exactly the code it runs
//! on a real node, minus the ioctls. What a simulator cannot show (the kernel driver's own
//! behaviour, real hypervisor doorbells, cache effects across VMs) is listed in
//! docs/gunyah.md.
//!
//! [`GunyahBackendIo`]: super::GunyahBackendIo

mod backend;
mod driver;
mod frontend;
mod state;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use backend::SimBackend;
pub use driver::SimDriver;
pub use frontend::SimFrontend;
pub use state::SIM_MAX_QUEUES;

use super::GunyahBackendIo;
use crate::harness::{Error, GuestMemfd};
use state::Shared;

/// A simulated backend node: its shared window, its labels and the frontend VM's memory
/// allocator. Dropping it removes the node: opens and waits fail from then on, which stops
/// the transport serving it.
pub struct SimNode {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    mem: Arc<Mutex<GuestMemfd>>,
}

impl Inner {
    fn open(&self) -> io::Result<Arc<SimBackend>> {
        let (window, window_size) = {
            let m = match self.mem.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            (m.share_file().map_err(io::Error::other)?, m.size())
        };
        let mut st = self.shared.lock();
        if st.closed {
            return Err(state::closed_error());
        }
        if st.open {
            // The device node allows one opener at a time.
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        st.open = true;
        drop(st);
        Ok(Arc::new(SimBackend {
            shared: self.shared.clone(),
            window,
            window_size,
        }))
    }
}

impl SimNode {
    /// A node with a `window_size`-byte shared window at guest-physical `window_base`,
    /// serving `labels`.
    pub fn new(window_base: u64, window_size: usize, labels: &[u32]) -> Result<Self, Error> {
        let mem = GuestMemfd::new_at(window_base, window_size)?;
        Ok(Self {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared::new(labels)),
                mem: Arc::new(Mutex::new(mem)),
            }),
        })
    }

    /// Opens the node as the backend (exclusive, like the device node: `EBUSY` while open,
    /// `ENODEV` once the node is gone).
    pub fn open(&self) -> io::Result<Arc<SimBackend>> {
        self.inner.open()
    }

    /// Opens the node each time it is called, for the transport to reopen it after the
    /// frontend VM exits; fails with `ENODEV` once this `SimNode` is dropped.
    pub fn opener(&self) -> impl Fn() -> io::Result<Arc<dyn GunyahBackendIo>> + Send + Sync {
        let inner = Arc::downgrade(&self.inner);
        move || {
            let inner = inner.upgrade().ok_or_else(state::closed_error)?;
            let backend: Arc<dyn GunyahBackendIo> = inner.open()?;
            Ok(backend)
        }
    }

    /// The frontend driver of `label` at register level; waits give up after `timeout`.
    pub fn frontend(&self, label: u32, timeout: Duration) -> SimFrontend {
        SimFrontend {
            shared: self.inner.shared.clone(),
            label,
            timeout,
        }
    }

    /// The frontend VM's view of the shared window (one allocator for all its drivers).
    pub fn memory(&self) -> Arc<Mutex<GuestMemfd>> {
        self.inner.mem.clone()
    }

    /// Removes the node: opens and the backend's waits fail from now on.
    pub fn close(&self) {
        self.inner.shared.close();
    }
}

impl Drop for SimNode {
    fn drop(&mut self) {
        self.close();
    }
}
