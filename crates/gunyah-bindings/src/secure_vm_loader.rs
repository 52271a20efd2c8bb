//! Qualcomm's secure-VM loader (`/dev/gunyah`, type 0xB2): the interface that hands out the
//! VM fd on which the [`Numbering::VmFd`](crate::virtio_backend::Numbering::VmFd) backend
//! requests are issued. Kernels ship either this loader or the `'G'` VM manager as
//! `/dev/gunyah`, never both, and the two `GH_CREATE_VM`s differ (0xb201 vs 0x4700).
//!
//! The backend driver finds its devices by the VM's firmware name, so a backend sets the
//! name (`GH_VM_SET_FW_NAME`) before serving.

use core::mem::{offset_of, size_of};
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::raw::c_ulong;

use vmm_sys_util::ioctl::{ioctl, ioctl_with_mut_ref, ioctl_with_ref, ioctl_with_val};

use crate::error::ArgError;
use crate::ioctl_code::{all_sizes_fit, Direction, IoctlDef};
use crate::ret::{as_u32, check_zero, new_fd};
use crate::virtio_backend::GH_LOADER_IOCTL_TYPE;

/// `GH_VM_FW_NAME_MAX`: the name field's size, terminator included.
pub const VM_FW_NAME_MAX: usize = 16;

/// `struct gh_fw_name`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GhFwName {
    /// NUL-terminated name.
    pub name: [u8; VM_FW_NAME_MAX],
}

const _: () = {
    assert!(size_of::<GhFwName>() == 16);
    assert!(offset_of!(GhFwName, name) == 0);
};

impl GhFwName {
    /// Builds the field from a name of at most 15 bytes without NULs.
    pub fn new(name: &str) -> Result<Self, ArgError> {
        let bytes = name.as_bytes();
        if bytes.contains(&0) {
            return Err(ArgError::NameHasNul);
        }
        if bytes.len() >= VM_FW_NAME_MAX {
            return Err(ArgError::NameTooLong {
                len: bytes.len(),
                max: VM_FW_NAME_MAX,
            });
        }
        let mut out = Self::default();
        out.name
            .iter_mut()
            .zip(bytes)
            .for_each(|(dst, src)| *dst = *src);
        Ok(out)
    }

    /// The bytes before the first NUL (all 16 if the kernel left none).
    pub fn as_bytes(&self) -> &[u8] {
        let end = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(VM_FW_NAME_MAX);
        self.name.get(..end).unwrap_or(&[])
    }
}

/// `GH_VM_EXIT_REASON_*`: what the loader's `GH_VCPU_RUN` returns when the VM stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmExitReason {
    /// `GH_VM_EXIT_REASON_UNKNOWN` (0).
    Unknown,
    /// `GH_VM_EXIT_REASON_SHUTDOWN` (1).
    Shutdown,
    /// `GH_VM_EXIT_REASON_RESTART` (2).
    Restart,
    /// `GH_VM_EXIT_REASON_PANIC` (3).
    Panic,
    /// `GH_VM_EXIT_REASON_NSWD` (4): non-secure watchdog bite.
    NonSecureWatchdog,
    /// `GH_VM_EXIT_REASON_HYP_ERROR` (5).
    HypervisorError,
    /// `GH_VM_EXIT_REASON_ASYNC_EXT_ABORT` (6).
    AsyncExternalAbort,
    /// `GH_VM_EXIT_REASON_FORCE_STOPPED` (7).
    ForceStopped,
}

impl VmExitReason {
    /// Decodes a raw reason; `None` at or beyond `GH_VM_EXIT_REASONS_MAX` (8).
    pub const fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::Unknown,
            1 => Self::Shutdown,
            2 => Self::Restart,
            3 => Self::Panic,
            4 => Self::NonSecureWatchdog,
            5 => Self::HypervisorError,
            6 => Self::AsyncExternalAbort,
            7 => Self::ForceStopped,
            _ => return None,
        })
    }
}

/// Every loader request this crate wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoaderRequest {
    /// `GH_CREATE_VM` on `/dev/gunyah`; returns a VM fd.
    CreateVm,
    /// `GH_CREATE_VCPU` on a VM fd; the vCPU id is the argument value; returns a vCPU fd.
    CreateVcpu,
    /// `GH_VM_SET_FW_NAME` on a VM fd.
    SetFwName,
    /// `GH_VM_GET_FW_NAME` on a VM fd.
    GetFwName,
    /// `GH_VM_GET_VCPU_COUNT` on a VM fd.
    GetVcpuCount,
    /// `GH_VCPU_RUN` on a vCPU fd; returns a [`VmExitReason`].
    VcpuRun,
}

const fn def(name: &'static str, dir: Direction, nr: u8, size: usize) -> IoctlDef {
    IoctlDef {
        name,
        dir,
        ty: GH_LOADER_IOCTL_TYPE,
        nr,
        size,
    }
}

/// The table, indexed by `LoaderRequest as usize`.
#[rustfmt::skip]
pub const LOADER_REQUESTS: [IoctlDef; 6] = [
    def("GH_CREATE_VM", Direction::None, 0x01, 0),
    def("GH_CREATE_VCPU", Direction::None, 0x40, 0),
    def("GH_VM_SET_FW_NAME", Direction::Write, 0x41, size_of::<GhFwName>()),
    def("GH_VM_GET_FW_NAME", Direction::Read, 0x42, size_of::<GhFwName>()),
    def("GH_VM_GET_VCPU_COUNT", Direction::None, 0x43, 0),
    def("GH_VCPU_RUN", Direction::None, 0x80, 0),
];

const _: () = assert!(all_sizes_fit(&LOADER_REQUESTS));

impl LoaderRequest {
    /// The request's definition.
    pub const fn def(self) -> IoctlDef {
        LOADER_REQUESTS[self as usize]
    }

    /// The request number passed to `ioctl(2)`.
    pub const fn code(self) -> u32 {
        self.def().code()
    }
}

fn req(r: LoaderRequest) -> c_ulong {
    c_ulong::from(r.code())
}

/// `GH_CREATE_VM` on the loader's `/dev/gunyah`: returns a VM fd.
pub fn create_vm(gunyah: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: the argument is passed by value (unused by the driver); nothing is dereferenced.
    let ret = unsafe { ioctl_with_val(&gunyah, req(LoaderRequest::CreateVm), 0) };
    new_fd(ret)
}

/// `GH_VM_SET_FW_NAME`: names the VM image to load; also keys the backend devices.
pub fn set_fw_name(vm: BorrowedFd<'_>, name: &GhFwName) -> io::Result<()> {
    // SAFETY: `name` is a live 16-byte struct matching the encoded size; copied in.
    let ret = unsafe { ioctl_with_ref(&vm, req(LoaderRequest::SetFwName), name) };
    check_zero(ret)
}

/// `GH_VM_GET_FW_NAME`: the name set earlier.
pub fn get_fw_name(vm: BorrowedFd<'_>) -> io::Result<GhFwName> {
    let mut name = GhFwName::default();
    // SAFETY: the kernel writes 16 bytes (the encoded size) into `name`, live and writable.
    let ret = unsafe { ioctl_with_mut_ref(&vm, req(LoaderRequest::GetFwName), &mut name) };
    check_zero(ret)?;
    Ok(name)
}

/// `GH_VM_GET_VCPU_COUNT`: how many vCPUs may be created.
pub fn get_vcpu_count(vm: BorrowedFd<'_>) -> io::Result<u32> {
    // SAFETY: no argument; the count is the return value.
    let ret = unsafe { ioctl(&vm, req(LoaderRequest::GetVcpuCount)) };
    as_u32(ret)
}

/// `GH_CREATE_VCPU`: returns the fd of vCPU `id`.
pub fn create_vcpu(vm: BorrowedFd<'_>, id: u32) -> io::Result<OwnedFd> {
    // SAFETY: the vCPU id is passed by value; nothing is dereferenced.
    let ret = unsafe { ioctl_with_val(&vm, req(LoaderRequest::CreateVcpu), c_ulong::from(id)) };
    new_fd(ret)
}

/// `GH_VCPU_RUN`: runs until the VM stops; returns the raw reason (see
/// [`VmExitReason::from_raw`]).
pub fn vcpu_run(vcpu: BorrowedFd<'_>) -> io::Result<u32> {
    // SAFETY: no argument; the exit reason is the return value.
    let ret = unsafe { ioctl(&vcpu, req(LoaderRequest::VcpuRun)) };
    as_u32(ret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::fd::AsFd;

    #[test]
    fn request_numbers_match_the_header() {
        let expected: [(LoaderRequest, u32); 6] = [
            (LoaderRequest::CreateVm, 0x0000_b201),
            (LoaderRequest::CreateVcpu, 0x0000_b240),
            (LoaderRequest::SetFwName, 0x4010_b241),
            (LoaderRequest::GetFwName, 0x8010_b242),
            (LoaderRequest::GetVcpuCount, 0x0000_b243),
            (LoaderRequest::VcpuRun, 0x0000_b280),
        ];
        for (r, code) in expected {
            assert_eq!(r.code(), code, "{}", r.def().name);
        }
    }

    #[test]
    fn fw_names_are_validated_and_nul_terminated() {
        assert_eq!(size_of::<GhFwName>(), 16);
        let n = GhFwName::new("trustedvm").expect("valid");
        assert_eq!(n.as_bytes(), b"trustedvm");
        assert_eq!(n.name[9], 0);
        assert!(GhFwName::new("fifteen_chars_x").is_ok());
        assert_eq!(
            GhFwName::new("sixteen_chars_xx"),
            Err(ArgError::NameTooLong { len: 16, max: 16 })
        );
        assert_eq!(GhFwName::new("a\0b"), Err(ArgError::NameHasNul));
        let full = GhFwName { name: [b'x'; 16] };
        assert_eq!(full.as_bytes().len(), 16);
    }

    #[test]
    fn exit_reasons_decode() {
        assert_eq!(VmExitReason::from_raw(1), Some(VmExitReason::Shutdown));
        assert_eq!(VmExitReason::from_raw(7), Some(VmExitReason::ForceStopped));
        assert_eq!(VmExitReason::from_raw(8), None);
    }

    #[test]
    fn wrappers_report_the_kernel_error_on_a_foreign_fd() {
        let f = File::open("/dev/null").expect("/dev/null");
        let fd = f.as_fd();
        let e = |r: io::Result<()>| r.err().and_then(|e| e.raw_os_error());
        let enotty = Some(libc::ENOTTY);
        assert_eq!(e(create_vm(fd).map(drop)), enotty);
        assert_eq!(e(create_vcpu(fd, 0).map(drop)), enotty);
        let name = GhFwName::new("vm").expect("valid");
        assert_eq!(e(set_fw_name(fd, &name)), enotty);
        assert_eq!(e(get_fw_name(fd).map(drop)), enotty);
        assert_eq!(e(get_vcpu_count(fd).map(drop)), enotty);
        assert_eq!(e(vcpu_run(fd).map(drop)), enotty);
    }
}
