//! The Gunyah VM manager (`/dev/gunyah`, `'G'` ioctls): what a VMM such as crosvm uses to
//! build and run a VM. One thin wrapper per request; each takes the fd the request is issued
//! on (`/dev/gunyah`, a VM fd or a vCPU fd) as a [`BorrowedFd`].

mod requests;
mod run_page_6_6;
mod structs;

pub use requests::{VmRequest, GH_ANDROID_IOCTL_TYPE, GH_IOCTL_TYPE, VM_REQUESTS};
pub use run_page_6_6::{PageFaultExit, ResumeAction, UapiRevision, VcpuExit66};
pub use structs::{
    FnType, GhFnDesc, GhFnIoeventfdArg, GhFnIrqfdArg, GhFnVcpuArg, GhUserspaceMemoryRegion,
    GhVcpuRun, GhVmDtbConfig, GhVmExitInfo, GhVmFirmwareConfig, IoeventfdFlags, IrqfdFlags,
    MemFlags, MmioExit, StatusExit, VcpuExit, VmStatus, FN_MAX_ARG_SIZE, VM_MAX_EXIT_REASON_SIZE,
};

use core::mem::size_of;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::raw::{c_int, c_ulong};

use vmm_sys_util::ioctl::{ioctl, ioctl_with_ref, ioctl_with_val};

use crate::error::ArgError;
use crate::ret::{check, check_zero, new_fd};

fn req(r: VmRequest) -> c_ulong {
    c_ulong::from(r.code())
}

/// `GH_CREATE_VM` on `/dev/gunyah`: creates a VM and returns its fd.
pub fn create_vm(gunyah: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: GH_CREATE_VM takes its argument by value (reserved, must be 0), so the kernel
    // dereferences nothing of ours; the result is checked by `new_fd`.
    let ret = unsafe { ioctl_with_val(&gunyah, req(VmRequest::CreateVm), 0) };
    new_fd(ret)
}

/// `GH_VM_SET_USER_MEM_REGION`: shares this process's memory with the guest.
///
/// # Safety
/// `region.userspace_addr .. + memory_size` must be memory this process has mapped and keeps
/// mapped for the VM's lifetime, and no Rust reference may assume exclusive access to it:
/// the guest reads and writes it concurrently.
pub unsafe fn set_user_mem_region(
    vm: BorrowedFd<'_>,
    region: &GhUserspaceMemoryRegion,
) -> io::Result<()> {
    // SAFETY: `region` is a live 32-byte struct matching the size encoded in the request; the
    // kernel only reads it during the call. The memory it names is the caller's contract.
    let ret = unsafe { ioctl_with_ref(&vm, req(VmRequest::SetUserMemRegion), region) };
    check_zero(ret)
}

/// `GH_VM_ANDROID_LEND_USER_MEM`: lends this process's memory to the guest (the host loses
/// access once the VM runs).
///
/// # Safety
/// As for [`set_user_mem_region`]; in addition nothing in this process may touch the region
/// after the VM starts until it is reclaimed, as the access would fault.
pub unsafe fn android_lend_user_mem(
    vm: BorrowedFd<'_>,
    region: &GhUserspaceMemoryRegion,
) -> io::Result<()> {
    // SAFETY: as in `set_user_mem_region`: a live struct of the encoded size, read during the
    // call only; the memory it names is the caller's contract.
    let ret = unsafe { ioctl_with_ref(&vm, req(VmRequest::AndroidLendUserMem), region) };
    check_zero(ret)
}

/// `GH_VM_SET_DTB_CONFIG`: where the VM's devicetree lives in guest memory.
pub fn set_dtb_config(vm: BorrowedFd<'_>, config: &GhVmDtbConfig) -> io::Result<()> {
    // SAFETY: `config` is a live 16-byte struct matching the encoded size; the kernel copies
    // it in during the call and keeps no pointer.
    let ret = unsafe { ioctl_with_ref(&vm, req(VmRequest::SetDtbConfig), config) };
    check_zero(ret)
}

/// `GH_VM_ANDROID_SET_FW_CONFIG`: where the VM's firmware region lives in guest memory.
pub fn android_set_fw_config(vm: BorrowedFd<'_>, config: &GhVmFirmwareConfig) -> io::Result<()> {
    // SAFETY: `config` is a live 16-byte struct matching the encoded size, copied in during
    // the call.
    let ret = unsafe { ioctl_with_ref(&vm, req(VmRequest::AndroidSetFwConfig), config) };
    check_zero(ret)
}

/// `GH_VM_START`: starts the VM.
pub fn start(vm: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: GH_VM_START takes no argument.
    let ret = unsafe { ioctl(&vm, req(VmRequest::Start)) };
    check_zero(ret)
}

/// Argument structs that `GH_VM_ADD_FUNCTION` / `GH_VM_REMOVE_FUNCTION` accept.
trait FnArg: Copy {
    const TYPE: FnType;
}
impl FnArg for GhFnVcpuArg {
    const TYPE: FnType = FnType::Vcpu;
}
impl FnArg for GhFnIrqfdArg {
    const TYPE: FnType = FnType::Irqfd;
}
impl FnArg for GhFnIoeventfdArg {
    const TYPE: FnType = FnType::Ioeventfd;
}
const _: () = {
    assert!(size_of::<GhFnVcpuArg>() <= FN_MAX_ARG_SIZE as usize);
    assert!(size_of::<GhFnIrqfdArg>() <= FN_MAX_ARG_SIZE as usize);
    assert!(size_of::<GhFnIoeventfdArg>() <= FN_MAX_ARG_SIZE as usize);
};

/// Issues ADD_FUNCTION or REMOVE_FUNCTION with a descriptor pointing at `arg`.
fn function_call<T: FnArg>(vm: BorrowedFd<'_>, request: VmRequest, arg: &T) -> io::Result<c_int> {
    let desc = GhFnDesc {
        type_: T::TYPE as u32,
        // Bounded by FN_MAX_ARG_SIZE (checked above), so the narrowing is exact.
        arg_size: size_of::<T>() as u32,
        arg: arg as *const T as usize as u64,
    };
    // SAFETY: `desc` is a live 16-byte struct matching the encoded size; its `arg` points at
    // `*arg`, a live value of exactly `arg_size` bytes of the type `type_` names, and both
    // outlive the call. The kernel copies them in and keeps no pointer.
    let ret = unsafe { ioctl_with_ref(&vm, req(request), &desc) };
    check(ret)
}

fn eventfd_u32(fd: BorrowedFd<'_>) -> io::Result<u32> {
    u32::try_from(fd.as_raw_fd()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// What an ioeventfd matches: a guest write of `len` bytes at `addr`, optionally of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoeventfdMatch {
    /// Guest-physical MMIO address.
    pub addr: u64,
    /// Access length: 1, 2, 4, 8, or 0 for any length.
    pub len: u32,
    /// If set, only writes of this value signal the eventfd.
    pub datamatch: Option<u64>,
}

impl IoeventfdMatch {
    fn to_arg(self, eventfd: BorrowedFd<'_>) -> io::Result<GhFnIoeventfdArg> {
        if !matches!(self.len, 0 | 1 | 2 | 4 | 8) {
            return Err(ArgError::BadAccessLength(self.len).into());
        }
        let flags = match self.datamatch {
            Some(_) => IoeventfdFlags::DATAMATCH,
            None => IoeventfdFlags::empty(),
        };
        Ok(GhFnIoeventfdArg {
            datamatch: self.datamatch.unwrap_or(0),
            addr: self.addr,
            len: self.len,
            fd: eventfd.as_raw_fd(),
            flags: flags.bits(),
            padding: 0,
        })
    }
}

fn irqfd_arg(eventfd: BorrowedFd<'_>, label: u32, flags: IrqfdFlags) -> io::Result<GhFnIrqfdArg> {
    Ok(GhFnIrqfdArg {
        fd: eventfd_u32(eventfd)?,
        label,
        flags: flags.bits(),
        padding: 0,
    })
}

/// `GH_VM_ADD_FUNCTION` with `GH_FN_VCPU`: returns the fd controlling vCPU `id`.
pub fn add_vcpu(vm: BorrowedFd<'_>, id: u32) -> io::Result<OwnedFd> {
    new_fd(function_call(
        vm,
        VmRequest::AddFunction,
        &GhFnVcpuArg { id },
    )?)
}

/// `GH_VM_REMOVE_FUNCTION` with `GH_FN_VCPU`.
pub fn remove_vcpu(vm: BorrowedFd<'_>, id: u32) -> io::Result<()> {
    check_zero(function_call(
        vm,
        VmRequest::RemoveFunction,
        &GhFnVcpuArg { id },
    )?)
}

/// `GH_VM_ADD_FUNCTION` with `GH_FN_IRQFD`: writing `eventfd` rings doorbell `label`.
pub fn add_irqfd(
    vm: BorrowedFd<'_>,
    eventfd: BorrowedFd<'_>,
    label: u32,
    flags: IrqfdFlags,
) -> io::Result<()> {
    let arg = irqfd_arg(eventfd, label, flags)?;
    check_zero(function_call(vm, VmRequest::AddFunction, &arg)?)
}

/// `GH_VM_REMOVE_FUNCTION` with `GH_FN_IRQFD`.
pub fn remove_irqfd(
    vm: BorrowedFd<'_>,
    eventfd: BorrowedFd<'_>,
    label: u32,
    flags: IrqfdFlags,
) -> io::Result<()> {
    let arg = irqfd_arg(eventfd, label, flags)?;
    check_zero(function_call(vm, VmRequest::RemoveFunction, &arg)?)
}

/// `GH_VM_ADD_FUNCTION` with `GH_FN_IOEVENTFD`: guest writes matching `m` signal `eventfd`.
pub fn add_ioeventfd(
    vm: BorrowedFd<'_>,
    eventfd: BorrowedFd<'_>,
    m: IoeventfdMatch,
) -> io::Result<()> {
    let arg = m.to_arg(eventfd)?;
    check_zero(function_call(vm, VmRequest::AddFunction, &arg)?)
}

/// `GH_VM_REMOVE_FUNCTION` with `GH_FN_IOEVENTFD`.
pub fn remove_ioeventfd(
    vm: BorrowedFd<'_>,
    eventfd: BorrowedFd<'_>,
    m: IoeventfdMatch,
) -> io::Result<()> {
    let arg = m.to_arg(eventfd)?;
    check_zero(function_call(vm, VmRequest::RemoveFunction, &arg)?)
}

/// `GH_VCPU_RUN` on a vCPU fd: runs until an exit described in the mmapped [`GhVcpuRun`].
pub fn vcpu_run(vcpu: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: GH_VCPU_RUN takes no argument; results go to the run page, not our memory.
    let ret = unsafe { ioctl(&vcpu, req(VmRequest::VcpuRun)) };
    check_zero(ret)
}

/// `GH_VCPU_MMAP_SIZE` on a vCPU fd: bytes to mmap to reach the [`GhVcpuRun`] page.
pub fn vcpu_mmap_size(vcpu: BorrowedFd<'_>) -> io::Result<usize> {
    // SAFETY: GH_VCPU_MMAP_SIZE takes no argument and returns the size.
    let ret = unsafe { ioctl(&vcpu, req(VmRequest::VcpuMmapSize)) };
    let size = check(ret)?;
    usize::try_from(size).map_err(|_| ArgError::BadReturn(size.into()).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::fd::AsFd;

    fn not_gunyah() -> File {
        // Any non-Gunyah character device answers these requests with ENOTTY.
        File::open("/dev/null").expect("/dev/null")
    }

    #[test]
    fn wrappers_report_the_kernel_error_on_a_foreign_fd() {
        let f = not_gunyah();
        let fd = f.as_fd();
        let enotty = Some(libc::ENOTTY);
        assert_eq!(create_vm(fd).err().and_then(|e| e.raw_os_error()), enotty);
        assert_eq!(start(fd).err().and_then(|e| e.raw_os_error()), enotty);
        let dtb = GhVmDtbConfig::default();
        assert_eq!(
            set_dtb_config(fd, &dtb)
                .err()
                .and_then(|e| e.raw_os_error()),
            enotty
        );
        let fw = GhVmFirmwareConfig::default();
        assert_eq!(
            android_set_fw_config(fd, &fw)
                .err()
                .and_then(|e| e.raw_os_error()),
            enotty
        );
        assert_eq!(add_vcpu(fd, 0).err().and_then(|e| e.raw_os_error()), enotty);
        assert_eq!(
            remove_vcpu(fd, 0).err().and_then(|e| e.raw_os_error()),
            enotty
        );
        assert_eq!(
            add_irqfd(fd, fd, 1, IrqfdFlags::LEVEL)
                .err()
                .and_then(|e| e.raw_os_error()),
            enotty
        );
        assert_eq!(
            remove_irqfd(fd, fd, 1, IrqfdFlags::empty())
                .err()
                .and_then(|e| e.raw_os_error()),
            enotty
        );
        let m = IoeventfdMatch {
            addr: 0x1000,
            len: 4,
            datamatch: None,
        };
        assert_eq!(
            add_ioeventfd(fd, fd, m)
                .err()
                .and_then(|e| e.raw_os_error()),
            enotty
        );
        assert_eq!(
            remove_ioeventfd(fd, fd, m)
                .err()
                .and_then(|e| e.raw_os_error()),
            enotty
        );
        assert_eq!(vcpu_run(fd).err().and_then(|e| e.raw_os_error()), enotty);
        assert_eq!(
            vcpu_mmap_size(fd).err().and_then(|e| e.raw_os_error()),
            enotty
        );
        let region = GhUserspaceMemoryRegion::default();
        // SAFETY: the region is empty and /dev/null does not implement the request, so no
        // memory is shared.
        let r = unsafe { set_user_mem_region(fd, &region) };
        assert_eq!(r.err().and_then(|e| e.raw_os_error()), enotty);
        // SAFETY: as above.
        let r = unsafe { android_lend_user_mem(fd, &region) };
        assert_eq!(r.err().and_then(|e| e.raw_os_error()), enotty);
    }

    #[test]
    fn ioeventfd_match_encodes_flags_and_rejects_bad_lengths() {
        let f = not_gunyah();
        let with = IoeventfdMatch {
            addr: 0x0a00_0050,
            len: 4,
            datamatch: Some(3),
        }
        .to_arg(f.as_fd())
        .expect("valid");
        assert_eq!(with.flags, 1);
        assert_eq!(with.datamatch, 3);
        assert_eq!(with.addr, 0x0a00_0050);
        assert_eq!(with.fd, f.as_raw_fd());
        let without = IoeventfdMatch {
            addr: 0,
            len: 0,
            datamatch: None,
        }
        .to_arg(f.as_fd())
        .expect("valid");
        assert_eq!((without.flags, without.datamatch), (0, 0));
        let bad = IoeventfdMatch {
            addr: 0,
            len: 3,
            datamatch: None,
        }
        .to_arg(f.as_fd());
        let kind = bad.err().map(|e| e.kind());
        assert_eq!(kind, Some(io::ErrorKind::InvalidInput));
    }
}
