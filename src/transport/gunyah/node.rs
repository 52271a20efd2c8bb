//! The real backend node: [`GunyahBackendIo`] over gunyah-bindings' [`BackendFd`].

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use gunyah_bindings::virtio_backend::{BackendFd, FdAction, Numbering};

use super::io::{BackendEvent, DeviceLabel, FeatureWord, GunyahBackendIo, QueueInfo, SharedWindow};

/// An open `/dev/gh_virtio_backend_<vm>` node (device-node numbering, magic 0xBC).
#[derive(Debug)]
pub struct BackendNode {
    path: PathBuf,
    file: File,
}

impl BackendNode {
    /// Opens the node read-write (the driver allows one opener at a time).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    /// The node's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fd(&self) -> BackendFd<'_> {
        BackendFd::new(self.file.as_fd(), Numbering::DeviceNode)
    }
}

impl GunyahBackendIo for BackendNode {
    fn shared_memory_size(&self) -> io::Result<u64> {
        self.fd().shared_memory_size()
    }

    fn map_shared_window(&self) -> io::Result<SharedWindow> {
        let size = self.shared_memory_size()?;
        Ok(SharedWindow {
            file: self.file.try_clone()?,
            size,
        })
    }

    fn set_device_features(&self, l: DeviceLabel, w: FeatureWord, bits: u32) -> io::Result<()> {
        self.fd().set_device_features(l, w, bits)
    }

    fn set_queue_num_max(&self, l: DeviceLabel, queue: u32, max: u32) -> io::Result<()> {
        self.fd().set_queue_num_max(l, queue, max)
    }

    fn set_device_config(&self, l: DeviceLabel, data: &[u8]) -> io::Result<()> {
        self.fd().set_device_config_data(l, data)
    }

    fn get_driver_config(&self, l: DeviceLabel, buf: &mut [u8]) -> io::Result<()> {
        self.fd().get_driver_config_data(l, buf)
    }

    fn register_ioeventfd(
        &self,
        l: DeviceLabel,
        queue: u32,
        efd: BorrowedFd<'_>,
    ) -> io::Result<()> {
        self.fd().ioeventfd(l, queue, efd, FdAction::Assign)
    }

    fn register_irqfd(&self, l: DeviceLabel, efd: BorrowedFd<'_>) -> io::Result<()> {
        self.fd().irqfd(l, efd, FdAction::Assign)
    }

    fn set_app_ready(&self) -> io::Result<()> {
        self.fd().set_app_ready()
    }

    fn wait_for_event(&self, l: DeviceLabel) -> io::Result<BackendEvent> {
        self.fd().wait_for_event(l)
    }

    fn get_driver_features(&self, l: DeviceLabel, w: FeatureWord) -> io::Result<u32> {
        self.fd().get_driver_features(l, w)
    }

    fn get_queue_info(&self, l: DeviceLabel, queue: u32) -> io::Result<QueueInfo> {
        self.fd().get_queue_info(l, queue)
    }

    fn ack_driver_ok(&self, l: DeviceLabel) -> io::Result<()> {
        self.fd().ack_driver_ok(l)
    }

    fn ack_reset(&self, l: DeviceLabel) -> io::Result<()> {
        self.fd().ack_reset(l)
    }
}
