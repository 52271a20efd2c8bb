//! The real backend node: [`GunyahBackendIo`](super::GunyahBackendIo) on an open
//! `/dev/gh_virtio_backend_<vm>`, in the device-node numbering (magic 0xBC).

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use gunyah_bindings::virtio_backend::Numbering;

use super::fd_backend::{FdBackend, FdKind};

/// An open `/dev/gh_virtio_backend_<vm>` node (device-node numbering, magic 0xBC).
pub type BackendNode = FdBackend<DeviceNode>;

/// The device-node kind of backend fd: the node's path.
#[derive(Debug)]
pub struct DeviceNode {
    path: PathBuf,
}

impl FdKind for DeviceNode {
    const NUMBERING: Numbering = Numbering::DeviceNode;

    /// The 0xBC driver keeps what is published until the guest boots: always.
    fn vm_resources_ready(&self, _fd: BorrowedFd<'_>) -> io::Result<bool> {
        Ok(true)
    }
}

impl FdBackend<DeviceNode> {
    /// Opens the node read-write (the driver allows one opener at a time).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Self::new(
            OwnedFd::from(file),
            DeviceNode {
                path: path.to_owned(),
            },
        ))
    }

    /// The node's path.
    pub fn path(&self) -> &Path {
        &self.kind().path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::gunyah::GunyahBackendIo;

    #[test]
    fn a_node_issues_every_request_in_the_device_node_numbering() {
        let b = BackendNode::open(Path::new("/dev/null")).unwrap();
        assert_eq!(b.path(), Path::new("/dev/null"));
        assert_eq!(b.numbering(), Numbering::DeviceNode);
        assert!(b.vm_resources_ready().unwrap());
        // GH_SET_APP_READY exists only in this numbering: it reaches the kernel, and
        // /dev/null's answer is reported.
        assert_eq!(
            b.set_app_ready().unwrap_err().raw_os_error(),
            Some(libc::ENOTTY)
        );
    }
}
