//! Broadcast AM/FM tuners: the trait the virtio-radio device drives, a simulated backend
//! ([`sim`]: stations from config, generated RDS and audio) and a Linux V4L2 radio backend
//! ([`v4l2`]: `/dev/radioN`).
//!
//! A tuner never blocks its caller: a tune or seek is started, and its end is reported by
//! [`Tuner::poll`], which the device calls when the deadline the tuner returned passes or when
//! the tuner wakes it (a backend with a worker thread holds the device's [`Wake`]).

pub mod audio;
pub mod band;
pub mod charset;
pub mod rds;
pub mod sim;
pub mod v4l2;

use std::sync::Arc;
use std::time::Instant;

use crate::wake::Wake;

pub use audio::{AudioFormat, TunerAudio};
pub use band::Band;
use rds::RdsBlock;

/// Why a tuner operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TunerError {
    /// The frequency is outside the tuner's ranges.
    #[error("{0} kHz is outside the tuner's ranges")]
    OutOfRange(u32),
    /// The hardware does not do this.
    #[error("not supported: {0}")]
    NotSupported(&'static str),
    /// A system call on the tuner failed.
    #[error("{what}: {source}")]
    Os {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The tuner's worker stopped.
    #[error("tuner worker is gone")]
    WorkerGone,
}

/// What the hardware is, for GET_PROPERTIES and the configuration space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunerDescription {
    /// Maker (V4L2 `driver`).
    pub maker: String,
    /// Product (V4L2 `card`).
    pub product: String,
    /// Version string.
    pub version: String,
    /// Serial (V4L2 `bus_info`).
    pub serial: String,
    /// Whether RDS blocks are delivered.
    pub rds: bool,
    /// Whether stereo is received.
    pub stereo: bool,
    /// Whether [`Tuner::seek`] works.
    pub seek: bool,
}

/// What the tuner receives on its current frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reception {
    /// Frequency the tuner is on, kHz.
    pub frequency_khz: u32,
    /// Signal strength, percent.
    pub signal: u8,
    /// Stereo pilot detected (whether or not mono is forced).
    pub stereo: bool,
    /// A station is received (signal at or above the threshold).
    pub tunable: bool,
}

/// A seek request, resolved by the device against its region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeekRequest {
    /// Frequency the seek starts from, kHz (not itself a candidate unless wrapping back).
    pub from_khz: u32,
    /// Towards higher frequencies.
    pub up: bool,
    /// Wrap at the band edge (else stop there).
    pub wrap: bool,
    /// The band to move in.
    pub band: Band,
}

/// The channels a seek visits, in order: along the band's seek grid (its channel grid when
/// `seek_spacing_khz` is 0) from `from_khz` in the seek's direction, wrapping at the band's
/// edge when asked, each grid point at most once and never the start itself.
pub fn seek_channels(seek: &SeekRequest) -> Vec<u32> {
    let b = &seek.band;
    let grid = u32::from(if b.seek_spacing_khz != 0 {
        b.seek_spacing_khz
    } else {
        b.spacing_khz
    })
    .max(1);
    if b.high_khz < b.low_khz {
        return Vec::new();
    }
    let points = (b.high_khz - b.low_khz) / grid + 1;
    let top = b.low_khz + (points - 1) * grid;
    let mut at = seek.from_khz.clamp(b.low_khz, b.high_khz);
    let mut out = Vec::new();
    for _ in 0..points {
        let next = if seek.up {
            let n = b.low_khz + ((at - b.low_khz) / grid + 1) * grid;
            (n <= top).then_some(n)
        } else if at > b.low_khz {
            Some(b.low_khz + (at - b.low_khz).div_ceil(grid) * grid - grid)
        } else {
            None
        };
        at = match (next, seek.wrap) {
            (Some(n), _) => n,
            (None, true) if seek.up => b.low_khz,
            (None, true) => top,
            (None, false) => break,
        };
        if at == seek.from_khz {
            break;
        }
        out.push(at);
    }
    out
}

/// Something the tuner reports from [`Tuner::poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunerEvent {
    /// The pending tune or seek ended.
    Done(Result<Reception, String>),
    /// RDS blocks received on the current frequency, in order.
    Rds(Vec<RdsBlock>),
    /// Reception changed without an operation (signal, stereo).
    Reception(Reception),
    /// A program list sweep ended: the stations received, in band order. The tuner is back
    /// on the frequency it was on before.
    ScanDone(Vec<Reception>),
}

/// A broadcast tuner as the virtio-radio device uses it.
pub trait Tuner: Send {
    /// What the hardware is.
    fn description(&self) -> TunerDescription;

    /// The frequency ranges the hardware covers (the device intersects them with its region).
    fn hardware_bands(&self) -> Vec<Band>;

    /// Gives the tuner a way to have the device polled from another thread.
    fn set_waker(&mut self, waker: Arc<dyn Wake>);

    /// Starts tuning to `khz`; the end is a [`TunerEvent::Done`]. Audio is muted until lock.
    fn tune(&mut self, khz: u32, now: Instant) -> Result<(), TunerError>;

    /// Starts a seek; the end is a [`TunerEvent::Done`] (not tunable if nothing was found, on
    /// the start frequency). Audio is muted until lock.
    fn seek(&mut self, seek: SeekRequest, now: Instant) -> Result<(), TunerError>;

    /// Abandons the pending tune or seek (no `Done` follows); returns the frequency the tuner
    /// is left on.
    fn cancel(&mut self, now: Instant) -> u32;

    /// Starts a foreground sweep of `bands` for the program list; the end is a
    /// [`TunerEvent::ScanDone`]. Audio is muted during the sweep. Tuners without one say
    /// so with [`TunerError::NotSupported`] (the default).
    fn scan(&mut self, bands: &[Band], now: Instant) -> Result<(), TunerError> {
        let _ = (bands, now);
        Err(TunerError::NotSupported("program list sweep"))
    }

    /// Whether [`Tuner::scan`] works.
    fn can_scan(&self) -> bool {
        false
    }

    /// Abandons a sweep (no `ScanDone` follows); the tuner returns to its frequency.
    fn cancel_scan(&mut self, now: Instant) {
        let _ = now;
    }

    /// Reports what happened since the last call into `out`; returns when to call it next.
    fn poll(&mut self, now: Instant, out: &mut Vec<TunerEvent>) -> Option<Instant>;

    /// Forces mono reception (or allows stereo again).
    fn set_force_mono(&mut self, mono: bool) -> Result<(), TunerError>;

    /// Signal strength (percent) from which a frequency counts as a station.
    fn signal_threshold(&self) -> u8;

    /// Changes the signal threshold.
    fn set_signal_threshold(&mut self, percent: u8);

    /// Sets the audio volume, percent of the hardware's range.
    fn set_volume(&mut self, percent: u8) -> Result<(), TunerError>;

    /// The tuned station's audio, if this tuner produces it in software.
    fn audio(&self) -> Option<Arc<TunerAudio>>;

    /// Stops everything and forgets the tuned frequency's state (device reset).
    fn reset(&mut self);
}

#[cfg(test)]
mod tests {
    use super::band::BAND_FM;
    use super::*;

    fn band(seek_spacing_khz: u16) -> Band {
        Band {
            kind: BAND_FM,
            low_khz: 87500,
            high_khz: 88000,
            spacing_khz: 100,
            seek_spacing_khz,
        }
    }

    fn seek(from_khz: u32, up: bool, wrap: bool, seek_spacing: u16) -> Vec<u32> {
        seek_channels(&SeekRequest {
            from_khz,
            up,
            wrap,
            band: band(seek_spacing),
        })
    }

    #[test]
    fn seek_channels_follow_the_grid_and_wrap_once() {
        assert_eq!(seek(87700, true, false, 0), [87800, 87900, 88000]);
        assert_eq!(
            seek(87700, true, true, 0),
            [87800, 87900, 88000, 87500, 87600]
        );
        assert_eq!(seek(87700, false, false, 0), [87600, 87500]);
        assert_eq!(
            seek(87700, false, true, 0),
            [87600, 87500, 88000, 87900, 87800]
        );
        // On a 200 kHz seek grid anchored at the band's start: 87.5, 87.7, 87.9.
        assert_eq!(seek(87600, true, true, 200), [87700, 87900, 87500]);
        assert_eq!(seek(87650, false, false, 0), [87600, 87500], "off grid");
    }
}
