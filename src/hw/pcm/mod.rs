//! PCM audio: the backend traits a virtio-snd stream plays into or records from, and their
//! implementations.
//!
//! The device paces every stream from a monotonic clock and hands a backend exactly one
//! elapsed buffer at a time, so a backend never blocks and never decides timing:
//! - simulated: [`null`] (discards / silence), [`wav`] (file sink per stream, file source),
//!   [`tone`] (sine generator), [`feed`] (capture fed by another device, e.g. the FM tuner);
//! - real: [`alsa`] (the kernel's ALSA PCM uAPI, no alsa-lib);
//! - arbitration: [`shared`] puts several guests on one output, mixed or exclusive.

pub mod alsa;
pub mod feed;
pub mod format;
pub mod null;
pub mod shared;
pub mod tone;
pub mod wav;

pub use format::SampleFormat;

/// The parameters a stream was prepared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmParams {
    /// Sample format.
    pub format: SampleFormat,
    /// Frames per second.
    pub rate: u32,
    /// Interleaved channels per frame.
    pub channels: u8,
    /// Bytes per period (the unit the guest queues).
    pub period_bytes: u32,
    /// Bytes in the guest's ring buffer.
    pub buffer_bytes: u32,
}

impl PcmParams {
    /// Bytes in one frame.
    pub fn frame_bytes(&self) -> u32 {
        self.format.bytes() * u32::from(self.channels)
    }

    /// Bytes per second of audio.
    pub fn byte_rate(&self) -> u64 {
        u64::from(self.frame_bytes()) * u64::from(self.rate)
    }

    /// Frames in one period.
    pub fn period_frames(&self) -> u32 {
        self.period_bytes / self.frame_bytes().max(1)
    }
}

/// Why a backend refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum PcmError {
    /// The backend cannot work with these parameters.
    #[error("unsupported parameters: {0}")]
    Unsupported(String),
    /// Another guest holds an exclusive output.
    #[error("output {output} is held exclusively by {owner}")]
    Busy {
        /// The output's name.
        output: String,
        /// Who holds it.
        owner: String,
    },
    /// The backend was used out of order (e.g. write before open).
    #[error("backend not open")]
    NotOpen,
    /// An OS or file error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file's contents are not usable.
    #[error("{0}")]
    Format(String),
}

impl PcmError {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// Where a playback stream's audio goes.
///
/// Lifecycle, driven by the stream state machine: `check` (SET_PARAMS), `open` (PREPARE),
/// `start` (START), `write` (each elapsed buffer), `stop` (STOP), `close` (RELEASE).
pub trait PcmPlayback: Send {
    /// Human-readable description for logs and status.
    fn describe(&self) -> String;

    /// Whether the backend can take `params` (called at SET_PARAMS).
    fn check(&self, params: &PcmParams) -> Result<(), PcmError> {
        let _ = params;
        Ok(())
    }

    /// Opens the output with `params`.
    fn open(&mut self, params: &PcmParams) -> Result<(), PcmError>;

    /// The stream starts (or resumes); an exclusive output may refuse here.
    fn start(&mut self) -> Result<(), PcmError> {
        Ok(())
    }

    /// Takes one buffer of interleaved frames whose play time has come.
    fn write(&mut self, data: &[u8]) -> Result<(), PcmError>;

    /// Bytes accepted but not yet audible (the backend's own latency).
    fn delay_bytes(&self) -> u32 {
        0
    }

    /// The stream stopped (paused); nothing more arrives until the next `start`.
    fn stop(&mut self) {}

    /// The stream was released; the next use starts with `open`.
    fn close(&mut self);
}

/// Where a capture stream's audio comes from.
pub trait PcmCapture: Send {
    /// Human-readable description for logs and status.
    fn describe(&self) -> String;

    /// Whether the backend can produce `params` (called at SET_PARAMS).
    fn check(&self, params: &PcmParams) -> Result<(), PcmError> {
        let _ = params;
        Ok(())
    }

    /// Opens the input with `params`.
    fn open(&mut self, params: &PcmParams) -> Result<(), PcmError>;

    /// The stream starts (or resumes).
    fn start(&mut self) -> Result<(), PcmError> {
        Ok(())
    }

    /// Fills `buf` with the frames captured over the buffer's time span; whatever the
    /// source could not supply is silence.
    fn read(&mut self, buf: &mut [u8]) -> Result<(), PcmError>;

    /// Like [`PcmCapture::read`] for a buffer whose time span ends at `end`, which is
    /// past when the stream's thread runs late; sources that follow events in time use it.
    fn read_until(&mut self, buf: &mut [u8], end: std::time::Instant) -> Result<(), PcmError> {
        let _ = end;
        self.read(buf)
    }

    /// Bytes captured but not yet delivered (the backend's own latency).
    fn delay_bytes(&self) -> u32 {
        0
    }

    /// The stream stopped (paused).
    fn stop(&mut self) {}

    /// The stream was released.
    fn close(&mut self);
}
