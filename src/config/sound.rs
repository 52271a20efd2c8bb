//! The sound parts of the config: `[[output]]` (a physical output shared by guests) and the
//! `jack`/`stream` tables of a `kind = "sound"` device, raw and validated.

use std::path::PathBuf;

use serde::Deserialize;

use crate::hw::pcm::SampleFormat;

use super::error::ConfigError;
use super::kind_config::{KindConfig, TableInput};
use super::kinds::Backend;
use super::raw::RawDevice;
use super::raw::RawInt;
use super::schema::DeviceSpec;

/// `[[output]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawOutput {
    pub name: String,
    pub policy: Option<String>,
    pub backend: Option<String>,
    pub sink: Option<String>,
    pub wav: Option<PathBuf>,
    pub card: Option<RawInt>,
    pub pcm_device: Option<RawInt>,
    pub format: Option<String>,
    pub rate: Option<RawInt>,
    pub channels: Option<RawInt>,
    pub period_frames: Option<RawInt>,
    pub exclusive_idle_timeout_ms: Option<RawInt>,
}

/// `[[guest.device.jack]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawJack {
    pub name: String,
    pub direction: Option<String>,
    pub connected: Option<bool>,
    pub remappable: Option<bool>,
    pub defconf: Option<RawInt>,
    pub caps: Option<RawInt>,
    pub detect: Option<RawJackDetect>,
}

/// `detect = { <kind> = { ... } }`: where a jack's plugged state comes from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(in crate::config) enum RawJackDetect {
    Alsa(RawAlsaDetect),
    Sim(RawSimDetect),
}

/// `detect.alsa`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawAlsaDetect {
    pub card: Option<RawInt>,
    pub control: String,
}

/// `detect.sim`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawSimDetect {
    pub file: PathBuf,
}

/// `[[guest.device.stream]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawStream {
    pub name: String,
    pub direction: Option<String>,
    pub formats: Option<Vec<String>>,
    pub rates: Option<Vec<RawInt>>,
    pub channels_min: Option<RawInt>,
    pub channels_max: Option<RawInt>,
    pub sink: Option<String>,
    pub source: Option<String>,
    pub wav: Option<PathBuf>,
    #[serde(rename = "loop")]
    pub looped: Option<bool>,
    pub tone_hz: Option<RawInt>,
    pub tone_amplitude_percent: Option<RawInt>,
    pub tuner: Option<String>,
    pub output: Option<String>,
    pub gain_percent: Option<RawInt>,
    pub card: Option<RawInt>,
    pub pcm_device: Option<RawInt>,
    pub min_period_us: Option<RawInt>,
}

/// Direction of a jack or stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoundDirection {
    /// Playback.
    Output,
    /// Capture.
    Input,
}

/// How a shared output arbitrates between guests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharePolicy {
    /// Software mix of every guest's stream.
    Mixed,
    /// One guest at a time; the others get an error on START.
    Exclusive,
}

/// Where an `[[output]]` plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSink {
    /// Simulated: discard, paced.
    Null,
    /// Simulated: record into a WAV file.
    Wav(PathBuf),
    /// `/dev/snd/pcmC<card>D<device>p`.
    Alsa {
        /// ALSA card number.
        card: u32,
        /// ALSA PCM device number.
        device: u32,
    },
}

/// A validated `[[output]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputConfig {
    /// Unique name streams refer to.
    pub name: String,
    /// Mixed or exclusive.
    pub policy: SharePolicy,
    /// Where it plays.
    pub sink: OutputSink,
    /// The output's fixed sample format.
    pub format: SampleFormat,
    /// Its fixed rate.
    pub rate: u32,
    /// Its fixed channel count.
    pub channels: u8,
    /// Frames per mixer period.
    pub period_frames: u32,
    /// Exclusive outputs: how long the owner may hold the output without writing before
    /// another guest's START takes it over.
    pub exclusive_idle_timeout_ms: u32,
}

/// Shortest mixer period an output may be configured with: every period is a wake-up of
/// the mixer thread.
pub const MIN_OUTPUT_PERIOD_US: u64 = 1000;
/// Default of a stream's `min_period_us`: the shortest period and I/O message a guest may
/// use, each costing a timer wake-up.
pub const DEFAULT_MIN_PERIOD_US: u32 = 1000;
/// Default of an output's `exclusive_idle_timeout_ms`.
pub const DEFAULT_EXCLUSIVE_IDLE_TIMEOUT_MS: u32 = 5000;

/// Where a jack's plugged state comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JackDetect {
    /// Nowhere: it keeps its configured state.
    Fixed,
    /// A boolean ALSA control element, such as "Headphone Jack".
    Alsa {
        /// ALSA card number.
        card: u32,
        /// The element's name.
        control: String,
    },
    /// Simulated: the file holds "1" (plugged in) or "0".
    Sim {
        /// The file; relative to the runtime dir.
        file: PathBuf,
    },
}

/// A validated jack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JackConfig {
    /// Name for logs.
    pub name: String,
    /// Output (line out, headphones) or input (microphone).
    pub direction: SoundDirection,
    /// Plugged in at start.
    pub connected: bool,
    /// The guest may remap it.
    pub remappable: bool,
    /// HDA pin default configuration.
    pub defconf: u32,
    /// HDA pin capabilities.
    pub caps: u32,
    /// Where its plugged state comes from.
    pub detect: JackDetect,
}

/// What a validated stream plays into or records from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEndpoint {
    /// Simulated null sink or silent source.
    Null,
    /// Simulated WAV file sink.
    WavSink(PathBuf),
    /// Simulated WAV file source.
    WavSource {
        /// The file.
        path: PathBuf,
        /// Repeat at its end.
        looped: bool,
    },
    /// Simulated sine tone.
    Tone {
        /// Frequency.
        hz: u32,
        /// Amplitude in percent of full scale.
        amplitude_percent: u32,
    },
    /// Capture fed by another device (the FM tuner) under this feed name.
    Tuner(String),
    /// Playback into a shared `[[output]]`.
    Shared {
        /// The output's name.
        output: String,
        /// This guest's gain on it, in percent.
        gain_percent: u32,
    },
    /// ALSA PCM device.
    Alsa {
        /// Card number.
        card: u32,
        /// PCM device number.
        device: u32,
    },
}

/// A validated stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// Name (also the prefix of its mixer controls).
    pub name: String,
    /// Playback or capture.
    pub direction: SoundDirection,
    /// Formats offered.
    pub formats: Vec<SampleFormat>,
    /// Rates offered.
    pub rates: Vec<u32>,
    /// Fewest channels.
    pub channels_min: u8,
    /// Most channels.
    pub channels_max: u8,
    /// Its backend.
    pub endpoint: StreamEndpoint,
    /// Shortest period (and I/O message) a guest may use, in microseconds.
    pub min_period_us: u32,
}

/// The sound-specific part of a `kind = "sound"` device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoundConfig {
    /// Jacks, in jack-ID order.
    pub jacks: Vec<JackConfig>,
    /// Streams, in stream-ID order.
    pub streams: Vec<StreamConfig>,
    /// Whether the guest gets mixer controls (VIRTIO_SND_F_CTLS), which QEMU's frontend
    /// only has room for with `controls=on`.
    pub controls: bool,
}

/// Rates virtio-snd can express.
const VIRTIO_RATES: [u32; 14] = [
    5512, 8000, 11025, 16000, 22050, 32000, 44100, 48000, 64000, 88200, 96000, 176400, 192000,
    384000,
];

/// Builds errors for one place.
pub(in crate::config) struct Place<'a> {
    pub file: &'a str,
    pub place: String,
}

impl Place<'_> {
    fn err(&self, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            place: self.place.clone(),
            reason: reason.into(),
        }
    }

    fn int(
        &self,
        key: &str,
        v: Option<RawInt>,
        default: u32,
        min: u32,
        max: u32,
    ) -> Result<u32, ConfigError> {
        super::int::int_or(v, default, min, max).map_err(|why| self.err(format!("{key} = {why}")))
    }

    fn direction(&self, v: Option<&str>) -> Result<SoundDirection, ConfigError> {
        match v {
            None | Some("output") => Ok(SoundDirection::Output),
            Some("input") => Ok(SoundDirection::Input),
            Some(other) => Err(self.err(format!(
                "direction \"{}\" is not one of: output, input",
                other.escape_debug()
            ))),
        }
    }

    fn format(&self, v: &str) -> Result<SampleFormat, ConfigError> {
        SampleFormat::from_name(v).ok_or_else(|| {
            self.err(format!(
                "format \"{}\" is not one of: {}",
                v.escape_debug(),
                SampleFormat::ALL.map(|f| f.name()).join(", ")
            ))
        })
    }

    fn rate(&self, n: i64) -> Result<u32, ConfigError> {
        u32::try_from(n)
            .ok()
            .filter(|r| VIRTIO_RATES.contains(r))
            .ok_or_else(|| {
                self.err(format!(
                    "rate {n} is not a virtio-snd rate (expected one of: {})",
                    VIRTIO_RATES.map(|r| r.to_string()).join(", ")
                ))
            })
    }

    fn name(&self, what: &str, name: &str) -> Result<(), ConfigError> {
        // Stream names prefix ALSA control names, which hold 43 bytes.
        let ok = (1..=24).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-' || b == b'_');
        if ok {
            Ok(())
        } else {
            Err(self.err(format!(
                "{what} name \"{}\" is not valid (expected 1 to 24 characters from A-Z, a-z, 0-9, space, - and _)",
                name.escape_debug()
            )))
        }
    }
}

/// Validates the `[[output]]` tables.
pub(in crate::config) fn outputs(
    file: &str,
    raw: Vec<RawOutput>,
) -> Result<Vec<OutputConfig>, ConfigError> {
    let mut out: Vec<OutputConfig> = Vec::new();
    for (i, o) in raw.into_iter().enumerate() {
        let p = Place {
            file,
            place: format!("output {}", i + 1),
        };
        p.name("output", &o.name)?;
        if out.iter().any(|x| x.name == o.name) {
            return Err(p.err(format!(
                "name \"{}\" is already used by another output",
                o.name
            )));
        }
        let policy = match o.policy.as_deref() {
            None | Some("mixed") => SharePolicy::Mixed,
            Some("exclusive") => SharePolicy::Exclusive,
            Some(x) => {
                return Err(p.err(format!(
                    "policy \"{}\" is not one of: mixed, exclusive",
                    x.escape_debug()
                )))
            }
        };
        let backend = match o.backend.as_deref() {
            None => Backend::Sim,
            Some(b) => match Backend::from_name(b) {
                Some(b @ (Backend::Sim | Backend::Alsa)) => b,
                _ => {
                    return Err(p.err(format!(
                        "backend \"{}\" is not one of: sim, alsa",
                        b.escape_debug()
                    )))
                }
            },
        };
        let sink = match backend {
            Backend::Alsa => {
                if o.sink.is_some() || o.wav.is_some() {
                    return Err(p.err("sink and wav apply to the sim backend only"));
                }
                OutputSink::Alsa {
                    card: p.int("card", o.card, 0, 0, 31)?,
                    device: p.int("pcm_device", o.pcm_device, 0, 0, 31)?,
                }
            }
            _ => {
                if o.card.is_some() || o.pcm_device.is_some() {
                    return Err(p.err("card and pcm_device apply to the alsa backend only"));
                }
                match (o.sink.as_deref(), o.wav) {
                    (None | Some("null"), None) => OutputSink::Null,
                    (Some("wav"), Some(path)) => OutputSink::Wav(path),
                    (Some("wav"), None) => return Err(p.err("sink \"wav\" needs a wav path")),
                    (None | Some("null"), Some(_)) => {
                        return Err(p.err("wav is only used with sink = \"wav\""))
                    }
                    (Some(x), _) => {
                        return Err(p.err(format!(
                            "sink \"{}\" is not one of: null, wav",
                            x.escape_debug()
                        )))
                    }
                }
            }
        };
        let format = match o.format.as_deref() {
            None => SampleFormat::S16,
            Some(f) => p.format(f)?,
        };
        let rate = match o.rate {
            None => 48000,
            Some(RawInt(n)) => p.rate(n)?,
        };
        let channels = p.int("channels", o.channels, 2, 1, 8)? as u8;
        let period_frames = p.int("period_frames", o.period_frames, rate / 100, 16, 65536)?;
        if u64::from(period_frames) * 1_000_000 < MIN_OUTPUT_PERIOD_US * u64::from(rate) {
            return Err(p.err(format!(
                "period_frames = {period_frames} is shorter than {MIN_OUTPUT_PERIOD_US} us at {rate} Hz \
                 (expected at least {})",
                (MIN_OUTPUT_PERIOD_US * u64::from(rate)).div_ceil(1_000_000)
            )));
        }
        let exclusive_idle_timeout_ms = p.int(
            "exclusive_idle_timeout_ms",
            o.exclusive_idle_timeout_ms,
            DEFAULT_EXCLUSIVE_IDLE_TIMEOUT_MS,
            100,
            3_600_000,
        )?;
        if policy != SharePolicy::Exclusive && o.exclusive_idle_timeout_ms.is_some() {
            return Err(p.err("exclusive_idle_timeout_ms applies to policy = \"exclusive\" only"));
        }
        out.push(OutputConfig {
            name: o.name,
            policy,
            sink,
            format,
            rate,
            channels,
            period_frames,
            exclusive_idle_timeout_ms,
        });
    }
    Ok(out)
}

/// The sound tables of a device, validated; `None` fields mean the device had none.
pub(in crate::config) fn device(
    p: &Place<'_>,
    backend: Backend,
    jacks: Option<Vec<RawJack>>,
    streams: Option<Vec<RawStream>>,
    controls: bool,
    outputs: &[OutputConfig],
) -> Result<SoundConfig, ConfigError> {
    let streams = match streams {
        Some(s) if !s.is_empty() => s,
        Some(_) => {
            return Err(p.err(
                "no streams configured (expected at least one [[guest.device.stream]] table)",
            ))
        }
        None => default_streams(backend),
    };
    let jacks = match jacks {
        Some(j) => j,
        None => vec![RawJack {
            name: "line-out".into(),
            direction: Some("output".into()),
            connected: None,
            remappable: None,
            defconf: None,
            caps: None,
            detect: None,
        }],
    };
    let mut jack_cfgs = Vec::new();
    for (i, j) in jacks.into_iter().enumerate() {
        let jp = Place {
            file: p.file,
            place: format!("{} jack {}", p.place, i + 1),
        };
        jp.name("jack", &j.name)?;
        let direction = jp.direction(j.direction.as_deref())?;
        let (defconf, caps) = match direction {
            SoundDirection::Output => (0x0101_4010, 0x14),
            SoundDirection::Input => (0x02a1_9020, 0x24),
        };
        jack_cfgs.push(JackConfig {
            name: j.name,
            direction,
            connected: j.connected.unwrap_or(true),
            remappable: j.remappable.unwrap_or(false),
            defconf: jp.int("defconf", j.defconf, defconf, 0, u32::MAX)?,
            caps: jp.int("caps", j.caps, caps, 0, u32::MAX)?,
            detect: jack_detect(&jp, j.detect)?,
        });
    }
    let mut stream_cfgs: Vec<StreamConfig> = Vec::new();
    for (i, s) in streams.into_iter().enumerate() {
        let sp = Place {
            file: p.file,
            place: format!("{} stream {}", p.place, i + 1),
        };
        let cfg = stream(&sp, backend, s, outputs)?;
        if stream_cfgs
            .iter()
            .any(|o| o.name == cfg.name && o.direction == cfg.direction)
        {
            return Err(sp.err(format!(
                "stream name \"{}\" is already used in that direction",
                cfg.name
            )));
        }
        stream_cfgs.push(cfg);
    }
    Ok(SoundConfig {
        jacks: jack_cfgs,
        streams: stream_cfgs,
        controls,
    })
}

fn jack_detect(p: &Place<'_>, raw: Option<RawJackDetect>) -> Result<JackDetect, ConfigError> {
    match raw {
        None => Ok(JackDetect::Fixed),
        Some(RawJackDetect::Alsa(a)) => {
            // The kernel's element names hold 43 bytes and no NUL.
            if a.control.is_empty() || a.control.len() > 43 || a.control.contains('\0') {
                return Err(p.err(format!(
                    "detect.alsa.control \"{}\" is not an ALSA control name (expected 1 to 43 bytes, no NUL)",
                    a.control.escape_debug()
                )));
            }
            Ok(JackDetect::Alsa {
                card: p.int("detect.alsa.card", a.card, 0, 0, 31)?,
                control: a.control,
            })
        }
        Some(RawJackDetect::Sim(s)) => {
            if s.file.as_os_str().is_empty() || s.file.file_name().is_none() {
                return Err(p.err(format!(
                    "detect.sim.file \"{}\" does not name a file",
                    s.file.display()
                )));
            }
            Ok(JackDetect::Sim { file: s.file })
        }
    }
}

fn default_streams(backend: Backend) -> Vec<RawStream> {
    let sim = backend == Backend::Sim;
    let blank = |name: &str, direction: &str| RawStream {
        name: name.into(),
        direction: Some(direction.into()),
        formats: None,
        rates: None,
        channels_min: None,
        channels_max: None,
        sink: None,
        source: None,
        wav: None,
        looped: None,
        tone_hz: None,
        tone_amplitude_percent: None,
        tuner: None,
        output: None,
        gain_percent: None,
        card: None,
        pcm_device: None,
        min_period_us: None,
    };
    let mut out = blank("Master", "output");
    let mut inp = blank("Capture", "input");
    if sim {
        inp.source = Some("tone".into());
    }
    out.sink = sim.then(|| "null".into());
    vec![out, inp]
}

fn stream(
    p: &Place<'_>,
    backend: Backend,
    s: RawStream,
    outputs: &[OutputConfig],
) -> Result<StreamConfig, ConfigError> {
    p.name("stream", &s.name)?;
    let direction = p.direction(s.direction.as_deref())?;
    let mut formats = Vec::new();
    for f in s.formats.unwrap_or_else(|| vec!["s16".into()]) {
        let f = p.format(&f)?;
        if !formats.contains(&f) {
            formats.push(f);
        }
    }
    let mut rates = Vec::new();
    for RawInt(r) in s.rates.unwrap_or_else(|| vec![RawInt(48000)]) {
        let r = p.rate(r)?;
        if !rates.contains(&r) {
            rates.push(r);
        }
    }
    if formats.is_empty() || rates.is_empty() {
        return Err(p.err("formats and rates must not be empty"));
    }
    let channels_min = p.int("channels_min", s.channels_min, 1, 1, 18)? as u8;
    let channels_max = p.int("channels_max", s.channels_max, 2, 1, 18)? as u8;
    if channels_min > channels_max {
        return Err(p.err(format!(
            "channels_min = {channels_min} is above channels_max = {channels_max}"
        )));
    }
    let used = |k: &str, present: bool, allowed: bool| -> Result<(), ConfigError> {
        if present && !allowed {
            Err(p.err(format!("{k} does not apply to this stream's backend")))
        } else {
            Ok(())
        }
    };
    let endpoint = if let Some(name) = &s.output {
        if direction != SoundDirection::Output {
            return Err(p.err("output applies to output streams only"));
        }
        let Some(o) = outputs.iter().find(|o| &o.name == name) else {
            return Err(p.err(format!(
                "output \"{}\" is not defined by any [[output]]",
                name.escape_debug()
            )));
        };
        if !formats.contains(&o.format)
            || !rates.contains(&o.rate)
            || !(channels_min..=channels_max).contains(&o.channels)
        {
            return Err(p.err(format!(
                "output \"{}\" runs {} {} Hz {} ch, which this stream does not offer",
                o.name,
                o.format.name(),
                o.rate,
                o.channels
            )));
        }
        used("sink", s.sink.is_some(), false)?;
        used("card", s.card.is_some() || s.pcm_device.is_some(), false)?;
        StreamEndpoint::Shared {
            output: name.clone(),
            gain_percent: p.int("gain_percent", s.gain_percent, 100, 0, 400)?,
        }
    } else if backend == Backend::Alsa {
        used("sink", s.sink.is_some(), false)?;
        used("source", s.source.is_some(), false)?;
        used("wav", s.wav.is_some(), false)?;
        StreamEndpoint::Alsa {
            card: p.int("card", s.card, 0, 0, 31)?,
            device: p.int("pcm_device", s.pcm_device, 0, 0, 31)?,
        }
    } else {
        used("card", s.card.is_some() || s.pcm_device.is_some(), false)?;
        used("gain_percent", s.gain_percent.is_some(), false)?;
        match direction {
            SoundDirection::Output => {
                used("source", s.source.is_some(), false)?;
                used("loop", s.looped.is_some(), false)?;
                used(
                    "tone_hz",
                    s.tone_hz.is_some() || s.tone_amplitude_percent.is_some(),
                    false,
                )?;
                used("tuner", s.tuner.is_some(), false)?;
                match (s.sink.as_deref(), s.wav) {
                    (None | Some("null"), None) => StreamEndpoint::Null,
                    (Some("wav"), Some(path)) => StreamEndpoint::WavSink(path),
                    (Some("wav"), None) => return Err(p.err("sink \"wav\" needs a wav path")),
                    (None | Some("null"), Some(_)) => {
                        return Err(p.err("wav is only used with sink = \"wav\""))
                    }
                    (Some(x), _) => {
                        return Err(p.err(format!(
                            "sink \"{}\" is not one of: null, wav",
                            x.escape_debug()
                        )))
                    }
                }
            }
            SoundDirection::Input => {
                used("sink", s.sink.is_some(), false)?;
                let source = s.source.as_deref().unwrap_or("null");
                used("wav", s.wav.is_some(), source == "wav")?;
                used("loop", s.looped.is_some(), source == "wav")?;
                used(
                    "tone_hz",
                    s.tone_hz.is_some() || s.tone_amplitude_percent.is_some(),
                    source == "tone",
                )?;
                used("tuner", s.tuner.is_some(), source == "tuner")?;
                match source {
                    "null" => StreamEndpoint::Null,
                    "wav" => StreamEndpoint::WavSource {
                        path: s
                            .wav
                            .ok_or_else(|| p.err("source \"wav\" needs a wav path"))?,
                        looped: s.looped.unwrap_or(false),
                    },
                    "tone" => StreamEndpoint::Tone {
                        hz: p.int("tone_hz", s.tone_hz, 440, 1, 20000)?,
                        amplitude_percent: p.int(
                            "tone_amplitude_percent",
                            s.tone_amplitude_percent,
                            50,
                            0,
                            100,
                        )?,
                    },
                    "tuner" => StreamEndpoint::Tuner(s.tuner.unwrap_or_else(|| "fm0".into())),
                    x => {
                        return Err(p.err(format!(
                            "source \"{}\" is not one of: null, wav, tone, tuner",
                            x.escape_debug()
                        )))
                    }
                }
            }
        }
    };
    Ok(StreamConfig {
        name: s.name,
        direction,
        formats,
        rates,
        channels_min,
        channels_max,
        endpoint,
        min_period_us: p.int(
            "min_period_us",
            s.min_period_us,
            DEFAULT_MIN_PERIOD_US,
            250,
            1_000_000,
        )?,
    })
}

/// The sound kind's config entry: its jacks, streams and controls.
pub(in crate::config) struct SoundTable;

impl KindConfig for SoundTable {
    fn backends(&self) -> &'static [Backend] {
        &[Backend::Sim, Backend::Alsa]
    }

    fn table(
        &self,
        input: &TableInput<'_>,
        raw: &mut RawDevice,
    ) -> Result<(Backend, DeviceSpec), ConfigError> {
        let p = Place {
            file: input.v.file(),
            place: input.place.to_owned(),
        };
        let sound = device(
            &p,
            input.backend,
            raw.jack.take(),
            raw.stream.take(),
            raw.controls.take().unwrap_or(false),
            &input.sections.outputs,
        )?;
        Ok((input.backend, DeviceSpec::Sound(sound)))
    }

    fn refuse(&self, input: &TableInput<'_>, raw: &mut RawDevice) -> Result<(), ConfigError> {
        if raw.jack.is_some() || raw.stream.is_some() {
            return Err(input.v.err(
                input.place,
                "jack and stream tables apply to sound devices only",
            ));
        }
        if raw.controls.is_some() {
            return Err(input
                .v
                .err(input.place, "controls applies to sound devices only"));
        }
        Ok(())
    }
}
