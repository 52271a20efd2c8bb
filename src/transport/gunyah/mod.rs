//! Gunyah virtio-backend transport: a driver VM serves virtio-mmio devices to another VM
//! over a shared memory window and doorbells, without a VMM in between.
//!
//! The frontend VM runs the stock virtio-mmio driver; Gunyah traps its register accesses and
//! the backend node (`/dev/gh_virtio_backend_<vm>`) turns them into events. Per node:
//! [`start_node`] maps the shared window as guest memory at the configured guest-physical
//! base (so ring and buffer addresses translate into it, and anything outside it is not
//! memory), publishes each label's features, queue maximums and config space, registers an
//! ioeventfd per queue and the irqfd, and declares the application ready. Then per label
//! ([`LabelDevice`]): RESET_RQST resets the device and acks; DRIVER_OK reads the driver's
//! features and queues (VERSION_1 and ACCESS_PLATFORM required), activates the device and
//! acks; kicks arrive on the ioeventfds; VM_EXIT / MODULE_EXIT / APP_EXIT drop the driver
//! and wait for the next; DRIVER_FAILED, which the kernel reports late and only with a
//! notification, is logged and left to the driver's next reset.
//!
//! On a secure-VM-loader VM fd ([`VmFdBackend`], numbering 0xB2) publication waits until
//! the VM's devices exist, and the fd serves one run of its VM.
//!
//! The requests sit behind [`GunyahBackendIo`]: [`BackendNode`] issues them on a real node,
//! [`VmFdBackend`] on a VM fd (both one [`FdBackend`], the requests written once),
//! [`sim::SimBackend`] plays the frontend VM in-process for tests.

mod device;
mod fd_backend;
mod io;
mod node;
mod serve;
#[cfg(any(test, feature = "harness"))]
pub mod sim;
mod vm_fd;
mod window;

pub use crate::config::{vm_fd_node, vm_fd_of, VM_FD_DIR};
pub use device::{transport_features, Found, LabelDevice};
pub use fd_backend::{FdBackend, FdKind};
pub use io::{
    BackendEvent, DeviceLabel, EventSet, FeatureWord, GunyahBackendIo, Numbering, QueueInfo,
    SharedWindow,
};
pub use node::{BackendNode, DeviceNode};
pub use serve::{start_node, start_node_with, NodeDevice, NodeTiming, OpenNode};
pub use vm_fd::{VmFd, VmFdBackend};
pub use window::{map_window, WindowError};

/// Why a node or one of its devices could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum GunyahError {
    /// A request on the node itself failed.
    #[error("{node}: {what}: {source}")]
    Node {
        /// The node.
        node: String,
        /// The request or step.
        what: &'static str,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// The shared window cannot be mapped at the configured base.
    #[error("{node}: {why}")]
    Window {
        /// The node.
        node: String,
        /// Why.
        why: String,
    },
    /// A per-device request failed while publishing the device.
    #[error("device {device}: {what}: {source}")]
    Request {
        /// The device id.
        device: String,
        /// The request.
        what: &'static str,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// A 0xB2 VM fd already carries an earlier drivervm's registrations (EBUSY), which its
    /// driver keeps until the VM is destroyed.
    #[error(
        "{node}: {source}: a drivervm before this one published on this VM fd, and the 0xB2 \
         driver keeps what it registered until the VM is destroyed; restart the guest VM (its \
         launcher creates a new VM fd) to serve these devices"
    )]
    VmFdTaken {
        /// The VM fd, as `/proc/self/fd/<n>`.
        node: String,
        /// The refused request.
        source: Box<GunyahError>,
    },
    /// An OS resource (eventfd, timerfd, thread) could not be created.
    #[error("device {device}: {what}: {source}")]
    Os {
        /// The device id.
        device: String,
        /// What failed.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests;
