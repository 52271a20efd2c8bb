//! The Gunyah virtio-backend requests the transport issues, behind a trait so that the same
//! transport runs on a real backend node ([`super::BackendNode`]) and on the loopback
//! simulator ([`super::sim::SimBackend`]).

use std::fs::File;
use std::io;
use std::os::fd::BorrowedFd;

pub use gunyah_bindings::virtio_backend::{
    BackendEvent, DeviceLabel, EventSet, FeatureWord, Numbering, QueueInfo,
};

/// The memory window shared with the frontend VM: an fd to map and its exact size.
#[derive(Debug)]
pub struct SharedWindow {
    /// What to mmap (the backend node itself, or the simulator's memfd), from offset 0.
    pub file: File,
    /// Bytes to map; the real driver refuses any other size.
    pub size: u64,
}

/// One backend node's requests (`/dev/gh_virtio_backend_<vm>`), one method per ioctl.
///
/// Every method may be called from several threads at once (one event thread per label).
pub trait GunyahBackendIo: Send + Sync {
    /// `GH_GET_SHARED_MEMORY_SIZE`.
    fn shared_memory_size(&self) -> io::Result<u64>;
    /// The shared window, ready to be mapped (size from `GH_GET_SHARED_MEMORY_SIZE`).
    fn map_shared_window(&self) -> io::Result<SharedWindow>;
    /// `GH_SET_DEVICE_FEATURES`: one 32-bit half of the offered features.
    fn set_device_features(&self, l: DeviceLabel, w: FeatureWord, bits: u32) -> io::Result<()>;
    /// `GH_SET_QUEUE_NUM_MAX`.
    fn set_queue_num_max(&self, l: DeviceLabel, queue: u32, max: u32) -> io::Result<()>;
    /// `GH_SET_DEVICE_CONFIG_DATA`.
    fn set_device_config(&self, l: DeviceLabel, data: &[u8]) -> io::Result<()>;
    /// `GH_GET_DRIVER_CONFIG_DATA`.
    fn get_driver_config(&self, l: DeviceLabel, buf: &mut [u8]) -> io::Result<()>;
    /// `GH_IOEVENTFD` (assign): the frontend's notifications of `queue` signal `efd`.
    fn register_ioeventfd(&self, l: DeviceLabel, queue: u32, efd: BorrowedFd<'_>)
        -> io::Result<()>;
    /// `GH_IRQFD` (assign): writing `efd` interrupts the frontend.
    fn register_irqfd(&self, l: DeviceLabel, efd: BorrowedFd<'_>) -> io::Result<()>;
    /// `GH_SET_APP_READY` (after every label is registered).
    fn set_app_ready(&self) -> io::Result<()>;
    /// `GH_WAIT_FOR_EVENT`: blocks until label `l` has events (or a signal arrives).
    fn wait_for_event(&self, l: DeviceLabel) -> io::Result<BackendEvent>;
    /// `GH_GET_DRIVER_FEATURES`: one half of what the driver accepted.
    fn get_driver_features(&self, l: DeviceLabel, w: FeatureWord) -> io::Result<u32>;
    /// `GH_GET_QUEUE_INFO`: the rings the driver set up (frontend guest-physical addresses).
    fn get_queue_info(&self, l: DeviceLabel, queue: u32) -> io::Result<QueueInfo>;
    /// `GH_ACK_DRIVER_OK`: from now on kicks arrive on the ioeventfds.
    fn ack_driver_ok(&self, l: DeviceLabel) -> io::Result<()>;
    /// `GH_ACK_RESET`: the device finished the reset the driver asked for.
    fn ack_reset(&self, l: DeviceLabel) -> io::Result<()>;
    /// Which driver answers: the 0xBC device node (reopened and republished after each
    /// guest exit) or a 0xB2 VM fd (one run of one VM, published only once it booted).
    fn numbering(&self) -> Numbering {
        Numbering::DeviceNode
    }
    /// Whether what is published now reaches the guest's devices. The 0xBC driver keeps it
    /// until the guest boots, so always; the 0xB2 drivers push it to the hypervisor at once,
    /// which works only once the VM's virtio-mmio resources exist (see `VmFdBackend`).
    fn vm_resources_ready(&self) -> io::Result<bool> {
        Ok(true)
    }
}
