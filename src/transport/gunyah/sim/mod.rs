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

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use backend::SimBackend;
pub use driver::SimDriver;
pub use frontend::SimFrontend;
pub use state::SIM_MAX_QUEUES;

use crate::harness::{Error, GuestMemfd};
use state::Shared;

/// A simulated backend node: its shared window, its labels and the frontend VM's memory
/// allocator. Dropping it closes the node, which stops the transport threads serving it.
pub struct SimNode {
    shared: Arc<Shared>,
    mem: Arc<Mutex<GuestMemfd>>,
}

impl SimNode {
    /// A node with a `window_size`-byte shared window at guest-physical `window_base`,
    /// serving `labels`.
    pub fn new(window_base: u64, window_size: usize, labels: &[u32]) -> Result<Self, Error> {
        let mem = GuestMemfd::new_at(window_base, window_size)?;
        Ok(Self {
            shared: Arc::new(Shared::new(labels)),
            mem: Arc::new(Mutex::new(mem)),
        })
    }

    /// The backend side, to hand to the transport.
    pub fn backend(&self) -> Result<Arc<SimBackend>, Error> {
        let m = match self.mem.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        Ok(Arc::new(SimBackend {
            shared: self.shared.clone(),
            window: m.share_file()?,
            window_size: m.size(),
        }))
    }

    /// The frontend driver of `label` at register level; waits give up after `timeout`.
    pub fn frontend(&self, label: u32, timeout: Duration) -> SimFrontend {
        SimFrontend {
            shared: self.shared.clone(),
            label,
            timeout,
        }
    }

    /// The frontend VM's view of the shared window (one allocator for all its drivers).
    pub fn memory(&self) -> Arc<Mutex<GuestMemfd>> {
        self.mem.clone()
    }

    /// Closes the node: the backend's waits fail from now on.
    pub fn close(&self) {
        self.shared.close();
    }
}

impl Drop for SimNode {
    fn drop(&mut self) {
        self.close();
    }
}
