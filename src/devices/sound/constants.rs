//! Numbers from virtio-snd (OASIS virtio 1.3 §5.14), as Linux's include/uapi/linux/virtio_snd.h
//! also spells them.

/// Virtio device ID of virtio-snd.
pub const VIRTIO_ID_SOUND: u32 = 25;

/// Queue carrying control requests (jack, PCM, channel map and control element requests).
pub const CONTROLQ: u16 = 0;
/// Queue carrying device-to-driver event notifications.
pub const EVENTQ: u16 = 1;
/// Queue carrying playback (output) I/O messages.
pub const TXQ: u16 = 2;
/// Queue carrying capture (input) I/O messages.
pub const RXQ: u16 = 3;

/// Feature bit: control elements (virtio 1.3 §5.14.3, `VIRTIO_SND_F_CTLS`).
pub const VIRTIO_SND_F_CTLS: u32 = 0;

/// Data flow direction: output (playback).
pub const VIRTIO_SND_D_OUTPUT: u8 = 0;
/// Data flow direction: input (capture).
pub const VIRTIO_SND_D_INPUT: u8 = 1;

/// Request, event and status codes (`virtio_snd_hdr::code`).
pub mod code {
    /// Query jack information.
    pub const JACK_INFO: u32 = 0x0001;
    /// Remap a jack's association and sequence.
    pub const JACK_REMAP: u32 = 0x0002;
    /// Query PCM stream information.
    pub const PCM_INFO: u32 = 0x0100;
    /// Set a stream's format.
    pub const PCM_SET_PARAMS: u32 = 0x0101;
    /// Prepare a stream.
    pub const PCM_PREPARE: u32 = 0x0102;
    /// Release a stream.
    pub const PCM_RELEASE: u32 = 0x0103;
    /// Start a stream.
    pub const PCM_START: u32 = 0x0104;
    /// Stop a stream.
    pub const PCM_STOP: u32 = 0x0105;
    /// Query channel map information.
    pub const CHMAP_INFO: u32 = 0x0200;
    /// Query control element information.
    pub const CTL_INFO: u32 = 0x0300;
    /// Query the item names of an enumerated control element.
    pub const CTL_ENUM_ITEMS: u32 = 0x0301;
    /// Read a control element's value.
    pub const CTL_READ: u32 = 0x0302;
    /// Write a control element's value.
    pub const CTL_WRITE: u32 = 0x0303;
    /// Read a control element's TLV metadata.
    pub const CTL_TLV_READ: u32 = 0x0304;
    /// Write a control element's TLV metadata.
    pub const CTL_TLV_WRITE: u32 = 0x0305;
    /// Run a TLV command on a control element.
    pub const CTL_TLV_COMMAND: u32 = 0x0306;

    /// Event: a jack was connected (data = jack ID).
    pub const EVT_JACK_CONNECTED: u32 = 0x1000;
    /// Event: a jack was disconnected (data = jack ID).
    pub const EVT_JACK_DISCONNECTED: u32 = 0x1001;
    /// Event: a period elapsed (shared-memory streams only; data = stream ID).
    pub const EVT_PCM_PERIOD_ELAPSED: u32 = 0x1100;
    /// Event: an underrun or overrun happened (data = stream ID).
    pub const EVT_PCM_XRUN: u32 = 0x1101;
    /// Event: a control element changed (payload: le16 control ID, le16 mask).
    pub const EVT_CTL_NOTIFY: u32 = 0x1200;

    /// Status: success.
    pub const S_OK: u32 = 0x8000;
    /// Status: malformed request or invalid parameter.
    pub const S_BAD_MSG: u32 = 0x8001;
    /// Status: request or parameter not supported.
    pub const S_NOT_SUPP: u32 = 0x8002;
    /// Status: I/O error.
    pub const S_IO_ERR: u32 = 0x8003;
}

/// Jack feature bit: the jack supports JACK_REMAP.
pub const VIRTIO_SND_JACK_F_REMAP: u32 = 0;

/// PCM stream feature bits (`virtio_snd_pcm_info::features`, `set_params::features`).
pub mod pcm_feature {
    /// Host-side shared memory for PCM data.
    pub const SHMEM_HOST: u32 = 0;
    /// Guest-side shared memory for PCM data.
    pub const SHMEM_GUEST: u32 = 1;
    /// Polling instead of notifications for I/O messages.
    pub const MSG_POLLING: u32 = 2;
    /// Period-elapsed events for shared-memory streams.
    pub const EVT_SHMEM_PERIODS: u32 = 3;
    /// XRUN events.
    pub const EVT_XRUNS: u32 = 4;
}

/// Sample formats (`VIRTIO_SND_PCM_FMT_*`): bit positions in `virtio_snd_pcm_info::formats`.
pub mod format {
    /// IMA ADPCM, 4 bits.
    pub const IMA_ADPCM: u8 = 0;
    /// mu-law, 8 bits.
    pub const MU_LAW: u8 = 1;
    /// A-law, 8 bits.
    pub const A_LAW: u8 = 2;
    /// Signed 8 bits.
    pub const S8: u8 = 3;
    /// Unsigned 8 bits.
    pub const U8: u8 = 4;
    /// Signed 16 bits, little-endian.
    pub const S16: u8 = 5;
    /// Unsigned 16 bits.
    pub const U16: u8 = 6;
    /// Signed 18 bits in 3 bytes.
    pub const S18_3: u8 = 7;
    /// Unsigned 18 bits in 3 bytes.
    pub const U18_3: u8 = 8;
    /// Signed 20 bits in 3 bytes.
    pub const S20_3: u8 = 9;
    /// Unsigned 20 bits in 3 bytes.
    pub const U20_3: u8 = 10;
    /// Signed 24 bits in 3 bytes.
    pub const S24_3: u8 = 11;
    /// Unsigned 24 bits in 3 bytes.
    pub const U24_3: u8 = 12;
    /// Signed 20 bits in 4 bytes.
    pub const S20: u8 = 13;
    /// Unsigned 20 bits in 4 bytes.
    pub const U20: u8 = 14;
    /// Signed 24 bits in 4 bytes.
    pub const S24: u8 = 15;
    /// Unsigned 24 bits in 4 bytes.
    pub const U24: u8 = 16;
    /// Signed 32 bits.
    pub const S32: u8 = 17;
    /// Unsigned 32 bits.
    pub const U32: u8 = 18;
    /// IEEE float, 32 bits.
    pub const FLOAT: u8 = 19;
    /// IEEE float, 64 bits.
    pub const FLOAT64: u8 = 20;
    /// DSD, 8 bits.
    pub const DSD_U8: u8 = 21;
    /// DSD, 16 bits.
    pub const DSD_U16: u8 = 22;
    /// DSD, 32 bits.
    pub const DSD_U32: u8 = 23;
    /// IEC958 subframe, 32 bits.
    pub const IEC958_SUBFRAME: u8 = 24;
    /// Number of defined formats.
    pub const COUNT: u8 = 25;
}

/// Frame rates in Hz, indexed by `VIRTIO_SND_PCM_RATE_*`.
pub const RATES: [u32; 14] = [
    5512, 8000, 11025, 16000, 22050, 32000, 44100, 48000, 64000, 88200, 96000, 176400, 192000,
    384000,
];

/// Most channel positions one channel map holds (`VIRTIO_SND_CHMAP_MAX_SIZE`).
pub const CHMAP_MAX_SIZE: usize = 18;

/// Largest defined channel position (`VIRTIO_SND_CHMAP_BRC`).
pub const CHMAP_POSITION_MAX: u8 = 36;

/// Channel positions (`VIRTIO_SND_CHMAP_*`) used by the defaults and config names.
pub mod chmap {
    /// Undefined.
    pub const NONE: u8 = 0;
    /// Silent.
    pub const NA: u8 = 1;
    /// Mono.
    pub const MONO: u8 = 2;
    /// Front left.
    pub const FL: u8 = 3;
    /// Front right.
    pub const FR: u8 = 4;
    /// Rear left.
    pub const RL: u8 = 5;
    /// Rear right.
    pub const RR: u8 = 6;
    /// Front center.
    pub const FC: u8 = 7;
    /// Low-frequency effects.
    pub const LFE: u8 = 8;
    /// Side left.
    pub const SL: u8 = 9;
    /// Side right.
    pub const SR: u8 = 10;
}

/// Control element roles (`VIRTIO_SND_CTL_ROLE_*`).
pub mod ctl_role {
    /// Undefined.
    pub const UNDEFINED: u32 = 0;
    /// Volume.
    pub const VOLUME: u32 = 1;
    /// Mute.
    pub const MUTE: u32 = 2;
    /// Gain.
    pub const GAIN: u32 = 3;
}

/// Control element value types (`VIRTIO_SND_CTL_TYPE_*`).
pub mod ctl_type {
    /// Boolean (one le32 per member).
    pub const BOOLEAN: u32 = 0;
    /// 32-bit integer.
    pub const INTEGER: u32 = 1;
    /// 64-bit integer.
    pub const INTEGER64: u32 = 2;
    /// Enumerated (le32 item index per member).
    pub const ENUMERATED: u32 = 3;
    /// Raw bytes.
    pub const BYTES: u32 = 4;
    /// IEC958 status.
    pub const IEC958: u32 = 5;
}

/// Control element access bits (`VIRTIO_SND_CTL_ACCESS_*`), positions in `ctl_info::access`.
pub mod ctl_access {
    /// Readable.
    pub const READ: u32 = 0;
    /// Writable.
    pub const WRITE: u32 = 1;
    /// May change without a write.
    pub const VOLATILE: u32 = 2;
    /// Inactive.
    pub const INACTIVE: u32 = 3;
    /// TLV readable.
    pub const TLV_READ: u32 = 4;
    /// TLV writable.
    pub const TLV_WRITE: u32 = 5;
    /// TLV command.
    pub const TLV_COMMAND: u32 = 6;
}

/// Control event mask bits (`VIRTIO_SND_CTL_EVT_MASK_*`).
pub mod ctl_evt_mask {
    /// The value changed.
    pub const VALUE: u16 = 0;
    /// The information changed.
    pub const INFO: u16 = 1;
    /// The TLV metadata changed.
    pub const TLV: u16 = 2;
}

/// ALSA TLV type of a dB scale (include/uapi/sound/tlv.h `SNDRV_CTL_TLVT_DB_SCALE`).
pub const SNDRV_CTL_TLVT_DB_SCALE: u32 = 1;
/// ALSA dB-scale flag: the minimum value means mute (`TLV_DB_SCALE_MUTE`).
pub const TLV_DB_SCALE_MUTE: u32 = 0x10000;
