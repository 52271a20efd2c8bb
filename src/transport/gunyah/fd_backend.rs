//! [`GunyahBackendIo`] on a kernel fd, written once for both drivers: the 0xBC backend node
//! ([`super::BackendNode`]) and the 0xB2 secure-VM-loader VM fd ([`super::VmFdBackend`])
//! take the same requests through gunyah-bindings' [`BackendFd`], and differ only in their
//! numbering, where the fd comes from, and when what is published reaches the guest.

use std::fmt::Debug;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use gunyah_bindings::virtio_backend::{BackendFd, FdAction, Numbering};

use super::io::{BackendEvent, DeviceLabel, FeatureWord, GunyahBackendIo, QueueInfo, SharedWindow};

/// What sets one kind of backend fd apart; the requests themselves are the same.
pub trait FdKind: Debug + Send + Sync {
    /// The numbering its driver answers in.
    const NUMBERING: Numbering;

    /// [`GunyahBackendIo::vm_resources_ready`], asked on the backend's `fd`.
    fn vm_resources_ready(&self, fd: BorrowedFd<'_>) -> io::Result<bool>;
}

/// An owned backend fd of kind `K`: each [`GunyahBackendIo`] method is one request on it,
/// numbered as `K`'s driver expects.
#[derive(Debug)]
pub struct FdBackend<K> {
    fd: OwnedFd,
    kind: K,
}

impl<K: FdKind> FdBackend<K> {
    /// Owns `fd`, a backend fd of kind `kind`.
    pub(super) fn new(fd: OwnedFd, kind: K) -> Self {
        Self { fd, kind }
    }

    /// What identifies the fd (the node's path, the VM fd's number).
    pub(super) fn kind(&self) -> &K {
        &self.kind
    }

    /// The fd itself.
    pub(super) fn borrow_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn be(&self) -> BackendFd<'_> {
        BackendFd::new(self.fd.as_fd(), K::NUMBERING)
    }
}

impl<K: FdKind> GunyahBackendIo for FdBackend<K> {
    fn shared_memory_size(&self) -> io::Result<u64> {
        self.be().shared_memory_size()
    }

    fn map_shared_window(&self) -> io::Result<SharedWindow> {
        // Both drivers map the window through the fd the requests go to (the node's own
        // mmap, `gh_vm_mmap` on a VM fd).
        let size = self.shared_memory_size()?;
        Ok(SharedWindow {
            file: File::from(self.fd.try_clone()?),
            size,
        })
    }

    fn set_device_features(&self, l: DeviceLabel, w: FeatureWord, bits: u32) -> io::Result<()> {
        self.be().set_device_features(l, w, bits)
    }

    fn set_queue_num_max(&self, l: DeviceLabel, queue: u32, max: u32) -> io::Result<()> {
        self.be().set_queue_num_max(l, queue, max)
    }

    fn set_device_config(&self, l: DeviceLabel, data: &[u8]) -> io::Result<()> {
        self.be().set_device_config_data(l, data)
    }

    fn get_driver_config(&self, l: DeviceLabel, buf: &mut [u8]) -> io::Result<()> {
        self.be().get_driver_config_data(l, buf)
    }

    fn register_ioeventfd(
        &self,
        l: DeviceLabel,
        queue: u32,
        efd: BorrowedFd<'_>,
    ) -> io::Result<()> {
        self.be().ioeventfd(l, queue, efd, FdAction::Assign)
    }

    fn register_irqfd(&self, l: DeviceLabel, efd: BorrowedFd<'_>) -> io::Result<()> {
        self.be().irqfd(l, efd, FdAction::Assign)
    }

    fn set_app_ready(&self) -> io::Result<()> {
        // In the 0xB2 numbering the bindings refuse it without a syscall: there is no such
        // request.
        self.be().set_app_ready()
    }

    fn wait_for_event(&self, l: DeviceLabel) -> io::Result<BackendEvent> {
        self.be().wait_for_event(l)
    }

    fn get_driver_features(&self, l: DeviceLabel, w: FeatureWord) -> io::Result<u32> {
        self.be().get_driver_features(l, w)
    }

    fn get_queue_info(&self, l: DeviceLabel, queue: u32) -> io::Result<QueueInfo> {
        self.be().get_queue_info(l, queue)
    }

    fn ack_driver_ok(&self, l: DeviceLabel) -> io::Result<()> {
        self.be().ack_driver_ok(l)
    }

    fn ack_reset(&self, l: DeviceLabel) -> io::Result<()> {
        self.be().ack_reset(l)
    }

    fn numbering(&self) -> Numbering {
        K::NUMBERING
    }

    fn vm_resources_ready(&self) -> io::Result<bool> {
        self.kind.vm_resources_ready(self.fd.as_fd())
    }
}
