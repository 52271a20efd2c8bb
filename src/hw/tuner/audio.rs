//! The tuned station's audio as a thread-safe PCM source: the radio device's tuner writes
//! what is on air (a station's signature, or silence while muted) and a virtio-snd capture
//! stream (the "FM tuner" input, `source = "tuner"`) pulls frames from it at its own pace,
//! through the sound side's [`AudioFeed`] trait.
//!
//! The simulated tuner gives every station a signature a capture can recognise: a sine tone
//! at the station's `tone_hz` on the left channel and, for a stereo station received in
//! stereo, a tone at 5/4 of it on the right (mono: the same tone on every channel).

use std::collections::VecDeque;
use std::f64::consts::TAU;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::hw::pcm::feed::AudioFeed;
use crate::hw::pcm::{PcmParams, SampleFormat};

/// Interleaved signed 16-bit little-endian PCM at `rate` with `channels` channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFormat {
    /// Frames per second.
    pub rate: u32,
    /// Channels per frame.
    pub channels: u8,
}

impl AudioFormat {
    /// Bytes in one frame.
    pub fn frame_bytes(&self) -> usize {
        2 * usize::from(self.channels)
    }
}

/// What is on air at the tuner's output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signature {
    /// Tone on the left (and, in mono, every) channel, Hz.
    pub left_hz: f64,
    /// Tone on the right channel, Hz.
    pub right_hz: f64,
}

impl Signature {
    /// The signature of a station with tone `tone_hz`, received in stereo or not.
    pub fn station(tone_hz: u32, stereo: bool) -> Self {
        let left = f64::from(tone_hz);
        Self {
            left_hz: left,
            right_hz: if stereo { left * 5.0 / 4.0 } else { left },
        }
    }
}

#[derive(Debug)]
struct State {
    on_air: Option<Signature>,
    muted: bool,
    /// Volume, percent.
    volume: u8,
    /// Phase of each tone, in cycles, kept across pulls so the tone is continuous.
    phase: [f64; 2],
    /// What was audible from when: a capture buffer filled late (its thread got the CPU
    /// after the buffer's time) still gets what was on air during its time span, as
    /// a hardware tuner's FIFO would hold it. Stamps never decrease.
    changes: VecDeque<(Instant, Option<Signature>)>,
    /// What was audible before the oldest kept change.
    before: Option<Signature>,
}

/// Changes kept for late capture buffers: many more than a buffer's span can hold.
const KEPT_CHANGES: usize = 32;

impl State {
    fn audible(&self) -> Option<Signature> {
        if self.muted {
            None
        } else {
            self.on_air
        }
    }

    /// Records that what is audible changed at `at` (no earlier than the last change).
    fn changed(&mut self, at: Instant) {
        let at = self.changes.back().map_or(at, |(last, _)| at.max(*last));
        if self.changes.len() == KEPT_CHANGES {
            if let Some((_, oldest)) = self.changes.pop_front() {
                self.before = oldest;
            }
        }
        let now = self.audible();
        self.changes.push_back((at, now));
    }

    /// What was audible at `t`.
    fn audible_at(&self, t: Instant) -> Option<Signature> {
        self.changes
            .iter()
            .rev()
            .find(|(at, _)| *at <= t)
            .map_or(self.before, |(_, sig)| *sig)
    }
}

/// The tuner's audio output (see the module documentation).
#[derive(Debug)]
pub struct TunerAudio {
    name: String,
    state: Mutex<State>,
}

/// Peak amplitude of the generated tones (half of full scale).
const AMPLITUDE: f64 = 16384.0;

impl TunerAudio {
    /// A muted output named `name` (the feed name a sound stream refers to).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            state: Mutex::new(State {
                on_air: None,
                muted: true,
                volume: 100,
                phase: [0.0; 2],
                changes: VecDeque::new(),
                before: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        }
    }

    /// Mutes the output (a tune or seek started).
    pub fn mute(&self) {
        self.mute_at(Instant::now());
    }

    /// Mutes the output from `at` on (the time the tuner started tuning).
    pub fn mute_at(&self, at: Instant) {
        let mut s = self.lock();
        s.muted = true;
        s.changed(at);
    }

    /// Puts `on_air` on the output and unmutes it; `None` (no station) stays silent.
    pub fn lock_on(&self, on_air: Option<Signature>) {
        self.lock_on_at(on_air, Instant::now());
    }

    /// Like [`TunerAudio::lock_on`], from `at` on (the time the tuner locked).
    pub fn lock_on_at(&self, on_air: Option<Signature>, at: Instant) {
        let mut s = self.lock();
        s.on_air = on_air;
        s.muted = on_air.is_none();
        s.changed(at);
    }

    /// Sets the output volume, percent (more than 100 counts as 100).
    pub fn set_volume(&self, percent: u8) {
        self.lock().volume = percent.min(100);
    }

    /// Whether the output is muted.
    pub fn is_muted(&self) -> bool {
        self.lock().muted
    }

    /// What the output carries now (`None` while muted).
    pub fn on_air(&self) -> Option<Signature> {
        let s = self.lock();
        if s.muted {
            None
        } else {
            s.on_air
        }
    }
}

impl TunerAudio {
    /// The feed name a sound stream refers to.
    pub fn feed_name(&self) -> &str {
        &self.name
    }

    /// Whether the output can be produced as `format`.
    pub fn can_make(&self, format: &AudioFormat) -> bool {
        (8000..=192_000).contains(&format.rate) && (1..=8).contains(&format.channels)
    }

    /// Fills `buf` (whole frames of `format`) with the next frames of what is on air now;
    /// returns the bytes written (all whole frames of `buf`; silence while muted), 0 for a
    /// format it cannot make.
    pub fn fill(&self, format: &AudioFormat, buf: &mut [u8]) -> usize {
        self.fill_span(format, buf, None)
    }

    /// Like [`TunerAudio::fill`] for the frames captured up to `end`: each frame carries
    /// what was on air at its own time, whenever this is called.
    pub fn fill_until(&self, format: &AudioFormat, buf: &mut [u8], end: Instant) -> usize {
        self.fill_span(format, buf, Some(end))
    }

    fn fill_span(&self, format: &AudioFormat, buf: &mut [u8], end: Option<Instant>) -> usize {
        if !self.can_make(format) {
            return 0;
        }
        let frame = format.frame_bytes();
        let frames = buf.len() / frame;
        let len = frames * frame;
        let mut s = self.lock();
        let rate = f64::from(format.rate);
        let frame_time = Duration::from_secs(1) / format.rate;
        let start = end.map(|e| {
            let span = frame_time.saturating_mul(u32::try_from(frames).unwrap_or(u32::MAX));
            e.checked_sub(span).unwrap_or(e)
        });
        let amplitude = AMPLITUDE * f64::from(s.volume) / 100.0;
        let now = s.audible();
        for (i, f) in buf[..len].chunks_exact_mut(frame).enumerate() {
            let sig = match start {
                Some(t0) => s.audible_at(t0 + frame_time * u32::try_from(i).unwrap_or(0)),
                None => now,
            };
            let Some(sig) = sig else {
                f.fill(0);
                continue;
            };
            let left = (amplitude * (TAU * s.phase[0]).sin()) as i16;
            let right = (amplitude * (TAU * s.phase[1]).sin()) as i16;
            for (c, sample) in f.chunks_exact_mut(2).enumerate() {
                let v = if c == 1 { right } else { left };
                sample.copy_from_slice(&v.to_le_bytes());
            }
            for (p, d) in s.phase.iter_mut().zip([sig.left_hz, sig.right_hz]) {
                *p = (*p + d / rate).fract();
            }
        }
        len
    }
}

/// The sound device records the tuner through this: S16 at any rate and channel count.
impl AudioFeed for TunerAudio {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn supports(&self, params: &PcmParams) -> bool {
        params.format == SampleFormat::S16
            && self.can_make(&AudioFormat {
                rate: params.rate,
                channels: params.channels,
            })
    }

    fn pull(&self, params: &PcmParams, buf: &mut [u8]) -> usize {
        if !self.supports(params) {
            return 0;
        }
        let format = AudioFormat {
            rate: params.rate,
            channels: params.channels,
        };
        self.fill(&format, buf)
    }

    fn pull_until(&self, params: &PcmParams, buf: &mut [u8], end: Instant) -> usize {
        if !self.supports(params) {
            return 0;
        }
        let format = AudioFormat {
            rate: params.rate,
            channels: params.channels,
        };
        self.fill_until(&format, buf, end)
    }
}

/// Estimates the frequency of the strongest tone in `samples` (mono, `rate` Hz) by counting
/// upward zero crossings; good enough to tell generated station tones apart.
pub fn dominant_hz(samples: &[i16], rate: u32) -> Option<f64> {
    let crossings: Vec<usize> = samples
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0 && w[1] >= 0)
        .map(|(i, _)| i)
        .collect();
    let (first, last) = (*crossings.first()?, *crossings.last()?);
    if crossings.len() < 2 || last == first {
        return None;
    }
    let cycles = (crossings.len() - 1) as f64;
    Some(cycles * f64::from(rate) / (last - first) as f64)
}

/// Splits interleaved S16LE bytes into per-channel samples.
pub fn deinterleave(bytes: &[u8], channels: usize) -> Vec<Vec<i16>> {
    let mut out = vec![Vec::new(); channels.max(1)];
    for (i, s) in bytes.chunks_exact(2).enumerate() {
        out[i % channels.max(1)].push(i16::from_le_bytes([s[0], s[1]]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FMT: AudioFormat = AudioFormat {
        rate: 48000,
        channels: 2,
    };

    #[test]
    fn muted_output_is_silence_of_the_requested_length() {
        let a = TunerAudio::new("fm0");
        let mut buf = [0x55u8; 4 * 100 + 3];
        assert_eq!(a.fill(&FMT, &mut buf), 400, "whole frames only");
        assert!(buf[..400].iter().all(|&b| b == 0));
        assert_eq!(buf[400..], [0x55; 3]);
    }

    #[test]
    fn a_stereo_station_has_its_tone_left_and_five_quarters_right() {
        let a = TunerAudio::new("fm0");
        a.lock_on(Some(Signature::station(1000, true)));
        let mut buf = vec![0u8; 4 * 48000];
        assert_eq!(a.fill(&FMT, &mut buf), buf.len());
        let ch = deinterleave(&buf, 2);
        let l = dominant_hz(&ch[0], 48000).unwrap();
        let r = dominant_hz(&ch[1], 48000).unwrap();
        assert!((l - 1000.0).abs() < 2.0, "{l}");
        assert!((r - 1250.0).abs() < 2.0, "{r}");
        let peak = ch[0].iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((16000..=16384).contains(&peak), "{peak}");
    }

    #[test]
    fn tone_is_continuous_across_pulls_and_mute_silences_it() {
        let a = TunerAudio::new("fm0");
        a.lock_on(Some(Signature::station(440, false)));
        let mono = AudioFormat {
            rate: 8000,
            channels: 1,
        };
        let mut whole = Vec::new();
        for _ in 0..80 {
            let mut b = [0u8; 200];
            a.fill(&mono, &mut b);
            whole.extend_from_slice(&b);
        }
        let s = &deinterleave(&whole, 1)[0];
        let hz = dominant_hz(s, 8000).unwrap();
        assert!((hz - 440.0).abs() < 1.0, "{hz}");
        // No jump between pulls: neighbouring samples differ by at most one step of the sine.
        let max_step = (AMPLITUDE * TAU * 440.0 / 8000.0) as i32 + 2;
        assert!(s
            .windows(2)
            .all(|w| (i32::from(w[1]) - i32::from(w[0])).abs() <= max_step));
        a.mute();
        assert!(a.is_muted());
        let mut b = [1u8; 64];
        a.fill(&mono, &mut b);
        assert_eq!(b, [0; 64]);
    }

    #[test]
    fn the_sound_side_pulls_s16_only() {
        let a = TunerAudio::new("fm0");
        a.lock_on(Some(Signature::station(1000, false)));
        let mut p = PcmParams {
            format: SampleFormat::S16,
            rate: 48000,
            channels: 2,
            period_bytes: 1920,
            buffer_bytes: 7680,
        };
        assert_eq!(AudioFeed::name(&a), "fm0");
        assert!(AudioFeed::supports(&a, &p));
        let mut buf = vec![0u8; 1920];
        assert_eq!(AudioFeed::pull(&a, &p, &mut buf), 1920);
        assert!(buf.iter().any(|&b| b != 0));
        p.format = SampleFormat::S32;
        assert!(!AudioFeed::supports(&a, &p));
        assert_eq!(AudioFeed::pull(&a, &p, &mut buf), 0);
    }

    /// A buffer filled late (its thread was starved) still holds what was on air during
    /// its span: silence from the mute on, the new station from the lock on.
    #[test]
    fn a_late_fill_records_what_was_on_air_during_its_span() {
        let a = TunerAudio::new("fm0");
        let t0 = Instant::now();
        a.lock_on_at(Some(Signature::station(500, false)), t0);
        a.mute_at(t0 + Duration::from_millis(10));
        a.lock_on_at(
            Some(Signature::station(700, false)),
            t0 + Duration::from_millis(50),
        );
        // 60 ms at 8 kHz mono, filled only now that everything has happened.
        let mono = AudioFormat {
            rate: 8000,
            channels: 1,
        };
        let mut b = vec![0u8; 2 * 480];
        a.fill_until(&mono, &mut b, t0 + Duration::from_millis(60));
        let s = &deinterleave(&b, 1)[0];
        let ms = |from: usize, to: usize| &s[from * 8..to * 8];
        assert!(ms(0, 10).iter().any(|&v| v != 0), "on air before the mute");
        assert!(ms(10, 50).iter().all(|&v| v == 0), "silent while tuning");
        assert!(ms(50, 60).iter().any(|&v| v != 0), "the new station after");
        // Now-filled frames follow the current state.
        let mut now = vec![0u8; 200];
        a.fill(&mono, &mut now);
        assert!(now.iter().any(|&v| v != 0));
    }

    #[test]
    fn refuses_formats_it_cannot_make() {
        let a = TunerAudio::new("fm0");
        let bad = AudioFormat {
            rate: 48000,
            channels: 0,
        };
        assert!(!a.can_make(&bad));
        assert_eq!(a.fill(&bad, &mut [0u8; 8]), 0);
    }
}
