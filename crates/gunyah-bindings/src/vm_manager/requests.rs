//! The VM manager request table: `GH_*` ioctls on `/dev/gunyah`, a VM fd and a vCPU fd.

use core::mem::size_of;

use super::structs::{GhFnDesc, GhUserspaceMemoryRegion, GhVmDtbConfig, GhVmFirmwareConfig};
use crate::ioctl_code::{all_sizes_fit, Direction, IoctlDef};

/// `GH_IOCTL_TYPE`: `'G'`.
pub const GH_IOCTL_TYPE: u8 = b'G';
/// `GH_ANDROID_IOCTL_TYPE`: `'A'`, Android-Common-Kernel-only requests.
pub const GH_ANDROID_IOCTL_TYPE: u8 = b'A';

/// Every VM manager request this crate wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmRequest {
    /// `GH_CREATE_VM` on `/dev/gunyah`; returns a VM fd.
    CreateVm,
    /// `GH_VM_SET_USER_MEM_REGION` on a VM fd (memory shared with the guest).
    SetUserMemRegion,
    /// `GH_VM_SET_DTB_CONFIG` on a VM fd.
    SetDtbConfig,
    /// `GH_VM_START` on a VM fd.
    Start,
    /// `GH_VM_ADD_FUNCTION` on a VM fd.
    AddFunction,
    /// `GH_VCPU_RUN` on a vCPU fd.
    VcpuRun,
    /// `GH_VCPU_MMAP_SIZE` on a vCPU fd.
    VcpuMmapSize,
    /// `GH_VM_REMOVE_FUNCTION` on a VM fd.
    RemoveFunction,
    /// `GH_VM_ANDROID_LEND_USER_MEM` on a VM fd (memory lent: the host loses access).
    AndroidLendUserMem,
    /// `GH_VM_ANDROID_SET_FW_CONFIG` on a VM fd.
    AndroidSetFwConfig,
}

const fn def(name: &'static str, dir: Direction, ty: u8, nr: u8, size: usize) -> IoctlDef {
    IoctlDef {
        name,
        dir,
        ty,
        nr,
        size,
    }
}

/// The table, indexed by `VmRequest as usize`.
pub const VM_REQUESTS: [(VmRequest, IoctlDef); 10] = [
    (
        VmRequest::CreateVm,
        def("GH_CREATE_VM", Direction::None, GH_IOCTL_TYPE, 0x0, 0),
    ),
    (
        VmRequest::SetUserMemRegion,
        def(
            "GH_VM_SET_USER_MEM_REGION",
            Direction::Write,
            GH_IOCTL_TYPE,
            0x1,
            size_of::<GhUserspaceMemoryRegion>(),
        ),
    ),
    (
        VmRequest::SetDtbConfig,
        def(
            "GH_VM_SET_DTB_CONFIG",
            Direction::Write,
            GH_IOCTL_TYPE,
            0x2,
            size_of::<GhVmDtbConfig>(),
        ),
    ),
    (
        VmRequest::Start,
        def("GH_VM_START", Direction::None, GH_IOCTL_TYPE, 0x3, 0),
    ),
    (
        VmRequest::AddFunction,
        def(
            "GH_VM_ADD_FUNCTION",
            Direction::Write,
            GH_IOCTL_TYPE,
            0x4,
            size_of::<GhFnDesc>(),
        ),
    ),
    (
        VmRequest::VcpuRun,
        def("GH_VCPU_RUN", Direction::None, GH_IOCTL_TYPE, 0x5, 0),
    ),
    (
        VmRequest::VcpuMmapSize,
        def("GH_VCPU_MMAP_SIZE", Direction::None, GH_IOCTL_TYPE, 0x6, 0),
    ),
    (
        VmRequest::RemoveFunction,
        def(
            "GH_VM_REMOVE_FUNCTION",
            Direction::Write,
            GH_IOCTL_TYPE,
            0x7,
            size_of::<GhFnDesc>(),
        ),
    ),
    (
        VmRequest::AndroidLendUserMem,
        def(
            "GH_VM_ANDROID_LEND_USER_MEM",
            Direction::Write,
            GH_ANDROID_IOCTL_TYPE,
            0x11,
            size_of::<GhUserspaceMemoryRegion>(),
        ),
    ),
    (
        VmRequest::AndroidSetFwConfig,
        def(
            "GH_VM_ANDROID_SET_FW_CONFIG",
            Direction::Write,
            GH_ANDROID_IOCTL_TYPE,
            0x12,
            size_of::<GhVmFirmwareConfig>(),
        ),
    ),
];

const _: () = {
    let mut i = 0;
    while i < VM_REQUESTS.len() {
        assert!(VM_REQUESTS[i].0 as usize == i, "VM_REQUESTS out of order");
        i += 1;
    }
    let mut defs = [VM_REQUESTS[0].1; VM_REQUESTS.len()];
    let mut j = 0;
    while j < VM_REQUESTS.len() {
        defs[j] = VM_REQUESTS[j].1;
        j += 1;
    }
    assert!(all_sizes_fit(&defs));
};

impl VmRequest {
    /// The request's definition.
    pub const fn def(self) -> IoctlDef {
        VM_REQUESTS[self as usize].1
    }

    /// The request number passed to `ioctl(2)`.
    pub const fn code(self) -> u32 {
        self.def().code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers_match_the_kernel_values() {
        // Literal values computed by hand from the header macros (see README.md).
        let expected: [(VmRequest, u32); 10] = [
            (VmRequest::CreateVm, 0x0000_4700),
            (VmRequest::SetUserMemRegion, 0x4020_4701),
            (VmRequest::SetDtbConfig, 0x4010_4702),
            (VmRequest::Start, 0x0000_4703),
            (VmRequest::AddFunction, 0x4010_4704),
            (VmRequest::VcpuRun, 0x0000_4705),
            (VmRequest::VcpuMmapSize, 0x0000_4706),
            (VmRequest::RemoveFunction, 0x4010_4707),
            (VmRequest::AndroidLendUserMem, 0x4020_4111),
            (VmRequest::AndroidSetFwConfig, 0x4010_4112),
        ];
        for (req, code) in expected {
            assert_eq!(req.code(), code, "{}", req.def().name);
        }
    }

    #[test]
    fn names_follow_the_header() {
        let names: Vec<&str> = VM_REQUESTS.iter().map(|(_, d)| d.name).collect();
        assert_eq!(
            names,
            [
                "GH_CREATE_VM",
                "GH_VM_SET_USER_MEM_REGION",
                "GH_VM_SET_DTB_CONFIG",
                "GH_VM_START",
                "GH_VM_ADD_FUNCTION",
                "GH_VCPU_RUN",
                "GH_VCPU_MMAP_SIZE",
                "GH_VM_REMOVE_FUNCTION",
                "GH_VM_ANDROID_LEND_USER_MEM",
                "GH_VM_ANDROID_SET_FW_CONFIG",
            ]
        );
    }
}
