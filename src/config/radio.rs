//! `[guest.device.radio]`: how a virtio-radio device presents its tuner, and the tuner
//! itself (simulated stations and timing, or a V4L2 radio node).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::devices::radio::charset;
use crate::devices::radio::constants::{
    BAND_AM, BAND_FM, DEEMPHASIS_D50, DEEMPHASIS_D75, MAX_BANDS, PS_LEN, RT_MAX_LEN, SND_ID_NONE,
    VIRTIO_ID_RADIO_DEFAULT,
};
use crate::devices::radio::wire::Band;
use crate::hw::tuner::sim::SimStation;

use super::error::ConfigError;
use super::kind_config::{KindConfig, TableInput};
use super::kinds::Backend;
use super::raw::RawDevice;
use super::raw::RawInt;
use super::schema::DeviceSpec;

/// `[guest.device.radio]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawRadio {
    pub device_id: Option<RawInt>,
    pub deemphasis_us: Option<RawInt>,
    pub signal_threshold: Option<RawInt>,
    pub audio_feed: Option<String>,
    pub snd_stream_id: Option<RawInt>,
    pub snd_hda_fn_nid: Option<RawInt>,
    pub snd_jack_id: Option<RawInt>,
    pub tune_ms: Option<RawInt>,
    pub seek_dwell_ms: Option<RawInt>,
    pub device: Option<PathBuf>,
    pub band: Option<Vec<RawBand>>,
    pub station: Option<Vec<RawStation>>,
}

/// One `[[guest.device.radio.band]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawBand {
    pub kind: String,
    pub low_khz: RawInt,
    pub high_khz: RawInt,
    pub spacing_khz: RawInt,
    pub seek_spacing_khz: Option<RawInt>,
}

/// One `[[guest.device.radio.station]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawStation {
    pub frequency_khz: RawInt,
    pub pi: Option<RawInt>,
    pub ps: Option<String>,
    pub rt: Option<String>,
    pub pty: Option<RawInt>,
    pub signal: Option<RawInt>,
    pub stereo: Option<bool>,
    pub tone_hz: Option<RawInt>,
}

/// A validated radio device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadioConfig {
    /// Virtio device ID (1 to 63; default 56, docs/virtio-radio.md §1).
    pub device_id: u32,
    /// The region's bands, in order.
    pub bands: Vec<Band>,
    /// FM de-emphasis in force: `DEEMPHASIS_D50` or `DEEMPHASIS_D75`.
    pub fm_deemphasis: u8,
    /// Signal (percent) from which a frequency is a station.
    pub signal_threshold: u8,
    /// Name of the audio feed a sound capture stream records (`tuner` of a sound stream).
    pub audio_feed: String,
    /// virtio-snd stream carrying the audio, or `SND_ID_NONE`.
    pub snd_stream_id: u32,
    /// That stream's `hda_fn_nid`.
    pub snd_hda_fn_nid: u32,
    /// virtio-snd jack of the tuner input, or `SND_ID_NONE`.
    pub snd_jack_id: u32,
    /// The tuner behind the device.
    pub tuner: RadioTuner,
}

/// The tuner a radio device drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadioTuner {
    /// Simulated stations.
    Sim {
        /// From tune start to lock.
        tune_latency: Duration,
        /// Per channel a seek passes.
        seek_dwell: Duration,
        /// The stations on air.
        stations: Vec<SimStation>,
    },
    /// A V4L2 radio receiver.
    V4l2 {
        /// Its device node.
        device: PathBuf,
    },
}

/// Default FM band: 87.5 to 108 MHz on a 100 kHz grid (ITU region 1 and 2 receivers).
pub const DEFAULT_FM: Band = Band {
    kind: BAND_FM,
    low_khz: 87_500,
    high_khz: 108_000,
    spacing_khz: 100,
    seek_spacing_khz: 0,
};

/// Default AM band: medium wave 531 to 1602 kHz on a 9 kHz grid (ITU region 1).
pub const DEFAULT_AM: Band = Band {
    kind: BAND_AM,
    low_khz: 531,
    high_khz: 1602,
    spacing_khz: 9,
    seek_spacing_khz: 0,
};

/// Default tune-to-lock latency of the simulated tuner.
pub const DEFAULT_TUNE_MS: u64 = 60;
/// Default per-channel seek dwell of the simulated tuner.
pub const DEFAULT_SEEK_DWELL_MS: u64 = 10;
/// Default signal threshold, percent.
pub const DEFAULT_SIGNAL_THRESHOLD: u8 = 25;
/// Default signal of a station, percent.
pub const DEFAULT_STATION_SIGNAL: u8 = 60;
/// Default audio feed name.
pub const DEFAULT_AUDIO_FEED: &str = "fm0";
/// Default V4L2 node.
pub const DEFAULT_V4L2_DEVICE: &str = "/dev/radio0";

/// Validates one radio table; `err(key, reason)` builds errors placed at the device.
pub(in crate::config) fn validate(
    raw: RawRadio,
    backend: Backend,
    err: &dyn Fn(&str, String) -> super::ConfigError,
) -> Result<RadioConfig, super::ConfigError> {
    let int = |key: &str, v: Option<RawInt>, lo: i64, hi: i64, default: i64| {
        super::int::int_or(v, default, lo, hi).map_err(|why| err(key, why))
    };
    let device_id = int(
        "radio.device_id",
        raw.device_id,
        1,
        63,
        VIRTIO_ID_RADIO_DEFAULT.into(),
    )? as u32;
    let fm_deemphasis = match int("radio.deemphasis_us", raw.deemphasis_us, 0, 1000, 50)? {
        50 => DEEMPHASIS_D50,
        75 => DEEMPHASIS_D75,
        n => return Err(err("radio.deemphasis_us", format!("{n} is not 50 or 75"))),
    };
    let signal_threshold = int(
        "radio.signal_threshold",
        raw.signal_threshold,
        0,
        100,
        DEFAULT_SIGNAL_THRESHOLD.into(),
    )? as u8;
    let audio_feed = raw.audio_feed.unwrap_or_else(|| DEFAULT_AUDIO_FEED.into());
    let feed_ok = (1..=32).contains(&audio_feed.len())
        && audio_feed
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
    if !feed_ok {
        return Err(err(
            "radio.audio_feed",
            format!(
                "\"{}\" is not a feed name (expected 1 to 32 characters from a-z, 0-9, _ and -)",
                audio_feed.escape_debug()
            ),
        ));
    }
    let none = i64::from(SND_ID_NONE);
    let snd_stream_id = int("radio.snd_stream_id", raw.snd_stream_id, 0, none, none)? as u32;
    let snd_hda_fn_nid = int("radio.snd_hda_fn_nid", raw.snd_hda_fn_nid, 0, none, 0)? as u32;
    let snd_jack_id = int("radio.snd_jack_id", raw.snd_jack_id, 0, none, none)? as u32;

    let bands = match raw.band {
        None => vec![DEFAULT_FM, DEFAULT_AM],
        Some(list) => {
            if list.is_empty() || list.len() > MAX_BANDS {
                return Err(err(
                    "radio.band",
                    format!("{} bands (expected 1 to {MAX_BANDS})", list.len()),
                ));
            }
            let mut bands = Vec::new();
            for (i, b) in list.into_iter().enumerate() {
                let key = format!("radio.band {}", i + 1);
                let kind = match b.kind.as_str() {
                    "fm" => BAND_FM,
                    "am" => BAND_AM,
                    k => {
                        return Err(err(
                            &key,
                            format!("kind \"{}\" is not fm or am", k.escape_debug()),
                        ))
                    }
                };
                let khz = |v: RawInt| u32::try_from(v.0).unwrap_or(0);
                let spacing = |v: RawInt| u16::try_from(v.0).unwrap_or(0);
                let band = Band {
                    kind,
                    low_khz: khz(b.low_khz),
                    high_khz: khz(b.high_khz),
                    spacing_khz: spacing(b.spacing_khz),
                    seek_spacing_khz: b.seek_spacing_khz.map_or(0, spacing),
                };
                if band.validate().is_err() {
                    return Err(err(
                        &key,
                        "expected 0 < low_khz <= high_khz < 2^32, 0 < spacing_khz < 65536 and \
                         seek_spacing_khz 0 or a multiple of spacing_khz"
                            .into(),
                    ));
                }
                if bands
                    .iter()
                    .any(|o: &Band| o.low_khz <= band.high_khz && band.low_khz <= o.high_khz)
                {
                    return Err(err(&key, "overlaps an earlier band".into()));
                }
                bands.push(band);
            }
            bands
        }
    };

    let sim_only = [
        ("tune_ms", raw.tune_ms.is_some()),
        ("seek_dwell_ms", raw.seek_dwell_ms.is_some()),
        ("station", raw.station.is_some()),
    ];
    let tuner = match backend {
        Backend::V4l2 => {
            if let Some((key, _)) = sim_only.iter().find(|(_, set)| *set) {
                return Err(err(
                    &format!("radio.{key}"),
                    "only the sim backend takes this key".into(),
                ));
            }
            RadioTuner::V4l2 {
                device: raw
                    .device
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_V4L2_DEVICE)),
            }
        }
        _ => {
            if raw.device.is_some() {
                return Err(err(
                    "radio.device",
                    "only the v4l2 backend takes this key".into(),
                ));
            }
            let tune_ms = int(
                "radio.tune_ms",
                raw.tune_ms,
                0,
                10_000,
                DEFAULT_TUNE_MS as i64,
            )?;
            let dwell_ms = int(
                "radio.seek_dwell_ms",
                raw.seek_dwell_ms,
                0,
                1000,
                DEFAULT_SEEK_DWELL_MS as i64,
            )?;
            let mut stations: Vec<SimStation> = Vec::new();
            for (i, s) in raw.station.unwrap_or_default().into_iter().enumerate() {
                let key = format!("radio.station {}", i + 1);
                let e = |what: &str, reason: String| err(&format!("{key} {what}"), reason);
                let freq = u32::try_from(s.frequency_khz.0).unwrap_or(0);
                if !bands.iter().any(|b| b.contains(freq)) {
                    return Err(e(
                        "frequency_khz",
                        format!("{} is not a channel of any band", s.frequency_khz.0),
                    ));
                }
                if stations.iter().any(|o| o.frequency_khz == freq) {
                    return Err(e(
                        "frequency_khz",
                        format!("{freq} is already used by another station"),
                    ));
                }
                let text = |what: &str, v: Option<String>, max: usize| {
                    let v = v.unwrap_or_default();
                    match charset::encode(&v) {
                        Ok(b) if b.len() <= max => Ok(v),
                        Ok(_) => Err(e(what, format!("longer than {max} characters"))),
                        Err(x) => Err(e(what, format!("{x}"))),
                    }
                };
                let pi = match s.pi {
                    None => None,
                    Some(v) => Some(int(&format!("{key} pi"), Some(v), 1, 0xFFFF, 0)? as u16),
                };
                stations.push(SimStation {
                    frequency_khz: freq,
                    pi,
                    ps: text("ps", s.ps, PS_LEN)?,
                    rt: text("rt", s.rt, RT_MAX_LEN)?,
                    pty: int(&format!("{key} pty"), s.pty, 0, 31, 0)? as u8,
                    signal: int(
                        &format!("{key} signal"),
                        s.signal,
                        0,
                        100,
                        DEFAULT_STATION_SIGNAL.into(),
                    )? as u8,
                    stereo: s.stereo.unwrap_or(true),
                    tone_hz: int(
                        &format!("{key} tone_hz"),
                        s.tone_hz,
                        20,
                        20_000,
                        (400 + 100 * i as i64).min(20_000),
                    )? as u32,
                });
            }
            RadioTuner::Sim {
                tune_latency: Duration::from_millis(tune_ms as u64),
                seek_dwell: Duration::from_millis(dwell_ms as u64),
                stations,
            }
        }
    };
    Ok(RadioConfig {
        device_id,
        bands,
        fm_deemphasis,
        signal_threshold,
        audio_feed,
        snd_stream_id,
        snd_hda_fn_nid,
        snd_jack_id,
        tuner,
    })
}

/// The radio kind's config entry: its `[guest.device.radio]` table.
pub(in crate::config) struct RadioTable;

impl KindConfig for RadioTable {
    fn backends(&self) -> &'static [Backend] {
        &[Backend::Sim, Backend::V4l2]
    }

    fn table(
        &self,
        input: &TableInput<'_>,
        raw: &mut RawDevice,
    ) -> Result<(Backend, DeviceSpec), ConfigError> {
        let place = input.place;
        let e = |key: &str, reason: String| input.v.err(format!("{place} {key}"), reason);
        let radio = validate(raw.radio.take().unwrap_or_default(), input.backend, &e)?;
        Ok((input.backend, DeviceSpec::Radio(radio)))
    }

    fn refuse(&self, input: &TableInput<'_>, raw: &mut RawDevice) -> Result<(), ConfigError> {
        if raw.radio.is_some() {
            return Err(input.v.err(
                format!("{} radio", input.place),
                format!("a {} device takes no radio settings", input.kind.name()),
            ));
        }
        Ok(())
    }
}
