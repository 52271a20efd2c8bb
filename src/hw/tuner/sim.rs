//! The simulated tuner: stations from config, tuning and seek timing from config, an RDS
//! stream per station generated with the RDS encoder and paced at the RDS group rate, and a
//! distinct audio signature per station (see [`super::audio`]).
//!
//! A frequency carries a station only if one is configured on exactly that frequency; it is
//! received (tunable) when the station's signal is at or above the threshold. A tune locks
//! after the configured latency; a seek visits channels on the seek grid, spending the
//! configured dwell on each, and then locks like a tune.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::devices::radio::rds::{RdsEncoder, RDS_GROUP_PERIOD};
use crate::devices::radio::wire::Band;
use crate::devices::Wake;

use super::audio::{Signature, TunerAudio};
use super::{Reception, SeekRequest, Tuner, TunerDescription, TunerError, TunerEvent};

/// One simulated station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimStation {
    /// Where it transmits, kHz.
    pub frequency_khz: u32,
    /// RDS PI; `None` for a station without RDS.
    pub pi: Option<u16>,
    /// RDS Programme Service name (display text, at most 8 characters).
    pub ps: String,
    /// RDS RadioText (display text, at most 64 characters).
    pub rt: String,
    /// RDS Programme Type.
    pub pty: u8,
    /// Signal strength, percent.
    pub signal: u8,
    /// Transmits in stereo.
    pub stereo: bool,
    /// Tone of its audio signature, Hz.
    pub tone_hz: u32,
}

/// Everything the simulated tuner is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTunerConfig {
    /// Ranges the simulated hardware covers.
    pub bands: Vec<Band>,
    /// The stations on air.
    pub stations: Vec<SimStation>,
    /// From tune start to lock.
    pub tune_latency: Duration,
    /// Time a seek spends on each channel it passes.
    pub seek_dwell: Duration,
    /// Signal (percent) from which a station is received.
    pub signal_threshold: u8,
    /// Name of the audio output (the sound stream's feed name).
    pub audio_name: String,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    target: u32,
    done_at: Instant,
    /// A seek that found nothing: it ends on its start frequency, reported not tunable and
    /// muted, as the spec has it.
    not_found: bool,
}

/// The simulated tuner (see the module documentation).
pub struct SimTuner {
    cfg: SimTunerConfig,
    encoders: Vec<Option<RdsEncoder>>,
    freq: u32,
    pending: Option<Pending>,
    /// A program list sweep: when it ends and what it finds.
    sweep: Option<(Instant, Vec<Reception>)>,
    rds_next: Option<Instant>,
    mono: bool,
    threshold: u8,
    audio: Arc<TunerAudio>,
}

/// Most RDS groups produced by one poll; after a longer pause the backlog is skipped, as a
/// receiver that was not listening would have missed it.
const MAX_GROUPS_PER_POLL: u32 = 32;

impl SimTuner {
    /// Builds the tuner; stations whose text the RDS character set cannot carry are an error.
    pub fn new(cfg: SimTunerConfig) -> Result<Self, String> {
        let encoders = cfg
            .stations
            .iter()
            .map(|s| match s.pi {
                None => Ok(None),
                Some(pi) => RdsEncoder::from_text(pi, s.pty, &s.ps, &s.rt)
                    .map(Some)
                    .map_err(|e| format!("station {} kHz: {e}", s.frequency_khz)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let freq = cfg.bands.first().map_or(0, |b| b.low_khz);
        Ok(Self {
            threshold: cfg.signal_threshold,
            audio: Arc::new(TunerAudio::new(cfg.audio_name.clone())),
            cfg,
            encoders,
            freq,
            pending: None,
            sweep: None,
            rds_next: None,
            mono: false,
        })
    }

    fn station(&self, khz: u32) -> Option<usize> {
        self.cfg
            .stations
            .iter()
            .position(|s| s.frequency_khz == khz)
    }

    fn received(&self, khz: u32) -> Option<usize> {
        self.station(khz)
            .filter(|&i| self.cfg.stations[i].signal >= self.threshold)
    }

    fn reception(&self) -> Reception {
        let station = self.station(self.freq).map(|i| &self.cfg.stations[i]);
        let signal = station.map_or(0, |s| s.signal);
        let tunable = signal >= self.threshold && station.is_some();
        Reception {
            frequency_khz: self.freq,
            signal,
            stereo: tunable && station.is_some_and(|s| s.stereo),
            tunable,
        }
    }

    /// Puts the current frequency's audio on air and starts its RDS stream at `at`.
    fn lock(&mut self, at: Instant) {
        match self.received(self.freq) {
            Some(i) => {
                let s = &self.cfg.stations[i];
                self.audio.lock_on_at(
                    Some(Signature::station(s.tone_hz, s.stereo && !self.mono)),
                    at,
                );
                self.rds_next = self.encoders[i].as_ref().map(|_| at + RDS_GROUP_PERIOD);
            }
            None => {
                self.audio.lock_on_at(None, at);
                self.rds_next = None;
            }
        }
    }

    fn in_range(&self, khz: u32) -> bool {
        self.cfg
            .bands
            .iter()
            .any(|b| (b.low_khz..=b.high_khz).contains(&khz))
    }

    /// Where a seek ends and how many channels it visits on the way.
    fn seek_target(&self, seek: &SeekRequest) -> (u32, u32) {
        let b = &seek.band;
        let grid = u32::from(if seek.band.seek_spacing_khz != 0 {
            b.seek_spacing_khz
        } else {
            b.spacing_khz
        })
        .max(1);
        let points = (b.high_khz - b.low_khz) / grid + 1;
        let top = b.low_khz + (points - 1) * grid;
        let mut at = seek.from_khz.clamp(b.low_khz, b.high_khz);
        let mut visited = 0;
        // Every grid point once; the start itself is reached again only by wrapping.
        for _ in 0..points {
            let next = if seek.up {
                let k = (at - b.low_khz) / grid + 1;
                let n = b.low_khz + k * grid;
                if n > top {
                    None
                } else {
                    Some(n)
                }
            } else if at > b.low_khz {
                Some(b.low_khz + (at - b.low_khz).div_ceil(grid) * grid - grid)
            } else {
                None
            };
            at = match (next, seek.wrap) {
                (Some(n), _) => n,
                (None, true) => {
                    if seek.up {
                        b.low_khz
                    } else {
                        top
                    }
                }
                (None, false) => break,
            };
            visited += 1;
            if at == seek.from_khz {
                break;
            }
            if self.received(at).is_some() {
                return (at, visited);
            }
        }
        (seek.from_khz, visited)
    }
}

impl Tuner for SimTuner {
    fn description(&self) -> TunerDescription {
        TunerDescription {
            maker: "drivervm".into(),
            product: "simulated AM/FM tuner".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            serial: "sim-0".into(),
            rds: true,
            stereo: true,
            seek: true,
        }
    }

    fn hardware_bands(&self) -> Vec<Band> {
        self.cfg.bands.clone()
    }

    fn set_waker(&mut self, waker: Arc<dyn Wake>) {
        // Everything here is driven by deadlines; nothing happens off the device's thread.
        drop(waker);
    }

    fn tune(&mut self, khz: u32, now: Instant) -> Result<(), TunerError> {
        if !self.in_range(khz) {
            return Err(TunerError::OutOfRange(khz));
        }
        self.audio.mute_at(now);
        self.rds_next = None;
        self.pending = Some(Pending {
            target: khz,
            done_at: now + self.cfg.tune_latency,
            not_found: false,
        });
        Ok(())
    }

    fn seek(&mut self, seek: SeekRequest, now: Instant) -> Result<(), TunerError> {
        let (target, visited) = self.seek_target(&seek);
        self.audio.mute_at(now);
        self.rds_next = None;
        self.pending = Some(Pending {
            target,
            done_at: now + self.cfg.seek_dwell * visited + self.cfg.tune_latency,
            not_found: self.received(target).is_none() || target == seek.from_khz,
        });
        Ok(())
    }

    fn scan(&mut self, bands: &[Band], now: Instant) -> Result<(), TunerError> {
        let mut channels = 0u32;
        let mut found = Vec::new();
        for b in bands {
            let spacing = u32::from(b.spacing_khz).max(1);
            channels += (b.high_khz - b.low_khz) / spacing + 1;
            let mut on: Vec<&SimStation> = self
                .cfg
                .stations
                .iter()
                .filter(|s| b.contains(s.frequency_khz) && s.signal >= self.threshold)
                .collect();
            on.sort_by_key(|s| s.frequency_khz);
            found.extend(on.into_iter().map(|s| Reception {
                frequency_khz: s.frequency_khz,
                signal: s.signal,
                stereo: s.stereo,
                tunable: true,
            }));
        }
        self.audio.mute_at(now);
        self.rds_next = None;
        self.sweep = Some((
            now + self.cfg.seek_dwell * channels + self.cfg.tune_latency,
            found,
        ));
        Ok(())
    }

    fn can_scan(&self) -> bool {
        true
    }

    fn cancel_scan(&mut self, now: Instant) {
        if self.sweep.take().is_some() && self.pending.is_none() {
            self.lock(now);
        }
    }

    fn cancel(&mut self, now: Instant) -> u32 {
        if self.pending.take().is_some() {
            // Still on the start frequency: its program comes back at once.
            self.lock(now);
        }
        self.freq
    }

    fn poll(&mut self, now: Instant, out: &mut Vec<TunerEvent>) -> Option<Instant> {
        if self.sweep.as_ref().is_some_and(|(at, _)| now >= *at) {
            if let Some((at, found)) = self.sweep.take() {
                self.lock(at);
                out.push(TunerEvent::ScanDone(found));
            }
        }
        if let Some(p) = self.pending {
            if now >= p.done_at {
                self.pending = None;
                self.freq = p.target;
                let mut r = self.reception();
                if p.not_found {
                    self.audio.lock_on(None);
                    self.rds_next = None;
                    r.tunable = false;
                } else {
                    self.lock(p.done_at);
                }
                out.push(TunerEvent::Done(Ok(r)));
            }
        }
        if let (Some(mut next), None, None) = (self.rds_next, self.pending, &self.sweep) {
            if let Some(i) = self.received(self.freq) {
                if let Some(enc) = self.encoders[i].as_mut() {
                    let mut blocks = Vec::new();
                    let mut groups = 0;
                    while next <= now && groups < MAX_GROUPS_PER_POLL {
                        blocks.extend(enc.next_group());
                        next += RDS_GROUP_PERIOD;
                        groups += 1;
                    }
                    if next <= now {
                        let behind = now.duration_since(next).as_nanos()
                            / RDS_GROUP_PERIOD.as_nanos().max(1);
                        next += RDS_GROUP_PERIOD * (behind as u32 + 1);
                    }
                    if !blocks.is_empty() {
                        out.push(TunerEvent::Rds(blocks));
                    }
                    self.rds_next = Some(next);
                }
            }
        }
        [
            self.pending.map(|p| p.done_at),
            self.rds_next,
            self.sweep.as_ref().map(|s| s.0),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn set_force_mono(&mut self, mono: bool) -> Result<(), TunerError> {
        self.mono = mono;
        if self.pending.is_none() {
            if let Some(i) = self.received(self.freq) {
                let s = &self.cfg.stations[i];
                self.audio
                    .lock_on(Some(Signature::station(s.tone_hz, s.stereo && !mono)));
            }
        }
        Ok(())
    }

    fn signal_threshold(&self) -> u8 {
        self.threshold
    }

    fn set_signal_threshold(&mut self, percent: u8) {
        self.threshold = percent;
    }

    fn set_volume(&mut self, percent: u8) -> Result<(), TunerError> {
        self.audio.set_volume(percent);
        Ok(())
    }

    fn audio(&self) -> Option<Arc<TunerAudio>> {
        Some(self.audio.clone())
    }

    fn reset(&mut self) {
        self.pending = None;
        self.sweep = None;
        self.rds_next = None;
        self.mono = false;
        self.threshold = self.cfg.signal_threshold;
        self.freq = self.cfg.bands.first().map_or(0, |b| b.low_khz);
        self.audio.lock_on(None);
        self.audio.set_volume(100);
    }
}

#[cfg(test)]
#[path = "sim_tests.rs"]
mod tests;
