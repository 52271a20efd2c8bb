//! ALSA PCM uAPI numbers and structures (include/uapi/sound/asound.h), for LP64 targets
//! (x86_64, arm64), checked by the tests below against the kernel's values.

use std::mem::size_of;

/// ioctl type of the PCM interface.
const ALSA_IOC_TYPE: u32 = b'A' as u32;

const IOC_NONE: u32 = 0;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// The generic `_IOC` encoding used by x86_64 and arm64.
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (ALSA_IOC_TYPE << 8) | nr
}

/// `struct snd_mask`: a 256-bit set.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SndMask {
    /// The bits.
    pub bits: [u32; 8],
}

/// `struct snd_interval`: min/max plus openmin:1, openmax:1, integer:1, empty:1.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SndInterval {
    /// Lower bound.
    pub min: u32,
    /// Upper bound.
    pub max: u32,
    /// Bit flags: openmin (bit 0), openmax (1), integer (2), empty (3).
    pub flags: u32,
}

/// `snd_interval` flag: only integer values.
pub const INTERVAL_INTEGER: u32 = 1 << 2;

/// Number of masks in `snd_pcm_hw_params` (ACCESS, FORMAT, SUBFORMAT).
pub const HW_MASKS: usize = 3;
/// Number of intervals in `snd_pcm_hw_params` (SAMPLE_BITS ..= TICK_TIME).
pub const HW_INTERVALS: usize = 12;

/// `struct snd_pcm_hw_params`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HwParams {
    /// `SNDRV_PCM_HW_PARAMS_*` flags.
    pub flags: u32,
    /// ACCESS, FORMAT, SUBFORMAT.
    pub masks: [SndMask; HW_MASKS],
    /// Reserved masks.
    pub mres: [SndMask; 5],
    /// SAMPLE_BITS .. TICK_TIME.
    pub intervals: [SndInterval; HW_INTERVALS],
    /// Reserved intervals.
    pub ires: [SndInterval; 9],
    /// Requested masks.
    pub rmask: u32,
    /// Changed masks.
    pub cmask: u32,
    /// Info flags.
    pub info: u32,
    /// Significant bits.
    pub msbits: u32,
    /// Rate numerator.
    pub rate_num: u32,
    /// Rate denominator.
    pub rate_den: u32,
    /// FIFO size in frames.
    pub fifo_size: libc::c_ulong,
    /// Reserved.
    pub reserved: [u8; 64],
}

/// `struct snd_pcm_sw_params`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SwParams {
    /// Timestamp mode.
    pub tstamp_mode: libc::c_int,
    /// Period step.
    pub period_step: u32,
    /// Obsolete.
    pub sleep_min: u32,
    /// Minimum available frames for a wakeup.
    pub avail_min: libc::c_ulong,
    /// Obsolete.
    pub xfer_align: libc::c_ulong,
    /// Frames queued before an automatic start.
    pub start_threshold: libc::c_ulong,
    /// Available frames that stop the stream (xrun).
    pub stop_threshold: libc::c_ulong,
    /// Silence threshold.
    pub silence_threshold: libc::c_ulong,
    /// Silence size.
    pub silence_size: libc::c_ulong,
    /// Pointer wrap point (read back).
    pub boundary: libc::c_ulong,
    /// Protocol version.
    pub proto: u32,
    /// Timestamp type.
    pub tstamp_type: u32,
    /// Reserved.
    pub reserved: [u8; 56],
}

/// `struct snd_xferi`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct XferI {
    /// Frames transferred (out).
    pub result: libc::c_long,
    /// The interleaved buffer.
    pub buf: *mut libc::c_void,
    /// Frames to transfer.
    pub frames: libc::c_ulong,
}

/// `SNDRV_PCM_IOCTL_PVERSION`.
pub const PVERSION: u32 = ioc(IOC_READ, 0x00, size_of::<libc::c_int>());
/// `SNDRV_PCM_IOCTL_HW_REFINE`.
pub const HW_REFINE: u32 = ioc(IOC_READ | IOC_WRITE, 0x10, size_of::<HwParams>());
/// `SNDRV_PCM_IOCTL_HW_PARAMS`.
pub const HW_PARAMS: u32 = ioc(IOC_READ | IOC_WRITE, 0x11, size_of::<HwParams>());
/// `SNDRV_PCM_IOCTL_HW_FREE`.
pub const HW_FREE: u32 = ioc(IOC_NONE, 0x12, 0);
/// `SNDRV_PCM_IOCTL_SW_PARAMS`.
pub const SW_PARAMS: u32 = ioc(IOC_READ | IOC_WRITE, 0x13, size_of::<SwParams>());
/// `SNDRV_PCM_IOCTL_DELAY`.
pub const DELAY: u32 = ioc(IOC_READ, 0x21, size_of::<libc::c_long>());
/// `SNDRV_PCM_IOCTL_PREPARE`.
pub const PREPARE: u32 = ioc(IOC_NONE, 0x40, 0);
/// `SNDRV_PCM_IOCTL_START`.
pub const START: u32 = ioc(IOC_NONE, 0x42, 0);
/// `SNDRV_PCM_IOCTL_DROP`.
pub const DROP: u32 = ioc(IOC_NONE, 0x43, 0);
/// `SNDRV_PCM_IOCTL_DRAIN`.
pub const DRAIN: u32 = ioc(IOC_NONE, 0x44, 0);
/// `SNDRV_PCM_IOCTL_WRITEI_FRAMES`.
pub const WRITEI_FRAMES: u32 = ioc(IOC_WRITE, 0x50, size_of::<XferI>());
/// `SNDRV_PCM_IOCTL_READI_FRAMES`.
pub const READI_FRAMES: u32 = ioc(IOC_READ, 0x51, size_of::<XferI>());

/// `SNDRV_PCM_HW_PARAM_ACCESS` (mask index).
pub const PARAM_ACCESS: usize = 0;
/// `SNDRV_PCM_HW_PARAM_FORMAT`.
pub const PARAM_FORMAT: usize = 1;
/// `SNDRV_PCM_HW_PARAM_SUBFORMAT`.
pub const PARAM_SUBFORMAT: usize = 2;
/// First interval parameter number (`SNDRV_PCM_HW_PARAM_SAMPLE_BITS`).
pub const PARAM_FIRST_INTERVAL: usize = 8;
/// `SNDRV_PCM_HW_PARAM_SAMPLE_BITS`.
pub const PARAM_SAMPLE_BITS: usize = 8;
/// `SNDRV_PCM_HW_PARAM_FRAME_BITS`.
pub const PARAM_FRAME_BITS: usize = 9;
/// `SNDRV_PCM_HW_PARAM_CHANNELS`.
pub const PARAM_CHANNELS: usize = 10;
/// `SNDRV_PCM_HW_PARAM_RATE`.
pub const PARAM_RATE: usize = 11;
/// `SNDRV_PCM_HW_PARAM_PERIOD_SIZE` (frames).
pub const PARAM_PERIOD_SIZE: usize = 13;
/// `SNDRV_PCM_HW_PARAM_PERIODS`.
pub const PARAM_PERIODS: usize = 15;
/// `SNDRV_PCM_HW_PARAM_BUFFER_SIZE` (frames).
pub const PARAM_BUFFER_SIZE: usize = 17;

/// `SNDRV_PCM_ACCESS_RW_INTERLEAVED`.
pub const ACCESS_RW_INTERLEAVED: u32 = 3;
/// `SNDRV_PCM_SUBFORMAT_STD`.
pub const SUBFORMAT_STD: u32 = 0;

/// `SNDRV_PCM_FORMAT_*` for a sample format.
pub fn format_code(f: super::super::SampleFormat) -> u32 {
    use super::super::SampleFormat as F;
    match f {
        F::U8 => 1,
        F::S16 => 2,
        F::S24 => 6,
        F::S32 => 10,
        F::Float => 14,
        F::S24_3 => 32,
    }
}

impl HwParams {
    /// Parameters allowing everything (every mask full, every interval unbounded), the
    /// starting point of a refinement.
    pub fn any() -> Self {
        let full = SndMask {
            bits: [u32::MAX; 8],
        };
        let open = SndInterval {
            min: 0,
            max: u32::MAX,
            flags: 0,
        };
        Self {
            flags: 0,
            masks: [full; HW_MASKS],
            mres: [SndMask::default(); 5],
            intervals: [open; HW_INTERVALS],
            ires: [SndInterval::default(); 9],
            rmask: u32::MAX,
            cmask: 0,
            info: 0,
            msbits: 0,
            rate_num: 0,
            rate_den: 0,
            fifo_size: 0,
            reserved: [0; 64],
        }
    }

    /// Restricts mask parameter `param` to the single value `value`.
    pub fn set_mask(&mut self, param: usize, value: u32) {
        if let Some(m) = self.masks.get_mut(param) {
            m.bits = [0; 8];
            if let Some(w) = m.bits.get_mut((value / 32) as usize) {
                *w = 1 << (value % 32);
            }
        }
    }

    /// Restricts interval parameter `param` to exactly `value`.
    pub fn set_interval(&mut self, param: usize, value: u32) {
        if let Some(i) = param
            .checked_sub(PARAM_FIRST_INTERVAL)
            .and_then(|k| self.intervals.get_mut(k))
        {
            *i = SndInterval {
                min: value,
                max: value,
                flags: INTERVAL_INTEGER,
            };
        }
    }

    /// The interval of parameter `param`.
    pub fn interval(&self, param: usize) -> Option<SndInterval> {
        param
            .checked_sub(PARAM_FIRST_INTERVAL)
            .and_then(|k| self.intervals.get(k))
            .copied()
    }
}

impl SwParams {
    /// All-zero software parameters.
    pub fn zeroed() -> Self {
        Self {
            tstamp_mode: 0,
            period_step: 0,
            sleep_min: 0,
            avail_min: 0,
            xfer_align: 0,
            start_threshold: 0,
            stop_threshold: 0,
            silence_threshold: 0,
            silence_size: 0,
            boundary: 0,
            proto: 0,
            tstamp_type: 0,
            reserved: [0; 56],
        }
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use super::*;
    use std::mem::offset_of;

    // Values from include/uapi/sound/asound.h, identical on x86_64 and arm64 (LP64, generic
    // _IOC layout), as printed by a C program including the kernel header.
    #[test]
    fn ioctl_numbers_match_the_kernel() {
        assert_eq!(PVERSION, 0x8004_4100);
        assert_eq!(HW_REFINE, 0xc260_4110);
        assert_eq!(HW_PARAMS, 0xc260_4111);
        assert_eq!(HW_FREE, 0x4112);
        assert_eq!(SW_PARAMS, 0xc088_4113);
        assert_eq!(DELAY, 0x8008_4121);
        assert_eq!(PREPARE, 0x4140);
        assert_eq!(START, 0x4142);
        assert_eq!(DROP, 0x4143);
        assert_eq!(DRAIN, 0x4144);
        assert_eq!(WRITEI_FRAMES, 0x4018_4150);
        assert_eq!(READI_FRAMES, 0x8018_4151);
    }

    #[test]
    fn struct_layouts_match_the_kernel() {
        assert_eq!(size_of::<SndMask>(), 32);
        assert_eq!(size_of::<SndInterval>(), 12);
        assert_eq!(size_of::<HwParams>(), 608);
        assert_eq!(offset_of!(HwParams, intervals), 260);
        assert_eq!(offset_of!(HwParams, rmask), 512);
        assert_eq!(offset_of!(HwParams, msbits), 524);
        assert_eq!(offset_of!(HwParams, fifo_size), 536);
        assert_eq!(size_of::<SwParams>(), 136);
        assert_eq!(offset_of!(SwParams, avail_min), 16);
        assert_eq!(offset_of!(SwParams, start_threshold), 32);
        assert_eq!(offset_of!(SwParams, stop_threshold), 40);
        assert_eq!(offset_of!(SwParams, boundary), 64);
        assert_eq!(offset_of!(SwParams, proto), 72);
        assert_eq!(size_of::<XferI>(), 24);
    }

    #[test]
    fn format_codes_match_the_kernel() {
        use crate::hw::pcm::SampleFormat as F;
        assert_eq!(format_code(F::S16), 2);
        assert_eq!(format_code(F::S24), 6);
        assert_eq!(format_code(F::Float), 14);
        assert_eq!(format_code(F::S24_3), 32);
    }

    #[test]
    fn masks_and_intervals_are_set_in_place() {
        let mut p = HwParams::any();
        p.set_mask(PARAM_FORMAT, 32);
        assert_eq!(p.masks[PARAM_FORMAT].bits, [0, 1, 0, 0, 0, 0, 0, 0]);
        p.set_interval(PARAM_RATE, 48000);
        let r = p.interval(PARAM_RATE).unwrap();
        assert_eq!((r.min, r.max, r.flags), (48000, 48000, INTERVAL_INTEGER));
        assert_eq!(p.intervals[PARAM_RATE - PARAM_FIRST_INTERVAL].min, 48000);
    }
}
