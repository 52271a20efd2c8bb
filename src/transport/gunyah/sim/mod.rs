//! Loopback simulator of a Gunyah virtio-backend node, for tests: one process plays the
//! backend kernel driver ([`SimBackend`], the [`GunyahBackendIo`] the transport uses), the
//! hypervisor and resource manager (booting and exiting the frontend VM on a simulated
//! clock, [`SimNode`]) and the frontend VM's virtio-mmio driver ([`SimFrontend`] register
//! by register, [`SimDriver`] as a whole driver writing split rings).
//!
//! It behaves as the real drivers do where a backend can observe it (sources and the
//! behaviours modelled in `state.rs`; [`Flavour`] picks the 0xBC or 0xB2 driver): what
//! close and reopen clear, that the 0xBC driver hands features, queue maxima and config to
//! the hypervisor only when the frontend VM boots, notifications parked before the
//! DRIVER_OK ack, APP_EXIT once and then EINVAL, DRIVER_FAILED reported only with a
//! notification, the VM-exit handler clearing `app_ready` only after its loop, and the
//! 60-second wait for the application at boot. The guest driver allocates its rings the
//! way stock Linux does: in the shared window (its restricted-DMA pool) only when
//! VIRTIO_F_ACCESS_PLATFORM was negotiated, in ordinary guest RAM otherwise.
//!
//! The shared window is a memfd mapped by both sides at the same guest-physical base; the
//! frontend's notifications are writes to the ioeventfds the backend registered; the
//! backend's interrupts are read from its irqfd. What a simulator cannot show (real
//! hypervisor doorbells, cache effects across VMs) is listed in docs/gunyah.md.
//!
//! [`GunyahBackendIo`]: super::GunyahBackendIo

mod backend;
mod driver;
mod frontend;
mod state;
#[cfg(test)]
mod tests;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use backend::SimBackend;
pub use driver::{SimDriver, SimGuest};
pub use frontend::SimFrontend;
pub use state::{Flavour, BOOT_APP_READY_TIMEOUT, SIM_MAX_QUEUES};

use super::GunyahBackendIo;
use crate::harness::{Error, GuestMemfd};
use state::{Shared, VmPhase};

/// A simulated backend node: its shared window, its labels, the frontend VM and its
/// memory allocator. Dropping it removes the node: opens and waits fail from then on,
/// which stops the transport serving it.
pub struct SimNode {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    mem: Arc<Mutex<GuestMemfd>>,
}

impl Inner {
    fn open(&self, epoch: Option<u64>) -> io::Result<Arc<SimBackend>> {
        let (window, window_size) = {
            let m = match self.mem.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            (m.share_file().map_err(io::Error::other)?, m.size())
        };
        let mut st = self.shared.lock();
        if st.closed || epoch.is_some_and(|e| e != st.epoch) {
            return Err(state::closed_error());
        }
        if st.open {
            // The device node allows one opener at a time.
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        // virtio_backend_open: events forgotten, the node active, the application not
        // (yet) ready.
        st.open = true;
        if st.flavour == Flavour::DeviceNode {
            st.active = true;
            st.app_ready = false;
            for l in st.labels.values_mut() {
                l.clear_events();
            }
        }
        let epoch = st.epoch;
        drop(st);
        Ok(Arc::new(SimBackend {
            shared: self.shared.clone(),
            window,
            window_size,
            epoch,
        }))
    }
}

/// The frontend VM's exit, stopped between the driver's loop over the devices and its
/// last step (clearing `app_ready`); the step runs on [`ExitInProgress::finish`] or drop.
pub struct ExitInProgress {
    shared: Arc<Shared>,
    done: bool,
}

impl ExitInProgress {
    /// Runs the exit handler's last step.
    pub fn finish(mut self) {
        self.complete();
    }

    fn complete(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let mut st = self.shared.lock();
        if st.flavour == Flavour::DeviceNode {
            st.app_ready = false;
        }
        st.vm = VmPhase::Off;
        drop(st);
        self.shared.notify();
    }
}

impl Drop for ExitInProgress {
    fn drop(&mut self) {
        self.complete();
    }
}

impl SimNode {
    /// A 0xBC node with a `window_size`-byte shared window at guest-physical
    /// `window_base`, serving `labels`.
    pub fn new(window_base: u64, window_size: usize, labels: &[u32]) -> Result<Self, Error> {
        Self::with_flavour(Flavour::DeviceNode, window_base, window_size, labels)
    }

    /// A node behaving as `flavour`.
    pub fn with_flavour(
        flavour: Flavour,
        window_base: u64,
        window_size: usize,
        labels: &[u32],
    ) -> Result<Self, Error> {
        let mem = GuestMemfd::new_at(window_base, window_size)?;
        Ok(Self {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared::new(flavour, labels)),
                mem: Arc::new(Mutex::new(mem)),
            }),
        })
    }

    /// Opens the node as the backend (exclusive, like the device node: `EBUSY` while open,
    /// `ENODEV` once the node is gone).
    pub fn open(&self) -> io::Result<Arc<SimBackend>> {
        self.inner.open(None)
    }

    /// Opens the node each time it is called, for the transport to reopen it; fails with
    /// `ENODEV` once this `SimNode` is dropped, or once the backend process that holds this
    /// opener is killed ([`SimNode::kill_backend`]).
    pub fn opener(&self) -> impl Fn() -> io::Result<Arc<dyn GunyahBackendIo>> + Send + Sync {
        let inner = Arc::downgrade(&self.inner);
        let epoch = self.inner.shared.lock().epoch;
        move || {
            let inner = inner.upgrade().ok_or_else(state::closed_error)?;
            let backend: Arc<dyn GunyahBackendIo> = inner.open(Some(epoch))?;
            Ok(backend)
        }
    }

    /// The backend process dies (a drivervm restart): the kernel closes its fd, releasing
    /// what it registered; the dead process's leftover handles (in this process, the old
    /// transport's threads) fail from now on.
    pub fn kill_backend(&self) {
        let mut st = self.inner.shared.lock();
        st.epoch += 1;
        if st.open {
            backend::release(&mut st);
        }
        drop(st);
        self.inner.shared.notify();
    }

    /// The frontend driver of `label` at register level; waits give up after `timeout`
    /// of real time.
    pub fn frontend(&self, label: u32, timeout: Duration) -> SimFrontend {
        SimFrontend {
            shared: self.inner.shared.clone(),
            label,
            timeout,
        }
    }

    /// The frontend VM boots: for each label the resource manager calls the driver's
    /// `gh_virtio_mmio_init`, which (0xBC) waits for GH_SET_APP_READY until
    /// [`BOOT_APP_READY_TIMEOUT`] passes on the simulated clock and then hands the published
    /// features, queue maxima and config to the hypervisor. Returns `ETIMEDOUT` if the
    /// application was not ready in time: the VM runs without this node's devices. Real
    /// waiting is bounded by `timeout`.
    pub fn boot_vm(&self, timeout: Duration) -> io::Result<()> {
        frontend::boot(&self.inner.shared, timeout)
    }

    /// The frontend VM exits (powered off or crashed) and the exit handler runs to its end.
    pub fn exit_vm(&self, timeout: Duration) -> io::Result<()> {
        self.begin_exit(timeout).map(ExitInProgress::finish)
    }

    /// The frontend VM exits; the exit handler runs its loop (the node becomes inactive,
    /// every label gets VM_EXIT, waits in progress return APP_EXIT) and stops before its
    /// last step, the window in which a backend's reopen races the clearing of
    /// `app_ready`.
    pub fn begin_exit(&self, timeout: Duration) -> io::Result<ExitInProgress> {
        frontend::begin_exit(&self.inner.shared, timeout)?;
        Ok(ExitInProgress {
            shared: self.inner.shared.clone(),
            done: false,
        })
    }

    /// Moves the simulated clock on by `by` (the boot deadline is measured on it).
    pub fn advance(&self, by: Duration) {
        let mut st = self.inner.shared.lock();
        st.clock += by;
        drop(st);
        self.inner.shared.notify();
    }

    /// The frontend VM is booting, its kernel waiting for the application.
    pub fn vm_booting(&self) -> bool {
        matches!(self.inner.shared.lock().vm, VmPhase::Booting { .. })
    }

    /// `vm->app_ready` as the driver holds it now.
    pub fn app_ready(&self) -> bool {
        self.inner.shared.lock().app_ready
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
