//! A sound device's PCM streams as the control plane sees them: state, negotiated format
//! and xruns, published by the device thread at each stream transition. The detail is a
//! `Vec<AudioStreamDetail>`, in stream id order.

use std::sync::atomic::{AtomicU64, Ordering};

use super::detail::{DetailSource, DeviceDetail};
use crate::generation::Generation;
use crate::hw::pcm::SampleFormat;

/// Format slot meaning "no parameters set".
const NO_FORMAT: u64 = 0xff;

/// What SET_PARAMETERS negotiated for a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamShape {
    /// Sample format.
    pub format: SampleFormat,
    /// Frame rate in Hz.
    pub rate_hz: u32,
    /// Channels.
    pub channels: u8,
}

/// One stream's published state.
///
/// State, format, rate and channels share one word, so a reader never sees a state next
/// to the format of another transition; the xrun count changes on its own.
#[derive(Debug)]
struct StreamCell {
    direction: AudioDirection,
    /// Bits 0..8 state, 8..16 format index (or [`NO_FORMAT`]), 16..24 channels, 32..64 rate.
    word: AtomicU64,
    xruns: AtomicU64,
}

fn state_code(s: AudioStreamState) -> u64 {
    match s {
        AudioStreamState::Idle => 0,
        AudioStreamState::ParametersSet => 1,
        AudioStreamState::Prepared => 2,
        AudioStreamState::Running => 3,
        AudioStreamState::Stopped => 4,
    }
}

fn state_from(code: u64) -> AudioStreamState {
    match code {
        1 => AudioStreamState::ParametersSet,
        2 => AudioStreamState::Prepared,
        3 => AudioStreamState::Running,
        4 => AudioStreamState::Stopped,
        _ => AudioStreamState::Idle,
    }
}

fn pack(state: AudioStreamState, shape: Option<StreamShape>) -> u64 {
    let (format, channels, rate) = match shape {
        Some(s) => {
            let index = SampleFormat::ALL
                .iter()
                .position(|f| *f == s.format)
                .map_or(NO_FORMAT, |i| i as u64);
            (index, u64::from(s.channels), u64::from(s.rate_hz))
        }
        None => (NO_FORMAT, 0, 0),
    };
    state_code(state) | (format << 8) | (channels << 16) | (rate << 32)
}

/// The PCM streams of one sound device, by virtio-snd stream id.
///
/// Written with atomic stores by the device's thread when a stream changes state or
/// underruns (never per buffer); read by the control plane without any lock.
#[derive(Debug)]
pub struct AudioStreams {
    streams: Box<[StreamCell]>,
    generation: Generation,
}

impl AudioStreams {
    /// Idle, unconfigured streams with these directions, numbered from 0.
    pub fn new(directions: &[AudioDirection]) -> Self {
        Self {
            streams: directions
                .iter()
                .map(|&direction| StreamCell {
                    direction,
                    word: AtomicU64::new(pack(AudioStreamState::Idle, None)),
                    xruns: AtomicU64::new(0),
                })
                .collect(),
            generation: Generation::new(),
        }
    }

    /// Publishes stream `id`'s state and the parameters in force (`None` before
    /// SET_PARAMETERS); bumps the generation only when something changed.
    pub fn set(&self, id: usize, state: AudioStreamState, shape: Option<StreamShape>) {
        if let Some(c) = self.streams.get(id) {
            let word = pack(state, shape);
            if c.word.swap(word, Ordering::Relaxed) != word {
                self.generation.bump();
            }
        }
    }

    /// Publishes stream `id`'s xrun count (since it was last prepared).
    pub fn set_xruns(&self, id: usize, xruns: u64) {
        if let Some(c) = self.streams.get(id) {
            if c.xruns.swap(xruns, Ordering::Relaxed) != xruns {
                self.generation.bump();
            }
        }
    }
}

impl DetailSource for AudioStreams {
    fn detail(&self) -> DeviceDetail {
        let streams: Vec<AudioStreamDetail> = self
            .streams
            .iter()
            .enumerate()
            .map(|(id, c)| {
                let word = c.word.load(Ordering::Relaxed);
                let format = SampleFormat::ALL
                    .get(((word >> 8) & 0xff) as usize)
                    .map_or("", |f| f.alsa_name());
                AudioStreamDetail {
                    id: id as u32,
                    direction: c.direction,
                    state: state_from(word & 0xff),
                    format: format.to_owned(),
                    rate_hz: (word >> 32) as u32,
                    channels: ((word >> 16) & 0xff) as u8,
                    xruns: c.xruns.load(Ordering::Relaxed),
                }
            })
            .collect();
        DeviceDetail::new(streams)
    }

    fn changes(&self) -> &Generation {
        &self.generation
    }
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
