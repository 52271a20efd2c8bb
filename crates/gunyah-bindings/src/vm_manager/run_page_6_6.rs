//! The vCPU run page as the android15-6.6 VM manager lays it out: the MMIO exit gains a
//! `resume_action` byte and a third exit kind, the page fault, appears. Which revision a
//! kernel speaks is not discoverable through the uAPI, so the caller names it
//! ([`UapiRevision`]) and the decoders refuse what that revision does not define.
//!
//! Source: bionic's generated copy of the ACK uAPI, `libc/kernel/uapi/linux/gunyah.h`
//! (`android-la64/bionic` @ `93dfd7d5c612554d6bf192d925b6c1c1c60d2e3c`): `enum
//! gunyah_vcpu_exit` gains `GUNYAH_VCPU_EXIT_PAGE_FAULT` (3), `enum
//! gunyah_vcpu_resume_action` is HANDLED = 0, FAULT = 1, RETRY = 2, the union's `mmio` arm
//! ends `__u8 is_write; __u8 resume_action;` and its `page_fault` arm is `{__u64 phys_addr;
//! __s32 attempt; __u8 resume_action;}`. The struct keeps its 40-byte size.

use core::mem::{offset_of, size_of};

use super::structs::{GhVcpuRun, MmioExit, VcpuExit};
use crate::error::ArgError;

/// Which revision of the VM manager's run page the kernel uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UapiRevision {
    /// android14-6.1 (`GH_*`): MMIO and status exits, no resume action.
    Android14_6_1,
    /// android15-6.6 (`GUNYAH_*` run page): adds `resume_action` and the page-fault exit.
    Android15_6_6,
}

/// `enum gunyah_vcpu_resume_action`: what the kernel does with the exit on the next run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ResumeAction {
    /// `GUNYAH_VCPU_RESUME_HANDLED` (0): userspace handled it (MMIO: `data` is the result).
    Handled = 0,
    /// `GUNYAH_VCPU_RESUME_FAULT` (1): inject an abort into the guest.
    Fault = 1,
    /// `GUNYAH_VCPU_RESUME_RETRY` (2): retry the faulting access.
    Retry = 2,
}

impl ResumeAction {
    /// Decodes the byte; `None` for values the revision does not define.
    pub const fn from_raw(raw: u8) -> Option<Self> {
        match raw {
            0 => Some(ResumeAction::Handled),
            1 => Some(ResumeAction::Fault),
            2 => Some(ResumeAction::Retry),
            _ => None,
        }
    }
}

/// The union's `mmio` arm in the 6.6 revision, for its layout only.
#[repr(C)]
struct MmioArm66 {
    phys_addr: u64,
    data: [u8; 8],
    len: u32,
    is_write: u8,
    resume_action: u8,
}

/// The union's `page_fault` arm (6.6 only), for its layout only.
#[repr(C)]
struct PageFaultArm66 {
    phys_addr: u64,
    attempt: i32,
    resume_action: u8,
}

const PAYLOAD_BYTES: usize = 24;

// Both arms fit the union the 6.1 struct already reserves (24 bytes at offset 16), so the
// page keeps its size and the existing fields their offsets.
const _: () = {
    assert!(size_of::<MmioArm66>() == 24);
    assert!(offset_of!(MmioArm66, phys_addr) == 0);
    assert!(offset_of!(MmioArm66, data) == 8);
    assert!(offset_of!(MmioArm66, len) == 16);
    assert!(offset_of!(MmioArm66, is_write) == 20);
    assert!(offset_of!(MmioArm66, resume_action) == 21);
    assert!(size_of::<PageFaultArm66>() == 16);
    assert!(offset_of!(PageFaultArm66, phys_addr) == 0);
    assert!(offset_of!(PageFaultArm66, attempt) == 8);
    assert!(offset_of!(PageFaultArm66, resume_action) == 12);
    assert!(size_of::<MmioArm66>() <= PAYLOAD_BYTES);
    assert!(size_of::<PageFaultArm66>() <= PAYLOAD_BYTES);
    assert!(size_of::<GhVcpuRun>() == 40);
};

const MMIO_RESUME_AT: usize = offset_of!(MmioArm66, resume_action);
const PF_ATTEMPT_AT: usize = offset_of!(PageFaultArm66, attempt);
const PF_RESUME_AT: usize = offset_of!(PageFaultArm66, resume_action);

/// A page-fault exit (6.6): the kernel could not resolve a stage-2 fault itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageFaultExit {
    /// Faulting guest-physical address.
    pub phys_addr: u64,
    /// The kernel's (negative errno) result of its own attempt.
    pub attempt: i32,
    /// What the kernel will do on the next run unless userspace changes it.
    pub resume_action: u8,
}

/// What `GH_VCPU_RUN` reported, decoded for one revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VcpuExit66 {
    /// An exit the 6.1 revision also has (unknown, MMIO, status).
    Common(VcpuExit),
    /// `GUNYAH_VCPU_EXIT_PAGE_FAULT` (3).
    PageFault,
}

impl GhVcpuRun {
    fn payload_byte(&self, at: usize) -> u8 {
        let word = self.payload[at / 8].to_ne_bytes();
        word[at % 8]
    }

    fn set_payload_byte(&mut self, at: usize, value: u8) {
        let mut word = self.payload[at / 8].to_ne_bytes();
        word[at % 8] = value;
        self.payload[at / 8] = u64::from_ne_bytes(word);
    }

    /// `exit_reason` decoded for `rev`; `None` for a value that revision does not define
    /// (3 is a page fault on 6.6 and unknown on 6.1).
    pub fn exit_for(&self, rev: UapiRevision) -> Option<VcpuExit66> {
        match (VcpuExit::from_raw(self.exit_reason), rev) {
            (Some(e), _) => Some(VcpuExit66::Common(e)),
            (None, UapiRevision::Android15_6_6) if self.exit_reason == 3 => {
                Some(VcpuExit66::PageFault)
            }
            (None, _) => None,
        }
    }

    /// The MMIO exit and its `resume_action` byte (6.6 only).
    pub fn mmio_with_resume(&self, rev: UapiRevision) -> Option<(MmioExit, u8)> {
        if rev != UapiRevision::Android15_6_6 {
            return None;
        }
        Some((self.mmio()?, self.payload_byte(MMIO_RESUME_AT)))
    }

    /// The page-fault exit, if `rev` defines it and `exit_reason` says so.
    pub fn page_fault(&self, rev: UapiRevision) -> Option<PageFaultExit> {
        if self.exit_for(rev) != Some(VcpuExit66::PageFault) {
            return None;
        }
        let mut attempt = [0u8; 4];
        for (i, b) in attempt.iter_mut().enumerate() {
            *b = self.payload_byte(PF_ATTEMPT_AT + i);
        }
        Some(PageFaultExit {
            phys_addr: self.payload[0],
            attempt: i32::from_ne_bytes(attempt),
            resume_action: self.payload_byte(PF_RESUME_AT),
        })
    }

    /// Tells the kernel what to do with the current MMIO or page-fault exit on the next
    /// `GH_VCPU_RUN`. Refused on 6.1 (no such field) and for other exits.
    pub fn set_resume_action(
        &mut self,
        rev: UapiRevision,
        action: ResumeAction,
    ) -> Result<(), ArgError> {
        let at = match self.exit_for(rev) {
            _ if rev != UapiRevision::Android15_6_6 => None,
            Some(VcpuExit66::Common(VcpuExit::Mmio)) => Some(MMIO_RESUME_AT),
            Some(VcpuExit66::PageFault) => Some(PF_RESUME_AT),
            _ => None,
        };
        let at = at.ok_or(ArgError::NotInRevision("resume_action"))?;
        self.set_payload_byte(at, action as u8);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(exit_reason: u32, bytes: [u8; PAYLOAD_BYTES]) -> GhVcpuRun {
        let mut payload = [0u64; 3];
        for (w, c) in payload.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            *w = u64::from_ne_bytes(b);
        }
        GhVcpuRun {
            exit_reason,
            payload,
            ..GhVcpuRun::default()
        }
    }

    #[test]
    fn page_fault_exists_only_in_the_6_6_revision() {
        let mut b = [0u8; PAYLOAD_BYTES];
        b[0..8].copy_from_slice(&0x8000_1000u64.to_ne_bytes());
        b[8..12].copy_from_slice(&(-12i32).to_ne_bytes());
        b[12] = ResumeAction::Fault as u8;
        let run = page(3, b);
        assert_eq!(run.exit_for(UapiRevision::Android14_6_1), None);
        assert_eq!(run.page_fault(UapiRevision::Android14_6_1), None);
        assert_eq!(
            run.exit_for(UapiRevision::Android15_6_6),
            Some(VcpuExit66::PageFault)
        );
        let pf = run
            .page_fault(UapiRevision::Android15_6_6)
            .expect("page fault");
        assert_eq!(
            pf,
            PageFaultExit {
                phys_addr: 0x8000_1000,
                attempt: -12,
                resume_action: 1
            }
        );
        assert_eq!(
            ResumeAction::from_raw(pf.resume_action),
            Some(ResumeAction::Fault)
        );
    }

    #[test]
    fn resume_action_sits_after_is_write_and_is_refused_on_6_1() {
        let mut b = [0u8; PAYLOAD_BYTES];
        b[16..20].copy_from_slice(&4u32.to_ne_bytes());
        b[20] = 1;
        let mut run = page(1, b);
        assert_eq!(run.mmio_with_resume(UapiRevision::Android14_6_1), None);
        assert!(run
            .set_resume_action(UapiRevision::Android14_6_1, ResumeAction::Retry)
            .is_err());
        run.set_resume_action(UapiRevision::Android15_6_6, ResumeAction::Retry)
            .expect("6.6 mmio exit");
        let (m, action) = run
            .mmio_with_resume(UapiRevision::Android15_6_6)
            .expect("mmio");
        assert!(m.is_write);
        assert_eq!((m.len, action), (4, 2));
        // Byte 21 of the union is byte 5 of its third word.
        assert_eq!(run.payload[2].to_ne_bytes()[5], 2);
        // The page-fault arm's byte is its own (offset 12).
        let mut pf = page(3, [0; PAYLOAD_BYTES]);
        pf.set_resume_action(UapiRevision::Android15_6_6, ResumeAction::Handled)
            .expect("page fault");
        pf.set_resume_action(UapiRevision::Android15_6_6, ResumeAction::Retry)
            .expect("page fault");
        assert_eq!(pf.payload[1].to_ne_bytes()[4], 2);
        let status = page(2, [0; PAYLOAD_BYTES]);
        let mut s = status;
        assert!(s
            .set_resume_action(UapiRevision::Android15_6_6, ResumeAction::Retry)
            .is_err());
        assert_eq!(ResumeAction::from_raw(3), None);
    }
}
