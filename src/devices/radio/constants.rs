//! Numbers of the virtio-radio device as defined in docs/virtio-radio.md.
//!
//! Section references (§) point into that document. Values that mirror Android's
//! `android.hardware.broadcastradio` AIDL enums are numerically identical on purpose, so a
//! HAL on top of this device passes them through without a table.

/// Default device ID: experimental, between the OASIS-assigned IDs (0..=49) and the IDs
/// crosvm allocates downward from 63 (§1). The service lets the configuration override it.
pub const VIRTIO_ID_RADIO_DEFAULT: u32 = 56;

/// Control queue index (§2).
pub const CONTROLQ: u16 = 0;
/// Event queue index (§2).
pub const EVENTQ: u16 = 1;
/// Number of virtqueues (§2).
pub const NUM_QUEUES: usize = 2;

/// Feature bit: the device reports raw RDS blocks in `RDS_BLOCKS` events (§3).
pub const VIRTIO_RADIO_F_RDS_BLOCKS: u32 = 0;

/// Capability: the device decodes RDS (PI, PTY, PS, RadioText) (§4).
pub const CAP_RDS: u32 = 1 << 0;
/// Capability: the device decodes the North American RBDS variant.
pub const CAP_RBDS: u32 = 1 << 1;
/// Capability: the device receives FM stereo.
pub const CAP_STEREO: u32 = 1 << 2;
/// Capability: the device implements SEEK.
pub const CAP_SEEK: u32 = 1 << 3;
/// Capability: the device builds a program list (START/STOP_PROGRAM_LIST).
pub const CAP_PROGRAM_LIST: u32 = 1 << 4;
/// Capability: the program list comes from a second tuner; scanning never disturbs audio.
pub const CAP_BACKGROUND_TUNER: u32 = 1 << 5;
/// Every capability bit this revision defines.
pub const CAP_ALL: u32 =
    CAP_RDS | CAP_RBDS | CAP_STEREO | CAP_SEEK | CAP_PROGRAM_LIST | CAP_BACKGROUND_TUNER;

/// Most bands the configuration space describes (§4).
pub const MAX_BANDS: usize = 8;
/// Most antennas the `antenna_connected` bitmap describes.
pub const MAX_ANTENNAS: usize = 32;
/// `snd_stream_id` / `snd_jack_id` value meaning "no such virtio-snd object".
pub const SND_ID_NONE: u32 = 0xFFFF_FFFF;

pub use crate::hw::tuner::band::{BAND_AM, BAND_FM};

/// FM de-emphasis 50 µs (AIDL `AmFmRegionConfig.DEEMPHASIS_D50`).
pub const DEEMPHASIS_D50: u8 = 1 << 0;
/// FM de-emphasis 75 µs (AIDL `AmFmRegionConfig.DEEMPHASIS_D75`).
pub const DEEMPHASIS_D75: u8 = 1 << 1;
/// RDS variant (AIDL `AmFmRegionConfig.RDS`).
pub const FM_RDS: u8 = 1 << 0;
/// RBDS variant (AIDL `AmFmRegionConfig.RBDS`).
pub const FM_RBDS: u8 = 1 << 1;

/// Request: module properties (§6.2, §6.4.1).
pub const REQ_GET_PROPERTIES: u32 = 0x0001;
/// Request: AM/FM region configuration.
pub const REQ_GET_BANDS: u32 = 0x0002;
/// Request: tune to a program selector.
pub const REQ_TUNE: u32 = 0x0003;
/// Request: seek the next station.
pub const REQ_SEEK: u32 = 0x0004;
/// Request: step one channel.
pub const REQ_STEP: u32 = 0x0005;
/// Request: cancel the pending tune, seek or step.
pub const REQ_CANCEL: u32 = 0x0006;
/// Request: current program information.
pub const REQ_GET_PROGRAM_INFO: u32 = 0x0007;
/// Request: read a config flag.
pub const REQ_GET_CONFIG_FLAG: u32 = 0x0008;
/// Request: write a config flag.
pub const REQ_SET_CONFIG_FLAG: u32 = 0x0009;
/// Request: read a vendor parameter.
pub const REQ_GET_PARAMETER: u32 = 0x000A;
/// Request: write a vendor parameter.
pub const REQ_SET_PARAMETER: u32 = 0x000B;
/// Request: start program list updates.
pub const REQ_START_PROGRAM_LIST: u32 = 0x000C;
/// Request: stop program list updates.
pub const REQ_STOP_PROGRAM_LIST: u32 = 0x000D;

/// Status: success (AIDL `Result.OK`) (§6.3).
pub const S_OK: u32 = 0;
/// Status: the device or its hardware failed (AIDL `Result.INTERNAL_ERROR`).
pub const S_INTERNAL_ERROR: u32 = 1;
/// Status: a well-formed request carries an invalid value (AIDL `Result.INVALID_ARGUMENTS`).
pub const S_INVALID_ARGUMENTS: u32 = 2;
/// Status: the request is not valid in the current state (AIDL `Result.INVALID_STATE`).
pub const S_INVALID_STATE: u32 = 3;
/// Status: not supported by this device (AIDL `Result.NOT_SUPPORTED`).
pub const S_NOT_SUPPORTED: u32 = 4;
/// Status: an operation did not finish in time (AIDL `Result.TIMEOUT`).
pub const S_TIMEOUT: u32 = 5;
/// Status: an operation was cancelled (AIDL `Result.CANCELED`).
pub const S_CANCELLED: u32 = 6;
/// Status: other error (AIDL `Result.UNKNOWN_ERROR`).
pub const S_UNKNOWN_ERROR: u32 = 7;
/// Status: a tune, seek or step is already pending.
pub const S_BUSY: u32 = 8;
/// Status: the request is malformed (unknown code, wrong size, small response buffer).
pub const S_BAD_MSG: u32 = 9;

/// Seek flag: towards higher frequencies (§6.4.4).
pub const SEEK_F_UP: u32 = 1 << 0;
/// Seek flag: skip digital sub-channels.
pub const SEEK_F_SKIP_SUBCHANNEL: u32 = 1 << 1;
/// Seek flag: stop at the band edge instead of wrapping around.
pub const SEEK_F_NO_WRAP: u32 = 1 << 2;
/// Every seek flag this revision defines.
pub const SEEK_F_ALL: u32 = SEEK_F_UP | SEEK_F_SKIP_SUBCHANNEL | SEEK_F_NO_WRAP;
/// Step flag: towards higher frequencies.
pub const STEP_F_UP: u32 = 1 << 0;

/// Identifier type: invalid / absent (AIDL `IdentifierType.INVALID`).
pub const ID_INVALID: u32 = 0;
/// Identifier type: AM/FM frequency in kHz (AIDL `IdentifierType.AMFM_FREQUENCY_KHZ`).
pub const ID_AMFM_FREQUENCY_KHZ: u32 = 1;
/// Identifier type: RDS PI code (AIDL `IdentifierType.RDS_PI`).
pub const ID_RDS_PI: u32 = 2;

/// Config flag: force mono (AIDL `ConfigFlag.FORCE_MONO`).
pub const FLAG_FORCE_MONO: u32 = 1;
/// Config flag: force analog (deprecated in AIDL, kept for numbering).
pub const FLAG_FORCE_ANALOG: u32 = 2;
/// Config flag: force digital.
pub const FLAG_FORCE_DIGITAL: u32 = 3;
/// Config flag: RDS alternative frequencies.
pub const FLAG_RDS_AF: u32 = 4;
/// Config flag: RDS regional lock.
pub const FLAG_RDS_REG: u32 = 5;
/// Config flag: DAB-DAB linking.
pub const FLAG_DAB_DAB_LINKING: u32 = 6;
/// Config flag: DAB-FM linking.
pub const FLAG_DAB_FM_LINKING: u32 = 7;
/// Config flag: DAB-DAB soft linking.
pub const FLAG_DAB_DAB_SOFT_LINKING: u32 = 8;
/// Config flag: DAB-FM soft linking.
pub const FLAG_DAB_FM_SOFT_LINKING: u32 = 9;
/// Config flag: force analog FM.
pub const FLAG_FORCE_ANALOG_FM: u32 = 10;
/// Config flag: force analog AM.
pub const FLAG_FORCE_ANALOG_AM: u32 = 11;
/// Highest config flag number this revision defines.
pub const FLAG_MAX: u32 = 11;

/// Program info flag: live stream (AIDL `ProgramInfo.FLAG_LIVE`) (§6.5).
pub const INFO_LIVE: u32 = 1 << 0;
/// Program info flag: audio muted (bad reception).
pub const INFO_MUTED: u32 = 1 << 1;
/// Program info flag: RDS TP, station carries traffic programmes.
pub const INFO_TRAFFIC_PROGRAM: u32 = 1 << 2;
/// Program info flag: RDS TA, traffic announcement on air now.
pub const INFO_TRAFFIC_ANNOUNCEMENT: u32 = 1 << 3;
/// Program info flag: a station, not static.
pub const INFO_TUNABLE: u32 = 1 << 4;
/// Program info flag: stereo reception.
pub const INFO_STEREO: u32 = 1 << 5;
/// Program info flag: signal acquired.
pub const INFO_SIGNAL_ACQUISITION: u32 = 1 << 6;
/// Every program info flag this revision defines.
pub const INFO_ALL: u32 = (1 << 7) - 1;

/// RDS field valid: PI.
pub const RDS_PI: u32 = 1 << 0;
/// RDS field valid: PTY.
pub const RDS_PTY: u32 = 1 << 1;
/// RDS field valid: PS.
pub const RDS_PS: u32 = 1 << 2;
/// RDS field valid: RadioText.
pub const RDS_RT: u32 = 1 << 3;
/// PTY is coded per the RBDS table rather than the RDS one.
pub const RDS_RBDS: u32 = 1 << 4;
/// Every RDS field bit this revision defines.
pub const RDS_ALL: u32 = (1 << 5) - 1;

pub use crate::hw::tuner::rds::{PS_LEN, RT_MAX_LEN};
/// Size of each NUL-padded string in the properties response.
pub const PROP_STRING_LEN: usize = 32;
/// Size of a parameter key.
pub const PARAM_KEY_LEN: usize = 64;
/// Size of a parameter value.
pub const PARAM_VALUE_LEN: usize = 128;

/// Event: a tune, seek, step finished (§6.6).
pub const EVT_TUNE_COMPLETE: u32 = 0x1000;
/// Event: current program information changed (RDS, signal, stereo).
pub const EVT_PROGRAM_INFO_CHANGED: u32 = 0x1001;
/// Event: antenna connection state changed.
pub const EVT_ANTENNA_STATE: u32 = 0x1002;
/// Event: one program list update.
pub const EVT_PROGRAM_LIST_UPDATE: u32 = 0x1003;
/// Event: a config flag changed without a SET_CONFIG_FLAG.
pub const EVT_CONFIG_FLAG_CHANGED: u32 = 0x1004;
/// Event: raw RDS blocks (needs `VIRTIO_RADIO_F_RDS_BLOCKS`).
pub const EVT_RDS_BLOCKS: u32 = 0x1005;

/// Event header flag: the device dropped events before this one.
pub const EVT_F_LOST: u32 = 1 << 0;

/// Program list update flag: the driver drops its list.
pub const LIST_F_PURGE: u32 = 1 << 0;
/// Program list update flag: the scan is complete.
pub const LIST_F_COMPLETE: u32 = 1 << 1;
/// Program list update flag: `entry` holds a program.
pub const LIST_F_ENTRY: u32 = 1 << 2;
/// Program list update flag: the program in `entry` was removed.
pub const LIST_F_REMOVED: u32 = 1 << 3;
/// Every program list update flag this revision defines.
pub const LIST_F_ALL: u32 = LIST_F_PURGE | LIST_F_COMPLETE | LIST_F_ENTRY | LIST_F_REMOVED;

/// Most raw RDS blocks in one `RDS_BLOCKS` event.
pub const RDS_BLOCKS_MAX: usize = 64;
/// Smallest device-writable size of an event buffer the driver supplies.
pub const EVENT_BUF_MIN: usize = 256;

/// Time within which the device finishes every tune, seek or step (AIDL `TUNER_TIMEOUT_MS`).
pub const TUNER_TIMEOUT_MS: u64 = 30_000;
/// Time within which a scan sends its COMPLETE update (AIDL `LIST_COMPLETE_TIMEOUT_MS`).
pub const LIST_COMPLETE_TIMEOUT_MS: u64 = 300_000;
