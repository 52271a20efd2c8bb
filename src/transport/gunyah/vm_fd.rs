//! A secure-VM-loader VM fd (numbering 0xB2): [`GunyahBackendIo`](super::GunyahBackendIo) on the fd the VM's
//! launcher got from `GH_CREATE_VM` on the loader's `/dev/gunyah` and handed to drivervm.
//!
//! What the loader does with it (`CodeLinaro-mirror/le_platform_vendor_qcom-opensource_gunyah-drivers`
//! @ `0a15e3e0904e6e4376a63abf66e58135c18f79eb`, read only):
//! - `gh_vm_ioctl` (`gh_main.c`) passes every request it does not know to
//!   `gh_virtio_backend_ioctl(vm->fw_name, ...)`, which finds the backend devices by the
//!   VM's firmware name: with no name set, every request fails with EINVAL;
//! - `gh_vm_ioctl_set_fw_name` (`gh_secure_vm_loader.c`) writes the name only after
//!   loading the VM, which runs `gh_vm_configure` and so `gh_rm_populate_hyp_res`, which
//!   calls `gh_virtio_mmio_init` for each virtio-mmio device (its capability and config
//!   page). A nonempty `GH_VM_GET_FW_NAME` therefore says that the devices exist and that
//!   what is published now reaches the hypervisor; the VM itself runs only from its
//!   launcher's first `GH_VCPU_RUN`. Nothing wakes a waiter when that happens, so the
//!   transport asks again periodically;
//! - the VM is destroyed when the last reference to the fd goes, so drivervm closes its
//!   copy once the guest exited.

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use gunyah_bindings::secure_vm_loader::get_fw_name;
use gunyah_bindings::virtio_backend::Numbering;

use super::fd_backend::{FdBackend, FdKind};

/// Descriptor numbers already taken over: each is owned (and closed) once.
static TAKEN: Mutex<BTreeSet<RawFd>> = Mutex::new(BTreeSet::new());

/// An inherited VM fd, owned by the transport from its first open on.
pub type VmFdBackend = FdBackend<VmFd>;

/// The secure-VM-loader kind of backend fd: the number it was inherited as.
#[derive(Debug)]
pub struct VmFd {
    number: RawFd,
}

impl FdKind for VmFd {
    const NUMBERING: Numbering = Numbering::VmFd;

    /// A nonempty firmware name: the VM's devices exist (see the module's notes).
    fn vm_resources_ready(&self, fd: BorrowedFd<'_>) -> io::Result<bool> {
        Ok(!get_fw_name(fd)?.as_bytes().is_empty())
    }
}

impl FdBackend<VmFd> {
    /// Takes over inherited descriptor `n` (marked close-on-exec). A number is taken once:
    /// a VM fd serves one run of its VM and is closed after it, so asking again fails with
    /// `NotFound` (the node is gone). `EBADF` when nothing was inherited as `n`.
    pub fn take_inherited(n: RawFd) -> io::Result<Self> {
        let mut taken = match TAKEN.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if taken.contains(&n) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("VM fd {n} served its VM's run and was closed"),
            ));
        }
        // SAFETY: F_GETFD reads descriptor flags; an unopened number fails with EBADF.
        let flags = unsafe { libc::fcntl(n, libc::F_GETFD) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: F_SETFD on the descriptor just checked, with its flags plus FD_CLOEXEC.
        if unsafe { libc::fcntl(n, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        taken.insert(n);
        // SAFETY: `n` is open (checked above) and recorded in TAKEN, so this is the one
        // owner this process creates for it; nothing else in drivervm uses inherited fds.
        let fd = unsafe { OwnedFd::from_raw_fd(n) };
        Ok(Self::new(fd, VmFd { number: n }))
    }

    /// The descriptor number it was inherited as.
    pub fn number(&self) -> RawFd {
        self.kind().number
    }
}

impl AsRawFd for FdBackend<VmFd> {
    fn as_raw_fd(&self) -> RawFd {
        self.borrow_fd().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::gunyah::GunyahBackendIo;
    use std::fs::File;
    use std::os::fd::IntoRawFd;

    #[test]
    fn an_inherited_fd_is_taken_once_and_a_missing_one_is_ebadf() {
        let n = File::open("/dev/null").unwrap().into_raw_fd();
        let b = VmFdBackend::take_inherited(n).unwrap();
        assert_eq!(b.number(), n);
        assert_eq!(b.numbering(), Numbering::VmFd);
        // GH_SET_APP_READY has no 0xB2 number: refused before any syscall.
        assert_eq!(
            b.set_app_ready().unwrap_err().kind(),
            io::ErrorKind::Unsupported
        );
        // /dev/null is no VM fd: the kernel's answer is reported, nothing panics.
        assert_eq!(
            b.vm_resources_ready().err().and_then(|e| e.raw_os_error()),
            Some(libc::ENOTTY)
        );
        drop(b);
        let again = VmFdBackend::take_inherited(n).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::NotFound);
        let missing = VmFdBackend::take_inherited(i32::MAX - 7).unwrap_err();
        assert_eq!(missing.raw_os_error(), Some(libc::EBADF));
    }
}
