//! ALSA control uAPI numbers and structures (include/uapi/sound/asound.h, the `U` ioctls on
//! `/dev/snd/controlC<card>`), for LP64 targets (x86_64, arm64), checked by the tests below
//! against the kernel's values.

use std::mem::size_of;

/// ioctl type of the control interface.
const CTL_IOC_TYPE: u32 = b'U' as u32;

const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// The generic `_IOC` encoding used by x86_64 and arm64.
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (CTL_IOC_TYPE << 8) | nr
}

/// `SNDRV_CTL_ELEM_ID_NAME_MAXLEN`: bytes of an element name, NUL included.
pub const NAME_LEN: usize = 44;

/// `struct snd_ctl_elem_id`: which element.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ElemId {
    /// Numeric ID, unique on the card; 0 means "look up by the other fields".
    pub numid: u32,
    /// `SNDRV_CTL_ELEM_IFACE_*`.
    pub iface: i32,
    /// Device number.
    pub device: u32,
    /// Subdevice number.
    pub subdevice: u32,
    /// ASCII name, NUL-padded.
    pub name: [u8; NAME_LEN],
    /// Index among elements of the same name.
    pub index: u32,
}

/// `struct snd_ctl_elem_list`: a window of the card's element IDs.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ElemList {
    /// First element to return.
    pub offset: u32,
    /// Room in `pids`.
    pub space: u32,
    /// Elements returned (out).
    pub used: u32,
    /// Elements on the card (out).
    pub count: u32,
    /// Where the kernel writes `used` IDs.
    pub pids: *mut ElemId,
    /// Reserved.
    pub reserved: [u8; 50],
}

/// `struct snd_ctl_elem_info`, with the value union as raw bytes (only its integer form,
/// three `long`s, is read here).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ElemInfo {
    /// The element.
    pub id: ElemId,
    /// `SNDRV_CTL_ELEM_TYPE_*`.
    pub elem_type: i32,
    /// `SNDRV_CTL_ELEM_ACCESS_*` bits.
    pub access: u32,
    /// Values in the element.
    pub count: u32,
    /// PID of the process that locked it.
    pub owner: i32,
    /// The type-dependent part (min/max/step, enum items, ...).
    pub value: [u64; 16],
    /// Reserved.
    pub reserved: [u8; 64],
}

/// `struct snd_ctl_elem_value`, with the value union as the `long` array boolean and
/// integer elements use.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ElemValue {
    /// The element.
    pub id: ElemId,
    /// `indirect:1` (obsolete) and padding.
    pub indirect: u32,
    /// `value.integer.value`: one `long` per value of a boolean or integer element.
    pub integer: [libc::c_long; 128],
    /// Reserved.
    pub reserved: [u8; 128],
}

/// `struct snd_ctl_event`: one notification read from a subscribed control node.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Event {
    /// `SNDRV_CTL_EVENT_*`.
    pub event_type: i32,
    /// `SNDRV_CTL_EVENT_MASK_*` bits (for `SNDRV_CTL_EVENT_ELEM`).
    pub mask: u32,
    /// The element concerned.
    pub id: ElemId,
}

/// `SNDRV_CTL_IOCTL_PVERSION`.
pub const PVERSION: u32 = ioc(IOC_READ, 0x00, size_of::<libc::c_int>());
/// `SNDRV_CTL_IOCTL_ELEM_LIST`.
pub const ELEM_LIST: u32 = ioc(IOC_READ | IOC_WRITE, 0x10, size_of::<ElemList>());
/// `SNDRV_CTL_IOCTL_ELEM_INFO`.
pub const ELEM_INFO: u32 = ioc(IOC_READ | IOC_WRITE, 0x11, size_of::<ElemInfo>());
/// `SNDRV_CTL_IOCTL_ELEM_READ`.
pub const ELEM_READ: u32 = ioc(IOC_READ | IOC_WRITE, 0x12, size_of::<ElemValue>());
/// `SNDRV_CTL_IOCTL_ELEM_WRITE`.
pub const ELEM_WRITE: u32 = ioc(IOC_READ | IOC_WRITE, 0x13, size_of::<ElemValue>());
/// `SNDRV_CTL_IOCTL_SUBSCRIBE_EVENTS`.
pub const SUBSCRIBE_EVENTS: u32 = ioc(IOC_READ | IOC_WRITE, 0x16, size_of::<libc::c_int>());
/// `SNDRV_CTL_IOCTL_ELEM_ADD`.
pub const ELEM_ADD: u32 = ioc(IOC_READ | IOC_WRITE, 0x17, size_of::<ElemInfo>());
/// `SNDRV_CTL_IOCTL_ELEM_REMOVE`.
pub const ELEM_REMOVE: u32 = ioc(IOC_READ | IOC_WRITE, 0x19, size_of::<ElemId>());

/// `SNDRV_CTL_ELEM_IFACE_CARD`: where the kernel's jack controls live.
pub const IFACE_CARD: i32 = 0;
/// `SNDRV_CTL_ELEM_TYPE_BOOLEAN`.
pub const TYPE_BOOLEAN: i32 = 1;
/// `SNDRV_CTL_ELEM_ACCESS_READ`.
pub const ACCESS_READ: u32 = 1 << 0;
/// `SNDRV_CTL_ELEM_ACCESS_WRITE`.
pub const ACCESS_WRITE: u32 = 1 << 1;
/// `SNDRV_CTL_EVENT_ELEM`: the only event type.
pub const EVENT_ELEM: i32 = 0;
/// `SNDRV_CTL_EVENT_MASK_VALUE`.
pub const EVENT_MASK_VALUE: u32 = 1 << 0;
/// `SNDRV_CTL_EVENT_MASK_ADD`.
pub const EVENT_MASK_ADD: u32 = 1 << 2;
/// `SNDRV_CTL_EVENT_MASK_REMOVE`: all bits set.
pub const EVENT_MASK_REMOVE: u32 = !0;

impl ElemId {
    /// An ID naming nothing yet.
    pub fn zeroed() -> Self {
        Self {
            numid: 0,
            iface: 0,
            device: 0,
            subdevice: 0,
            name: [0; NAME_LEN],
            index: 0,
        }
    }

    /// An ID by interface and name (index 0); `None` if the name does not fit.
    pub fn named(iface: i32, name: &str) -> Option<Self> {
        let bytes = name.as_bytes();
        if bytes.len() >= NAME_LEN || bytes.contains(&0) {
            return None;
        }
        let mut id = Self::zeroed();
        id.iface = iface;
        id.name[..bytes.len()].copy_from_slice(bytes);
        Some(id)
    }

    /// The name up to its first NUL.
    pub fn name_bytes(&self) -> &[u8] {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
        &self.name[..end]
    }
}

impl ElemInfo {
    /// Info asking about (or, for ELEM_ADD, describing) element `id`.
    pub fn for_id(id: ElemId) -> Self {
        Self {
            id,
            elem_type: 0,
            access: 0,
            count: 0,
            owner: 0,
            value: [0; 16],
            reserved: [0; 64],
        }
    }
}

impl ElemValue {
    /// A value buffer for element `id`, all values 0.
    pub fn for_id(id: ElemId) -> Self {
        Self {
            id,
            indirect: 0,
            integer: [0; 128],
            reserved: [0; 128],
        }
    }
}

impl Event {
    /// Bytes the kernel writes per event.
    pub const SIZE: usize = size_of::<Self>();

    /// Decodes one event from the bytes read from a control node.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let word = |at: usize| -> Option<[u8; 4]> { bytes.get(at..at + 4)?.try_into().ok() };
        if bytes.len() < Self::SIZE {
            return None;
        }
        let mut id = ElemId::zeroed();
        id.numid = u32::from_ne_bytes(word(8)?);
        id.iface = i32::from_ne_bytes(word(12)?);
        id.device = u32::from_ne_bytes(word(16)?);
        id.subdevice = u32::from_ne_bytes(word(20)?);
        id.name.copy_from_slice(bytes.get(24..24 + NAME_LEN)?);
        id.index = u32::from_ne_bytes(word(24 + NAME_LEN)?);
        Some(Self {
            event_type: i32::from_ne_bytes(word(0)?),
            mask: u32::from_ne_bytes(word(4)?),
            id,
        })
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use super::*;
    use std::mem::offset_of;

    // Values from include/uapi/sound/asound.h, identical on x86_64 and arm64 (LP64, generic
    // _IOC layout), as the kernel header's macros expand them.
    #[test]
    fn ioctl_numbers_match_the_kernel() {
        assert_eq!(PVERSION, 0x8004_5500);
        assert_eq!(ELEM_LIST, 0xc050_5510);
        assert_eq!(ELEM_INFO, 0xc110_5511);
        assert_eq!(ELEM_READ, 0xc4c8_5512);
        assert_eq!(ELEM_WRITE, 0xc4c8_5513);
        assert_eq!(SUBSCRIBE_EVENTS, 0xc004_5516);
        assert_eq!(ELEM_ADD, 0xc110_5517);
        assert_eq!(ELEM_REMOVE, 0xc040_5519);
    }

    #[test]
    fn struct_layouts_match_the_kernel() {
        assert_eq!(size_of::<ElemId>(), 64);
        assert_eq!(offset_of!(ElemId, name), 16);
        assert_eq!(offset_of!(ElemId, index), 60);
        assert_eq!(size_of::<ElemList>(), 80);
        assert_eq!(offset_of!(ElemList, pids), 16);
        assert_eq!(size_of::<ElemInfo>(), 272);
        assert_eq!(offset_of!(ElemInfo, elem_type), 64);
        assert_eq!(offset_of!(ElemInfo, count), 72);
        assert_eq!(offset_of!(ElemInfo, value), 80);
        assert_eq!(offset_of!(ElemInfo, reserved), 208);
        assert_eq!(size_of::<ElemValue>(), 1224);
        assert_eq!(offset_of!(ElemValue, integer), 72);
        assert_eq!(offset_of!(ElemValue, reserved), 1096);
        assert_eq!(size_of::<Event>(), 72);
        assert_eq!(offset_of!(Event, mask), 4);
        assert_eq!(offset_of!(Event, id), 8);
    }

    #[test]
    fn names_fit_the_kernel_field_or_are_refused() {
        let id = ElemId::named(IFACE_CARD, "Headphone Jack").unwrap();
        assert_eq!(id.name_bytes(), b"Headphone Jack");
        assert_eq!(id.name[14], 0);
        assert!(ElemId::named(IFACE_CARD, &"x".repeat(43)).is_some());
        assert!(ElemId::named(IFACE_CARD, &"x".repeat(44)).is_none());
        assert!(ElemId::named(IFACE_CARD, "a\0b").is_none());
    }

    #[test]
    fn events_decode_from_the_kernel_byte_layout() {
        let mut raw = vec![0u8; Event::SIZE];
        raw[0..4].copy_from_slice(&EVENT_ELEM.to_ne_bytes());
        raw[4..8].copy_from_slice(&EVENT_MASK_VALUE.to_ne_bytes());
        raw[8..12].copy_from_slice(&7u32.to_ne_bytes());
        raw[12..16].copy_from_slice(&IFACE_CARD.to_ne_bytes());
        raw[24..38].copy_from_slice(b"Headphone Jack");
        raw[68..72].copy_from_slice(&2u32.to_ne_bytes());
        let ev = Event::parse(&raw).unwrap();
        assert_eq!((ev.event_type, ev.mask, ev.id.numid), (0, 1, 7));
        assert_eq!(ev.id.name_bytes(), b"Headphone Jack");
        assert_eq!(ev.id.index, 2);
        assert!(Event::parse(&raw[..71]).is_none());
    }
}
