//! The virtio backend request table: one row per request, one number column per numbering.
//!
//! Direction and argument type are the same in both numberings; only the type byte and the
//! command numbers differ, and `GH_SET_APP_READY` exists only in the device-node numbering.

use core::mem::size_of;

use super::structs::{
    VirtioAckReset, VirtioConfigData, VirtioDevFeatures, VirtioDriverFeatures, VirtioEvent,
    VirtioEventfd, VirtioIrqfd, VirtioQueueInfo, VirtioQueueMax,
};
use crate::ioctl_code::{encode, Direction, IoctlDef, MAX_ARG_SIZE};

/// `VIRTIO_BE_IOC_MAGIC`, the type byte of the device-node numbering.
pub const VIRTIO_BE_IOC_MAGIC: u8 = 0xBC;
/// `GH_IOCTL_TYPE` of the secure-VM-loader headers, the type byte of the VM-fd numbering.
pub const GH_LOADER_IOCTL_TYPE: u8 = 0xB2;

/// Which of the two published numberings of the backend API a kernel implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// Magic 0xBC, nr 1..=13, issued on `/dev/gh_virtio_backend_<vm>`
    /// (`include/uapi/linux/gh_virtio_backend.h`, msm-5.x `drivers/virt/gunyah/gh_virtio_backend.c`).
    DeviceNode,
    /// Type 0xB2, nr 0x61..=0x6d, issued on the VM fd the secure VM loader's `GH_CREATE_VM`
    /// returns (`include/uapi/linux/gunyah_deprecated.h` in ACK-based vendor trees, and
    /// `include/uapi/linux/gunyah.h` in Qualcomm's gunyah-drivers).
    VmFd,
}

impl Numbering {
    /// The ioctl type byte of this numbering.
    pub const fn ioctl_type(self) -> u8 {
        match self {
            Numbering::DeviceNode => VIRTIO_BE_IOC_MAGIC,
            Numbering::VmFd => GH_LOADER_IOCTL_TYPE,
        }
    }
}

/// Every virtio backend request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendRequest {
    /// `GH_GET_SHARED_MEMORY_SIZE`.
    GetSharedMemorySize,
    /// `GH_IOEVENTFD`.
    Ioeventfd,
    /// `GH_IRQFD`.
    Irqfd,
    /// `GH_WAIT_FOR_EVENT`.
    WaitForEvent,
    /// `GH_SET_DEVICE_FEATURES`.
    SetDeviceFeatures,
    /// `GH_SET_QUEUE_NUM_MAX`.
    SetQueueNumMax,
    /// `GH_SET_DEVICE_CONFIG_DATA`.
    SetDeviceConfigData,
    /// `GH_GET_DRIVER_CONFIG_DATA`.
    GetDriverConfigData,
    /// `GH_GET_QUEUE_INFO`.
    GetQueueInfo,
    /// `GH_GET_DRIVER_FEATURES`.
    GetDriverFeatures,
    /// `GH_ACK_DRIVER_OK` (the label travels as the ioctl argument value, not a pointer).
    AckDriverOk,
    /// `GH_SET_APP_READY` (device-node numbering only).
    SetAppReady,
    /// `GH_ACK_RESET`.
    AckReset,
}

/// One row of [`BACKEND_REQUESTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendDef {
    /// The request.
    pub request: BackendRequest,
    /// The macro name, identical in both headers.
    pub name: &'static str,
    /// Copy direction.
    pub dir: Direction,
    /// `sizeof` the argument type named in the macro.
    pub size: usize,
    /// Command number in the [`Numbering::DeviceNode`] numbering.
    pub device_node_nr: u8,
    /// Command number in the [`Numbering::VmFd`] numbering, if defined there.
    pub vm_fd_nr: Option<u8>,
}

const fn row(
    request: BackendRequest,
    name: &'static str,
    dir: Direction,
    size: usize,
    device_node_nr: u8,
    vm_fd_nr: Option<u8>,
) -> BackendDef {
    BackendDef {
        request,
        name,
        dir,
        size,
        device_node_nr,
        vm_fd_nr,
    }
}

use BackendRequest as R;
use Direction::{None as IO, Read as IOR, ReadWrite as IOWR, Write as IOW};

/// The table, indexed by `BackendRequest as usize`.
#[rustfmt::skip]
pub const BACKEND_REQUESTS: [BackendDef; 13] = [
    row(R::GetSharedMemorySize, "GH_GET_SHARED_MEMORY_SIZE", IOR, size_of::<u64>(), 1, Some(0x61)),
    row(R::Ioeventfd, "GH_IOEVENTFD", IOW, size_of::<VirtioEventfd>(), 2, Some(0x62)),
    row(R::Irqfd, "GH_IRQFD", IOW, size_of::<VirtioIrqfd>(), 3, Some(0x63)),
    row(R::WaitForEvent, "GH_WAIT_FOR_EVENT", IOWR, size_of::<VirtioEvent>(), 4, Some(0x64)),
    row(R::SetDeviceFeatures, "GH_SET_DEVICE_FEATURES", IOW, size_of::<VirtioDevFeatures>(), 5, Some(0x65)),
    row(R::SetQueueNumMax, "GH_SET_QUEUE_NUM_MAX", IOW, size_of::<VirtioQueueMax>(), 6, Some(0x66)),
    row(R::SetDeviceConfigData, "GH_SET_DEVICE_CONFIG_DATA", IOW, size_of::<VirtioConfigData>(), 7, Some(0x67)),
    row(R::GetDriverConfigData, "GH_GET_DRIVER_CONFIG_DATA", IOWR, size_of::<VirtioConfigData>(), 8, Some(0x68)),
    row(R::GetQueueInfo, "GH_GET_QUEUE_INFO", IOWR, size_of::<VirtioQueueInfo>(), 9, Some(0x69)),
    row(R::GetDriverFeatures, "GH_GET_DRIVER_FEATURES", IOWR, size_of::<VirtioDriverFeatures>(), 10, Some(0x6a)),
    row(R::AckDriverOk, "GH_ACK_DRIVER_OK", IOWR, size_of::<u32>(), 11, Some(0x6b)),
    row(R::SetAppReady, "GH_SET_APP_READY", IO, 0, 12, None),
    row(R::AckReset, "GH_ACK_RESET", IOW, size_of::<VirtioAckReset>(), 13, Some(0x6d)),
];

const _: () = {
    let mut i = 0;
    while i < BACKEND_REQUESTS.len() {
        let r = &BACKEND_REQUESTS[i];
        assert!(r.request as usize == i, "BACKEND_REQUESTS out of order");
        assert!(r.size <= MAX_ARG_SIZE);
        // The VM-fd numbering is the device-node numbering shifted by 0x60 wherever defined.
        if let Some(nr) = r.vm_fd_nr {
            assert!(nr == r.device_node_nr + 0x60);
        }
        i += 1;
    }
};

impl BackendRequest {
    /// This request's row.
    pub const fn row(self) -> BackendDef {
        BACKEND_REQUESTS[self as usize]
    }

    /// The definition in `numbering`, or `None` if that numbering lacks the request.
    pub const fn def(self, numbering: Numbering) -> Option<IoctlDef> {
        let r = self.row();
        let nr = match numbering {
            Numbering::DeviceNode => r.device_node_nr,
            Numbering::VmFd => match r.vm_fd_nr {
                Some(nr) => nr,
                None => return None,
            },
        };
        Some(IoctlDef {
            name: r.name,
            dir: r.dir,
            ty: numbering.ioctl_type(),
            nr,
            size: r.size,
        })
    }

    /// The request number in `numbering`, or `None` if that numbering lacks the request.
    pub const fn code(self, numbering: Numbering) -> Option<u32> {
        match self.def(numbering) {
            Some(d) => Some(encode(d.dir, d.ty, d.nr, d.size)),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Literal values computed by hand from the header macros (see README.md); the first,
    // GH_GET_QUEUE_INFO and GH_GET_SHARED_MEMORY_SIZE are the ones in platform-facts.md.
    const EXPECTED: [(BackendRequest, u32, Option<u32>); 13] = [
        (R::GetSharedMemorySize, 0x8008_bc01, Some(0x8008_b261)),
        (R::Ioeventfd, 0x4010_bc02, Some(0x4010_b262)),
        (R::Irqfd, 0x4010_bc03, Some(0x4010_b263)),
        (R::WaitForEvent, 0xc010_bc04, Some(0xc010_b264)),
        (R::SetDeviceFeatures, 0x4010_bc05, Some(0x4010_b265)),
        (R::SetQueueNumMax, 0x4010_bc06, Some(0x4010_b266)),
        (R::SetDeviceConfigData, 0x4010_bc07, Some(0x4010_b267)),
        (R::GetDriverConfigData, 0xc010_bc08, Some(0xc010_b268)),
        (R::GetQueueInfo, 0xc028_bc09, Some(0xc028_b269)),
        (R::GetDriverFeatures, 0xc010_bc0a, Some(0xc010_b26a)),
        (R::AckDriverOk, 0xc004_bc0b, Some(0xc004_b26b)),
        (R::SetAppReady, 0x0000_bc0c, None),
        (R::AckReset, 0x4008_bc0d, Some(0x4008_b26d)),
    ];

    #[test]
    fn request_numbers_match_both_headers() {
        for (req, dev, vm) in EXPECTED {
            let name = req.row().name;
            assert_eq!(req.code(Numbering::DeviceNode), Some(dev), "{name} (0xBC)");
            assert_eq!(req.code(Numbering::VmFd), vm, "{name} (0xB2)");
        }
    }

    #[test]
    fn table_rows_carry_header_names_and_types() {
        let names: Vec<&str> = BACKEND_REQUESTS.iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            [
                "GH_GET_SHARED_MEMORY_SIZE",
                "GH_IOEVENTFD",
                "GH_IRQFD",
                "GH_WAIT_FOR_EVENT",
                "GH_SET_DEVICE_FEATURES",
                "GH_SET_QUEUE_NUM_MAX",
                "GH_SET_DEVICE_CONFIG_DATA",
                "GH_GET_DRIVER_CONFIG_DATA",
                "GH_GET_QUEUE_INFO",
                "GH_GET_DRIVER_FEATURES",
                "GH_ACK_DRIVER_OK",
                "GH_SET_APP_READY",
                "GH_ACK_RESET",
            ]
        );
        let d = R::GetQueueInfo
            .def(Numbering::VmFd)
            .map(|d| (d.ty, d.nr, d.size));
        assert_eq!(d, Some((0xB2, 0x69, 40)));
        assert_eq!(R::SetAppReady.def(Numbering::VmFd), None);
    }

    #[test]
    fn numbers_are_unique_within_each_numbering() {
        for n in [Numbering::DeviceNode, Numbering::VmFd] {
            let mut codes: Vec<u32> = BACKEND_REQUESTS
                .iter()
                .filter_map(|r| r.request.code(n))
                .collect();
            let before = codes.len();
            codes.sort_unstable();
            codes.dedup();
            assert_eq!(codes.len(), before, "{n:?}");
        }
    }
}
