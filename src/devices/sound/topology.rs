//! What one virtio-snd device instance offers a guest: jacks, PCM streams with their
//! backends, channel maps and control elements. Built from config by the service.

use crate::hw::pcm::{PcmCapture, PcmPlayback, SampleFormat};

use super::constants::{chmap, format, RATES};

/// Data flow direction of a stream or channel map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Playback (guest to codec): the tx queue.
    Output,
    /// Capture (codec to guest): the rx queue.
    Input,
}

impl Direction {
    /// `VIRTIO_SND_D_*`.
    pub fn wire(self) -> u8 {
        match self {
            Self::Output => super::constants::VIRTIO_SND_D_OUTPUT,
            Self::Input => super::constants::VIRTIO_SND_D_INPUT,
        }
    }
}

/// A physical jack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JackSpec {
    /// Name for logs and status.
    pub name: String,
    /// HDA function group node ID it belongs to.
    pub hda_fn_nid: u32,
    /// HDA pin default configuration (its association and sequence are what REMAP changes).
    pub hda_reg_defconf: u32,
    /// HDA pin capabilities.
    pub hda_reg_caps: u32,
    /// Whether something is plugged in at start.
    pub connected: bool,
    /// Whether the guest may remap it (VIRTIO_SND_JACK_F_REMAP).
    pub remappable: bool,
}

/// HDA default configuration of a line-out jack at the rear, green (connectivity jack,
/// device line out, association 1, sequence 0).
pub const DEFCONF_LINE_OUT: u32 = 0x0101_4010;
/// HDA default configuration of a microphone jack at the front, pink (association 2).
pub const DEFCONF_MIC_IN: u32 = 0x02a1_9020;
/// HDA pin capabilities: presence detect (bit 2), output (bit 4).
pub const CAPS_OUT: u32 = 0x0000_0014;
/// HDA pin capabilities: presence detect (bit 2), input (bit 5).
pub const CAPS_IN: u32 = 0x0000_0024;

/// Where a stream's audio goes or comes from.
pub enum StreamBackend {
    /// An output stream's sink.
    Playback(Box<dyn PcmPlayback>),
    /// An input stream's source.
    Capture(Box<dyn PcmCapture>),
}

impl StreamBackend {
    /// The direction this backend serves.
    pub fn direction(&self) -> Direction {
        match self {
            Self::Playback(_) => Direction::Output,
            Self::Capture(_) => Direction::Input,
        }
    }

    /// Description for logs.
    pub fn describe(&self) -> String {
        match self {
            Self::Playback(b) => b.describe(),
            Self::Capture(b) => b.describe(),
        }
    }
}

/// A PCM stream.
pub struct StreamSpec {
    /// Name for logs and the stream's control elements (e.g. "Master", "Capture").
    pub name: String,
    /// HDA function group node ID: streams sharing one become one ALSA PCM device.
    pub hda_fn_nid: u32,
    /// Sample formats offered.
    pub formats: Vec<SampleFormat>,
    /// Frame rates offered (each must be one of the virtio rates).
    pub rates: Vec<u32>,
    /// Fewest channels.
    pub channels_min: u8,
    /// Most channels.
    pub channels_max: u8,
    /// The backend, which also fixes the direction.
    pub backend: StreamBackend,
}

impl StreamSpec {
    /// The stream's direction.
    pub fn direction(&self) -> Direction {
        self.backend.direction()
    }

    /// `virtio_snd_pcm_info::formats`.
    pub fn format_bits(&self) -> u64 {
        self.formats
            .iter()
            .fold(0, |acc, f| acc | (1u64 << virtio_format(*f)))
    }

    /// `virtio_snd_pcm_info::rates` (rates that are not virtio rates are left out).
    pub fn rate_bits(&self) -> u64 {
        self.rates.iter().fold(0, |acc, r| {
            acc | RATES.iter().position(|x| x == r).map_or(0, |i| 1u64 << i)
        })
    }
}

/// The `VIRTIO_SND_PCM_FMT_*` code of a sample format.
pub fn virtio_format(f: SampleFormat) -> u8 {
    match f {
        SampleFormat::U8 => format::U8,
        SampleFormat::S16 => format::S16,
        SampleFormat::S24 => format::S24,
        SampleFormat::S24_3 => format::S24_3,
        SampleFormat::S32 => format::S32,
        SampleFormat::Float => format::FLOAT,
    }
}

/// The sample format of a `VIRTIO_SND_PCM_FMT_*` code, if this device implements it.
pub fn sample_format(code: u8) -> Option<SampleFormat> {
    SampleFormat::ALL
        .into_iter()
        .find(|f| virtio_format(*f) == code)
}

/// A channel map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChmapSpec {
    /// HDA function group node ID (matches the stream it describes).
    pub hda_fn_nid: u32,
    /// Direction (matches the stream it describes).
    pub direction: Direction,
    /// Channel positions (`VIRTIO_SND_CHMAP_*`), at most 18.
    pub positions: Vec<u8>,
}

/// The conventional channel map for `channels` channels.
pub fn default_positions(channels: u8) -> Vec<u8> {
    match channels {
        1 => vec![chmap::MONO],
        2 => vec![chmap::FL, chmap::FR],
        4 => vec![chmap::FL, chmap::FR, chmap::RL, chmap::RR],
        6 => vec![
            chmap::FL,
            chmap::FR,
            chmap::FC,
            chmap::LFE,
            chmap::RL,
            chmap::RR,
        ],
        8 => vec![
            chmap::FL,
            chmap::FR,
            chmap::FC,
            chmap::LFE,
            chmap::RL,
            chmap::RR,
            chmap::SL,
            chmap::SR,
        ],
        n => vec![chmap::NA; usize::from(n.min(18))],
    }
}

/// What a control element does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlKind {
    /// Volume of a stream: integer 0..=[`VOLUME_MAX`], 0.5 dB steps, 0 = mute, max = unity.
    Volume {
        /// The stream it scales.
        stream: u32,
    },
    /// On/off switch of a stream (ALSA convention: 1 lets sound through); role MUTE.
    Switch {
        /// The stream it gates.
        stream: u32,
    },
    /// A choice among named items whose value the host reads (e.g. a routing selector).
    Enumerated {
        /// Item names.
        items: Vec<String>,
    },
}

/// Highest volume step; it is unity gain, each step below is -0.5 dB.
pub const VOLUME_MAX: u32 = 100;
/// dB per volume step, in hundredths of a dB (ALSA TLV unit).
pub const VOLUME_STEP_CENTI_DB: u32 = 50;

/// A control element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlSpec {
    /// ALSA mixer name (e.g. "Master Playback Volume").
    pub name: String,
    /// Index among elements with the same name.
    pub index: u32,
    /// Behaviour.
    pub kind: ControlKind,
}

/// Everything one device instance serves.
pub struct SoundTopology {
    /// Instance name for logs (e.g. `vm0-snd`).
    pub device: String,
    /// Jacks.
    pub jacks: Vec<JackSpec>,
    /// PCM streams, in stream-ID order.
    pub streams: Vec<StreamSpec>,
    /// Channel maps.
    pub chmaps: Vec<ChmapSpec>,
    /// Control elements (offered with VIRTIO_SND_F_CTLS when non-empty).
    pub controls: Vec<ControlSpec>,
}

impl SoundTopology {
    /// Adds, for every stream, a channel map of its widest layout and a volume and switch
    /// control named after it ("<name> Playback Volume", "<name> Capture Switch", ...).
    pub fn with_default_chmaps_and_controls(mut self) -> Self {
        for (id, s) in self.streams.iter().enumerate() {
            let id = id as u32;
            self.chmaps.push(ChmapSpec {
                hda_fn_nid: s.hda_fn_nid,
                direction: s.direction(),
                positions: default_positions(s.channels_max),
            });
            let dir = match s.direction() {
                Direction::Output => "Playback",
                Direction::Input => "Capture",
            };
            self.controls.push(ControlSpec {
                name: format!("{} {dir} Volume", s.name),
                index: 0,
                kind: ControlKind::Volume { stream: id },
            });
            self.controls.push(ControlSpec {
                name: format!("{} {dir} Switch", s.name),
                index: 0,
                kind: ControlKind::Switch { stream: id },
            });
        }
        self
    }
}
