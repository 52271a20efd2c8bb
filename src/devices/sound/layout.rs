//! virtio-snd wire structures (virtio 1.3 §5.14.6), parsed and serialized field by field in
//! little-endian, so no guest byte is ever reinterpreted in place.
//!
//! Sizes match the C structures on LP64 (x86_64, arm64): in particular `virtio_snd_ctl_info`
//! carries 4 bytes of alignment padding before its 64-bit value union (96 bytes in all).

use super::constants::CHMAP_MAX_SIZE;

/// `struct virtio_snd_config` (with the `controls` field of VIRTIO_SND_F_CTLS).
pub const CONFIG_SIZE: usize = 16;
/// `struct virtio_snd_hdr`.
pub const HDR_SIZE: usize = 4;
/// `struct virtio_snd_query_info`.
pub const QUERY_INFO_SIZE: usize = 16;
/// `struct virtio_snd_jack_hdr`, `virtio_snd_pcm_hdr`, `virtio_snd_ctl_hdr` (code + ID).
pub const ITEM_HDR_SIZE: usize = 8;
/// `struct virtio_snd_jack_info`.
pub const JACK_INFO_SIZE: usize = 24;
/// `struct virtio_snd_jack_remap`.
pub const JACK_REMAP_SIZE: usize = 16;
/// `struct virtio_snd_pcm_info`.
pub const PCM_INFO_SIZE: usize = 32;
/// `struct virtio_snd_pcm_set_params`.
pub const SET_PARAMS_SIZE: usize = 24;
/// `struct virtio_snd_pcm_xfer`.
pub const PCM_XFER_SIZE: usize = 4;
/// `struct virtio_snd_pcm_status`.
pub const PCM_STATUS_SIZE: usize = 8;
/// `struct virtio_snd_chmap_info`.
pub const CHMAP_INFO_SIZE: usize = 24;
/// `struct virtio_snd_event` and `struct virtio_snd_ctl_event`.
pub const EVENT_SIZE: usize = 8;
/// `struct virtio_snd_ctl_info` (LP64 layout, value union 8-aligned at offset 72).
pub const CTL_INFO_SIZE: usize = 96;
/// Offset of the value union in `struct virtio_snd_ctl_info`.
pub const CTL_INFO_VALUE_OFFSET: usize = 72;
/// Length of `virtio_snd_ctl_info::name`.
pub const CTL_NAME_LEN: usize = 44;
/// `struct virtio_snd_ctl_enum_item`.
pub const CTL_ENUM_ITEM_SIZE: usize = 64;
/// `struct virtio_snd_ctl_value`.
pub const CTL_VALUE_SIZE: usize = 512;

/// Bounds-checked little-endian reader over a request's bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Takes `n` bytes, or `None` if fewer remain.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(head)
    }

    /// Takes one byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }

    /// Takes a little-endian u16.
    pub fn u16(&mut self) -> Option<u16> {
        let (head, rest) = self.rest.split_first_chunk::<2>()?;
        self.rest = rest;
        Some(u16::from_le_bytes(*head))
    }

    /// Takes a little-endian u32.
    pub fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.rest.split_first_chunk::<4>()?;
        self.rest = rest;
        Some(u32::from_le_bytes(*head))
    }

    /// Takes a little-endian u64.
    pub fn u64(&mut self) -> Option<u64> {
        let (head, rest) = self.rest.split_first_chunk::<8>()?;
        self.rest = rest;
        Some(u64::from_le_bytes(*head))
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

/// `struct virtio_snd_config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Config {
    /// Number of jacks.
    pub jacks: u32,
    /// Number of PCM streams.
    pub streams: u32,
    /// Number of channel maps.
    pub chmaps: u32,
    /// Number of control elements (valid only with VIRTIO_SND_F_CTLS).
    pub controls: u32,
}

impl Config {
    /// The configuration space bytes.
    pub fn to_bytes(self) -> [u8; CONFIG_SIZE] {
        let mut b = [0; CONFIG_SIZE];
        b[0..4].copy_from_slice(&self.jacks.to_le_bytes());
        b[4..8].copy_from_slice(&self.streams.to_le_bytes());
        b[8..12].copy_from_slice(&self.chmaps.to_le_bytes());
        b[12..16].copy_from_slice(&self.controls.to_le_bytes());
        b
    }
}

/// `struct virtio_snd_query_info` (after its header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryInfo {
    /// First item ID.
    pub start_id: u32,
    /// Number of items.
    pub count: u32,
    /// Size of one item's information, as the driver expects it.
    pub size: u32,
}

impl QueryInfo {
    /// Parses the 12 bytes after the header.
    pub fn parse(r: &mut Reader<'_>) -> Option<Self> {
        Some(Self {
            start_id: r.u32()?,
            count: r.u32()?,
            size: r.u32()?,
        })
    }
}

/// `struct virtio_snd_jack_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JackInfo {
    /// HDA function group node ID.
    pub hda_fn_nid: u32,
    /// Feature bits (`1 << VIRTIO_SND_JACK_F_*`).
    pub features: u32,
    /// HDA pin default configuration register.
    pub hda_reg_defconf: u32,
    /// HDA pin capabilities register.
    pub hda_reg_caps: u32,
    /// Whether something is plugged in.
    pub connected: bool,
}

impl JackInfo {
    /// Appends the 24 wire bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hda_fn_nid.to_le_bytes());
        out.extend_from_slice(&self.features.to_le_bytes());
        out.extend_from_slice(&self.hda_reg_defconf.to_le_bytes());
        out.extend_from_slice(&self.hda_reg_caps.to_le_bytes());
        out.push(u8::from(self.connected));
        out.extend_from_slice(&[0; 7]);
    }
}

/// `struct virtio_snd_jack_remap` (after the common header and jack ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JackRemap {
    /// Selected association number.
    pub association: u32,
    /// Selected sequence number.
    pub sequence: u32,
}

/// `struct virtio_snd_pcm_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmInfo {
    /// HDA function group node ID.
    pub hda_fn_nid: u32,
    /// Feature bits (`1 << VIRTIO_SND_PCM_F_*`).
    pub features: u32,
    /// Format bits (`1 << VIRTIO_SND_PCM_FMT_*`).
    pub formats: u64,
    /// Rate bits (`1 << VIRTIO_SND_PCM_RATE_*`).
    pub rates: u64,
    /// `VIRTIO_SND_D_*`.
    pub direction: u8,
    /// Fewest channels.
    pub channels_min: u8,
    /// Most channels.
    pub channels_max: u8,
}

impl PcmInfo {
    /// Appends the 32 wire bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hda_fn_nid.to_le_bytes());
        out.extend_from_slice(&self.features.to_le_bytes());
        out.extend_from_slice(&self.formats.to_le_bytes());
        out.extend_from_slice(&self.rates.to_le_bytes());
        out.push(self.direction);
        out.push(self.channels_min);
        out.push(self.channels_max);
        out.extend_from_slice(&[0; 5]);
    }
}

/// `struct virtio_snd_pcm_set_params` (after the common header and stream ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetParams {
    /// Size of the driver's ring buffer.
    pub buffer_bytes: u32,
    /// Size of one period.
    pub period_bytes: u32,
    /// Selected feature bits.
    pub features: u32,
    /// Selected channel count.
    pub channels: u8,
    /// Selected `VIRTIO_SND_PCM_FMT_*`.
    pub format: u8,
    /// Selected `VIRTIO_SND_PCM_RATE_*`.
    pub rate: u8,
}

impl SetParams {
    /// Parses the 16 bytes after the PCM header (the trailing padding byte is ignored).
    pub fn parse(r: &mut Reader<'_>) -> Option<Self> {
        let p = Self {
            buffer_bytes: r.u32()?,
            period_bytes: r.u32()?,
            features: r.u32()?,
            channels: r.u8()?,
            format: r.u8()?,
            rate: r.u8()?,
        };
        r.u8()?;
        Some(p)
    }

    /// The 24 wire bytes of a SET_PARAMS request for `stream_id`.
    pub fn request(&self, stream_id: u32) -> Vec<u8> {
        let mut b = Vec::with_capacity(SET_PARAMS_SIZE);
        b.extend_from_slice(&super::constants::code::PCM_SET_PARAMS.to_le_bytes());
        b.extend_from_slice(&stream_id.to_le_bytes());
        b.extend_from_slice(&self.buffer_bytes.to_le_bytes());
        b.extend_from_slice(&self.period_bytes.to_le_bytes());
        b.extend_from_slice(&self.features.to_le_bytes());
        b.extend_from_slice(&[self.channels, self.format, self.rate, 0]);
        b
    }
}

/// `struct virtio_snd_pcm_status`.
pub fn pcm_status(status: u32, latency_bytes: u32) -> [u8; PCM_STATUS_SIZE] {
    let mut b = [0; PCM_STATUS_SIZE];
    b[0..4].copy_from_slice(&status.to_le_bytes());
    b[4..8].copy_from_slice(&latency_bytes.to_le_bytes());
    b
}

/// `struct virtio_snd_chmap_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChmapInfo {
    /// HDA function group node ID.
    pub hda_fn_nid: u32,
    /// `VIRTIO_SND_D_*`.
    pub direction: u8,
    /// Channel positions (`VIRTIO_SND_CHMAP_*`), at most 18.
    pub positions: Vec<u8>,
}

impl ChmapInfo {
    /// Appends the 24 wire bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let n = self.positions.len().min(CHMAP_MAX_SIZE);
        out.extend_from_slice(&self.hda_fn_nid.to_le_bytes());
        out.push(self.direction);
        out.push(n as u8);
        let mut pos = [0u8; CHMAP_MAX_SIZE];
        pos[..n].copy_from_slice(&self.positions[..n]);
        out.extend_from_slice(&pos);
    }
}

/// `struct virtio_snd_event`: a code and its 32-bit datum.
pub fn event(code: u32, data: u32) -> [u8; EVENT_SIZE] {
    let mut b = [0; EVENT_SIZE];
    b[0..4].copy_from_slice(&code.to_le_bytes());
    b[4..8].copy_from_slice(&data.to_le_bytes());
    b
}

/// `struct virtio_snd_ctl_event`: control ID and mask in place of the 32-bit datum.
pub fn ctl_event(control_id: u16, mask: u16) -> [u8; EVENT_SIZE] {
    event(
        super::constants::code::EVT_CTL_NOTIFY,
        u32::from(control_id) | (u32::from(mask) << 16),
    )
}

/// The value description in `virtio_snd_ctl_info::value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtlRange {
    /// No extra information (boolean, bytes, IEC958).
    None,
    /// `integer { min, max, step }`.
    Integer {
        /// Minimum.
        min: u32,
        /// Maximum.
        max: u32,
        /// Step (0: any).
        step: u32,
    },
    /// `integer64 { min, max, step }`.
    Integer64 {
        /// Minimum.
        min: u64,
        /// Maximum.
        max: u64,
        /// Step (0: any).
        step: u64,
    },
    /// `enumerated { items }`.
    Enumerated {
        /// Number of items.
        items: u32,
    },
}

/// `struct virtio_snd_ctl_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlInfo {
    /// HDA function group node ID.
    pub hda_fn_nid: u32,
    /// `VIRTIO_SND_CTL_ROLE_*`.
    pub role: u32,
    /// `VIRTIO_SND_CTL_TYPE_*`.
    pub ctl_type: u32,
    /// Access bits (`1 << VIRTIO_SND_CTL_ACCESS_*`).
    pub access: u32,
    /// Members in the value.
    pub count: u32,
    /// Index among elements with the same name.
    pub index: u32,
    /// Element name (ALSA mixer naming), at most 43 bytes plus NUL.
    pub name: String,
    /// Value range.
    pub range: CtlRange,
}

impl CtlInfo {
    /// Appends the 96 wire bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        for w in [
            self.hda_fn_nid,
            self.role,
            self.ctl_type,
            self.access,
            self.count,
            self.index,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let mut name = [0u8; CTL_NAME_LEN];
        // Keep a terminating NUL: the driver hands the name to ALSA as a C string.
        let n = self.name.len().min(CTL_NAME_LEN - 1);
        name[..n].copy_from_slice(&self.name.as_bytes()[..n]);
        out.extend_from_slice(&name);
        out.resize(start + CTL_INFO_VALUE_OFFSET, 0);
        match self.range {
            CtlRange::None => {}
            CtlRange::Integer { min, max, step } => {
                for w in [min, max, step] {
                    out.extend_from_slice(&w.to_le_bytes());
                }
            }
            CtlRange::Integer64 { min, max, step } => {
                for w in [min, max, step] {
                    out.extend_from_slice(&w.to_le_bytes());
                }
            }
            CtlRange::Enumerated { items } => out.extend_from_slice(&items.to_le_bytes()),
        }
        out.resize(start + CTL_INFO_SIZE, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::sound::constants::code;

    #[test]
    fn sizes_match_the_c_structures() {
        let mut b = Vec::new();
        JackInfo {
            hda_fn_nid: 0,
            features: 0,
            hda_reg_defconf: 0,
            hda_reg_caps: 0,
            connected: true,
        }
        .write(&mut b);
        assert_eq!(b.len(), JACK_INFO_SIZE);
        b.clear();
        PcmInfo {
            hda_fn_nid: 0,
            features: 0,
            formats: 0,
            rates: 0,
            direction: 0,
            channels_min: 1,
            channels_max: 2,
        }
        .write(&mut b);
        assert_eq!(b.len(), PCM_INFO_SIZE);
        b.clear();
        ChmapInfo {
            hda_fn_nid: 0,
            direction: 0,
            positions: vec![3, 4],
        }
        .write(&mut b);
        assert_eq!(b.len(), CHMAP_INFO_SIZE);
        b.clear();
        CtlInfo {
            hda_fn_nid: 0,
            role: 0,
            ctl_type: 0,
            access: 0,
            count: 1,
            index: 0,
            name: "x".into(),
            range: CtlRange::Integer64 {
                min: 0,
                max: 1,
                step: 1,
            },
        }
        .write(&mut b);
        assert_eq!(b.len(), CTL_INFO_SIZE);
        assert_eq!(
            SetParams {
                buffer_bytes: 0,
                period_bytes: 0,
                features: 0,
                channels: 0,
                format: 0,
                rate: 0
            }
            .request(0)
            .len(),
            SET_PARAMS_SIZE
        );
    }

    #[test]
    fn pcm_info_field_offsets() {
        let mut b = Vec::new();
        PcmInfo {
            hda_fn_nid: 0x11,
            features: 1 << 4,
            formats: 1 << 5,
            rates: 1 << 7,
            direction: 1,
            channels_min: 1,
            channels_max: 2,
        }
        .write(&mut b);
        assert_eq!(b[0..4], 0x11u32.to_le_bytes());
        assert_eq!(b[4..8], 0x10u32.to_le_bytes());
        assert_eq!(b[8..16], 0x20u64.to_le_bytes());
        assert_eq!(b[16..24], 0x80u64.to_le_bytes());
        assert_eq!(&b[24..27], &[1, 1, 2]);
        assert_eq!(&b[27..32], &[0; 5]);
    }

    #[test]
    fn jack_and_chmap_field_offsets() {
        let mut b = Vec::new();
        JackInfo {
            hda_fn_nid: 1,
            features: 1,
            hda_reg_defconf: 0x0101_4010,
            hda_reg_caps: 0x10,
            connected: true,
        }
        .write(&mut b);
        assert_eq!(b[8..12], 0x0101_4010u32.to_le_bytes());
        assert_eq!(b[12..16], 0x10u32.to_le_bytes());
        assert_eq!(b[16], 1);
        b.clear();
        ChmapInfo {
            hda_fn_nid: 2,
            direction: 1,
            positions: vec![3, 4],
        }
        .write(&mut b);
        assert_eq!(&b[4..8], &[1, 2, 3, 4]);
        assert!(b[8..].iter().all(|&x| x == 0));
    }

    #[test]
    fn ctl_info_puts_the_value_union_after_alignment_padding() {
        let mut b = Vec::new();
        CtlInfo {
            hda_fn_nid: 0,
            role: 1,
            ctl_type: 1,
            access: 3,
            count: 2,
            index: 5,
            name: "Master Playback Volume".into(),
            range: CtlRange::Integer {
                min: 0,
                max: 100,
                step: 1,
            },
        }
        .write(&mut b);
        assert_eq!(b[4..8], 1u32.to_le_bytes());
        assert_eq!(b[12..16], 3u32.to_le_bytes());
        assert_eq!(b[16..20], 2u32.to_le_bytes());
        assert_eq!(b[20..24], 5u32.to_le_bytes());
        assert_eq!(&b[24..46], b"Master Playback Volume");
        assert_eq!(b[46], 0);
        assert_eq!(&b[68..72], &[0; 4]);
        assert_eq!(b[72..76], 0u32.to_le_bytes());
        assert_eq!(b[76..80], 100u32.to_le_bytes());
        assert_eq!(b[80..84], 1u32.to_le_bytes());
    }

    #[test]
    fn long_control_names_keep_a_nul() {
        let mut b = Vec::new();
        CtlInfo {
            hda_fn_nid: 0,
            role: 0,
            ctl_type: 0,
            access: 0,
            count: 1,
            index: 0,
            name: "n".repeat(60),
            range: CtlRange::None,
        }
        .write(&mut b);
        assert_eq!(b[24 + 42], b'n');
        assert_eq!(b[24 + 43], 0);
    }

    #[test]
    fn set_params_round_trip_and_short_input() {
        let p = SetParams {
            buffer_bytes: 19200,
            period_bytes: 1920,
            features: 1 << 4,
            channels: 2,
            format: 5,
            rate: 7,
        };
        let bytes = p.request(3);
        assert_eq!(bytes[0..4], code::PCM_SET_PARAMS.to_le_bytes());
        assert_eq!(bytes[4..8], 3u32.to_le_bytes());
        let mut r = Reader::new(&bytes[8..]);
        assert_eq!(SetParams::parse(&mut r), Some(p));
        assert!(r.rest().is_empty());
        let mut short = Reader::new(&bytes[8..23]);
        assert_eq!(SetParams::parse(&mut short), None);
    }

    #[test]
    fn events_and_status() {
        assert_eq!(event(code::EVT_PCM_XRUN, 2), [0x01, 0x11, 0, 0, 2, 0, 0, 0]);
        assert_eq!(ctl_event(3, 1), [0x00, 0x12, 0, 0, 3, 0, 1, 0]);
        assert_eq!(pcm_status(code::S_OK, 64), [0, 0x80, 0, 0, 64, 0, 0, 0]);
        let c = Config {
            jacks: 1,
            streams: 2,
            chmaps: 3,
            controls: 4,
        }
        .to_bytes();
        assert_eq!(c, [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]);
    }
}
