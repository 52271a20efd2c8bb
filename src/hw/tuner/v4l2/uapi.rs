//! The part of the Linux V4L2 uAPI (`include/uapi/linux/videodev2.h`) a radio receiver
//! needs: ioctl numbers, `#[repr(C)]` structs and flag values. Every struct is made of
//! 32-bit fields only, so the layout is the same on every LP64 and ILP32 ABI; the tests pin
//! sizes, offsets and ioctl numbers to the values the header yields (x86_64 and arm64 share
//! the generic `_IOC` encoding).

use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `_IOC_WRITE`.
const IOC_WRITE: u32 = 1;
/// `_IOC_READ`.
const IOC_READ: u32 = 2;

/// `_IOC(dir, 'V', nr, size)` in the generic encoding (dir 31..30, size 29..16, type 15..8,
/// nr 7..0).
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | ((b'V' as u32) << 8) | nr
}

/// `struct v4l2_capability`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Capability {
    /// Driver name, NUL-padded.
    pub driver: [u8; 16],
    /// Card name, NUL-padded.
    pub card: [u8; 32],
    /// Bus location, NUL-padded.
    pub bus_info: [u8; 32],
    /// `KERNEL_VERSION` of the driver.
    pub version: u32,
    /// `V4L2_CAP_*` of the physical device.
    pub capabilities: u32,
    /// `V4L2_CAP_*` of this node (valid with `V4L2_CAP_DEVICE_CAPS`).
    pub device_caps: u32,
    /// Reserved.
    pub reserved: [u32; 3],
}

/// `struct v4l2_tuner` (a tuner's abilities and what it receives now).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TunerState {
    /// Tuner index.
    pub index: u32,
    /// Name, NUL-padded.
    pub name: [u8; 32],
    /// `V4L2_TUNER_RADIO` for a radio.
    pub kind: u32,
    /// `V4L2_TUNER_CAP_*`.
    pub capability: u32,
    /// Lowest frequency, in the tuner's units.
    pub rangelow: u32,
    /// Highest frequency.
    pub rangehigh: u32,
    /// `V4L2_TUNER_SUB_*` received now.
    pub rxsubchans: u32,
    /// `V4L2_TUNER_MODE_*`.
    pub audmode: u32,
    /// Signal strength, 0..=65535.
    pub signal: i32,
    /// Automatic frequency control.
    pub afc: i32,
    /// Reserved.
    pub reserved: [u32; 4],
}

/// `struct v4l2_frequency`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Frequency {
    /// Tuner index.
    pub tuner: u32,
    /// `V4L2_TUNER_RADIO`.
    pub kind: u32,
    /// Frequency in the tuner's units.
    pub frequency: u32,
    /// Reserved.
    pub reserved: [u32; 8],
}

/// `struct v4l2_hw_freq_seek`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct HwFreqSeek {
    /// Tuner index.
    pub tuner: u32,
    /// `V4L2_TUNER_RADIO`.
    pub kind: u32,
    /// Non-zero: seek upward.
    pub seek_upward: u32,
    /// Non-zero: wrap at the range edge.
    pub wrap_around: u32,
    /// Channel spacing in Hz (0: driver default).
    pub spacing: u32,
    /// Lower bound (0: whole range).
    pub rangelow: u32,
    /// Upper bound.
    pub rangehigh: u32,
    /// Reserved.
    pub reserved: [u32; 5],
}

/// `struct v4l2_frequency_band`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct FrequencyBand {
    /// Tuner index.
    pub tuner: u32,
    /// `V4L2_TUNER_RADIO`.
    pub kind: u32,
    /// Band index.
    pub index: u32,
    /// `V4L2_TUNER_CAP_*` of this band.
    pub capability: u32,
    /// Lowest frequency.
    pub rangelow: u32,
    /// Highest frequency.
    pub rangehigh: u32,
    /// `V4L2_BAND_MODULATION_*`.
    pub modulation: u32,
    /// Reserved.
    pub reserved: [u32; 9],
}

/// `struct v4l2_control`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Control {
    /// `V4L2_CID_*`.
    pub id: u32,
    /// Value.
    pub value: i32,
}

/// `struct v4l2_queryctrl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryCtrl {
    /// `V4L2_CID_*`.
    pub id: u32,
    /// `V4L2_CTRL_TYPE_*`.
    pub kind: u32,
    /// Name, NUL-padded.
    pub name: [u8; 32],
    /// Smallest value.
    pub minimum: i32,
    /// Largest value.
    pub maximum: i32,
    /// Step.
    pub step: i32,
    /// Default.
    pub default_value: i32,
    /// `V4L2_CTRL_FLAG_*`.
    pub flags: u32,
    /// Reserved.
    pub reserved: [u32; 2],
}

impl QueryCtrl {
    /// A query for the audio volume control.
    pub fn volume() -> Self {
        Self {
            id: V4L2_CID_AUDIO_VOLUME,
            ..Self::default()
        }
    }
}

/// `VIDIOC_QUERYCAP`.
pub const VIDIOC_QUERYCAP: u32 = ioc(IOC_READ, 0, size_of::<Capability>());
/// `VIDIOC_QUERYCTRL`.
pub const VIDIOC_QUERYCTRL: u32 = ioc(IOC_READ | IOC_WRITE, 36, size_of::<QueryCtrl>());
/// `VIDIOC_G_CTRL`.
pub const VIDIOC_G_CTRL: u32 = ioc(IOC_READ | IOC_WRITE, 27, size_of::<Control>());
/// `VIDIOC_S_CTRL`.
pub const VIDIOC_S_CTRL: u32 = ioc(IOC_READ | IOC_WRITE, 28, size_of::<Control>());
/// `VIDIOC_G_TUNER`.
pub const VIDIOC_G_TUNER: u32 = ioc(IOC_READ | IOC_WRITE, 29, size_of::<TunerState>());
/// `VIDIOC_S_TUNER`.
pub const VIDIOC_S_TUNER: u32 = ioc(IOC_WRITE, 30, size_of::<TunerState>());
/// `VIDIOC_G_FREQUENCY`.
pub const VIDIOC_G_FREQUENCY: u32 = ioc(IOC_READ | IOC_WRITE, 56, size_of::<Frequency>());
/// `VIDIOC_S_FREQUENCY`.
pub const VIDIOC_S_FREQUENCY: u32 = ioc(IOC_WRITE, 57, size_of::<Frequency>());
/// `VIDIOC_S_HW_FREQ_SEEK`.
pub const VIDIOC_S_HW_FREQ_SEEK: u32 = ioc(IOC_WRITE, 82, size_of::<HwFreqSeek>());
/// `VIDIOC_ENUM_FREQ_BANDS`.
pub const VIDIOC_ENUM_FREQ_BANDS: u32 = ioc(IOC_READ | IOC_WRITE, 101, size_of::<FrequencyBand>());

/// `V4L2_CAP_RDS_CAPTURE`.
pub const V4L2_CAP_RDS_CAPTURE: u32 = 0x0000_0100;
/// `V4L2_CAP_HW_FREQ_SEEK`.
pub const V4L2_CAP_HW_FREQ_SEEK: u32 = 0x0000_0400;
/// `V4L2_CAP_TUNER`.
pub const V4L2_CAP_TUNER: u32 = 0x0001_0000;
/// `V4L2_CAP_RADIO`.
pub const V4L2_CAP_RADIO: u32 = 0x0004_0000;
/// `V4L2_CAP_READWRITE`.
pub const V4L2_CAP_READWRITE: u32 = 0x0100_0000;
/// `V4L2_CAP_DEVICE_CAPS`.
pub const V4L2_CAP_DEVICE_CAPS: u32 = 0x8000_0000;

/// `V4L2_TUNER_RADIO`.
pub const V4L2_TUNER_RADIO: u32 = 1;
/// `V4L2_TUNER_CAP_LOW`: units of 62.5 Hz.
pub const V4L2_TUNER_CAP_LOW: u32 = 0x0001;
/// `V4L2_TUNER_CAP_HWSEEK_WRAP`.
pub const V4L2_TUNER_CAP_HWSEEK_WRAP: u32 = 0x0008;
/// `V4L2_TUNER_CAP_HWSEEK_PROG_LIM`: a seek may be limited to any range.
pub const V4L2_TUNER_CAP_HWSEEK_PROG_LIM: u32 = 0x0800;
/// `V4L2_TUNER_CAP_STEREO`.
pub const V4L2_TUNER_CAP_STEREO: u32 = 0x0010;
/// `V4L2_TUNER_CAP_RDS`.
pub const V4L2_TUNER_CAP_RDS: u32 = 0x0080;
/// `V4L2_TUNER_CAP_RDS_BLOCK_IO`.
pub const V4L2_TUNER_CAP_RDS_BLOCK_IO: u32 = 0x0100;
/// `V4L2_TUNER_CAP_FREQ_BANDS`.
pub const V4L2_TUNER_CAP_FREQ_BANDS: u32 = 0x0400;
/// `V4L2_TUNER_CAP_1HZ`: units of 1 Hz.
pub const V4L2_TUNER_CAP_1HZ: u32 = 0x1000;
/// `V4L2_TUNER_SUB_STEREO`.
pub const V4L2_TUNER_SUB_STEREO: u32 = 0x0002;
/// `V4L2_TUNER_SUB_RDS`.
pub const V4L2_TUNER_SUB_RDS: u32 = 0x0010;
/// `V4L2_TUNER_MODE_MONO`.
pub const V4L2_TUNER_MODE_MONO: u32 = 0;
/// `V4L2_TUNER_MODE_STEREO`.
pub const V4L2_TUNER_MODE_STEREO: u32 = 1;
/// `V4L2_BAND_MODULATION_FM`.
pub const V4L2_BAND_MODULATION_FM: u32 = 1 << 2;
/// `V4L2_BAND_MODULATION_AM`.
pub const V4L2_BAND_MODULATION_AM: u32 = 1 << 3;

/// `V4L2_CID_AUDIO_VOLUME` (`V4L2_CID_BASE` + 5).
pub const V4L2_CID_AUDIO_VOLUME: u32 = 0x0098_0905;
/// `V4L2_CID_AUDIO_MUTE` (`V4L2_CID_BASE` + 9).
pub const V4L2_CID_AUDIO_MUTE: u32 = 0x0098_0909;

/// Issues `request` on `fd` with `arg` as its argument; EINTR is retried.
///
/// `T` must be the struct `request` encodes (its size is in the number); the callers below
/// pair each number with its struct.
pub fn ioctl<T>(fd: BorrowedFd<'_>, request: u32, arg: &mut T) -> std::io::Result<()> {
    debug_assert_eq!(((request >> 16) & 0x3FFF) as usize, size_of::<T>());
    loop {
        // SAFETY: `fd` is an open descriptor borrowed for the call; `arg` points to a live,
        // writable `T` whose size is the one encoded in `request`, so the kernel reads and
        // writes only within it.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg as *mut T) };
        if rc >= 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Text of a NUL-padded byte array.
pub fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn ioctl_numbers_match_videodev2_h() {
        assert_eq!(VIDIOC_QUERYCAP, 0x8068_5600);
        assert_eq!(VIDIOC_G_CTRL, 0xC008_561B);
        assert_eq!(VIDIOC_S_CTRL, 0xC008_561C);
        assert_eq!(VIDIOC_G_TUNER, 0xC054_561D);
        assert_eq!(VIDIOC_S_TUNER, 0x4054_561E);
        assert_eq!(VIDIOC_G_FREQUENCY, 0xC02C_5638);
        assert_eq!(VIDIOC_S_FREQUENCY, 0x402C_5639);
        assert_eq!(VIDIOC_S_HW_FREQ_SEEK, 0x4030_5652);
        assert_eq!(VIDIOC_ENUM_FREQ_BANDS, 0xC040_5665);
        assert_eq!(VIDIOC_QUERYCTRL, 0xC044_5624);
    }

    #[test]
    fn struct_layouts_match_videodev2_h() {
        assert_eq!(size_of::<Capability>(), 104);
        assert_eq!(offset_of!(Capability, card), 16);
        assert_eq!(offset_of!(Capability, bus_info), 48);
        assert_eq!(offset_of!(Capability, version), 80);
        assert_eq!(offset_of!(Capability, capabilities), 84);
        assert_eq!(offset_of!(Capability, device_caps), 88);

        assert_eq!(size_of::<TunerState>(), 84);
        assert_eq!(offset_of!(TunerState, name), 4);
        assert_eq!(offset_of!(TunerState, kind), 36);
        assert_eq!(offset_of!(TunerState, capability), 40);
        assert_eq!(offset_of!(TunerState, rangelow), 44);
        assert_eq!(offset_of!(TunerState, rangehigh), 48);
        assert_eq!(offset_of!(TunerState, rxsubchans), 52);
        assert_eq!(offset_of!(TunerState, audmode), 56);
        assert_eq!(offset_of!(TunerState, signal), 60);
        assert_eq!(offset_of!(TunerState, afc), 64);

        assert_eq!(size_of::<Frequency>(), 44);
        assert_eq!(offset_of!(Frequency, frequency), 8);

        assert_eq!(size_of::<HwFreqSeek>(), 48);
        assert_eq!(offset_of!(HwFreqSeek, seek_upward), 8);
        assert_eq!(offset_of!(HwFreqSeek, wrap_around), 12);
        assert_eq!(offset_of!(HwFreqSeek, spacing), 16);
        assert_eq!(offset_of!(HwFreqSeek, rangelow), 20);
        assert_eq!(offset_of!(HwFreqSeek, rangehigh), 24);

        assert_eq!(size_of::<FrequencyBand>(), 64);
        assert_eq!(offset_of!(FrequencyBand, index), 8);
        assert_eq!(offset_of!(FrequencyBand, capability), 12);
        assert_eq!(offset_of!(FrequencyBand, rangelow), 16);
        assert_eq!(offset_of!(FrequencyBand, modulation), 24);

        assert_eq!(size_of::<Control>(), 8);
        assert_eq!(size_of::<QueryCtrl>(), 68);
        assert_eq!(offset_of!(QueryCtrl, minimum), 40);
        assert_eq!(offset_of!(QueryCtrl, default_value), 52);
    }

    #[test]
    fn flag_values_match_videodev2_h() {
        assert_eq!(
            [
                V4L2_CAP_RDS_CAPTURE,
                V4L2_CAP_HW_FREQ_SEEK,
                V4L2_CAP_TUNER,
                V4L2_CAP_RADIO,
                V4L2_CAP_READWRITE,
                V4L2_CAP_DEVICE_CAPS
            ],
            [0x100, 0x400, 0x1_0000, 0x4_0000, 0x100_0000, 0x8000_0000]
        );
        assert_eq!(
            [
                V4L2_TUNER_CAP_LOW,
                V4L2_TUNER_CAP_HWSEEK_WRAP,
                V4L2_TUNER_CAP_STEREO,
                V4L2_TUNER_CAP_RDS,
                V4L2_TUNER_CAP_RDS_BLOCK_IO,
                V4L2_TUNER_CAP_FREQ_BANDS,
                V4L2_TUNER_CAP_1HZ,
                V4L2_TUNER_CAP_HWSEEK_PROG_LIM
            ],
            [0x1, 0x8, 0x10, 0x80, 0x100, 0x400, 0x1000, 0x800]
        );
        assert_eq!((V4L2_TUNER_SUB_STEREO, V4L2_TUNER_SUB_RDS), (0x2, 0x10));
        assert_eq!((V4L2_TUNER_MODE_MONO, V4L2_TUNER_MODE_STEREO), (0, 1));
        assert_eq!((V4L2_BAND_MODULATION_FM, V4L2_BAND_MODULATION_AM), (4, 8));
        assert_eq!(
            (V4L2_CID_AUDIO_VOLUME, V4L2_CID_AUDIO_MUTE),
            (0x98_0905, 0x98_0909)
        );
        assert_eq!(V4L2_TUNER_RADIO, 1);
    }

    #[test]
    fn c_str_stops_at_the_first_nul() {
        assert_eq!(c_str(b"vivid\0\0x"), "vivid");
        assert_eq!(c_str(b"full"), "full");
    }
}
