//! `#[repr(C)]` argument structs of the virtio backend uAPI and the typed values carried in
//! them. The structs are identical in both numberings (see README.md); sizes and field
//! offsets are checked at compile time.

use core::mem::{offset_of, size_of};
use core::num::NonZeroU32;

use crate::error::ArgError;
use crate::flags::bit_set;

/// `struct virtio_eventfd` (GH_IOEVENTFD).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtioEventfd {
    /// Device label.
    pub label: u32,
    /// A [`FdAction`] value.
    pub flags: u32,
    /// Queue index whose notifications signal `fd`.
    pub queue_num: u32,
    /// The eventfd.
    pub fd: i32,
}

/// `struct virtio_irqfd` (GH_IRQFD).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtioIrqfd {
    /// Device label.
    pub label: u32,
    /// A [`FdAction`] value.
    pub flags: u32,
    /// The eventfd whose writes raise the frontend's interrupt.
    pub fd: i32,
    /// Must be zero.
    pub reserved: u32,
}

/// `struct virtio_event` (GH_WAIT_FOR_EVENT).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtioEvent {
    /// In: device label.
    pub label: u32,
    /// Out: [`EventSet`] bits.
    pub event: u32,
    /// Out: event data (see [`BackendEvent`]).
    pub event_data: u32,
    /// Unused.
    pub reserved: u32,
}

/// `struct virtio_dev_features` (GH_SET_DEVICE_FEATURES).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtioDevFeatures {
    /// Device label.
    pub label: u32,
    /// Unused.
    pub reserved: u32,
    /// A [`FeatureWord`] value.
    pub features_sel: u32,
    /// The 32 feature bits of that word.
    pub features: u32,
}

/// `struct virtio_driver_features` (GH_GET_DRIVER_FEATURES); same layout as
/// [`VirtioDevFeatures`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtioDriverFeatures {
    /// Device label.
    pub label: u32,
    /// Unused.
    pub reserved: u32,
    /// A [`FeatureWord`] value.
    pub features_sel: u32,
    /// Out: the 32 feature bits the driver accepted in that word.
    pub features: u32,
}

/// `struct virtio_queue_max` (GH_SET_QUEUE_NUM_MAX).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtioQueueMax {
    /// Device label.
    pub label: u32,
    /// Unused.
    pub reserved: u32,
    /// Queue index.
    pub queue_sel: u32,
    /// Largest queue size the device accepts (virtio-mmio `QueueNumMax`).
    pub queue_num_max: u32,
}

/// `struct virtio_config_data` (GH_SET_DEVICE_CONFIG_DATA, GH_GET_DRIVER_CONFIG_DATA).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtioConfigData {
    /// Device label.
    pub label: u32,
    /// Bytes at `config_data`.
    pub config_size: u32,
    /// Userspace pointer to the config bytes.
    pub config_data: u64,
}

/// `struct virtio_queue_info` (GH_GET_QUEUE_INFO).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtioQueueInfo {
    /// In: device label.
    pub label: u32,
    /// In: queue index.
    pub queue_sel: u32,
    /// Out: queue size the driver chose.
    pub queue_num: u32,
    /// Out: nonzero once the driver set QueueReady.
    pub queue_ready: u32,
    /// Out: guest-physical address of the descriptor table.
    pub queue_desc: u64,
    /// Out: guest-physical address of the driver (available) ring.
    pub queue_driver: u64,
    /// Out: guest-physical address of the device (used) ring.
    pub queue_device: u64,
}

/// `struct virtio_ack_reset` (GH_ACK_RESET).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtioAckReset {
    /// Device label.
    pub label: u32,
    /// Unused.
    pub reserved: u32,
}

const _: () = {
    assert!(size_of::<VirtioEventfd>() == 16);
    assert!(offset_of!(VirtioEventfd, label) == 0);
    assert!(offset_of!(VirtioEventfd, flags) == 4);
    assert!(offset_of!(VirtioEventfd, queue_num) == 8);
    assert!(offset_of!(VirtioEventfd, fd) == 12);

    assert!(size_of::<VirtioIrqfd>() == 16);
    assert!(offset_of!(VirtioIrqfd, label) == 0);
    assert!(offset_of!(VirtioIrqfd, flags) == 4);
    assert!(offset_of!(VirtioIrqfd, fd) == 8);
    assert!(offset_of!(VirtioIrqfd, reserved) == 12);

    assert!(size_of::<VirtioEvent>() == 16);
    assert!(offset_of!(VirtioEvent, label) == 0);
    assert!(offset_of!(VirtioEvent, event) == 4);
    assert!(offset_of!(VirtioEvent, event_data) == 8);
    assert!(offset_of!(VirtioEvent, reserved) == 12);

    assert!(size_of::<VirtioDevFeatures>() == 16);
    assert!(offset_of!(VirtioDevFeatures, label) == 0);
    assert!(offset_of!(VirtioDevFeatures, reserved) == 4);
    assert!(offset_of!(VirtioDevFeatures, features_sel) == 8);
    assert!(offset_of!(VirtioDevFeatures, features) == 12);

    assert!(size_of::<VirtioDriverFeatures>() == 16);
    assert!(offset_of!(VirtioDriverFeatures, label) == 0);
    assert!(offset_of!(VirtioDriverFeatures, reserved) == 4);
    assert!(offset_of!(VirtioDriverFeatures, features_sel) == 8);
    assert!(offset_of!(VirtioDriverFeatures, features) == 12);

    assert!(size_of::<VirtioQueueMax>() == 16);
    assert!(offset_of!(VirtioQueueMax, label) == 0);
    assert!(offset_of!(VirtioQueueMax, reserved) == 4);
    assert!(offset_of!(VirtioQueueMax, queue_sel) == 8);
    assert!(offset_of!(VirtioQueueMax, queue_num_max) == 12);

    assert!(size_of::<VirtioConfigData>() == 16);
    assert!(offset_of!(VirtioConfigData, label) == 0);
    assert!(offset_of!(VirtioConfigData, config_size) == 4);
    assert!(offset_of!(VirtioConfigData, config_data) == 8);

    assert!(size_of::<VirtioQueueInfo>() == 40);
    assert!(offset_of!(VirtioQueueInfo, label) == 0);
    assert!(offset_of!(VirtioQueueInfo, queue_sel) == 4);
    assert!(offset_of!(VirtioQueueInfo, queue_num) == 8);
    assert!(offset_of!(VirtioQueueInfo, queue_ready) == 12);
    assert!(offset_of!(VirtioQueueInfo, queue_desc) == 16);
    assert!(offset_of!(VirtioQueueInfo, queue_driver) == 24);
    assert!(offset_of!(VirtioQueueInfo, queue_device) == 32);

    assert!(size_of::<VirtioAckReset>() == 8);
    assert!(offset_of!(VirtioAckReset, label) == 0);
    assert!(offset_of!(VirtioAckReset, reserved) == 4);
};

bit_set! {
    /// `EVENT_*`: what `GH_WAIT_FOR_EVENT` reports. The drivers can report several at once
    /// (e.g. INTERRUPT_ACK together with DRIVER_FAILED), so this is a set, not an enum.
    pub struct EventSet {
        /// `EVENT_NEW_BUFFER`: the frontend notified queues (hypervisor bitmap: bit i =
        /// queue i). The drivers route it to the per-queue ioeventfds once
        /// GH_ACK_DRIVER_OK was issued and strip it from what userspace sees.
        const NEW_BUFFER = 0x1;
        /// `EVENT_RESET_RQST`: the driver reset the device; answer with GH_ACK_RESET.
        const RESET_RQST = 0x2;
        /// `EVENT_INTERRUPT_ACK`: the driver wrote InterruptACK; `event_data` is its value.
        const INTERRUPT_ACK = 0x4;
        /// `EVENT_DRIVER_OK`: the driver set DRIVER_OK; read features and queues, then
        /// GH_ACK_DRIVER_OK.
        const DRIVER_OK = 0x8;
        /// `EVENT_DRIVER_FAILED`: the driver set FAILED.
        const DRIVER_FAILED = 0x10;
        /// `EVENT_MODULE_EXIT`: the backend kernel module is going away (kernel-internal;
        /// userspace sees APP_EXIT).
        const MODULE_EXIT = 0x20;
        /// `EVENT_VM_EXIT`: the frontend VM exited (kernel-internal; userspace sees APP_EXIT).
        const VM_EXIT = 0x40;
        /// `EVENT_APP_EXIT`: stop serving this device.
        const APP_EXIT = 0x100;
    }
}

/// `VBE_ASSIGN_*` / `VBE_DEASSIGN_*`: the `flags` value of GH_IOEVENTFD and GH_IRQFD. The
/// IOEVENTFD and IRQFD constants have the same values, so one type serves both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum FdAction {
    /// `VBE_ASSIGN_IOEVENTFD` / `VBE_ASSIGN_IRQFD` (1).
    Assign = 1,
    /// `VBE_DEASSIGN_IOEVENTFD` / `VBE_DEASSIGN_IRQFD` (2); the drivers seen so far answer
    /// `EOPNOTSUPP` and release the eventfds when the fd is closed instead.
    Deassign = 2,
}

/// `features_sel`: which 32-bit half of the 64-bit virtio feature word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum FeatureWord {
    /// Bits 0..32.
    Low = 0,
    /// Bits 32..64.
    High = 1,
}

/// A virtio backend device label (`qcom,label` in the devicetree); never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceLabel(NonZeroU32);

impl DeviceLabel {
    /// Validates a raw label.
    pub const fn new(raw: u32) -> Result<Self, ArgError> {
        match NonZeroU32::new(raw) {
            Some(v) => Ok(Self(v)),
            None => Err(ArgError::ZeroLabel),
        }
    }

    /// The raw label.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

/// One `GH_WAIT_FOR_EVENT` result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendEvent {
    /// What happened.
    pub events: EventSet,
    /// With INTERRUPT_ACK: the value the frontend wrote to InterruptACK. Otherwise whatever
    /// event data the driver had pending (e.g. a queue bitmap); not meaningful on its own.
    pub data: u32,
}

impl BackendEvent {
    /// Decodes the kernel's answer.
    pub const fn from_raw(ev: &VirtioEvent) -> Self {
        Self {
            events: EventSet::from_bits_retain(ev.event),
            data: ev.event_data,
        }
    }
}

/// A queue's state as the frontend driver configured it (GH_GET_QUEUE_INFO).
///
/// The ring addresses are guest-physical addresses of the *frontend* VM; translating them
/// into the mmapped shared window is the transport's job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueInfo {
    /// Queue size the driver chose.
    pub num: u32,
    /// Whether the driver set QueueReady.
    pub ready: bool,
    /// Descriptor table address.
    pub desc: u64,
    /// Driver (available) ring address.
    pub driver: u64,
    /// Device (used) ring address.
    pub device: u64,
}

impl QueueInfo {
    /// Decodes the kernel's answer.
    pub const fn from_raw(qi: &VirtioQueueInfo) -> Self {
        Self {
            num: qi.queue_num,
            ready: qi.queue_ready != 0,
            desc: qi.queue_desc,
            driver: qi.queue_driver,
            device: qi.queue_device,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_sizes_match_the_c_header() {
        assert_eq!(size_of::<VirtioEventfd>(), 16);
        assert_eq!(size_of::<VirtioIrqfd>(), 16);
        assert_eq!(size_of::<VirtioEvent>(), 16);
        assert_eq!(size_of::<VirtioDevFeatures>(), 16);
        assert_eq!(size_of::<VirtioDriverFeatures>(), 16);
        assert_eq!(size_of::<VirtioQueueMax>(), 16);
        assert_eq!(size_of::<VirtioConfigData>(), 16);
        assert_eq!(size_of::<VirtioQueueInfo>(), 40);
        assert_eq!(size_of::<VirtioAckReset>(), 8);
    }

    #[test]
    fn event_and_flag_values_match_the_c_header() {
        let expected: [(&str, u32); 8] = [
            ("NEW_BUFFER", 1),
            ("RESET_RQST", 2),
            ("INTERRUPT_ACK", 4),
            ("DRIVER_OK", 8),
            ("DRIVER_FAILED", 0x10),
            ("MODULE_EXIT", 0x20),
            ("VM_EXIT", 0x40),
            ("APP_EXIT", 0x100),
        ];
        let named: Vec<(&str, u32)> = EventSet::NAMED
            .iter()
            .map(|(n, b)| (*n, b.bits()))
            .collect();
        assert_eq!(named, expected);
        assert_eq!(EventSet::KNOWN.bits(), 0x17f);
        assert_eq!(FdAction::Assign as u32, 1);
        assert_eq!(FdAction::Deassign as u32, 2);
        assert_eq!(FeatureWord::Low as u32, 0);
        assert_eq!(FeatureWord::High as u32, 1);
    }

    #[test]
    fn labels_are_nonzero() {
        assert_eq!(DeviceLabel::new(0), Err(ArgError::ZeroLabel));
        assert_eq!(DeviceLabel::new(0x20).map(DeviceLabel::get), Ok(0x20));
    }

    #[test]
    fn events_decode_into_sets() {
        let ev = BackendEvent::from_raw(&VirtioEvent {
            label: 1,
            event: 0x4 | 0x10,
            event_data: 0x1,
            reserved: 0,
        });
        assert!(ev
            .events
            .contains(EventSet::INTERRUPT_ACK | EventSet::DRIVER_FAILED));
        assert!(!ev
            .events
            .intersects(EventSet::NEW_BUFFER | EventSet::APP_EXIT));
        assert_eq!(ev.data, 1);
        assert_eq!(
            format!("{:?}", ev.events),
            "EventSet(INTERRUPT_ACK | DRIVER_FAILED)"
        );
        let reset = BackendEvent::from_raw(&VirtioEvent {
            label: 1,
            event: 0x2,
            event_data: 0,
            reserved: 0,
        });
        assert_eq!(format!("{:?}", reset.events), "EventSet(RESET_RQST)");
        let odd = EventSet::from_bits_retain(0x200 | 0x8);
        assert_eq!(odd.unknown(), 0x200);
    }

    #[test]
    fn queue_info_decodes() {
        let q = QueueInfo::from_raw(&VirtioQueueInfo {
            label: 3,
            queue_sel: 1,
            queue_num: 256,
            queue_ready: 1,
            queue_desc: 0x8000_0000,
            queue_driver: 0x8000_1000,
            queue_device: 0x8000_2000,
        });
        assert_eq!(
            q,
            QueueInfo {
                num: 256,
                ready: true,
                desc: 0x8000_0000,
                driver: 0x8000_1000,
                device: 0x8000_2000,
            }
        );
    }
}
