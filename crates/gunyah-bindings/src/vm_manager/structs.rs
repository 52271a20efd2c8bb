//! `#[repr(C)]` argument structs of the VM manager uAPI (`include/uapi/linux/gunyah.h`,
//! android14-6.1 `GH_*` revision), with their sizes and field offsets checked at compile time.

use core::mem::{align_of, offset_of, size_of};

use crate::flags::bit_set;

bit_set! {
    /// `gh_userspace_memory_region.flags`: the guest's access rights to the region.
    pub struct MemFlags {
        /// `GH_MEM_ALLOW_READ`.
        const ALLOW_READ = 1 << 0;
        /// `GH_MEM_ALLOW_WRITE`.
        const ALLOW_WRITE = 1 << 1;
        /// `GH_MEM_ALLOW_EXEC`.
        const ALLOW_EXEC = 1 << 2;
    }
}

bit_set! {
    /// `gh_fn_irqfd_arg.flags`.
    pub struct IrqfdFlags {
        /// `GH_IRQFD_LEVEL`: the doorbell behaves like a level-triggered interrupt.
        const LEVEL = 1 << 0;
    }
}

bit_set! {
    /// `gh_fn_ioeventfd_arg.flags`.
    pub struct IoeventfdFlags {
        /// `GH_IOEVENTFD_DATAMATCH`: signal only when the written value equals `datamatch`.
        const DATAMATCH = 1 << 0;
    }
}

/// `GH_FN_*`: the kind of function `GH_VM_ADD_FUNCTION` instantiates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum FnType {
    /// `GH_FN_VCPU`, argument [`GhFnVcpuArg`]; returns a vCPU fd.
    Vcpu = 1,
    /// `GH_FN_IRQFD`, argument [`GhFnIrqfdArg`].
    Irqfd = 2,
    /// `GH_FN_IOEVENTFD`, argument [`GhFnIoeventfdArg`].
    Ioeventfd = 3,
}

/// `GH_FN_MAX_ARG_SIZE`: the kernel rejects `gh_fn_desc.arg_size` above this.
pub const FN_MAX_ARG_SIZE: u32 = 256;

/// `struct gh_userspace_memory_region` (GH_VM_SET_USER_MEM_REGION, GH_VM_ANDROID_LEND_USER_MEM).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GhUserspaceMemoryRegion {
    /// Unique identifier of the region.
    pub label: u32,
    /// [`MemFlags`] bits.
    pub flags: u32,
    /// Page-aligned guest-physical base.
    pub guest_phys_addr: u64,
    /// Page-aligned size in bytes.
    pub memory_size: u64,
    /// Address of the backing memory in this process.
    pub userspace_addr: u64,
}

/// `struct gh_vm_dtb_config` (GH_VM_SET_DTB_CONFIG).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GhVmDtbConfig {
    /// Guest-physical address of the VM's devicetree.
    pub guest_phys_addr: u64,
    /// Maximum size of the devicetree.
    pub size: u64,
}

/// `struct gh_vm_firmware_config` (GH_VM_ANDROID_SET_FW_CONFIG).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GhVmFirmwareConfig {
    /// Guest-physical address of the firmware region.
    pub guest_phys_addr: u64,
    /// Size of the firmware region.
    pub size: u64,
}

/// `struct gh_fn_desc` (GH_VM_ADD_FUNCTION, GH_VM_REMOVE_FUNCTION).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GhFnDesc {
    /// [`FnType`] value.
    pub type_: u32,
    /// Size of the argument `arg` points at; at most [`FN_MAX_ARG_SIZE`].
    pub arg_size: u32,
    /// Userspace pointer to the argument struct.
    pub arg: u64,
}

/// `struct gh_fn_vcpu_arg`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GhFnVcpuArg {
    /// vCPU index.
    pub id: u32,
}

/// `struct gh_fn_irqfd_arg`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GhFnIrqfdArg {
    /// The eventfd that raises the doorbell when written (declared `__u32` in the header).
    pub fd: u32,
    /// Doorbell label in the guest VM's devicetree.
    pub label: u32,
    /// [`IrqfdFlags`] bits.
    pub flags: u32,
    /// Must be zero.
    pub padding: u32,
}

/// `struct gh_fn_ioeventfd_arg`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GhFnIoeventfdArg {
    /// Value compared when [`IoeventfdFlags::DATAMATCH`] is set.
    pub datamatch: u64,
    /// Guest-physical MMIO address.
    pub addr: u64,
    /// Access length: 1, 2, 4, 8, or 0 for any.
    pub len: u32,
    /// The eventfd signalled on a matching write.
    pub fd: i32,
    /// [`IoeventfdFlags`] bits.
    pub flags: u32,
    /// Must be zero.
    pub padding: u32,
}

/// `GH_VM_MAX_EXIT_REASON_SIZE`.
pub const VM_MAX_EXIT_REASON_SIZE: usize = 8;

/// `struct gh_vm_exit_info`, part of the vCPU run page.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GhVmExitInfo {
    /// How the VM exited (Gunyah-defined).
    pub type_: u16,
    /// Padding.
    pub padding: u16,
    /// Number of valid bytes in `reason`.
    pub reason_size: u32,
    /// Little-endian, Gunyah-defined reason bytes.
    pub reason: [u8; VM_MAX_EXIT_REASON_SIZE],
}

/// `GH_VCPU_EXIT_*`: why `GH_VCPU_RUN` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VcpuExit {
    /// `GH_VCPU_EXIT_UNKNOWN` (0).
    Unknown,
    /// `GH_VCPU_EXIT_MMIO` (1): see [`GhVcpuRun::mmio`].
    Mmio,
    /// `GH_VCPU_EXIT_STATUS` (2): see [`GhVcpuRun::status`].
    Status,
}

impl VcpuExit {
    /// Decodes `gh_vcpu_run.exit_reason`; `None` for values this revision does not define.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            0 => Some(VcpuExit::Unknown),
            1 => Some(VcpuExit::Mmio),
            2 => Some(VcpuExit::Status),
            _ => None,
        }
    }
}

/// `enum gh_vm_status`: why a VM is no longer runnable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmStatus {
    /// `GH_VM_STATUS_LOAD_FAILED` (1).
    LoadFailed,
    /// `GH_VM_STATUS_EXITED` (2).
    Exited,
    /// `GH_VM_STATUS_CRASHED` (3).
    Crashed,
}

impl VmStatus {
    /// Decodes the raw enum value; `None` for values this revision does not define.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            1 => Some(VmStatus::LoadFailed),
            2 => Some(VmStatus::Exited),
            3 => Some(VmStatus::Crashed),
            _ => None,
        }
    }
}

/// The MMIO exit payload of the run page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioExit {
    /// Guest-physical address accessed.
    pub phys_addr: u64,
    /// Written value (write) or the buffer to fill (read); only `len` bytes count.
    pub data: [u8; 8],
    /// Access length in bytes.
    pub len: u32,
    /// True for a guest write.
    pub is_write: bool,
}

/// The status exit payload of the run page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusExit {
    /// Raw `enum gh_vm_status`; see [`VmStatus::from_raw`].
    pub status: u32,
    /// Valid when the status is [`VmStatus::Exited`].
    pub exit_info: GhVmExitInfo,
}

/// `struct gh_vcpu_run`, the page a VMM mmaps from a vCPU fd.
///
/// The C struct ends in an anonymous union of `mmio` and `status`; it is kept here as raw
/// words (`payload`) and decoded by [`GhVcpuRun::mmio`] / [`GhVcpuRun::status`], so reading
/// it needs no `unsafe`. `payload` is `u64` words to keep the union's 8-byte alignment, and
/// `_reserved` is the padding the C compiler inserts before it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GhVcpuRun {
    /// In: if nonzero, the next `GH_VCPU_RUN` returns `EINTR` at once.
    pub immediate_exit: u8,
    /// Padding.
    pub padding: [u8; 7],
    /// Out: a `GH_VCPU_EXIT_*` value; see [`VcpuExit::from_raw`].
    pub exit_reason: u32,
    /// Implicit C padding before the 8-byte-aligned union.
    pub _reserved: u32,
    /// The union's bytes, native-endian.
    pub payload: [u64; 3],
}

impl GhVcpuRun {
    fn payload_bytes(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        for (chunk, word) in out.chunks_exact_mut(8).zip(self.payload.iter()) {
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        out
    }

    /// The MMIO payload, if `exit_reason` says MMIO.
    pub fn mmio(&self) -> Option<MmioExit> {
        if VcpuExit::from_raw(self.exit_reason) != Some(VcpuExit::Mmio) {
            return None;
        }
        let b = self.payload_bytes();
        let (phys, rest) = b.split_at(8);
        let (data, rest) = rest.split_at(8);
        let (len, rest) = rest.split_at(4);
        Some(MmioExit {
            phys_addr: u64::from_ne_bytes(phys.try_into().ok()?),
            data: data.try_into().ok()?,
            len: u32::from_ne_bytes(len.try_into().ok()?),
            is_write: rest.first().copied().unwrap_or(0) != 0,
        })
    }

    /// The status payload, if `exit_reason` says status.
    pub fn status(&self) -> Option<StatusExit> {
        if VcpuExit::from_raw(self.exit_reason) != Some(VcpuExit::Status) {
            return None;
        }
        let b = self.payload_bytes();
        let word = |at: usize| -> Option<[u8; 4]> { b.get(at..at + 4)?.try_into().ok() };
        let half = |at: usize| -> Option<[u8; 2]> { b.get(at..at + 2)?.try_into().ok() };
        Some(StatusExit {
            status: u32::from_ne_bytes(word(0)?),
            exit_info: GhVmExitInfo {
                type_: u16::from_ne_bytes(half(4)?),
                padding: u16::from_ne_bytes(half(6)?),
                reason_size: u32::from_ne_bytes(word(8)?),
                reason: b.get(12..20)?.try_into().ok()?,
            },
        })
    }
}

// Layouts from the C declarations (all fields fixed-width, natural alignment).
const _: () = {
    assert!(size_of::<GhUserspaceMemoryRegion>() == 32);
    assert!(offset_of!(GhUserspaceMemoryRegion, label) == 0);
    assert!(offset_of!(GhUserspaceMemoryRegion, flags) == 4);
    assert!(offset_of!(GhUserspaceMemoryRegion, guest_phys_addr) == 8);
    assert!(offset_of!(GhUserspaceMemoryRegion, memory_size) == 16);
    assert!(offset_of!(GhUserspaceMemoryRegion, userspace_addr) == 24);

    assert!(size_of::<GhVmDtbConfig>() == 16);
    assert!(offset_of!(GhVmDtbConfig, guest_phys_addr) == 0);
    assert!(offset_of!(GhVmDtbConfig, size) == 8);

    assert!(size_of::<GhVmFirmwareConfig>() == 16);
    assert!(offset_of!(GhVmFirmwareConfig, guest_phys_addr) == 0);
    assert!(offset_of!(GhVmFirmwareConfig, size) == 8);

    assert!(size_of::<GhFnDesc>() == 16);
    assert!(offset_of!(GhFnDesc, type_) == 0);
    assert!(offset_of!(GhFnDesc, arg_size) == 4);
    assert!(offset_of!(GhFnDesc, arg) == 8);

    assert!(size_of::<GhFnVcpuArg>() == 4);
    assert!(offset_of!(GhFnVcpuArg, id) == 0);

    assert!(size_of::<GhFnIrqfdArg>() == 16);
    assert!(offset_of!(GhFnIrqfdArg, fd) == 0);
    assert!(offset_of!(GhFnIrqfdArg, label) == 4);
    assert!(offset_of!(GhFnIrqfdArg, flags) == 8);
    assert!(offset_of!(GhFnIrqfdArg, padding) == 12);

    assert!(size_of::<GhFnIoeventfdArg>() == 32);
    assert!(offset_of!(GhFnIoeventfdArg, datamatch) == 0);
    assert!(offset_of!(GhFnIoeventfdArg, addr) == 8);
    assert!(offset_of!(GhFnIoeventfdArg, len) == 16);
    assert!(offset_of!(GhFnIoeventfdArg, fd) == 20);
    assert!(offset_of!(GhFnIoeventfdArg, flags) == 24);
    assert!(offset_of!(GhFnIoeventfdArg, padding) == 28);

    assert!(size_of::<GhVmExitInfo>() == 16);
    assert!(offset_of!(GhVmExitInfo, type_) == 0);
    assert!(offset_of!(GhVmExitInfo, padding) == 2);
    assert!(offset_of!(GhVmExitInfo, reason_size) == 4);
    assert!(offset_of!(GhVmExitInfo, reason) == 8);

    // C: u8 immediate_exit; u8 padding[7]; u32 exit_reason; union { mmio: 24 bytes (u64,
    // u8[8], u32, u8 + tail padding), status: 20 bytes (u32 enum + 16-byte exit_info) }
    // aligned to 8 => union at 16, total 40.
    assert!(size_of::<GhVcpuRun>() == 40);
    assert!(align_of::<GhVcpuRun>() == 8);
    assert!(offset_of!(GhVcpuRun, immediate_exit) == 0);
    assert!(offset_of!(GhVcpuRun, padding) == 1);
    assert!(offset_of!(GhVcpuRun, exit_reason) == 8);
    assert!(offset_of!(GhVcpuRun, payload) == 16);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_sizes_match_the_c_header() {
        assert_eq!(size_of::<GhUserspaceMemoryRegion>(), 32);
        assert_eq!(size_of::<GhVmDtbConfig>(), 16);
        assert_eq!(size_of::<GhVmFirmwareConfig>(), 16);
        assert_eq!(size_of::<GhFnDesc>(), 16);
        assert_eq!(size_of::<GhFnVcpuArg>(), 4);
        assert_eq!(size_of::<GhFnIrqfdArg>(), 16);
        assert_eq!(size_of::<GhFnIoeventfdArg>(), 32);
        assert_eq!(size_of::<GhVmExitInfo>(), 16);
        assert_eq!(size_of::<GhVcpuRun>(), 40);
        assert!(size_of::<GhFnIoeventfdArg>() as u32 <= FN_MAX_ARG_SIZE);
    }

    #[test]
    fn flag_values_match_the_c_header() {
        assert_eq!(MemFlags::ALLOW_READ.bits(), 1);
        assert_eq!(MemFlags::ALLOW_WRITE.bits(), 2);
        assert_eq!(MemFlags::ALLOW_EXEC.bits(), 4);
        assert_eq!(IrqfdFlags::LEVEL.bits(), 1);
        assert_eq!(IoeventfdFlags::DATAMATCH.bits(), 1);
        assert_eq!(FnType::Vcpu as u32, 1);
        assert_eq!(FnType::Irqfd as u32, 2);
        assert_eq!(FnType::Ioeventfd as u32, 3);
    }

    fn run_page(exit_reason: u32, union_bytes: [u8; 24]) -> GhVcpuRun {
        let mut payload = [0u64; 3];
        for (w, chunk) in payload.iter_mut().zip(union_bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *w = u64::from_ne_bytes(b);
        }
        GhVcpuRun {
            exit_reason,
            payload,
            ..GhVcpuRun::default()
        }
    }

    #[test]
    fn decodes_an_mmio_exit_from_union_bytes() {
        let mut u = [0u8; 24];
        u[0..8].copy_from_slice(&0x0a00_3000u64.to_ne_bytes());
        u[8..12].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        u[16..20].copy_from_slice(&4u32.to_ne_bytes());
        u[20] = 1;
        let run = run_page(1, u);
        let m = run.mmio().expect("mmio exit");
        assert_eq!(m.phys_addr, 0x0a00_3000);
        assert_eq!(&m.data[..4], &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(m.len, 4);
        assert!(m.is_write);
        assert_eq!(run.status(), None);
    }

    #[test]
    fn decodes_a_status_exit_from_union_bytes() {
        let mut u = [0u8; 24];
        u[0..4].copy_from_slice(&2u32.to_ne_bytes());
        u[4..6].copy_from_slice(&7u16.to_ne_bytes());
        u[8..12].copy_from_slice(&4u32.to_ne_bytes());
        u[12..16].copy_from_slice(&[1, 2, 3, 4]);
        let run = run_page(2, u);
        let s = run.status().expect("status exit");
        assert_eq!(VmStatus::from_raw(s.status), Some(VmStatus::Exited));
        assert_eq!(s.exit_info.type_, 7);
        assert_eq!(s.exit_info.reason_size, 4);
        assert_eq!(&s.exit_info.reason[..4], &[1, 2, 3, 4]);
        assert_eq!(run.mmio(), None);
        assert_eq!(run_page(9, u).status(), None);
        assert_eq!(VcpuExit::from_raw(9), None);
    }
}
