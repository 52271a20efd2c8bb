//! Per-kind device detail: what a device publishes beyond link and counters.

use crate::generation::Generation;

/// A device's per-kind state, as a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceDetail {
    /// SCMI: the clocks this agent sees.
    Scmi {
        /// Clocks by SCMI id.
        clocks: Vec<ClockDetail>,
    },
    /// RPMB partition state (never the key).
    Rpmb(RpmbDetail),
    /// Radio tuner state.
    Radio(RadioDetail),
    /// virtio-snd PCM streams.
    Sound {
        /// Streams by virtio-snd id.
        streams: Vec<AudioStreamDetail>,
    },
}

/// One SCMI clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockDetail {
    /// SCMI clock id.
    pub id: u32,
    /// Clock name.
    pub name: String,
    /// Current rate in Hz.
    pub rate_hz: u64,
    /// Whether the clock is enabled.
    pub enabled: bool,
    /// Guest that enabled or last set it; empty if none.
    pub owner: String,
}

/// State of an RPMB partition; the authentication key is deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpmbDetail {
    /// Partition size in bytes.
    pub capacity_bytes: u64,
    /// The write counter.
    pub write_counter: u32,
    /// Whether a key has been programmed.
    pub key_programmed: bool,
}

/// Broadcast band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadioBand {
    /// FM.
    Fm,
    /// AM.
    Am,
}

/// Decoded RDS fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsDetail {
    /// Programme Identification.
    pub pi: u16,
    /// Programme Service name.
    pub ps: String,
    /// RadioText.
    pub rt: String,
    /// Programme Type.
    pub pty: u8,
}

/// What a tuner is tuned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadioDetail {
    /// Band.
    pub band: RadioBand,
    /// Frequency in kHz.
    pub frequency_khz: u32,
    /// Signal quality, 0..=100.
    pub signal_percent: u8,
    /// Stereo pilot detected.
    pub stereo: bool,
    /// RDS, when decoded.
    pub rds: Option<RdsDetail>,
}

/// PCM stream direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioDirection {
    /// Guest to hardware.
    Output,
    /// Hardware to guest.
    Input,
}

/// virtio-snd stream state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioStreamState {
    /// Released or never configured.
    Idle,
    /// SET_PARAMETERS accepted.
    ParametersSet,
    /// PREPARE accepted.
    Prepared,
    /// START accepted.
    Running,
    /// STOP accepted.
    Stopped,
}

/// One PCM stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioStreamDetail {
    /// virtio-snd stream id.
    pub id: u32,
    /// Direction.
    pub direction: AudioDirection,
    /// State.
    pub state: AudioStreamState,
    /// ALSA format name; empty before SET_PARAMETERS.
    pub format: String,
    /// Frame rate in Hz; 0 before SET_PARAMETERS.
    pub rate_hz: u32,
    /// Channels; 0 before SET_PARAMETERS.
    pub channels: u8,
    /// Underruns (output) or overruns (input) since the stream was last prepared.
    pub xruns: u64,
}

/// How a device publishes its detail.
///
/// Implementations keep what they publish in atomics or behind a lock the device holds only
/// for the few nanoseconds of an update, never across a request, so that reading a snapshot
/// never waits for a device thread.
pub trait DetailSource: Send + Sync {
    /// The current detail.
    fn detail(&self) -> DeviceDetail;

    /// Bumped on every change, so a watcher can tell cheaply whether to notify; it rings the
    /// watcher's bell once the source is installed on a [`DeviceState`](super::DeviceState).
    fn changes(&self) -> &Generation;

    /// The number of changes so far.
    fn generation(&self) -> u64 {
        self.changes().get()
    }
}
