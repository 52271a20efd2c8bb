//! Qualcomm's Gunyah virtio backend interface: a VM serves a virtio-mmio device to another
//! VM. The frontend's MMIO accesses arrive as events, its queue notifications as eventfd
//! signals, and the rings live in a memory window shared by both VMs (mmapped from the same
//! fd, whose size `GH_GET_SHARED_MEMORY_SIZE` reports).
//!
//! [`BackendFd`] issues the requests on one fd in one [`Numbering`]; each method is one
//! ioctl.

mod requests;
mod structs;

pub use requests::{
    BackendDef, BackendRequest, Numbering, BACKEND_REQUESTS, GH_LOADER_IOCTL_TYPE,
    VIRTIO_BE_IOC_MAGIC,
};
pub use structs::{
    BackendEvent, DeviceLabel, EventSet, FdAction, FeatureWord, QueueInfo, VirtioAckReset,
    VirtioConfigData, VirtioDevFeatures, VirtioDriverFeatures, VirtioEvent, VirtioEventfd,
    VirtioIrqfd, VirtioQueueInfo, VirtioQueueMax,
};

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::raw::c_ulong;

use vmm_sys_util::ioctl::{ioctl, ioctl_with_mut_ref, ioctl_with_ref, ioctl_with_val};

use crate::error::ArgError;
use crate::ret::check_zero;

/// An fd speaking the virtio backend API in a given numbering: a
/// `/dev/gh_virtio_backend_<vm>` node ([`Numbering::DeviceNode`]) or a secure-VM-loader VM
/// fd ([`Numbering::VmFd`]).
#[derive(Debug, Clone, Copy)]
pub struct BackendFd<'fd> {
    fd: BorrowedFd<'fd>,
    numbering: Numbering,
}

impl<'fd> BackendFd<'fd> {
    /// Wraps `fd`, whose driver implements `numbering`.
    pub const fn new(fd: BorrowedFd<'fd>, numbering: Numbering) -> Self {
        Self { fd, numbering }
    }

    /// The numbering in use.
    pub const fn numbering(&self) -> Numbering {
        self.numbering
    }

    /// The underlying fd (also the one to mmap the shared window from).
    pub const fn fd(&self) -> BorrowedFd<'fd> {
        self.fd
    }

    fn req(&self, r: BackendRequest) -> io::Result<c_ulong> {
        match r.code(self.numbering) {
            Some(code) => Ok(c_ulong::from(code)),
            None => Err(ArgError::NotInNumbering(r.row().name).into()),
        }
    }

    /// `GH_GET_SHARED_MEMORY_SIZE`: size of the shared window; mmap exactly this many bytes.
    pub fn shared_memory_size(&self) -> io::Result<u64> {
        let code = self.req(BackendRequest::GetSharedMemorySize)?;
        let mut size: u64 = 0;
        // SAFETY: the kernel writes one u64 (the size encoded in the request) into `size`,
        // a live, writable local.
        let ret = unsafe { ioctl_with_mut_ref(&self.fd, code, &mut size) };
        check_zero(ret)?;
        Ok(size)
    }

    /// `GH_IOEVENTFD`: the frontend's notifications of `queue` signal `eventfd`.
    pub fn ioeventfd(
        &self,
        label: DeviceLabel,
        queue: u32,
        eventfd: BorrowedFd<'_>,
        action: FdAction,
    ) -> io::Result<()> {
        let code = self.req(BackendRequest::Ioeventfd)?;
        let arg = VirtioEventfd {
            label: label.get(),
            flags: action as u32,
            queue_num: queue,
            fd: eventfd.as_raw_fd(),
        };
        // SAFETY: `arg` is a live struct of the encoded size; the kernel copies it in.
        let ret = unsafe { ioctl_with_ref(&self.fd, code, &arg) };
        check_zero(ret)
    }

    /// `GH_IRQFD`: writing `eventfd` raises the frontend's virtio-mmio interrupt.
    pub fn irqfd(
        &self,
        label: DeviceLabel,
        eventfd: BorrowedFd<'_>,
        action: FdAction,
    ) -> io::Result<()> {
        let code = self.req(BackendRequest::Irqfd)?;
        let arg = VirtioIrqfd {
            label: label.get(),
            flags: action as u32,
            fd: eventfd.as_raw_fd(),
            reserved: 0,
        };
        // SAFETY: `arg` is a live struct of the encoded size; the kernel copies it in.
        let ret = unsafe { ioctl_with_ref(&self.fd, code, &arg) };
        check_zero(ret)
    }

    /// `GH_WAIT_FOR_EVENT`: blocks until the device has an event (interruptible: a signal
    /// ends the wait with `EINTR`).
    pub fn wait_for_event(&self, label: DeviceLabel) -> io::Result<BackendEvent> {
        let code = self.req(BackendRequest::WaitForEvent)?;
        let mut ev = VirtioEvent {
            label: label.get(),
            ..VirtioEvent::default()
        };
        // SAFETY: `ev` is a live, writable struct of the encoded size; the kernel reads the
        // label and writes the event back into it.
        let ret = unsafe { ioctl_with_mut_ref(&self.fd, code, &mut ev) };
        check_zero(ret)?;
        Ok(BackendEvent::from_raw(&ev))
    }

    /// `GH_SET_DEVICE_FEATURES`: offers one 32-bit half of the device feature bits.
    pub fn set_device_features(
        &self,
        label: DeviceLabel,
        word: FeatureWord,
        features: u32,
    ) -> io::Result<()> {
        let code = self.req(BackendRequest::SetDeviceFeatures)?;
        let arg = VirtioDevFeatures {
            label: label.get(),
            reserved: 0,
            features_sel: word as u32,
            features,
        };
        // SAFETY: `arg` is a live struct of the encoded size; the kernel copies it in.
        let ret = unsafe { ioctl_with_ref(&self.fd, code, &arg) };
        check_zero(ret)
    }

    /// `GH_SET_QUEUE_NUM_MAX`: the largest size the device accepts for `queue`.
    pub fn set_queue_num_max(&self, label: DeviceLabel, queue: u32, max: u32) -> io::Result<()> {
        let code = self.req(BackendRequest::SetQueueNumMax)?;
        let arg = VirtioQueueMax {
            label: label.get(),
            reserved: 0,
            queue_sel: queue,
            queue_num_max: max,
        };
        // SAFETY: `arg` is a live struct of the encoded size; the kernel copies it in.
        let ret = unsafe { ioctl_with_ref(&self.fd, code, &arg) };
        check_zero(ret)
    }

    /// `GH_SET_DEVICE_CONFIG_DATA`: the device-specific config space the frontend reads.
    /// Accepted once per open; the drivers cap it at a page (or the shared config area).
    pub fn set_device_config_data(&self, label: DeviceLabel, data: &[u8]) -> io::Result<()> {
        let code = self.req(BackendRequest::SetDeviceConfigData)?;
        let arg = config_arg(label, data.as_ptr() as usize, data.len())?;
        // SAFETY: `arg` is a live struct of the encoded size; its `config_data` points at
        // `data`, readable for `config_size` bytes for the whole call. The kernel only reads.
        let ret = unsafe { ioctl_with_ref(&self.fd, code, &arg) };
        check_zero(ret)
    }

    /// `GH_GET_DRIVER_CONFIG_DATA`: fills `buf` with the config space as the frontend left it.
    pub fn get_driver_config_data(&self, label: DeviceLabel, buf: &mut [u8]) -> io::Result<()> {
        let code = self.req(BackendRequest::GetDriverConfigData)?;
        let mut arg = config_arg(label, buf.as_mut_ptr() as usize, buf.len())?;
        // SAFETY: `arg` is a live, writable struct of the encoded size; its `config_data`
        // points at `buf`, exclusively borrowed and writable for `config_size` bytes for the
        // whole call, which is all the kernel writes there.
        let ret = unsafe { ioctl_with_mut_ref(&self.fd, code, &mut arg) };
        check_zero(ret)
    }

    /// `GH_GET_QUEUE_INFO`: size, readiness and ring addresses the frontend set for `queue`.
    pub fn get_queue_info(&self, label: DeviceLabel, queue: u32) -> io::Result<QueueInfo> {
        let code = self.req(BackendRequest::GetQueueInfo)?;
        let mut arg = VirtioQueueInfo {
            label: label.get(),
            queue_sel: queue,
            ..VirtioQueueInfo::default()
        };
        // SAFETY: `arg` is a live, writable struct of the encoded size (40 bytes); the kernel
        // reads label/queue_sel and writes the rest back.
        let ret = unsafe { ioctl_with_mut_ref(&self.fd, code, &mut arg) };
        check_zero(ret)?;
        Ok(QueueInfo::from_raw(&arg))
    }

    /// `GH_GET_DRIVER_FEATURES`: one 32-bit half of the features the frontend accepted.
    pub fn get_driver_features(&self, label: DeviceLabel, word: FeatureWord) -> io::Result<u32> {
        let code = self.req(BackendRequest::GetDriverFeatures)?;
        let mut arg = VirtioDriverFeatures {
            label: label.get(),
            reserved: 0,
            features_sel: word as u32,
            features: 0,
        };
        // SAFETY: `arg` is a live, writable struct of the encoded size; the kernel reads the
        // selector and writes `features` back.
        let ret = unsafe { ioctl_with_mut_ref(&self.fd, code, &mut arg) };
        check_zero(ret)?;
        Ok(arg.features)
    }

    /// `GH_ACK_DRIVER_OK`: the device is set up for the frontend's DRIVER_OK; from now on
    /// queue notifications go to the ioeventfds.
    ///
    /// The header declares a `__u32` argument, but every driver reads the label from the
    /// argument *value* (`label = (u32) arg`), so it is passed by value here.
    pub fn ack_driver_ok(&self, label: DeviceLabel) -> io::Result<()> {
        let code = self.req(BackendRequest::AckDriverOk)?;
        // SAFETY: the argument is an integer the kernel does not dereference.
        let ret = unsafe { ioctl_with_val(&self.fd, code, c_ulong::from(label.get())) };
        check_zero(ret)
    }

    /// `GH_SET_APP_READY`: the backend application has registered its devices (device-node
    /// numbering only; the VM-fd numbering has no such request).
    pub fn set_app_ready(&self) -> io::Result<()> {
        let code = self.req(BackendRequest::SetAppReady)?;
        // SAFETY: GH_SET_APP_READY takes no argument.
        let ret = unsafe { ioctl(&self.fd, code) };
        check_zero(ret)
    }

    /// `GH_ACK_RESET`: the device finished the reset the frontend requested.
    pub fn ack_reset(&self, label: DeviceLabel) -> io::Result<()> {
        let code = self.req(BackendRequest::AckReset)?;
        let arg = VirtioAckReset {
            label: label.get(),
            reserved: 0,
        };
        // SAFETY: `arg` is a live struct of the encoded size; the kernel copies it in.
        let ret = unsafe { ioctl_with_ref(&self.fd, code, &arg) };
        check_zero(ret)
    }
}

fn config_arg(label: DeviceLabel, addr: usize, len: usize) -> io::Result<VirtioConfigData> {
    if len == 0 {
        return Err(ArgError::EmptyConfig.into());
    }
    let config_size = u32::try_from(len).map_err(|_| ArgError::ConfigTooLarge(len))?;
    Ok(VirtioConfigData {
        label: label.get(),
        config_size,
        config_data: addr as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::fd::AsFd;

    fn errno<T>(r: io::Result<T>) -> Option<i32> {
        r.err().and_then(|e| e.raw_os_error())
    }

    #[test]
    fn every_wrapper_reaches_the_kernel_and_reports_its_error() {
        let f = File::open("/dev/null").expect("/dev/null");
        let label = DeviceLabel::new(5).expect("nonzero");
        let enotty = Some(libc::ENOTTY);
        for n in [Numbering::DeviceNode, Numbering::VmFd] {
            let be = BackendFd::new(f.as_fd(), n);
            assert_eq!(be.numbering(), n);
            let efd = f.as_fd();
            assert_eq!(errno(be.shared_memory_size()), enotty);
            assert_eq!(errno(be.ioeventfd(label, 0, efd, FdAction::Assign)), enotty);
            assert_eq!(errno(be.irqfd(label, efd, FdAction::Assign)), enotty);
            assert_eq!(errno(be.wait_for_event(label)), enotty);
            assert_eq!(
                errno(be.set_device_features(label, FeatureWord::High, 1)),
                enotty
            );
            assert_eq!(errno(be.set_queue_num_max(label, 0, 256)), enotty);
            assert_eq!(
                errno(be.set_device_config_data(label, &[1, 2, 3, 4])),
                enotty
            );
            let mut buf = [0u8; 8];
            assert_eq!(errno(be.get_driver_config_data(label, &mut buf)), enotty);
            assert_eq!(errno(be.get_queue_info(label, 1)), enotty);
            assert_eq!(
                errno(be.get_driver_features(label, FeatureWord::Low)),
                enotty
            );
            assert_eq!(errno(be.ack_driver_ok(label)), enotty);
            assert_eq!(errno(be.ack_reset(label)), enotty);
        }
        let dev = BackendFd::new(f.as_fd(), Numbering::DeviceNode);
        assert_eq!(errno(dev.set_app_ready()), enotty);
    }

    #[test]
    fn set_app_ready_is_refused_without_a_syscall_in_the_vm_fd_numbering() {
        let f = File::open("/dev/null").expect("/dev/null");
        let be = BackendFd::new(f.as_fd(), Numbering::VmFd);
        let err = be.set_app_ready().err();
        assert_eq!(
            err.as_ref().map(io::Error::kind),
            Some(io::ErrorKind::Unsupported)
        );
        let inner = err
            .as_ref()
            .and_then(|e| e.get_ref())
            .and_then(|e| e.downcast_ref::<ArgError>());
        assert_eq!(inner, Some(&ArgError::NotInNumbering("GH_SET_APP_READY")));
    }

    #[test]
    fn config_buffers_are_validated_before_the_call() {
        let label = DeviceLabel::new(1).expect("nonzero");
        assert_eq!(
            config_arg(label, 0x1000, 0).err().map(|e| e.kind()),
            Some(io::ErrorKind::InvalidInput)
        );
        let ok = config_arg(label, 0x1000, 60).expect("valid");
        assert_eq!((ok.label, ok.config_size, ok.config_data), (1, 60, 0x1000));
        let f = File::open("/dev/null").expect("/dev/null");
        let be = BackendFd::new(f.as_fd(), Numbering::DeviceNode);
        let e = be
            .set_device_config_data(label, &[])
            .err()
            .map(|e| e.kind());
        assert_eq!(e, Some(io::ErrorKind::InvalidInput));
    }
}
